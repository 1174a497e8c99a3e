"""Word-level latency of live captions (bench/live.py), the same for every server measured: this project's native
WebSocket and Realtime doors and the peers (bench/peers.py).

Every client, whatever its protocol, records one :class:`StreamRun`: when each 100 ms frame was sent, and after each
message what text the user sees now and which of it will no longer change.

The method (issue 19's):

- Word ends: a reference alignment of the stream's audio, the whole recording transcribed once by stock
  faster-whisper (``transcribe`` with ``word_timestamps=True``, no VAD, the default model: Whisper tiny.en, int8 on
  CPU) — :func:`reference_words`. Each reference word has the start and end second its timestamps give.
- **Word latency**: for each reference word, the time from sending the audio frame that holds its end to the arrival
  of the first message whose *visible* text (finals and the current partial) holds it. Each view's visible text is
  matched to the reference words with ``difflib.SequenceMatcher`` (words compared lower-cased, without
  punctuation, hyphenated words apart); a reference word counts as seen the first time a view's match covers it —
  but not before the frame holding the word's start was sent (nothing of it was heard then: such a match is an
  alignment accident, a common word matched out of place). A word seen before its end was sent has a negative
  latency, kept as measured.
- **Committed latency**: the same to the first view whose *stable* text (text that will no longer change) holds it.
- Reference words no view ever held are counted as missed, not as latencies.

Each client's views: native protocol — visible = finals + the current partial's text, stable = finals + the
partial's ``committed`` words (:func:`native_run`); OpenAI Realtime — visible = stable = the deltas so far
(:func:`realtime_run`). Peers build their own StreamRun (bench/peers.py).

WER: ``tests.scoring.wer`` of the finals against the reference text, both first spelled as spoken (:func:`spoken`:
hyphenated words apart, "Mr." as "mister", as the human LibriVox transcript writes them).

:class:`ServerMeter` measures a server process (and its children) over a level: CPU cores used (psutil CPU time over
the wall time) and peak RSS (sampled every 100 ms).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from streamprocess.live.agreement import norm
from tests.scoring import wer

if TYPE_CHECKING:
    from bench.live_realtime import Realtime
    from streamprocess.live.client import Captioned


@dataclass
class StreamRun:
    """One stream as its client saw it. Times are seconds since the stream began (the client's monotonic clock)."""

    sent: list[tuple[float, float]] = field(default_factory=list)  # (audio seconds sent so far, when sent)
    # after each message: (when it arrived, all the text visible now — finals and the partial —, the text that will
    # no longer change — finals and the committed share of a partial —)
    views: list[tuple[float, str, str]] = field(default_factory=list)
    text: str = ""  # the final transcript
    ok: bool = True  # the stream ended cleanly


class RefWord(NamedTuple):
    word: str  # normalised (norm: lower-case, no punctuation)
    start: float  # seconds of stream audio
    end: float


def reference_words(samples: np.ndarray) -> list[RefWord]:
    """The words of 16 kHz ``samples`` with their times, by the default model's own word timestamps."""
    segments, _ = _reference_model().transcribe(samples, language="en", word_timestamps=True, vad_filter=False)
    words = (w for s in segments for w in (s.words or []))
    return [RefWord(norm(w.word), float(w.start), float(w.end)) for w in words if norm(w.word)]


_MODEL: Any = None


def _reference_model() -> Any:
    global _MODEL
    if _MODEL is None:
        from streamprocess.stt import models

        _MODEL = models.load(models.resolve(), replica="bench-reference")
    return _MODEL


def _sent_at(sent: list[tuple[float, float]], audio: float) -> float:
    """When the frame holding second ``audio`` of the stream was sent (the last frame's time past the end)."""
    return next((when for seconds, when in sent if seconds >= audio - 1e-6), sent[-1][1])


def _words(text: str) -> list[str]:
    """``text``'s words as the reference has them: normalised, hyphenated words apart (Whisper's word timestamps
    split "cold-hearted" into "cold" and "-hearted")."""
    return [w for w in (norm(x) for x in re.split(r"\s+|(?<=\w)-(?=\w)", text)) if w]


def first_seen(views: list[tuple[float, str]], sent: list[tuple[float, float]], ref: list[RefWord]) -> list[float]:
    """Per reference word: when a view's text first held it (``nan``: never). ``views``: (arrival, text)."""
    seen = [float("nan")] * len(ref)
    if not sent:
        return seen
    heard_from = [_sent_at(sent, w.start) for w in ref]  # before this, nothing of the word had left the client
    matcher = SequenceMatcher(autojunk=False)
    matcher.set_seq1([w.word for w in ref])  # set_seq2 varies: SequenceMatcher caches what it learns of seq2
    last = ""
    for t, text in views:
        if text == last:
            continue
        last = text
        matcher.set_seq2(_words(text))
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                if seen[i] != seen[i] and t >= heard_from[i]:  # nan: not seen yet
                    seen[i] = t
    return seen


def word_latencies(run: StreamRun, ref: list[RefWord]) -> tuple[list[float], list[float], int, int]:
    """(word latencies, committed latencies, words never visible, words never committed) of one stream, seconds."""
    if not run.sent:
        return [], [], len(ref), len(ref)
    ends = [_sent_at(run.sent, w.end) for w in ref]
    out: list[tuple[list[float], int]] = []
    for views in ([(t, shown) for t, shown, _ in run.views], [(t, done) for t, _, done in run.views]):
        seen = first_seen(views, run.sent, ref)
        lat = [t - e for t, e in zip(seen, ends, strict=True) if t == t]
        out.append((lat, len(ref) - len(lat)))
    (visible, missed), (stable, unstable) = out
    return visible, stable, missed, unstable


def spoken(text: str) -> str:
    """``text`` spelled as the reference transcripts spell it: hyphenated words apart, "Mr." as "mister"."""
    return re.sub(r"\bMr\b\.?", "mister", re.sub(r"(?<=\w)-(?=\w)", " ", text), flags=re.I)


def stream_wer(reference: str, hypothesis: str) -> float:
    return wer(spoken(reference), spoken(hypothesis) or "-")


def percentiles(seconds: list[float], prefix: str) -> dict[str, float]:
    """``{prefix}_p50_ms``, ``_p95_ms``, ``_p99_ms`` of latencies in seconds (nan when there are none)."""
    return {
        f"{prefix}_p{q}_ms": round(float(np.percentile(seconds, q)) * 1000, 1) if seconds else float("nan")
        for q in (50, 95, 99)
    }


def native_run(result: Captioned) -> StreamRun:
    """The native protocol's stream: visible = finals + the current partial, stable = finals + its ``committed``."""
    finals: list[str] = []
    views = []
    for e in result.events:
        if e["type"] == "final":
            finals.append(e["text"])
            views.append((e["received"], " ".join(finals), " ".join(finals)))
        elif e["type"] == "partial":
            committed = " ".join([*finals, e.get("committed") or ""]).strip()
            views.append((e["received"], " ".join([*finals, e["text"]]).strip(), committed))
    return StreamRun(sent=result.sent, views=views, text=result.text, ok=result.close_code == 1000)


def realtime_run(result: Realtime) -> StreamRun:
    """The Realtime protocol's stream: visible = stable = the deltas so far (a Realtime client sees nothing else)."""
    views = [(t, text, text) for t, text in result.stable()]
    return StreamRun(sent=result.sent, views=views, text=result.text, ok=result.close_code == 1000)


class ServerMeter:
    """CPU cores used and peak RSS of process ``pid`` and its children while the ``with`` block runs."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil  # the bench extra: measuring only

        self.process, self.every = psutil.Process(pid), every
        self.peak_rss = 0
        self.cores = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree(self) -> list[Any]:
        import psutil

        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _cpu(self) -> float:
        import psutil

        total = 0.0
        for i, p in enumerate(self._tree()):
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + (t.children_user + t.children_system if i == 0 else 0.0)
        return total

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(self.every):
            rss = 0
            for p in self._tree():
                try:
                    rss += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, rss)

    def __enter__(self) -> ServerMeter:
        self._t0, self._cpu0 = time.monotonic(), self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cores = (self._cpu() - self._cpu0) / max(time.monotonic() - self._t0, 1e-9)

    def figures(self) -> dict[str, float]:
        return {"server_cpu_cores": round(self.cores, 2), "server_rss_peak_mb": round(self.peak_rss / 2**20, 1)}
