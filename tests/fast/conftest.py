"""The fast tier's fixtures: a Runtime on the embedded store and queue in a temporary directory, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from streamprocess.config import Settings
from streamprocess.runtime import Runtime

KEY = "fast-key"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Echo processors (results at once, no model), retries 50 ms apart, the scripted processor's state in tmp."""
    monkeypatch.setenv("SP_TEST_STATE", str(tmp_path))
    return Settings(
        data_dir=tmp_path / "data",
        stt_processor="tests.processors:Echo",
        ocr_processor="tests.processors:Echo",
        api_keys=KEY,
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        visibility_timeout=5,
        queue_poll_interval=0.02,
    )


@pytest.fixture
def auth() -> dict[str, str]:
    """The headers of a request with the API key."""
    return {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with Runtime(settings) as rt:
        await rt.ensure()
        yield rt


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API over ``runtime`` through httpx's ASGI transport: no server, no port."""
    from streamprocess.api import create_app  # here, so the worker's tests do not need the API to import

    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://fast.test") as c:
        yield c
