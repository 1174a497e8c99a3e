"""A live client that sends audio much faster than real time: over the WebSocket against a real `streamprocess up`,
and the session's two intake policies in-process (``offer``: bounded backlog, drops; ``feed``: blocks).

The session keeps at most ``SessionLimits.backlog`` seconds of audio waiting for the pool and drops the rest with
an explicit ``warning`` event, so the server keeps reading the socket (and answering its keepalive pings), its
memory stays bounded, and the client always ends with ``closed``. Before, the server stopped reading while the
session was behind; the client's pings waited behind megabytes of queued audio and it was cut off with 1011
(keepalive ping timeout) after ~40 s, with no ``closed`` and the rest of its transcript lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import pytest

from infra.local_services import free_port
from streamprocess.live import events as live_events
from streamprocess.live.client import caption
from streamprocess.live.decoder import DecodeRequest, Hypothesis
from streamprocess.live.limits import SessionLimits
from streamprocess.live.pcm import encode
from streamprocess.live.protocol import StreamConfig
from streamprocess.live.session import LiveSession
from streamprocess.stt.audio import load_audio
from streamprocess.stt.types import Word

from .helpers import JFK, cli_env, shared, up_server
from .scoring import wer

KEY = "fast-key"
SR = 16000


def server_pid(port: int) -> int:
    """The `streamprocess up --port PORT` process."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"up" in args and b"--port" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no server process on port {port}")


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's resident memory every 50 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("live-fast")
    port = free_port()
    env = cli_env(api_keys=KEY, data_dir=str(tmp / "data"), live_max_streams=2)
    with up_server(tmp, env, port):
        yield f"ws://127.0.0.1:{port}/v1/stt/stream", server_pid(port)


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return load_audio(shared("jfk.flac"))


@pytest.mark.slow
def test_a_client_sending_far_faster_than_real_time_ends_with_closed(server: tuple[str, int], jfk: np.ndarray) -> None:
    url, pid = server
    warm = asyncio.run(caption(url, KEY, jfk[: 3 * SR], speed=4.0, tail_silence=1.0))  # VAD, model caches
    assert warm.close_code == 1000
    audio = np.tile(jfk, 110)  # ~20 minutes of speech, sent as fast as the socket takes it
    total = audio.size / SR + 1.0  # with the tail silence
    t0 = time.monotonic()
    with PeakRss(pid) as memory:
        result = asyncio.run(asyncio.wait_for(caption(url, KEY, audio, speed=1e6, tail_silence=1.0), 120))
    took = time.monotonic() - t0
    grown = (memory.peak - memory.base) / 2**20
    kinds = [e["type"] for e in result.events]
    warnings = result.of("warning")
    print(
        f"{total:.0f} s of audio in {took:.1f} s; close {result.close_code} {result.close_reason!r}; "
        f"{kinds.count('final')} finals, {len(warnings)} warnings; server RSS +{grown:.1f} MiB"
    )

    # never cut off: the stream ends in order, with its totals
    assert result.close_code == 1000, (result.close_code, result.close_reason, result.events[-3:])
    closed = result.events[-1]
    assert closed["type"] == "closed" and closed["reason"] == "stop", result.events[-3:]
    assert abs(closed["audio_seconds"] - total) < 0.1, closed
    # what could not be processed in time was dropped, and each gap was said, in stream order
    assert all(w["code"] == "audio_dropped" and w["end"] > w["start"] for w in warnings), warnings
    gaps = [(w["start"], w["end"]) for w in warnings]
    dropped = sum(b - a for a, b in gaps)
    assert abs(dropped - closed["dropped_seconds"]) < 0.05 and dropped < total, (dropped, closed)
    assert all(a[1] <= b[0] for a, b in zip(gaps, gaps[1:], strict=False)), gaps
    if not gaps:  # only a pool that keeps pace with the socket (a GPU, maybe) drops nothing: then all is there
        assert result.text.lower().count("fellow americans") >= 100, result.text
    finals = result.of("final")
    for final in finals:  # no words were made up in a gap
        assert not any(a + 0.05 < final["start"] < b - 0.05 for a, b in gaps), (final, gaps)
    # what was kept was transcribed: the first clip whole, and speech after each gap (at least 15 s is kept)
    first = " ".join(f["text"] for f in finals if f["end"] <= jfk.size / SR + 0.5)
    assert wer(JFK, first) <= 0.10, first
    for _, end in gaps:
        if end < total - 16:
            assert any(end <= f["start"] < end + 16 for f in finals), ("nothing kept after a gap", end, gaps)
    # the session's memory stayed bounded: far less than the 20 minutes (74 MiB as float32) it was sent
    backlog = SessionLimits().backlog * SR * 4 / 2**20
    assert grown < backlog + 12, (grown, backlog)


# ------------------------------------------------------------------------------- the session's intake, in-process
async def slow_decode(request: DecodeRequest, refresh=None) -> Hypothesis:  # type: ignore[no-untyped-def]
    """A pool at 5× real time (200 ms per second of audio), one word at the end of the audio."""
    if refresh is not None:
        request = refresh()
    seconds = request.audio.size / SR
    await asyncio.sleep(0.2 * seconds)
    words = [Word(word=" word.", start=seconds - 0.4, end=seconds - 0.1, probability=1.0)] if seconds > 0.5 else []
    return Hypothesis(words=words, language="en")


async def run(session: LiveSession, send) -> tuple[list[dict], dict, int]:  # type: ignore[no-untyped-def]
    """Starts ``session``, runs ``send`` (which feeds it) while reading its events; the events before ``closed``,
    ``closed``, and the most audio (samples) that ever waited for the driver."""
    events: list[dict] = []
    peak = 0

    async def read() -> dict:
        while True:
            event = live_events.to_json(await session.next_event())  # as the WebSocket sends it
            if event["type"] == "closed":
                return event
            events.append(event)

    def watch() -> None:
        nonlocal peak
        peak = max(peak, session.backlog)

    session.start()
    reader = asyncio.create_task(read())
    await send(watch)
    await session.stop()
    closed = await asyncio.wait_for(reader, 30)
    await session.abort()
    return events, closed, peak


FRAME = encode(np.full(1600, 0.1, np.float32))  # 100 ms


async def test_offer_keeps_a_bounded_backlog_and_reports_each_gap() -> None:
    limits = SessionLimits(backlog=2.0, buffer_max=4.0)
    session = LiveSession("fast", StreamConfig(vad={"enabled": False}), slow_decode, limits)

    async def send(watch) -> None:  # type: ignore[no-untyped-def]
        for _ in range(300):  # 30 s at 10× real time
            session.offer(FRAME)
            watch()
            await asyncio.sleep(0.01)

    events, closed, peak = await run(session, send)
    assert peak <= limits.backlog * SR  # never more than the backlog waited
    warnings = [e for e in events if e["type"] == "warning"]
    gaps = [(w["start"], w["end"]) for w in warnings]
    assert len(gaps) >= 2 and all(w["code"] == "audio_dropped" for w in warnings), events
    assert all(a[1] <= b[0] for a, b in zip(gaps, gaps[1:], strict=False)), gaps
    assert gaps[0][0] >= limits.backlog - 0.01  # the first backlog's worth was kept whole
    assert closed["audio_seconds"] == 30.0 and closed["reason"] == "stop"  # stream time ran on over the gaps
    assert abs(sum(b - a for a, b in gaps) - closed["dropped_seconds"]) < 0.01 and closed["dropped_seconds"] < 29
    finals = [e for e in events if e["type"] == "final"]
    assert finals and finals[-1]["end"] > gaps[0][1]  # audio after a gap was decoded, on the stream's clock
    for final in finals:
        assert not any(a + 0.01 < final["start"] < b - 0.01 for a, b in gaps), (final, gaps)


async def test_a_burst_is_kept_up_to_the_backlog_then_dropped_to_the_end() -> None:
    limits = SessionLimits(backlog=2.0)
    session = LiveSession("burst", StreamConfig(vad={"enabled": False}), slow_decode, limits)

    async def send(watch) -> None:  # type: ignore[no-untyped-def]
        for _ in range(600):  # 60 s at once: the driver does not run meanwhile
            session.offer(FRAME)
            watch()

    events, closed, peak = await run(session, send)
    assert peak == 2 * SR
    assert [(e["start"], e["end"]) for e in events if e["type"] == "warning"] == [(2.0, 60.0)]
    assert closed["audio_seconds"] == 60.0 and closed["dropped_seconds"] == 58.0


async def test_feed_blocks_instead_and_loses_nothing() -> None:
    """gRPC's intake: HTTP/2 flow control slows the client and its keepalive does not wait on the data."""
    limits = SessionLimits(backlog=2.0, buffer_max=4.0, inbound_frames=8)
    session = LiveSession("grpc", StreamConfig(vad={"enabled": False}), slow_decode, limits)

    async def send(watch) -> None:  # type: ignore[no-untyped-def]
        for _ in range(200):  # 20 s as fast as feed() lets it in
            await session.feed(FRAME)
            watch()
            assert session.inbound.qsize() <= limits.inbound_frames

    events, closed, _ = await run(session, send)
    assert not [e for e in events if e["type"] == "warning"]
    assert closed["audio_seconds"] == 20.0 and closed["dropped_seconds"] == 0.0
