"""The HTTP API (FastAPI). This module holds the app factory and the operational endpoints; the REST, upload
and WebSocket front doors add their routers here."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="StreamProcess", version=__version__)
    app.state.runtime = runtime

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"])
    async def ready() -> JSONResponse:
        """Readiness: the object store and every queue answer within 5 s."""
        checks: dict[str, str] = {}

        async def check(name: str, coro) -> None:  # type: ignore[no-untyped-def]
            try:
                await asyncio.wait_for(coro, 5)
                checks[name] = "ok"
            except Exception as e:
                checks[name] = f"error: {type(e).__name__}: {e}"[:300]

        await check("store", runtime.store.exists(runtime.jobs.key("0" * 32)))
        for role, q in runtime.queues.items():
            await check(f"queue:{role}", q.depth())
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
