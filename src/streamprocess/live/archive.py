"""What a finished stream hands over to be kept (``save`` in its config): the contract only.

Live captioning knows nothing of storage or jobs; the wiring side implements :class:`Archive` (the deployment's
one is :class:`streamprocess.live_archive.JobArchive`: the transcript becomes an ordinary STT job) and hands it to
the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .events import Final
from .pcm import Recording
from .protocol import StreamConfig


@dataclass(frozen=True)
class FinishedStream:
    session_id: str
    config: StreamConfig
    model: str
    language: str  # as the decoder heard it ("" when nothing was decoded)
    finals: list[Final]
    audio_seconds: float  # all the audio the client sent, dropped included
    started_at: datetime
    recording: Recording | None  # the audio kept, when the config asked to save it


class Archive(Protocol):
    async def __call__(self, stream: FinishedStream, *, tenant: str | None) -> str:
        """Keeps ``stream`` as ``tenant``'s; returns the id it is kept under (the ``job_id`` of ``closed``)."""
        ...
