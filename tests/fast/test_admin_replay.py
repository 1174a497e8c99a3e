"""The admin API's replays, in this process: POST /admin/replay starts one and answers its id, GET follows it to
its report; only an admin key opens it, and an admin key opens nothing else."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from streamprocess.config import Settings
from streamprocess.replay import ReplayOptions
from streamprocess.runtime import Runtime

from ..helpers import run_burst, wav_bytes

ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_keys": SecretStr("admin-key")})


async def finished(client: httpx.AsyncClient, url: str) -> dict:  # type: ignore[type-arg]
    for _ in range(100):
        status = (await client.get(url, headers=ADMIN)).json()
        if not status["running"]:
            return status["report"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the replay at {url} did not finish")


async def test_a_replay_over_http(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await runtime.store.put(f"{runtime.settings.inbox_prefix}a.wav", wav_bytes())
    await run_burst(runtime)
    r = await client.post("/admin/replay", json={"source": "archive"}, headers=ADMIN)
    assert r.status_code == 202, r.text
    started = r.json()
    assert r.headers["location"] == started["status_url"]
    report = await finished(client, started["status_url"])
    assert report["id"] == started["replay_id"] and report["counts"]["skipped_done"] == 1
    assert report["report_key"] == f"jobs/replays/{started['replay_id']}.json"

    r = await client.post("/admin/replay", json={"source": "failed", "dry_run": True}, headers=ADMIN)
    assert (await finished(client, r.json()["status_url"]))["dry_run"] is True

    # A replay another process ran (or this one before a restart) is read from its report in the store.
    other = await runtime.replayer(ReplayOptions()).replay_jobs(["0" * 32])
    r = await client.get(f"/admin/replay/{other.id}", headers=ADMIN)
    assert r.status_code == 200 and r.json()["report"]["counts"]["error"] == 1
    assert (await client.get("/admin/replay/nope-123", headers=ADMIN)).status_code == 404


async def test_only_an_admin_key_opens_the_admin_api(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"source": "failed", "dry_run": True}
    assert (await client.post("/admin/replay", json=body)).status_code == 401
    assert (await client.post("/admin/replay", json=body, headers=auth)).status_code == 403
    assert (await client.post("/admin/replay", json={"source": "prefix"}, headers=ADMIN)).status_code == 422
    bad = await client.post("/admin/replay", json={"source": "prefix", "prefix": "results/"}, headers=ADMIN)
    assert bad.status_code == 422 and "inbox only" in bad.text, bad.text
    # An admin key is not an API key: no tenant, no jobs.
    assert (await client.get("/status/" + "0" * 32, headers=ADMIN)).status_code == 403
