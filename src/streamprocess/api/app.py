"""The HTTP API (FastAPI). This module holds the app factory and the operational endpoints; the REST, upload
and WebSocket front doors add their routers here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..config import parse_api_keys
from ..runtime import Runtime
from ..submit import Submissions
from . import live as live_routes
from . import openai_compat, problems, routes
from .auth import require_api_key

if TYPE_CHECKING:
    from ..live.pool import LivePool


def create_app(runtime: Runtime, api_keys: Mapping[str, str] | Iterable[str] | None = None,
               live: LivePool | None = None) -> FastAPI:
    """The API over ``runtime``; ``api_keys`` (key → tenant, or ``tenant=key``/bare-key entries) default to the
    settings' (``STREAMPROCESS_API_KEYS``); ``live`` is the hot pool behind ``/v1/stt/stream`` (off when None)."""
    app = FastAPI(title="StreamProcess", version=__version__,
                  description="Media in, text out: speech-to-text and OCR jobs over an event-driven pipeline.")
    app.state.runtime = runtime
    app.state.submissions = Submissions(runtime)
    app.state.api_keys = (runtime.settings.api_key_tenants() if api_keys is None else dict(api_keys)
                          if isinstance(api_keys, Mapping) else parse_api_keys(list(api_keys)))
    app.state.live = live
    problems.install(app)
    app.include_router(routes.api)
    app.include_router(routes.public)
    app.include_router(openai_compat.router)
    app.include_router(live_routes.router)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], dependencies=[Depends(require_api_key)])
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

    @app.get("/metrics", tags=["ops"], dependencies=[Depends(require_api_key)])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
