"""The service as ``streamprocess up`` and ``streamprocess api`` run it: the HTTP API (uvicorn), gRPC with its health
service, the live-captions pool, the drop-folder watcher (local store), and the queues' workers of the roles asked
for, with the sweep that fails uploads that never came where the router (the ``events`` role) runs.

:class:`Service` is the one composition: ``up`` runs every role, ``api`` none (the API Deployment, and the
live-captioning pool when ``STREAMPROCESS_LIVE_MAX_STREAMS`` > 0). The command line only parses options and calls
it, and a test or another entry point can start it in-process::

    service = Service(settings)            # or Service(settings, roles=()) for `api`
    task = asyncio.create_task(service.run())
    ...
    service.stop()
    await task

A start-up failure (a port in use, a bad setting, the store or queue out of reach) is a
:class:`~streamprocess.errors.StartupError` raised from :meth:`Service.run` before any model loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .backends import reach
from .config import Settings
from .errors import ExitCode, StartupError, StreamProcessError
from .kinds import EVENTS_QUEUE, QUEUE_ROLES
from .metrics import export_gpu_metrics
from .startup import check_metrics_port, check_ports, open_runtime, serve_metrics
from .storage import DropFolderWatcher, LocalObjectStore

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from .grpc_server.health import Health
    from .live.pool import LivePool
    from .runtime import Runtime
    from .worker import Worker


@dataclass(frozen=True)
class Started:
    """What :meth:`Service.run` reports once everything listens."""

    settings: Settings
    missing: dict[str, str] = field(default_factory=dict)  # role ("stt", "ocr", "live") -> why it is not served
    generated_key: str | None = None  # the drop tenant's API key made for this run, when none was configured
    roles: tuple[str, ...] = QUEUE_ROLES  # the queues this process consumes (none for `api`)
    watching: bool = False  # the drop-folder watcher runs (the local store)
    gpu_metrics: bool = False  # NVML answered: /metrics carries the GPUs' utilisation and memory


@contextlib.contextmanager
def signals_call(on_signal: Callable[[int], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``on_signal(signal number)`` on the running loop while the block runs."""
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGINT, signal.SIGTERM)
    for s in sigs:
        loop.add_signal_handler(s, on_signal, s)
    try:
        yield
    finally:
        for s in sigs:
            loop.remove_signal_handler(s)


class Service:
    """What ``up`` (every queue role) and ``api`` (``roles=()``) run. :meth:`run` serves until :meth:`stop` (or,
    with ``handle_signals``, SIGINT/SIGTERM). Stopping drains: ``/ready`` answers 503 and the gRPC health service
    ``NOT_SERVING`` at once, the listeners close, open HTTP requests and in-flight jobs finish within
    ``shutdown_grace`` seconds, gRPC calls within 5 s.

    ``on_started`` is called once everything listens; ``on_signal`` when a signal asks it to stop; ``on_stopped``
    with the number of jobs released to their queue while still running in threads, after everything stopped and
    before the runtime closes (``up`` leaves the process at once then).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        roles: Sequence[str] = QUEUE_ROLES,
        on_started: Callable[[Started], None] | None = None,
        on_signal: Callable[[int], None] | None = None,
        on_stopped: Callable[[int], None] | None = None,
    ) -> None:
        unknown = [r for r in roles if r not in QUEUE_ROLES]
        if unknown:
            raise ValueError(f"unknown queue role(s) {unknown}; use {', '.join(QUEUE_ROLES)}")
        self.settings = settings
        self.roles = tuple(roles)
        self.on_started = on_started
        self.on_signal = on_signal
        self.on_stopped = on_stopped
        self._worker: Worker | None = None
        self._server: uvicorn.Server | None = None
        self._app: FastAPI | None = None
        self._health: Health | None = None
        self._stop_requested: asyncio.Event | None = None
        self._draining: asyncio.Task[None] | None = None
        self._stopping = False

    def stop(self) -> None:
        """Drain, then stop everything; :meth:`run` returns."""
        self._stopping = True
        if self._app is not None:
            self._app.state.draining = True  # /ready: 503
        if self._health is not None and self._draining is None:  # gRPC health: NOT_SERVING, while jobs drain
            with contextlib.suppress(RuntimeError):  # called outside the loop: run()'s end says it instead
                self._draining = asyncio.get_running_loop().create_task(self._health.draining())
        if self._worker is not None:
            self._worker.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _signalled(self, sig: int) -> None:
        if self.on_signal is not None:
            self.on_signal(sig)
        self.stop()

    async def run(self, *, handle_signals: bool = False) -> None:
        """Check the ports, reach the backends, load, serve until stopped; raises
        :class:`~streamprocess.errors.StartupError` when it cannot start."""
        settings = self.settings
        check_ports(settings)  # before anything loads
        check_metrics_port(settings)
        generated = None
        if not settings.api_key_tenants():
            if not self.roles:  # `api` runs as replicas: a key made per process would differ from one to the next
                raise StartupError(
                    ExitCode.BAD_SETTING,
                    "STREAMPROCESS_API_KEYS is not set: `streamprocess api` needs its keys given, the same for "
                    "every replica.",
                    "Set STREAMPROCESS_API_KEYS=tenant=key,… (`streamprocess up` makes one per run instead).",
                )
            generated = secrets.token_urlsafe(24)  # the drop tenant's key for this run: it sees the drop folder
            settings = settings.model_copy(update={"api_keys": SecretStr(f"{settings.drop_tenant}={generated}")})
        keys = settings.api_key_tenants()
        self._stop_requested = asyncio.Event()
        async with open_runtime(settings) as rt:
            await reach(rt)
            serve_metrics(settings)  # the port was checked above; no key asked there
            gpu = export_gpu_metrics()
            worker, missing = rt.worker(list(self.roles)) if self.roles else (None, {})
            self._worker = worker
            live = None
            try:
                live = await asyncio.to_thread(rt.live_pool)  # loads the live model
                if live is not None:
                    await live.warm_up()
            except StreamProcessError as e:
                missing["live"] = e.message
            if self._stopping:  # stopped while loading: nothing was served yet
                if live is not None:
                    await live.close()
                return
            server, self._app = _embedded_server(rt, keys, live)
            self._server = server
            tasks = []
            if EVENTS_QUEUE in self.roles:  # with the router, in one place: expired uploads, the event archive
                tasks.append(asyncio.create_task(rt.upkeep()))
            watching = False  # S3 and MinIO send bucket notifications instead of a watcher
            if isinstance(rt.store, LocalObjectStore):
                watching, watcher = True, DropFolderWatcher(rt.store)
                tasks.append(asyncio.create_task(watcher.watch(settings.watch_interval, settings.watch_settle)))
            grpc_server = None
            serving: asyncio.Task[None] | None = None
            with signals_call(self._signalled) if handle_signals else contextlib.nullcontext():
                try:
                    if settings.grpc_port:
                        from .grpc_server import start as start_grpc
                        from .grpc_server.health import Health
                        from .tenants import Credentials

                        self._health = Health(live is not None)
                        grpc_server = await start_grpc(
                            rt.submissions(),
                            Credentials(keys, settings.events_token_list()),
                            settings.host,
                            settings.grpc_port,
                            live,
                            self._health,
                        )
                    serving = asyncio.create_task(_serve(server, settings))
                    while not server.started and not serving.done():
                        await asyncio.sleep(0.05)
                    if serving.done():
                        await serving  # raises what stopped it
                        raise StartupError(ExitCode.FAILED, "the HTTP server stopped while starting.")
                    if self._health is not None and not self._stopping:
                        await self._health.serving()
                    if self.on_started is not None:
                        self.on_started(Started(settings, missing, generated, self.roles, watching, gpu))
                    if worker is not None:
                        await worker.run()
                    else:  # `api`: until stopped, or until the HTTP server stops on its own
                        stopped = asyncio.create_task(self._stop_requested.wait())
                        await asyncio.wait({stopped, serving}, return_when=asyncio.FIRST_COMPLETED)
                        stopped.cancel()
                        if serving.done() and not self._stopping:
                            serving.result()  # raises what stopped the HTTP server, so the process fails with it
                finally:
                    self._app.state.draining = True
                    if self._health is not None:
                        await self._health.draining()
                    server.should_exit = True
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, *([serving] if serving else []), return_exceptions=True)
                    if grpc_server is not None:
                        await grpc_server.stop(grace=5)
                    if live is not None:
                        await live.close()
                if self.on_stopped is not None:
                    self.on_stopped(worker.released if worker is not None else 0)


def _embedded_server(rt: Runtime, keys: dict[str, str], live: LivePool | None) -> tuple[uvicorn.Server, FastAPI]:
    import uvicorn

    from .api import create_app

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the service handles signals itself
            yield

    s = rt.settings
    app = create_app(rt, keys, live)
    config = uvicorn.Config(
        app,
        host=s.host,
        port=s.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=math.ceil(
            s.shutdown_grace
        ),  # open requests (a ?wait=, a live stream) get as long as jobs
    )
    return EmbeddedServer(config), app


async def _serve(server: uvicorn.Server, settings: Settings) -> None:
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits when it cannot listen, after logging why: taken since check_ports
        if server.started:
            raise
        raise StartupError(
            ExitCode.PORT_IN_USE,
            f"HTTP port {settings.port} on {settings.host} was taken "
            "while starting; choose another port with --port or STREAMPROCESS_PORT.",
        ) from None
