"""Wiring: settings → object stores, queues, job store, router, job handlers, worker.

Entry points (CLI, API, Lambda handlers) build a :class:`Runtime` and take the parts they need.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .archive import EventArchive
from .config import Settings, StoreBackend
from .events import make_object_created_event
from .ingest import EventRouter
from .jobs import JobStore
from .kinds import EVENTS_QUEUE, KINDS, QUEUE_ROLES
from .pipeline import JobHandler, worker_id
from .processors import ProcessorUnavailable, get_processor
from .queues import Queue, make_queue
from .replay import Replayer, ReplayItem, ReplayOptions
from .storage import ObjectCreated, ObjectStore, make_store
from .submit import Submissions
from .worker import Handler, Worker, WorkerOptions

if TYPE_CHECKING:  # live captioning loads the model stack: imported when a pool is made (live_pool)
    from .live.limits import PoolSettings
    from .live.pool import LivePool
    from .live.scheduler import Decoder

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queues: dict[str, Queue] = {role: make_queue(settings, role) for role in QUEUE_ROLES}
        self.store: ObjectStore = make_store(settings, notify=self._announce)
        self.result_store: ObjectStore = (
            self.store if settings.output_bucket == settings.bucket else make_store(settings, settings.output_bucket)
        )
        self.jobs = JobStore(self.result_store, settings.jobs_prefix)
        self.archive = EventArchive(self.result_store, settings.archive_prefix, settings.archive_days)
        self.worker_id = worker_id()

    @property
    def is_embedded_store(self) -> bool:
        return self.settings.store is StoreBackend.local

    async def _announce(self, created: ObjectCreated) -> None:
        """The local store's bucket notification target: the events queue, carrying the S3 event S3 would send."""
        event = make_object_created_event(
            bucket=created.bucket, key=created.key, size=created.size, etag=created.etag, version_id=created.version_id
        )
        await self.queues["events"].send(json.dumps(event))

    async def ensure(self) -> None:
        for q in self.queues.values():
            await q.ensure()

    async def close(self) -> None:
        for q in self.queues.values():
            await q.close()
        await self.store.close()
        if self.result_store is not self.store:
            await self.result_store.close()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ handlers
    def router(self) -> EventRouter:
        return EventRouter(
            store=self.store,
            jobs=self.jobs,
            queues={kind.name: self.queues[kind.queue] for kind in KINDS.values()},
            inbox_prefix=self.settings.inbox_prefix,
            max_file_size=self.settings.max_file_size,
            tenant=self.settings.drop_tenant,
            archive=self.archive if self.archive.enabled else None,
        )

    async def upkeep(self) -> None:
        """The router's periodic upkeep, wherever the router runs (``up``, ``worker`` with the events role), until
        cancelled: uploads that never came fail (:meth:`Submissions.sweep_uploads`), and archived events past
        ``archive_days`` are deleted (:meth:`EventArchive.sweep`)."""
        await asyncio.gather(self.submissions().sweep_uploads(), self.archive.sweep())

    def replayer(
        self,
        options: ReplayOptions,
        on_item: Callable[[ReplayItem], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> Replayer:
        """``streamprocess replay`` over this runtime's stores and queues (:mod:`.replay`)."""
        s = self.settings
        return Replayer(
            router=self.router(),
            jobs=self.jobs,
            queues=self.queues,
            result_store=self.result_store,
            archive=self.archive,
            results_prefix=s.results_prefix,
            jobs_prefix=s.jobs_prefix,
            options=options,
            on_item=on_item,
            on_total=on_total,
        )

    def job_handler(self, kind: str) -> JobHandler:
        s = self.settings
        return JobHandler(
            kind,
            get_processor(s.processor_for(kind), s),
            source_store=self.store,
            result_store=self.result_store,
            jobs=self.jobs,
            results_prefix=s.results_prefix,
            max_file_size=s.max_file_size,
            visibility_timeout=s.visibility_timeout,
            worker=self.worker_id,
        )

    def handlers(self, roles: list[str]) -> tuple[list[tuple[Queue, Handler]], dict[str, str]]:
        """Consumers for ``roles``; roles whose processor cannot load are left out, with the reason."""
        consumers: list[tuple[Queue, Handler]] = []
        missing: dict[str, str] = {}
        for role in roles:
            if role == EVENTS_QUEUE:
                consumers.append((self.queues[role], self.router()))
                continue
            try:
                consumers.append((self.queues[role], self.job_handler(role)))
            except ProcessorUnavailable as e:
                missing[role] = e.message
        return consumers, missing

    def submissions(self) -> Submissions:
        """Submitting and reading jobs over this runtime's stores: what every front door and the upload sweep use."""
        return Submissions(
            self.store, self.result_store, self.jobs, self.settings, presign_needs_size=not self.is_embedded_store
        )

    def live_pool_settings(self) -> PoolSettings:
        """The live pool's settings, from this runtime's (the model defaults to the jobs' model)."""
        from .live.limits import PoolSettings, SessionLimits

        s = self.settings
        return PoolSettings(
            model=s.live_model or s.stt_model,
            device=s.stt_device,
            compute_type=s.stt_compute_type,
            cpu_threads=s.stt_cpu_threads,
            models_dir=s.models_dir,
            max_streams=s.live_max_streams,
            max_batch=s.live_max_batch,
            workers=s.live_workers,
            max_wait=s.live_max_wait_ms / 1000,
            session=SessionLimits(step=s.live_step, buffer_max=s.live_buffer_max, idle_timeout=s.live_idle_timeout),
        )

    def live_pool(self, decoder: Decoder | None = None) -> LivePool | None:
        """The hot pool for live captioning, or None when ``live_max_streams`` is 0. It loads the live model unless
        ``decoder`` is given (the benchmark's naive design); saved streams become jobs (:mod:`.live_archive`)."""
        s = self.settings
        if not s.live_max_streams:
            return None
        from .live.pool import LivePool
        from .live_archive import JobArchive

        archive = JobArchive(self.result_store, self.jobs, s.output_bucket, s.results_prefix)
        return LivePool(self.live_pool_settings(), decoder=decoder, archive=archive)

    def worker(self, roles: list[str], **overrides: Any) -> tuple[Worker, dict[str, str]]:
        s = self.settings
        options = WorkerOptions(
            concurrency=s.concurrency,
            visibility_timeout=s.visibility_timeout,
            max_attempts=s.max_attempts,
            retry_base_delay=s.retry_base_delay,
            retry_max_delay=s.retry_max_delay,
            shutdown_grace=s.shutdown_grace,
        )
        for k, v in overrides.items():
            if v is not None:
                setattr(options, k, v)
        consumers, missing = self.handlers(roles)
        # The router (always running) keeps the job queues countable for KEDA while their workers are at zero.
        keep = [self.queues[r] for r in dict.fromkeys(k.queue for k in KINDS.values())] if EVENTS_QUEUE in roles else []
        return Worker(consumers, options, keep), missing
