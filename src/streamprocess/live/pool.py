"""The hot pool: one Whisper model loaded and warmed at start-up, shared by every live stream through the
batching scheduler, with admission control and an optional archive of each session's transcript.

Admission never slows the streams already running: beyond ``max_streams`` a new stream is refused at once
(:class:`PoolFull`; the WebSocket closes with 1013 "try again later", gRPC answers RESOURCE_EXHAUSTED).
The live model is its own CTranslate2 instance, apart from the one batch jobs use, so a long file being
transcribed never queues in front of live captions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np

from .. import metrics
from ..stt import models
from ..stt.audio import SAMPLE_RATE
from ..stt.options import InvalidOptions
from .archive import Archive
from .decoder import DecodeRequest, WhisperDecoder
from .limits import PoolSettings
from .protocol import PoolFull, ProtocolError, StreamConfig
from .scheduler import BatchScheduler, Decoder
from .session import LiveSession

MAX_AUTO_WORKERS = 8


def worker_plan(settings: PoolSettings, device: str, cores: int | None = None) -> tuple[int, int]:
    """(model calls at once, threads each) for the live model. On CPU, unless the settings say, one call per core
    on one thread each: small live decodes keep two threads of one call busy only part of the time (tiny.en on 2
    cores: 108 ms a decode through two one-thread workers, 168–195 ms through one two-thread call, measured on
    jfk.flac buffers of 3–9 s), so separate calls on separate cores hold more streams (bench/live.py: 1 → 4 streams
    at word p95 < 1 s). On a GPU one call at a time, batched."""
    threads = settings.cpu_threads
    if settings.workers:
        return settings.workers, threads
    if device == "cuda":
        return 1, threads
    cores = cores or len(os.sched_getaffinity(0))
    threads = threads or 1
    return max(1, min(cores // threads, MAX_AUTO_WORKERS)), threads


def load_decoder(settings: PoolSettings) -> WhisperDecoder:
    """The live replica of the settings' Whisper model (loads it), with :func:`worker_plan`'s workers."""
    spec = models.resolve(
        settings.model, settings.device, settings.compute_type, settings.cpu_threads, models_dir=settings.models_dir
    )
    workers, threads = worker_plan(settings, spec.device)
    spec = dataclasses.replace(spec, workers=workers, cpu_threads=threads)
    return WhisperDecoder(models.load(spec, replica="live"), workers=workers)


class LivePool:
    def __init__(
        self, settings: PoolSettings, *, decoder: Decoder | None = None, archive: Archive | None = None
    ) -> None:
        """``decoder``: the settings' model when None (loaded here); ``archive``: keeps the streams that ask to be
        saved (none saved when None)."""
        self.settings = settings
        self.model_name = settings.model
        self.decoder = decoder if decoder is not None else load_decoder(settings)
        self.scheduler = BatchScheduler(
            self.decoder,
            max_batch=settings.max_batch or self.auto_batch(self.decoder),
            max_wait=settings.max_wait,
            concurrency=getattr(self.decoder, "workers", 1),
        )
        self.limits = settings.session
        self.max_streams = settings.max_streams
        self.archive = archive
        self.active: dict[str, Admission] = {}

    @staticmethod
    def auto_batch(decoder: Decoder) -> int:
        """Batch size when the settings leave it open: 8 on a GPU; 1 on CPU, where a batch of n costs about n single
        decodes (measured with tiny.en on 2 cores) and so only makes every stream of it wait for all of them."""
        return 8 if isinstance(decoder, WhisperDecoder) and decoder.device == "cuda" else 1

    def check(self, config: StreamConfig) -> None:
        """Refuses a stream config whose language or task the model cannot do (:func:`streamprocess.stt.models.
        check_language`, the check jobs and the CLI use: ``translate`` on an English-only model is
        ``unsupported_task``). A decoder that does not say what it can do (the
        benchmark's naive design, scripted test decoders without ``multilingual``) takes any language."""
        multilingual = getattr(self.decoder, "multilingual", None)
        if multilingual is None:
            return
        try:
            models.check_language(
                self.model_name,
                config.language,
                multilingual=bool(multilingual),
                supported=getattr(self.decoder, "supported_languages", ()),
                task=config.task,
            )
        except InvalidOptions as e:
            raise ProtocolError(e.message, code=e.code) from None

    async def warm_up(self) -> float:
        """One decode of the longest buffer a stream may hold on each model worker at once (loads kernels, sizes
        each worker's caches: a worker's memory is taken at start-up, not later by a stream that reaches the
        largest window); seconds it took."""
        t0 = time.perf_counter()
        seconds = self.limits.buffer_max
        noise = (np.random.default_rng(0).standard_normal(int(seconds * SAMPLE_RATE)) * 0.01).astype(np.float32)
        await asyncio.gather(
            *(
                self.scheduler.run_now(lambda: self.decoder.decode([DecodeRequest(noise)]))
                for _ in range(self.scheduler.concurrency)
            )
        )
        return time.perf_counter() - t0

    async def close(self) -> None:
        for admission in list(self.active.values()):
            if admission.session is not None:
                await admission.session.abort()
        await self.scheduler.close()

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[Admission]:
        """Reserves a stream slot at once (or raises :class:`PoolFull`) and frees it however the stream ends."""
        if len(self.active) >= self.max_streams:
            metrics.LIVE_REFUSED.inc()
            raise PoolFull(f"the server is at its limit of {self.max_streams} live streams; try again later")
        admission = Admission(self)
        self.active[admission.id] = admission
        metrics.LIVE_ACTIVE.set(len(self.active))
        try:
            yield admission
        finally:
            self.active.pop(admission.id, None)
            metrics.LIVE_ACTIVE.set(len(self.active))
            if admission.session is not None:
                await admission.session.abort()
                metrics.LIVE_STREAMS.labels(admission.session.close_reason).inc()


class Admission:
    """A reserved slot; :meth:`open` starts the stream once its config is known."""

    def __init__(self, pool: LivePool) -> None:
        self.pool = pool
        self.id = uuid.uuid4().hex
        self.session: LiveSession | None = None

    def open(self, config: StreamConfig, *, tenant: str | None = None) -> LiveSession:
        """``tenant``: whose job the saved session becomes. A language or task the model cannot do is refused
        here as the CLI and jobs refuse it (:class:`ProtocolError` with ``unsupported_language`` or
        ``unsupported_task``)."""
        pool = self.pool
        pool.check(config)
        saver = functools.partial(pool.archive, tenant=tenant) if pool.archive is not None and config.save else None
        self.session = LiveSession(
            self.id, config, pool.scheduler.decode, pool.limits, model=pool.model_name, saver=saver
        )
        self.session.start()
        return self.session
