"""Speech-to-text with faster-whisper: audio in, timed text out.

One module per stage, as faster-whisper itself: :mod:`.models` (which model, loaded once), :mod:`.audio`
(decode and validate), :mod:`.options` (per-job options), :mod:`.engine` (transcribe), :mod:`.formats`
(JSON, text, SRT, WebVTT). Nothing here knows of queues, storage or HTTP.
"""

from .audio import AudioError, CorruptAudio, NoAudio, TooLong
from .engine import SttEngine
from .options import TranscribeOptions
from .types import Segment, Transcript, Word

__all__ = [
    "AudioError",
    "CorruptAudio",
    "NoAudio",
    "Segment",
    "SttEngine",
    "TooLong",
    "TranscribeOptions",
    "Transcript",
    "Word",
]
