"""The HTTP API (FastAPI): the app factory and the operational endpoints. Each feature brings its router:
:mod:`.jobs`, :mod:`.uploads`, :mod:`.events`, :mod:`.openai`, :mod:`.live` and :mod:`.realtime`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..config import parse_api_keys
from ..runtime import Runtime
from ..tenants import Credentials
from . import problems
from .admin.router import router as admin_router
from .deps import optional_api_key, require_api_key
from .events.router import router as events_router
from .jobs.router import router as jobs_router
from .live.router import router as live_router
from .openai.router import router as openai_router
from .realtime.router import router as realtime_router
from .uploads.router import router as uploads_router
from .uploads.router import signed as signed_uploads_router

if TYPE_CHECKING:
    from ..live.pool import LivePool


def create_app(
    runtime: Runtime, api_keys: Mapping[str, str] | Iterable[str] | None = None, live: LivePool | None = None
) -> FastAPI:
    """The API over ``runtime``; ``api_keys`` (key → tenant, or ``tenant=key``/bare-key entries) default to the
    settings' (``STREAMPROCESS_API_KEYS``); ``live`` is the hot pool behind ``/v1/stt/stream`` and ``/v1/realtime``
    (off when None)."""
    app = FastAPI(
        title="StreamProcess",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Media in, text out: speech-to-text and OCR jobs over an event-driven pipeline.",
    )
    app.state.runtime = runtime
    app.state.submissions = runtime.submissions()
    keys = (
        runtime.settings.api_key_tenants()
        if api_keys is None
        else dict(api_keys)
        if isinstance(api_keys, Mapping)
        else parse_api_keys(list(api_keys))
    )
    app.state.credentials = Credentials(keys, runtime.settings.events_token_list(), runtime.settings.admin_key_list())
    app.state.live = live
    app.state.draining = False  # the service sets it when it stops: /ready answers 503 from then on
    problems.install(app)
    for router in (
        uploads_router,
        jobs_router,
        signed_uploads_router,
        events_router,
        openai_router,
        live_router,
        realtime_router,
        admin_router,
    ):
        app.include_router(router)

    _add_docs(app)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    checks_of = _Readiness(runtime)

    @app.get("/ready", tags=["ops"])
    async def ready(tenant: Annotated[str | None, Depends(optional_api_key)]) -> JSONResponse:
        """Readiness: the object store and every queue answer within 5 s, and the server is not draining. Without
        credentials (a Kubernetes probe) only `{"status": "ready"}` (200) or `{"status": "not ready"}` (503); with
        an API key, each check too. Anonymous calls share one round of checks per second."""
        checks = await checks_of(fresh=tenant is not None)
        if app.state.draining:
            checks = {**checks, "server": "draining"}
        ok = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not ready"}
        if tenant is not None:
            body["checks"] = checks
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], dependencies=[Depends(require_api_key)])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class _Readiness:
    """The store and every queue, checked at once (each within 5 s); a result younger than a second is shared by
    anonymous callers, so probes and unauthenticated callers cannot multiply calls to the backends."""

    TIMEOUT = 5.0
    SHARED_FOR = 1.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._last: tuple[float, dict[str, str]] | None = None
        self._running: asyncio.Task[dict[str, str]] | None = None

    async def __call__(self, *, fresh: bool) -> dict[str, str]:
        if fresh:
            return await self._check()
        if self._last is not None and time.monotonic() - self._last[0] < self.SHARED_FOR:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._check())
        return await asyncio.shield(self._running)

    async def _check(self) -> dict[str, str]:
        rt = self.runtime
        probes: dict[str, Awaitable[Any]] = {"store": rt.store.exists(rt.jobs.key("0" * 32))}
        probes.update({f"queue:{role}": q.depth() for role, q in rt.queues.items()})

        async def one(coro: Awaitable[Any]) -> str:
            try:
                await asyncio.wait_for(coro, self.TIMEOUT)
                return "ok"
            except Exception as e:
                return f"error: {type(e).__name__}: {e}"[:300]

        results = await asyncio.gather(*(one(c) for c in probes.values()))
        checks = dict(zip(probes, results, strict=True))
        self._last = (time.monotonic(), checks)
        return checks


#: What /docs and /redoc may load: from this server only (ReDoc's sidebar would fetch Redocly's logo from a CDN),
#: inline scripts and styles (both pages start that way), data: images and fonts, and ReDoc's search worker (blob:).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def _add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI), /redoc and /favicon.ico, all offline: the pages' scripts and styles are fastapi-offline's
    copies, served here under /docs-assets, never from a CDN."""
    assets = str(resources.files("fastapi_offline") / "static")  # a folder on disk: fastapi-offline is not zipped
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
    favicon = resources.files(__package__).joinpath("static/favicon.ico").read_bytes()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.ico",
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
            redoc_favicon_url=f"{root}/favicon.ico",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon_ico() -> Response:
        return Response(favicon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})
