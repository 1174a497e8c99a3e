"""infra.local_services.free_port never hands one process the same port twice: a CI run once got equal gRPC and
metrics ports for tritonserver from two calls in a row."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from infra import local_services
from infra.local_services import free_port


class _Socket:
    """Binds 'succeed' and report the next port from a script the test chooses."""

    ports: Iterator[int]

    def __enter__(self) -> _Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def bind(self, address: tuple[str, int]) -> None:
        self.port = next(self.ports)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_a_port_the_kernel_gives_again_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_services, "_HANDED_OUT", set())
    _Socket.ports = iter([41000, 41000, 41000, 41001])
    monkeypatch.setattr(local_services.socket, "socket", _Socket)
    assert [free_port(), free_port()] == [41000, 41001]


def test_real_ports_are_distinct_and_free() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    for port in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nothing holds it
