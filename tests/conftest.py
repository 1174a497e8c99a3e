"""Shared fixtures: real servers (redis-server, moto's S3/SQS server, one `streamprocess up` for the modules that
can share it) on 127.0.0.1, and the test tiers (``--tier fast``: tests/fast, in-process, seconds; ``--tier rest``:
the others). Shared helpers live in helpers.py."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local_services import free_port, moto_server, redis_server

from .helpers import SHARED_UP_EVENTS_TOKEN, SHARED_UP_KEYS, SharedUp, cli_env, unique, up_server

FAST_DIR = Path(__file__).resolve().parent / "fast"

# moto and botocore need credentials; these are fake and only ever sent to 127.0.0.1.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in list(os.environ):  # a developer's own settings must not leak into the tests
    if _var.startswith("STREAMPROCESS_"):
        del os.environ[_var]


# ---------------------------------------------------------------------------------------------- tiers
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=("all", "fast", "rest"),
        default="all",
        help="fast: only tests/fast (in-process, seconds); rest: everything else; all (default): both",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tier = config.getoption("--tier")
    keep, drop = [], []
    for item in items:
        fast = item.path.is_relative_to(FAST_DIR)
        if fast:
            item.add_marker(pytest.mark.fast)
        (keep if tier == "all" or (tier == "fast") == fast else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---------------------------------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server process speaking the S3 and SQS wire protocols."""
    with moto_server(log=tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture(scope="session")
def shared_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedUp]:
    """One `streamprocess up` (HTTP and gRPC, the live model loaded once) for the modules whose tests need only
    default settings, an API key of their own and the events token: started by the first that asks, once."""
    tmp = tmp_path_factory.mktemp("shared-up")
    http, grpc_port = free_port(), free_port()
    env = cli_env(
        api_keys=",".join(SHARED_UP_KEYS),
        events_token=SHARED_UP_EVENTS_TOKEN,
        data_dir=str(tmp / "data"),
        grpc_port=grpc_port,
    )
    with up_server(tmp, env, http, grpc_port) as log:
        yield SharedUp(f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc_port}", log)


@pytest.fixture
def bucket_name() -> str:
    return unique("sp-test")


@pytest.fixture
def s3_bucket(moto_url: str, bucket_name: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=bucket_name)
    return bucket_name


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another process's socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
