"""Live captioning: how many simultaneous real-time streams the hot pool holds, against a naive design and against
other open-source servers (the peers), same run, word by word.

    python bench/live.py [--levels 1,2,4,8,12,16] [--designs pool,naive] [--protocol native,realtime]
                         [--peers whisperlive,whisperlive2,whisperlivekit] [--audio full|jfk]

For each design a server runs in its own process (uvicorn, the real WebSocket /v1/stt/stream), and N clients
stream the same recording in real time at once (100 ms frames, starts staggered over the first second, 1 s of
trailing silence): jfk.flac then 24.7 s of LibriVox read speech, 36 s in all (bench/live_audio.py: where it comes
from, its licence, its transcript; ``--audio jfk``: jfk.flac alone, for the quick run).

- pool:  this project's hot pool — each decode on the mel of only the real buffer (10 s floor, no 30 s padding)
         with the loop guards and the committed words as a forced prefix, through the central scheduler, which
         binds a request to its stream's audio when the decode starts; batch size from the settings
         (``STREAMPROCESS_LIVE_MAX_BATCH``, by default 1 on CPU, 8 on a GPU), model calls at once from
         ``STREAMPROCESS_LIVE_WORKERS`` (by default one one-thread call per CPU core);
- naive: one stock ``WhisperModel.transcribe`` per decode (30 s padding), never batched, the same streaming
         policy (VAD, LocalAgreement-2, prefix, finals).

Measured per level N by one method for every client (bench/live_words.py): **word latency** (from sending the frame
that holds a reference word's end to the first message whose visible text — finals and partial — holds it) and
**committed latency** (the same to the first message whose text that will no longer change holds it), p50/p95/p99
over every word of every stream; WER of the finals; the server's CPU cores used (its and its children's CPU time
over the level's wall time) and peak RSS; streams that did not end cleanly. A design's levels stop once word p95
passes 3 s; the largest N with word p95 < 1 s is its streams held. Native rows also keep the older per-frame
latency (``frame_p50_ms``…: each frame inside speech to the first partial whose ``audio_end`` reaches it).
Model: the default (Whisper tiny.en, int8 on CPU). Prints a table and writes JSON (default
bench/results/live.json).

``--protocol realtime`` streams over OpenAI's Realtime API instead (``/v1/realtime?intent=transcription``, 24 kHz
PCM16 appends of 100 ms, server VAD with the native stream's VAD settings), on the same server and pool; ``native,
realtime`` runs both and prints them side by side (the Realtime door on the pool design only: the naive design
differs in decoding, not in the door). A Realtime client sees only text that will not change (deltas), so its word
and committed latencies are one figure. Realtime rows are written apart (live_realtime.json beside ``--out``, or
``--realtime-out``), so live.json stays the native protocol's and the peers'.

``--peers`` runs other servers in the same run, on the same model, audio, levels and method (bench/peers.py; their
virtualenvs: ``bash bench/peers/setup.sh``): ``whisperlive`` (collabora WhisperLive, its default 1 thread),
``whisperlivekit`` (WhisperLiveKit, LocalAgreement); a trailing number sets the peer's threads (``whisperlive2``:
2). Their rows go to live.json with ``"protocol": "peer"``; the table then shows the pool beside each peer, with the
ratio of streams held (ours / theirs) and of word p50 at each N both ran (theirs / ours).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.scoring: the one WER

from bench.live_audio import stream_audio  # noqa: E402
from bench.live_realtime import realtime_caption  # noqa: E402
from bench.live_table import held, peer_comparison, print_peers, side_by_side  # noqa: E402
from bench.live_words import (  # noqa: E402
    RefWord,
    ServerMeter,
    StreamRun,
    native_run,
    percentiles,
    realtime_run,
    reference_words,
    stream_wer,
    word_latencies,
)
from infra.local_services import free_port, wait_port  # noqa: E402
from streamprocess.live.client import caption  # noqa: E402

KEY = "bench"
STOP_MS = 3000.0  # a design's levels stop once word p95 passes this
Caption = Callable[[np.ndarray], Awaitable[tuple[StreamRun, list[float] | None]]]  # the run, per-frame latencies


# ---------------------------------------------------------------------------------------------- server side
def serve(design: str, port: int, data: str) -> None:
    import uvicorn

    from streamprocess.api import create_app
    from streamprocess.config import Settings
    from streamprocess.live.decoder import Hypothesis
    from streamprocess.runtime import Runtime
    from streamprocess.stt import models
    from streamprocess.stt.types import Word

    class NaiveDecoder:
        """One stock transcribe() per request (30 s padding), never batched."""

        def __init__(self) -> None:
            self.model = models.load(models.resolve(), replica="live")

        def batch_key(self, request: Any) -> int:
            return id(request)

        def window(self, request: Any) -> float:
            return 30.0

        def decode(self, requests: list[Any]) -> list[Hypothesis]:
            out = []
            for r in requests:
                segments, info = self.model.transcribe(
                    r.audio,
                    language="en",
                    beam_size=1,
                    vad_filter=False,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                    initial_prompt=r.prompt,
                    prefix=r.prefix or None,
                )
                words = [
                    Word(start=w.start, end=w.end, word=w.word, probability=w.probability)
                    for s in segments
                    for w in (s.words or [])
                ]
                out.append(Hypothesis(words=words, language=info.language))
            return out

    settings = Settings(
        data_dir=Path(data), api_keys=KEY, live_max_streams=256, **({"live_max_batch": 1} if design == "naive" else {})
    )  # pool: the settings' (env)

    async def main() -> None:
        async with Runtime(settings) as rt:
            pool = rt.live_pool(decoder=NaiveDecoder() if design == "naive" else None)
            assert pool is not None  # live_max_streams is set above
            await pool.warm_up()
            (Path(data) / "max_batch").write_text(str(pool.scheduler.max_batch))  # for the report
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(rt, [KEY], pool), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
                )
            )
            await server.serve()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------- client side
def native(base: str) -> Caption:
    async def run(samples: np.ndarray) -> tuple[StreamRun, list[float] | None]:
        result = await caption(f"{base}/v1/stt/stream", KEY, samples, speed=1.0, tail_silence=1.0)
        return native_run(result), result.latencies()

    return run


def realtime(base: str) -> Caption:
    vad = {"threshold": 0.5, "silence_duration_ms": 500, "prefix_padding_ms": 200}  # VadConfig's, as Realtime names

    async def run(samples: np.ndarray) -> tuple[StreamRun, list[float] | None]:
        return realtime_run(await realtime_caption(base, KEY, samples, tail_silence=1.0, vad=vad)), None

    return run


async def level(n: int, audio: np.ndarray, text: str, ref: list[RefWord], run: Caption, pid: int) -> dict[str, Any]:
    """N streams of ``audio`` at once through ``run``, starts staggered over the first second; one row."""
    rng = np.random.default_rng(n)

    async def one(delay: float) -> tuple[StreamRun, list[float] | None]:
        await asyncio.sleep(delay)
        return await run(audio)

    t0 = time.monotonic()
    with ServerMeter(pid) as meter:
        results = await asyncio.gather(*(one(float(rng.uniform(0, 1))) for _ in range(n)))
    words, committed, missed, unseen, wers, frames = [], [], 0, 0, [], []
    for stream, per_frame in results:
        visible, stable, m, u = word_latencies(stream, ref)
        words += visible
        committed += stable
        missed, unseen = missed + m, unseen + u
        wers.append(stream_wer(text, stream.text))
        frames += per_frame or []
    row: dict[str, Any] = {
        "streams": n,
        **percentiles(words, "word"),
        **percentiles(committed, "committed"),
        "words": len(words),
        "words_missed": missed,
        "stable_words": len(committed),
        "stable_missed": unseen,
        "wer_mean": round(statistics.mean(wers), 4),
        "wer_per_stream": [round(w, 3) for w in wers],
        "failed": sum(1 for stream, _ in results if not stream.ok),
        **meter.figures(),
        "seconds": round(time.monotonic() - t0, 1),
        "texts": [stream.text for stream, _ in results],
    }
    if frames:
        row |= {**percentiles(frames, "frame"), "frames": len(frames)}
    return row


def run_levels(
    name: str, protocol: str, levels: list[int], stream: tuple[np.ndarray, str, list[RefWord]], run: Caption, pid: int
) -> list[dict[str, Any]]:
    """Each level in turn until word p95 passes STOP_MS; prints a line per level."""
    rows = []
    for n in levels:
        row = {"design": name, "protocol": protocol, **asyncio.run(level(n, *stream, run, pid))}
        rows.append(row)
        print(
            f"  {name:15s} {protocol:8s} N={n:3d}  word p50 {row['word_p50_ms']:6.0f} p95 {row['word_p95_ms']:6.0f} "
            f"p99 {row['word_p99_ms']:6.0f} ms | committed p50 {row['committed_p50_ms']:6.0f} "
            f"p95 {row['committed_p95_ms']:6.0f} ms | WER {row['wer_mean']:.3f} | "
            f"CPU {row['server_cpu_cores']:.2f} cores, RSS {row['server_rss_peak_mb']:.0f} MB | "
            f"missed {row['words_missed']} | failed {row['failed']}",
            flush=True,
        )
        if not row["word_p95_ms"] <= STOP_MS:  # nan (no word seen) stops too
            break
    return rows


@contextlib.contextmanager
def our_server(design: str, workdir: Path) -> Iterator[tuple[int, int]]:
    """This project's server for ``design`` in its own process: (port, pid)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, __file__, "--serve", design, "--port", str(port), "--data", str(workdir / design)]
    proc = subprocess.Popen(cmd, env=env)
    try:
        try:
            wait_port(port, proc, timeout=120)
        except (RuntimeError, TimeoutError) as e:
            raise SystemExit(f"the {design} server did not start: {e}") from None
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def run_design(
    design: str, levels: list[int], stream: tuple[np.ndarray, str, list[RefWord]], workdir: Path, protocols: list[str]
) -> list[dict[str, Any]]:
    rows = []
    with our_server(design, workdir) as (port, pid):
        batch = int((workdir / design / "max_batch").read_text())
        for protocol in protocols:
            if protocol == "realtime" and design != "pool":
                continue  # the naive design differs in decoding, not in the door: the Realtime door on the pool only
            client = (native if protocol == "native" else realtime)(f"ws://127.0.0.1:{port}")
            rows += [{**r, "max_batch": batch} for r in run_levels(design, protocol, levels, stream, client, pid)]
    return rows


def peer_parts(name: str) -> tuple[str, int]:
    """``whisperlive2`` → (``whisperlive``, 2 threads); ``whisperlivekit`` → (``whisperlivekit``, 1)."""
    m = re.fullmatch(r"([a-z_]+?)(\d*)", name)
    if m is None:
        raise SystemExit(f"--peers: {name!r} is not a peer name (whisperlive, whisperlive2, whisperlivekit, …)")
    return m[1], int(m[2] or 1)


def run_peer(name: str, levels: list[int], stream: tuple[np.ndarray, str, list[RefWord]]) -> list[dict[str, Any]]:
    """A peer's server from bench/peers.py (``<peer>_server(port, threads=…)``, ``<peer>_caption(port, samples)``)
    through the same levels and method."""
    from bench import peers  # imported here: only --peers needs it (and the peers' virtualenvs)

    base, threads = peer_parts(name)
    server, client = getattr(peers, f"{base}_server", None), getattr(peers, f"{base}_caption", None)
    if server is None or client is None:
        raise SystemExit(f"--peers: bench/peers.py has no {base}_server / {base}_caption")
    port = free_port()
    options = {"max_clients": max(levels)} if base == "whisperlive" else {}  # WhisperLive turns away more than 4

    async def run(samples: np.ndarray) -> tuple[StreamRun, list[float] | None]:
        return await client(port, samples, tail_silence=1.0), None

    with server(port, threads=threads, **options) as peer:
        rows = run_levels(name, "peer", levels, stream, run, peer.pid)
    return [{**r, "peer": base, "threads": threads} for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,8,12,16")
    parser.add_argument("--designs", default="pool,naive")
    parser.add_argument("--protocol", default="native", help="native, realtime, or native,realtime (both)")
    parser.add_argument("--peers", default="", help="e.g. whisperlive,whisperlive2,whisperlivekit (bench/peers.py)")
    parser.add_argument("--audio", default="full", choices=["full", "jfk"], help="full: jfk.flac then LibriVox")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "live.json")
    parser.add_argument(
        "--realtime-out", type=Path, help="the Realtime rows (default: live_realtime.json beside --out)"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.data)
        return
    levels = [int(x) for x in args.levels.split(",")]
    protocols = args.protocol.split(",")
    if not set(protocols) <= {"native", "realtime"}:
        raise SystemExit(f"--protocol: native, realtime or both, not {args.protocol!r}")
    designs = [d for d in args.designs.split(",") if d]
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        peer_parts(p)  # a bad name fails before anything runs
    missing = sorted({peer_parts(p)[0] for p in peers} - {v.name for v in (ROOT / ".venv-peers").glob("*")})
    if missing:  # one command runs it all: the peers' virtualenvs are made first (PyPI, ~3 min, ~3 GB with torch)
        print(f"installing the peers' virtualenvs: bash bench/peers/setup.sh {' '.join(missing)}", flush=True)
        subprocess.run(["bash", str(ROOT / "bench" / "peers" / "setup.sh"), *missing], check=True)
    audio, text, what = stream_audio(args.audio)
    stream = (audio, text, reference_words(audio))
    print(f"audio: {what}; {len(stream[2])} reference words", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for design in designs:
            rows += run_design(design, levels, stream, Path(tmp), protocols)
    for peer in peers:
        rows += run_peer(peer, levels, stream)
    if len(protocols) > 1:
        side_by_side(rows)
    comparison = peer_comparison(rows, peers) if peers else {}
    if peers:
        print_peers(rows, peers, comparison)
    realtime_out = args.realtime_out or args.out.with_name("live_realtime.json")
    for protocol, out in (("native", args.out), ("realtime", realtime_out)):
        mine = [r for r in rows if r["protocol"] == protocol or (protocol == "native" and r["protocol"] == "peer")]
        if not mine:
            continue
        counts = held(mine)
        print(f"\n{protocol}: streams held at word p95 < 1 s:", counts)
        if counts.get("naive"):
            print(f"pool / naive: {counts.get('pool', 0) / counts['naive']:.2f}x")
        report = {
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "model": "default (Whisper tiny.en, int8, CPU)",
            "protocol": protocol,
            "method": "word",  # bench/live_words.py; bench/report.py tells this from the older per-frame rows
            "audio": what,
            "reference_words": len(stream[2]),
            "levels": levels,
            "rows": mine,
            "held_at_word_p95_under_1s": counts,
            **({"peers": comparison} if protocol == "native" and peers else {}),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
