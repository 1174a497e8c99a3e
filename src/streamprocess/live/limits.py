"""The numbers live captioning runs by, as plain values: each stream's (:class:`SessionLimits`) and the pool's
(:class:`PoolSettings`). The wiring side builds them from the deployment's settings (``Runtime.live_pool``);
nothing in :mod:`streamprocess.live` reads configuration itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SessionLimits:
    step: float = 0.25  # seconds of new audio before the next decode
    buffer_max: float = 15.0  # seconds of audio the decode buffer may hold
    stall_flush: float = 1.0  # no audio this long mid-utterance: finalize it
    idle_timeout: float = 30.0  # no audio this long: close the stream
    min_audio: float = 0.3  # shortest buffer worth decoding
    commit_min: float = 1.5  # hypotheses of shorter buffers are shown, never committed (too little context)
    commit_lookahead: float = 0.25  # words ending this close to the end of the audio heard are not committed yet
    sentence_trim: float = 8.0  # a buffer longer than this is cut at committed sentence ends
    clause_trim: float = 3.0  # committed words spanning this long (s) are cut at a clause end (a comma); 0: never
    inbound_frames: int = 32  # frames waiting for the driver before feed() blocks
    backlog: float = 30.0  # seconds of audio waiting for the driver before offer() drops audio
    backlog_frames: int = 3000  # frames waiting for the driver before offer() drops audio
    outbound_events: int = 256  # events waiting for the transport


@dataclass(frozen=True)
class PoolSettings:
    model: str = "default"  # the Whisper model (a name stt.models resolves)
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0  # threads per model call (0: one per worker on CPU when workers are chosen here)
    workers: int = 0  # model calls at once; 0: chosen by the device (pool.worker_plan)
    models_dir: Path | None = None  # where `base` is reassembled and pulled models are (None: the user cache)
    max_streams: int = 16  # streams served at once; one more is refused
    max_batch: int = 0  # decode requests per model call; 0: chosen by the device (LivePool.auto_batch)
    max_wait: float = 0.01  # seconds the scheduler waits for company before running a batch
    session: SessionLimits = field(default_factory=SessionLimits)
