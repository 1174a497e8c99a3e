"""The STT engine: faster-whisper's ``WhisperModel`` (or its ``BatchedInferencePipeline``) behind one call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from ..progress import ProgressFn
from . import models
from .audio import SAMPLE_RATE, load_audio
from .options import TranscribeOptions
from .types import Segment, Transcript, Word


class SttEngine:
    """Loads its model once (shared by every engine asking for the same model) and transcribes files or samples."""

    def __init__(
        self,
        model: str = "default",
        *,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        max_duration: float | None = None,
        models_dir: Path | str | None = None,
    ) -> None:
        """``models_dir``: where ``base`` is reassembled and pulled models are (None: the user cache)."""
        self.spec = models.resolve(model, device, compute_type, cpu_threads, models_dir=models_dir)
        self.model: WhisperModel = models.load(self.spec)
        self.max_duration = max_duration
        self._batched: BatchedInferencePipeline | None = None
        self._lock = threading.Lock()

    @property
    def is_multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def check(self, options: TranscribeOptions) -> None:
        """Refuses (``unsupported_language`` / ``unsupported_task``) what this model cannot do, before any audio."""
        models.check_language(
            self.spec.name,
            options.language,
            multilingual=self.is_multilingual,
            supported=self.model.supported_languages,
            task=options.task,
        )

    def pipeline(self, options: TranscribeOptions) -> WhisperModel | BatchedInferencePipeline:
        if not options.batched:
            return self.model
        with self._lock:
            if self._batched is None:
                self._batched = BatchedInferencePipeline(self.model)
            return self._batched

    def transcribe(
        self,
        audio: Path | str | np.ndarray,
        options: TranscribeOptions | None = None,
        progress: ProgressFn | None = None,  # (seconds done, seconds total)
    ) -> Transcript:
        options = options or TranscribeOptions()
        self.check(options)
        t0 = time.perf_counter()
        samples = audio if isinstance(audio, np.ndarray) else load_audio(Path(audio), max_duration=self.max_duration)
        t_decoded = time.perf_counter()
        duration = samples.size / SAMPLE_RATE
        kwargs = {
            "language": options.language if self.is_multilingual else "en",
            "task": options.task,
            "beam_size": options.beam_size,
            "word_timestamps": options.word_timestamps,
            "initial_prompt": options.initial_prompt,
            "hotwords": options.hotwords,
            "vad_filter": options.vad_filter,
        }
        if options.batched:
            kwargs["batch_size"] = options.batch_size
        segments_iter, info = self.pipeline(options).transcribe(samples, **kwargs)
        segments: list[Segment] = []
        for seg in segments_iter:  # a generator: the work happens while iterating
            words = None
            if seg.words is not None:
                words = [
                    Word(start=round(w.start, 3), end=round(w.end, 3), word=w.word, probability=round(w.probability, 4))
                    for w in seg.words
                ]
            segments.append(
                Segment(
                    id=len(segments),
                    start=round(seg.start, 3),
                    end=round(seg.end, 3),
                    text=seg.text,
                    avg_logprob=round(seg.avg_logprob, 4),
                    no_speech_prob=round(seg.no_speech_prob, 4),
                    compression_ratio=round(seg.compression_ratio, 3),
                    temperature=seg.temperature,
                    words=words,
                )
            )
            if progress is not None:
                progress(min(seg.end, duration), duration)
        if progress is not None:
            progress(duration, duration)
        t_done = time.perf_counter()
        return Transcript(
            text=" ".join(s.text.strip() for s in segments if s.text.strip()),
            language=info.language,
            language_probability=round(info.language_probability, 4),
            duration=round(duration, 3),
            duration_after_vad=round(info.duration_after_vad, 3) if info.duration_after_vad is not None else None,
            model=self.spec.name,
            options=options.model_dump(),
            segments=segments,
            timings={"decode": round(t_decoded - t0, 4), "transcribe": round(t_done - t_decoded, 4)},
        )
