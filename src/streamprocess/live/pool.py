"""The hot pool: one Whisper model loaded and warmed at start-up, shared by every live stream through the
batching scheduler, with admission control and an optional archive of each session's transcript.

Admission never slows the streams already running: beyond ``max_streams`` a new stream is refused at once
(:class:`PoolFull`; the WebSocket closes with 1013 "try again later", gRPC answers RESOURCE_EXHAUSTED).
The live model is its own CTranslate2 instance, apart from the one batch jobs use, so a long file being
transcribed never queues in front of live captions.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np

from .. import metrics
from ..config import Settings
from ..jobs import JobRecord, JobState, JobStore, SourceRef, now_utc
from ..storage import ObjectStore
from ..stt import models
from ..stt.audio import SAMPLE_RATE
from ..stt.formats import CONTENT_TYPES, FORMATS, render
from ..stt.types import Segment, Transcript, Word
from .decoder import DecodeRequest, WhisperDecoder
from .protocol import PoolFull, StreamConfig
from .scheduler import BatchScheduler, Decoder
from .session import LiveSession, SessionLimits


class Archive:
    """Saves a finished session as an ordinary, succeeded STT job: ``<results_prefix><id>/transcript.*`` (and
    ``audio.wav``), with its job record, so the REST API serves it like any other job (to the stream's tenant)."""

    def __init__(self, store: ObjectStore, jobs: JobStore, bucket: str, results_prefix: str) -> None:
        self.store, self.jobs, self.bucket, self.prefix = store, jobs, bucket, results_prefix

    async def __call__(self, session: LiveSession, tenant: str | None = None) -> str:
        job_id = session.id
        segments = [
            Segment(
                id=f["id"],
                start=f["start"],
                end=f["end"],
                text=" " + f["text"],
                avg_logprob=0.0,
                no_speech_prob=0.0,
                words=[Word(**w) for w in f["words"]],
            )
            for f in session.finals
        ]
        duration = round(session.received / SAMPLE_RATE, 3)
        transcript = Transcript(
            text=" ".join(f["text"] for f in session.finals),
            language=session.language or "en",
            language_probability=1.0,
            duration=duration,
            model=session.model,
            options={"live": True, **session.config.model_dump(exclude={"save", "save_audio"})},
            segments=segments,
        )
        results: dict[str, str] = {}
        for fmt in FORMATS:
            key = f"{self.prefix}{job_id}/transcript.{fmt}"
            await self.store.put(key, render(transcript, fmt).encode(), content_type=CONTENT_TYPES[fmt])
            results[f"transcript.{fmt}"] = key
        if session.recording is not None:
            key = f"{self.prefix}{job_id}/audio.wav"
            await self.store.put(key, session.recording.read(), content_type="audio/wav")
            results["audio.wav"] = key
        ended = now_utc()
        record = JobRecord(
            job_id=job_id,
            kind="stt",
            state=JobState.succeeded,
            media_type="audio/pcm",
            tenant=tenant,
            source=SourceRef(bucket=self.bucket, key=f"live/{job_id}"),
            options=transcript.options,
            started_at=session.started_at,
            finished_at=ended,
            results=results,
            attempts=1,
            summary={
                "live": True,
                "language": transcript.language,
                "duration": duration,
                "segments": len(segments),
                "model": session.model,
            },
        )
        await self.jobs.create(record)
        return job_id


class LivePool:
    def __init__(
        self,
        settings: Settings,
        *,
        decoder: Decoder | None = None,
        archive: Archive | None = None,
        limits: SessionLimits | None = None,
    ) -> None:
        self.settings = settings
        self.model_name = settings.live_model or settings.stt_model
        if decoder is None:
            spec = models.resolve(
                self.model_name, settings.stt_device, settings.stt_compute_type, settings.stt_cpu_threads
            )
            decoder = WhisperDecoder(models.load(spec, replica="live"))
        self.decoder = decoder
        self.scheduler = BatchScheduler(
            decoder,
            max_batch=settings.live_max_batch or self.auto_batch(decoder),
            max_wait=settings.live_max_wait_ms / 1000,
        )
        self.limits = limits or SessionLimits(
            step=settings.live_step, buffer_max=settings.live_buffer_max, idle_timeout=settings.live_idle_timeout
        )
        self.max_streams = settings.live_max_streams
        self.archive = archive
        self.active: dict[str, Admission] = {}

    @staticmethod
    def auto_batch(decoder: Decoder) -> int:
        """Batch size when the settings leave it open: 8 on a GPU; 1 on CPU, where a batch of n costs about n single
        decodes (measured with tiny.en on 2 cores) and so only makes every stream of it wait for all of them."""
        return 8 if isinstance(decoder, WhisperDecoder) and decoder.device == "cuda" else 1

    async def warm_up(self) -> float:
        """One decode on the model's thread (loads kernels, fills caches); seconds it took."""
        t0 = time.perf_counter()
        noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32)
        await self.scheduler.run_now(lambda: self.decoder.decode([DecodeRequest(noise)]))
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
        """``tenant``: whose job the saved session becomes."""
        pool = self.pool
        saver = functools.partial(pool.archive, tenant=tenant) if pool.archive is not None and config.save else None
        self.session = LiveSession(
            self.id, config, pool.scheduler.decode, pool.limits, model=pool.model_name, saver=saver
        )
        self.session.start()
        return self.session
