"""Shared fixtures: real servers (redis-server, moto's S3/SQS server) on 127.0.0.1, and settings for each backend."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local_services import free_port, moto_server, redis_server, wait_port

__all__ = ["free_port", "wait_port"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_AUDIO = ROOT.parent / "shared" / "testdata" / "audio"

# moto and botocore need credentials; these are fake and only ever sent to 127.0.0.1.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in list(os.environ):  # a developer's own settings must not leak into the tests
    if _var.startswith("STREAMPROCESS_"):
        del os.environ[_var]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server process speaking the S3 and SQS wire protocols."""
    with moto_server(log=tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket_name() -> str:
    return unique("sp-test")


@pytest.fixture
def s3_bucket(moto_url: str, bucket_name: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=bucket_name)
    return bucket_name


def cli_env(**settings: object) -> dict[str, str]:
    """Environment for a `streamprocess` subprocess: this interpreter's, plus STREAMPROCESS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROCESS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["STREAMPROCESS_GRPC_PORT"] = "0"  # servers under test share the machine: no fixed ports
    for k, v in settings.items():
        if v is not None:
            env[f"STREAMPROCESS_{k.upper()}"] = str(v)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamprocess", *args]


@contextlib.contextmanager
def up_server(tmp: Path, env: dict[str, str], port: int, *wait_also: int) -> Iterator[Path]:
    """`streamprocess up --port PORT` as a subprocess in ``tmp`` (log in ``tmp/up.log``), until the block ends."""
    log = tmp / "up.log"
    proc = subprocess.Popen(
        cli("up", "--port", str(port)), env=env, cwd=tmp, stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    try:
        for p in (port, *wait_also):
            wait_port(p, proc)
        yield log
    finally:
        proc.terminate()
        proc.wait(30)
