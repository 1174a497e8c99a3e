"""Live captioning: how many simultaneous real-time streams the hot pool holds, against a naive design, same run.

    python bench/live.py [--levels 1,2,4,8,12,16] [--designs pool,naive] [--protocol native,realtime]

For each design a server runs in its own process (uvicorn, the real WebSocket /v1/stt/stream), and N clients
stream recordings in real time at once (jfk.flac and two espeak-ng passages, 100 ms frames, starts staggered over
the first second, 1 s of trailing silence):

- pool:  this project's hot pool — each decode on the mel of only the real buffer (10 s floor, no 30 s padding)
         with the loop guards and the committed words as a forced prefix, through the central scheduler, which
         binds a request to its stream's audio when the decode starts; batch size from the settings
         (``STREAMPROCESS_LIVE_MAX_BATCH``, by default 1 on CPU, 8 on a GPU);
- naive: one stock ``WhisperModel.transcribe`` per decode (30 s padding), never batched, the same streaming
         policy (VAD, LocalAgreement-2, prefix, finals).

Partial latency per stream = for each frame inside speech, the time from sending it to the first partial or final
whose ``audio_end`` reaches it. Reports p50/p95 per N, the WER of the finals, and the largest N with p95 < 1 s per
design (levels stop once p95 passes 3 s). Model: the default (Whisper tiny.en, int8 on CPU). Prints a table and
writes JSON (default bench/results/live.json).

``--protocol realtime`` streams over OpenAI's Realtime API instead (``/v1/realtime?intent=transcription``, 24 kHz
PCM16 appends of 100 ms, server VAD with the native stream's VAD settings), on the same server and pool; ``native,
realtime`` runs both, one after the other, and prints them side by side (the Realtime door on the pool design only:
the naive design differs in decoding, not in the door). A Realtime client sees only text that will
not change (deltas) and no audio times, so its latency is that of stable text, per word (bench/live_realtime.py);
every row has the stable-text latency too (``stable_p50_ms``, ``stable_p95_ms``; on the native protocol from its
finals and its partials' ``committed`` words), the one figure both protocols share. Realtime rows are written apart
(live_realtime.json beside ``--out``, or ``--realtime-out``), so live.json stays the native protocol's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.scoring: the one WER

from bench.live_realtime import native_stable, realtime_caption, reference_words, stable_latencies  # noqa: E402
from streamprocess.live.client import caption  # noqa: E402
from streamprocess.stt.audio import load_audio  # noqa: E402
from tests.scoring import wer  # noqa: E402

AUDIO = ROOT.parent / "shared" / "testdata" / "audio"
KEY = "bench"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
ESPEAK = [
    "The quarterly report was delivered to the board on Tuesday morning. Please send the signed contract back "
    "before the end of the week.",
    "The weather service expects heavy rain along the northern coast tonight. Drivers should allow extra time "
    "for the morning commute.",
]


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
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sources(workdir: Path) -> list[Clip]:
    """The clips, each with its reference text and its words' end times (for the stable-text latency)."""
    out = [("jfk.flac", load_audio(AUDIO / "jfk.flac"), JFK)]
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is needed: apt-get install espeak-ng")
    for i, text in enumerate(ESPEAK):
        path = workdir / f"espeak{i}.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
        out.append((path.name, load_audio(path), text))
    return [(name, audio, text, reference_words(audio)) for name, audio, text in out]


Clip = tuple[str, np.ndarray, str, list[tuple[str, float]]]  # name, audio, reference text, reference word ends


async def level(base: str, n: int, clips: list[Clip], protocol: str) -> dict[str, Any]:
    rng = np.random.default_rng(n)

    async def one(i: int) -> tuple[list[float], list[float], float, int | None, str]:
        await asyncio.sleep(float(rng.uniform(0, 1)))
        name, audio, reference, words = clips[i % len(clips)]
        if protocol == "realtime":  # the native stream's VAD settings (VadConfig's defaults), as Realtime names them
            vad = {"threshold": 0.5, "silence_duration_ms": 500, "prefix_padding_ms": 200}
            rt = await realtime_caption(base, KEY, audio, tail_silence=1.0, vad=vad)
            stable = stable_latencies(rt.stable(), rt.sent, words)
            return stable, stable, wer(reference, rt.text or "-"), rt.close_code, rt.text
        result = await caption(f"{base}/v1/stt/stream", KEY, audio, speed=1.0, tail_silence=1.0)
        stable = stable_latencies(native_stable(result.events), result.sent, words)
        return result.latencies(), stable, wer(reference, result.text or "-"), result.close_code, result.text

    results = await asyncio.gather(*(one(i) for i in range(n)))
    latencies = sorted(x for lat, *_ in results for x in lat)
    stable = sorted(x for _, lat, *_ in results for x in lat)
    p = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 1) if xs else float("nan")  # noqa: E731
    return {
        "streams": n,
        "protocol": protocol,
        "p50_ms": p(latencies, 50),
        "p95_ms": p(latencies, 95),
        "p99_ms": p(latencies, 99),
        "frames": len(latencies),
        "stable_p50_ms": p(stable, 50),
        "stable_p95_ms": p(stable, 95),
        "stable_words": len(stable),
        "wer_mean": round(statistics.mean(w for *_, w, _, _ in results), 4),
        "wer_per_stream": [round(w, 3) for *_, w, _, _ in results],
        "failed": sum(1 for *_, code, _ in results if code != 1000),
        "texts": [text for *_, text in results],
    }


def run_design(design: str, levels: list[int], clips: list[Clip], workdir: Path, protocols: list[str]) -> list[dict]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", design, "--port", str(port), "--data", str(workdir / design)], env=env
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {design} server did not start") from None
                time.sleep(0.3)
        rows = []
        for protocol in protocols:
            if protocol == "realtime" and design != "pool":
                continue  # the naive design differs in decoding, not in the door: the Realtime door on the pool only
            for n in levels:
                row = asyncio.run(level(f"ws://127.0.0.1:{port}", n, clips, protocol))
                row["design"] = design
                row["max_batch"] = int((workdir / design / "max_batch").read_text())
                rows.append(row)
                print(
                    f"  {design:8s} {protocol:8s} N={n:3d}  p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
                    f"p99 {row['p99_ms']:7.1f} ms  stable p50 {row['stable_p50_ms']:7.1f} ms  "
                    f"p95 {row['stable_p95_ms']:7.1f} ms  WER {row['wer_mean']:.3f}  failed {row['failed']}",
                    flush=True,
                )
                if row["p95_ms"] > 3000:
                    break
        return rows
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,8,12,16,24")
    parser.add_argument("--designs", default="pool,naive")
    parser.add_argument("--protocol", default="native", help="native, realtime, or native,realtime (both)")
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
    designs = args.designs.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        clips = sources(Path(tmp))
        rows = []
        for design in designs:
            rows += run_design(design, levels, clips, Path(tmp), protocols)
    if len(protocols) > 1:
        side_by_side(rows)
    realtime_out = args.realtime_out or args.out.with_name("live_realtime.json")
    for protocol, out in (("native", args.out), ("realtime", realtime_out)):
        mine = [r for r in rows if r["protocol"] == protocol]
        if not mine:
            continue
        held = {
            d: max([r["streams"] for r in mine if r["design"] == d and r["p95_ms"] < 1000], default=0) for d in designs
        }
        latency = "partial" if protocol == "native" else "stable-text"
        print(f"\n{protocol}: streams held at p95 < 1 s ({latency} latency):", held)
        if held.get("naive"):
            print(f"pool / naive: {held.get('pool', 0) / held['naive']:.2f}x")
        report = {
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "model": "default (Whisper tiny.en, int8, CPU)",
            "protocol": protocol,
            "rows": mine,
            "held_at_p95_under_1s": held,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")


def side_by_side(rows: list[dict[str, Any]]) -> None:
    """Each design and level: the native protocol's partial and stable-text latency beside the Realtime deltas'."""
    print("\ndesign   N   | native partial p50/p95 | native stable p50/p95 | realtime delta p50/p95 | WER native/rt")
    by = {(r["design"], r["streams"], r["protocol"]): r for r in rows}
    for design, n in sorted({(r["design"], r["streams"]) for r in rows}):
        nat, rt = by.get((design, n, "native")), by.get((design, n, "realtime"))
        cell = lambda r, a, b: f"{r[a]:6.0f} / {r[b]:6.0f} ms" if r else "—"  # noqa: E731
        wers = f"{nat['wer_mean']:.3f} / {rt['wer_mean']:.3f}" if nat and rt else "—"
        partial, stable = cell(nat, "p50_ms", "p95_ms"), cell(nat, "stable_p50_ms", "stable_p95_ms")
        print(f"{design:8s} {n:3d} | {partial:>22s} | {stable:>21s} | {cell(rt, 'p50_ms', 'p95_ms'):>22s} | {wers}")


if __name__ == "__main__":
    main()
