"""Checks before a service starts: its ports are free and its data folder can hold the runtime, each failure a
:class:`~streamprocess.errors.StartupError` (one or two plain lines and an exit code). ``streamprocess up`` runs
them before any model loads; ``streamprocess doctor`` reports the same port checks. Whether the queue and the store
answer is :mod:`streamprocess.backends`'s question."""

from __future__ import annotations

import errno
import socket

from .config import Settings, StoreBackend
from .errors import ExitCode, StartupError
from .runtime import Runtime


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def check_ports(settings: Settings) -> None:
    """Every port ``up`` will listen on must be free before anything loads. Each is bound and let go again the way
    uvicorn's asyncio server binds (every address the host resolves to, SO_REUSEADDR, IPv6 sockets v6-only): a
    port whose old connections linger in TIME_WAIT passes; one that is listened on fails, by a gRPC server's
    SO_REUSEPORT socket too."""
    ports = [("HTTP", settings.port, "choose another port with --port or STREAMPROCESS_PORT")]
    if settings.grpc_port:
        if settings.grpc_port == settings.port:
            raise StartupError(
                ExitCode.BAD_SETTING,
                f"STREAMPROCESS_PORT and STREAMPROCESS_GRPC_PORT are both "
                f"{settings.port}: the HTTP API and gRPC need a port each.",
            )
        ports.append(("gRPC", settings.grpc_port, "set STREAMPROCESS_GRPC_PORT to a free port (0 turns gRPC off)"))
    for what, port, fix in ports:
        _check_port(settings.host, port, what, fix)


def check_metrics_port(settings: Settings) -> None:
    """The port ``--metrics-port`` (``worker``, ``api``) serves Prometheus metrics on must be free, as ``up``'s."""
    if settings.metrics_port:
        fix = "choose another port with --metrics-port or STREAMPROCESS_METRICS_PORT"
        _check_port(settings.host, settings.metrics_port, "metrics", fix)


def serve_metrics(settings: Settings) -> None:
    """Prometheus metrics, no key asked, on ``metrics_port`` when it is set, with the GPUs' when NVML is there.
    Callers check the port first (:func:`check_metrics_port`, before anything slow); one taken since: exit code 4."""
    if not settings.metrics_port:
        return
    from prometheus_client import start_http_server

    from .metrics import export_gpu_metrics

    export_gpu_metrics()
    try:
        start_http_server(settings.metrics_port, addr=settings.host)
    except OSError as e:  # taken since the check
        raise StartupError(
            ExitCode.PORT_IN_USE if e.errno == errno.EADDRINUSE else ExitCode.FAILED,
            f"cannot listen on metrics port {settings.metrics_port} on {settings.host}: {e.strerror or e}.",
            "Choose another port with --metrics-port or STREAMPROCESS_METRICS_PORT.",
        ) from e


def _check_port(host: str, port: int, what: str, fix: str) -> None:
    if not 0 <= port <= 65535:
        raise StartupError(
            ExitCode.BAD_SETTING,
            f"{what} port {port} is not a port number (0-65535).",
            f"{fix[0].upper()}{fix[1:]}.",
        )
    if port:
        bind_test(host, port, what, fix)


def bind_test(host: str, port: int, what: str, fix: str) -> None:
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise StartupError(
            ExitCode.BAD_SETTING,
            f"STREAMPROCESS_HOST={host!r} does not resolve ({e.strerror}).",
            "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
        ) from e
    for family, kind, proto, _, address in dict.fromkeys(infos):
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:  # a family this machine lacks; asyncio skips it too
            continue
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise StartupError(
                        ExitCode.PORT_IN_USE,
                        f"{what} port {port} on {host} is in use by another process.",
                        f"Stop it, or {fix}.",
                    ) from e
                if e.errno == errno.EADDRNOTAVAIL:
                    raise StartupError(
                        ExitCode.BAD_SETTING,
                        f"STREAMPROCESS_HOST={host!r} is not an address of this machine.",
                        "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
                    ) from e
                if e.errno == errno.EACCES:
                    raise StartupError(
                        ExitCode.BAD_SETTING,
                        f"no permission to listen on {what} port {port} (ports below 1024 need privileges).",
                        f"{fix[0].upper()}{fix[1:]}.",
                    ) from e
                raise StartupError(
                    ExitCode.FAILED,
                    f"cannot listen on {what} port {port} on {host}: {e.strerror or e}.",
                    f"{fix[0].upper()}{fix[1:]}.",
                ) from e


def open_runtime(settings: Settings) -> Runtime:
    try:
        return Runtime(settings)
    except OSError as e:  # the local store's folder, or the embedded queue's file in it
        code = ExitCode.STORE_UNAVAILABLE if settings.store is StoreBackend.local else ExitCode.QUEUE_UNAVAILABLE
        raise StartupError(
            code,
            f"the data folder {settings.data_dir} cannot be used: {one_line(e)}",
            "Set STREAMPROCESS_DATA_DIR (or --data-dir) to a folder this user can write.",
        ) from e
    except ValueError as e:  # settings that only clash once the backends are built
        raise StartupError(ExitCode.BAD_SETTING, one_line(e)) from e
