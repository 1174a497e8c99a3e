"""The whole service in one process, as ``streamprocess up`` runs it: the queues' workers, the HTTP API (uvicorn),
gRPC, the live-captions pool, the drop-folder watcher and the sweep that fails uploads that never came.

:class:`Service` is the composition; the command line only parses options and calls it, and a test or another entry
point can start it in-process::

    service = Service(settings)
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
import secrets
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .backends import reach
from .config import Settings
from .errors import ExitCode, StartupError, StreamProcessError
from .kinds import QUEUE_ROLES
from .startup import check_ports, open_runtime
from .storage import DropFolderWatcher, LocalObjectStore

if TYPE_CHECKING:
    import uvicorn

    from .live.pool import LivePool
    from .runtime import Runtime
    from .worker import Worker


@dataclass(frozen=True)
class Started:
    """What :meth:`Service.run` reports once everything listens."""

    settings: Settings
    missing: dict[str, str] = field(default_factory=dict)  # role ("stt", "ocr", "live") -> why it is not served
    generated_key: str | None = None  # the drop tenant's API key made for this run, when none was configured


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
    """Everything ``up`` runs. :meth:`run` serves until :meth:`stop` (or, with ``handle_signals``, SIGINT/SIGTERM);
    in-flight jobs finish first.

    ``on_started`` is called once everything listens; ``on_signal`` when a signal asks it to stop; ``on_stopped``
    with the number of jobs released to their queue while still running in threads, after everything stopped and
    before the runtime closes (``up`` leaves the process at once then).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_started: Callable[[Started], None] | None = None,
        on_signal: Callable[[int], None] | None = None,
        on_stopped: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_started = on_started
        self.on_signal = on_signal
        self.on_stopped = on_stopped
        self._worker: Worker | None = None
        self._server: uvicorn.Server | None = None
        self._stopping = False

    def stop(self) -> None:
        """Finish in-flight jobs, then stop everything; :meth:`run` returns."""
        self._stopping = True
        if self._worker is not None:
            self._worker.stop()
        if self._server is not None:
            self._server.should_exit = True

    def _signalled(self, sig: int) -> None:
        if self.on_signal is not None:
            self.on_signal(sig)
        self.stop()

    async def run(self, *, handle_signals: bool = False) -> None:
        """Check the ports, reach the backends, load, serve until stopped; raises
        :class:`~streamprocess.errors.StartupError` when it cannot start."""
        settings = self.settings
        check_ports(settings)  # before anything loads
        generated = None if settings.api_key_tenants() else secrets.token_urlsafe(24)
        if generated:  # the drop tenant's key for this run, so it sees the drop folder's jobs
            settings = settings.model_copy(update={"api_keys": SecretStr(f"{settings.drop_tenant}={generated}")})
        keys = settings.api_key_tenants()
        async with open_runtime(settings) as rt:
            await reach(rt)
            worker, missing = rt.worker(list(QUEUE_ROLES))
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
            server = self._server = _embedded_server(rt, keys, live)
            tasks = [asyncio.create_task(rt.submissions().sweep_uploads())]  # uploads that never came fail
            if isinstance(rt.store, LocalObjectStore):
                watcher = DropFolderWatcher(rt.store)
                tasks.append(asyncio.create_task(watcher.watch(settings.watch_interval, settings.watch_settle)))
            grpc_server = None
            serving: asyncio.Task[None] | None = None
            with signals_call(self._signalled) if handle_signals else contextlib.nullcontext():
                try:
                    if settings.grpc_port:
                        from .grpc_server import start as start_grpc
                        from .tenants import Credentials

                        grpc_server = await start_grpc(
                            rt.submissions(),
                            Credentials(keys, settings.events_token_list()),
                            settings.host,
                            settings.grpc_port,
                            live,
                        )
                    serving = asyncio.create_task(_serve(server, settings))
                    while not server.started and not serving.done():
                        await asyncio.sleep(0.05)
                    if serving.done():
                        await serving  # raises what stopped it
                        raise StartupError(ExitCode.FAILED, "the HTTP server stopped while starting.")
                    if self.on_started is not None:
                        self.on_started(Started(settings, missing, generated))
                    await worker.run()
                finally:
                    server.should_exit = True
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, *([serving] if serving else []), return_exceptions=True)
                    if grpc_server is not None:
                        await grpc_server.stop(grace=5)
                    if live is not None:
                        await live.close()
                if self.on_stopped is not None:
                    self.on_stopped(worker.released)


def _embedded_server(rt: Runtime, keys: dict[str, str], live: LivePool | None) -> uvicorn.Server:
    import uvicorn

    from .api import create_app

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the service handles signals itself
            yield

    s = rt.settings
    config = uvicorn.Config(create_app(rt, keys, live), host=s.host, port=s.port, log_level="warning", lifespan="off")
    return EmbeddedServer(config)


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
