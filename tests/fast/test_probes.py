"""Kubernetes' probes, in process: `GET /ready` without a key (a probe has none) says ready or not and nothing more;
with a key it shows each check; the standard gRPC health service (`grpc.health.v1`, a real grpc client against a
started server) reports the server, OCRService and STTService, and turns NOT_SERVING when the service drains."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.local_services import free_port
from streamprocess.config import Settings
from streamprocess.errors import ExitCode, StartupError
from streamprocess.grpc_server import start
from streamprocess.grpc_server.health import OCR_SERVICE, STT_SERVICE, Health
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pool import LivePool
from streamprocess.runtime import Runtime
from streamprocess.service import Service, Started
from streamprocess.tenants import Credentials

from ..helpers import DeafDecoder

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


# ---------------------------------------------------------------------------------------------- GET /ready
async def test_ready_without_a_key_says_ready_and_nothing_more(client: httpx.AsyncClient, auth: dict) -> None:
    anonymous = await client.get("/ready")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}
    keyed = await client.get("/ready", headers=auth)
    assert keyed.status_code == 200
    assert keyed.json() == {
        "status": "ready",
        "checks": {"store": "ok", "queue:events": "ok", "queue:stt": "ok", "queue:ocr": "ok"},
    }


async def test_ready_with_bad_credentials_is_refused(client: httpx.AsyncClient) -> None:
    """Credentials that are sent are checked, as on every route: only their absence is anonymous."""
    assert (await client.get("/ready", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await client.get("/ready", headers={"Authorization": "Basic a2V5LWE6"})).status_code == 401
    assert (await client.get("/health")).json() == {"status": "ok"}


async def test_a_broken_queue_is_not_ready_with_details_only_for_a_key(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict
) -> None:
    await runtime.queues["ocr"].close()  # its database connection is gone: depth() fails
    await asyncio.sleep(1.1)  # past the second anonymous callers share a result for
    anonymous = await client.get("/ready")
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "not ready"}
    keyed = await client.get("/ready", headers=auth)
    checks = keyed.json()["checks"]
    assert keyed.status_code == 503 and keyed.json()["status"] == "not ready"
    assert checks["queue:ocr"].startswith("error: ") and checks["store"] == "ok" and checks["queue:stt"] == "ok"


async def test_anonymous_callers_share_one_round_of_checks(client: httpx.AsyncClient, runtime: Runtime) -> None:
    calls = 0
    depth = runtime.queues["stt"].depth

    async def counted():  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await depth()

    runtime.queues["stt"].depth = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(client.get("/ready") for _ in range(20)))
    assert {r.status_code for r in answers} == {200} and calls == 1
    await asyncio.sleep(1.1)
    assert (await client.get("/ready")).status_code == 200 and calls == 2


async def test_a_draining_server_is_not_ready(client: httpx.AsyncClient, auth: dict) -> None:
    client._transport.app.state.draining = True  # type: ignore[attr-defined]  # what Service.stop() sets
    anonymous = await client.get("/ready")
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "not ready"}
    keyed = await client.get("/ready", headers=auth)
    assert keyed.status_code == 503 and keyed.json()["checks"]["server"] == "draining"


async def test_openapi_still_offers_the_key_on_ready(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["paths"]["/ready"]["get"]["security"] == [{"ApiKey": []}]


# ---------------------------------------------------------------------------------------------- gRPC health


async def _status(channel: grpc.aio.Channel, service: str) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


async def test_grpc_health_follows_the_service_it_is_told(tmp_path: Path) -> None:
    """NOT_SERVING until the caller says everything listens; STTService serves with a live pool behind it."""
    pool = LivePool(PoolSettings(max_streams=1), decoder=DeafDecoder())
    health, port = Health(live=True), free_port()
    async with Runtime(Settings(_env_file=None, data_dir=tmp_path / "data")) as rt:
        server = await start(rt.submissions(), Credentials({"k": "acme"}, []), "127.0.0.1", port, pool, health)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert [await _status(channel, s) for s in ("", OCR_SERVICE, STT_SERVICE)] == [NOT_SERVING] * 3
                await health.serving()
                assert [await _status(channel, s) for s in ("", OCR_SERVICE, STT_SERVICE)] == [SERVING] * 3
                with pytest.raises(grpc.aio.AioRpcError) as unknown:
                    await _status(channel, "streamprocess.v1.Nothing")
                assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
                await health.draining()
                await health.serving()  # too late: draining is for good
                assert [await _status(channel, s) for s in ("", OCR_SERVICE, STT_SERVICE)] == [NOT_SERVING] * 3
        finally:
            await server.stop(None)
            await pool.close()


async def test_the_api_service_serves_probes_and_drains(settings: Settings) -> None:
    """`streamprocess api`'s composition in process (real ports): no workers, /ready without a key, gRPC health with
    STTService NOT_SERVING (live off), and on stop NOT_SERVING for everything before the port closes."""
    port = free_port()
    grpc_port = free_port()
    settings = settings.model_copy(update={"port": port, "grpc_port": grpc_port, "live_max_streams": 0})
    started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
    stopped: list[int] = []
    service = Service(settings, roles=(), on_started=started.set_result, on_stopped=stopped.append)
    running = asyncio.create_task(service.run())
    await asyncio.wait([running, started], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    assert started.done(), running.result() if running.done() else "not started in time"
    assert started.result().roles == () and started.result().watching and started.result().generated_key is None
    assert service._worker is None  # nothing consumes a queue here
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ready = await http.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        assert await _status(channel, "") == SERVING and await _status(channel, OCR_SERVICE) == SERVING
        assert await _status(channel, STT_SERVICE) == NOT_SERVING  # live_max_streams=0: no pool behind it
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == SERVING
        service.stop()
        assert (await asyncio.wait_for(watch.read(), 5)).status == NOT_SERVING
        watch.cancel()
    await asyncio.wait_for(running, 30)
    assert stopped == [0]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_the_api_service_needs_its_keys(settings: Settings) -> None:
    """Replicas cannot each make a key: `api` without STREAMPROCESS_API_KEYS refuses, before anything loads."""
    port = free_port()
    bare = settings.model_copy(update={"api_keys": None, "port": port, "grpc_port": free_port()})
    with pytest.raises(StartupError) as refused:
        await Service(bare, roles=()).run()
    assert refused.value.exit_code == ExitCode.BAD_SETTING and "STREAMPROCESS_API_KEYS" in refused.value.message
    with pytest.raises(ValueError, match="unknown queue role"):
        Service(settings, roles=("events", "nope"))


# ---------------------------------------------------------------------------------------------- the upload sweep
async def _serve_for(
    settings: Settings, roles: tuple[str, ...], seconds: float, job: list[str], auth: dict[str, str]
) -> None:
    """Runs the service with ``roles`` for ``seconds``; hands out one presigned upload first when ``job`` is empty."""
    started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
    service = Service(settings, roles=roles, on_started=started.set_result)
    running = asyncio.create_task(service.run())
    await asyncio.wait([running, started], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    assert started.done(), running.result() if running.done() else "not started in time"
    if not job:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as http:
            r = await http.post(
                "/uploads",
                json={"filename": "a.wav", "content_type": "audio/wav"},
                headers=auth,
            )
            assert r.status_code in (200, 201), r.text
            job.append(r.json()["job_id"])
    await asyncio.sleep(seconds)
    service.stop()
    await asyncio.wait_for(running, 30)


async def test_the_upload_sweep_runs_only_where_the_router_runs(settings: Settings, auth: dict[str, str]) -> None:
    """`api` (no roles) never sweeps: an upload that never came is still awaiting it (its raw record, not read
    through the API, which would expire it on the spot); the router's process (the events role) fails it."""
    port = free_port()
    settings = settings.model_copy(update={"port": port, "grpc_port": 0, "live_max_streams": 0, "upload_url_ttl": 1})
    job: list[str] = []
    await _serve_for(settings, (), 2.5, job, auth)  # the URL expired 1.5 s ago; a sweep would run every 0.5 s
    async with Runtime(settings) as rt:
        record = await rt.jobs.get(job[0])
        assert record is not None and record.state == "awaiting_upload"
    await _serve_for(settings, ("events",), 1.5, job, auth)
    async with Runtime(settings) as rt:
        record = await rt.jobs.get(job[0])
        assert record is not None and record.state == "failed" and record.error is not None
        assert record.error.code == "upload_expired"
