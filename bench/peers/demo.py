"""Shows that bench/peers.py works: streams a recording to each peer with N concurrent streams and prints each
stream's transcript, its WER against a reference text, and the latency of its words as bench/live_words.py measures
it (from sending a word's end, by a reference alignment, to the first view holding it: visible, then stable text).

    .venv/bin/python bench/peers/demo.py --peer whisperlive --streams 1 2 --threads 1

Not a test: it needs the peers' virtualenvs (``bash bench/peers/setup.sh``) and takes real time.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench import peers  # noqa: E402
from bench.live_words import StreamRun, reference_words, word_latencies  # noqa: E402
from streamprocess.live.agreement import norm  # noqa: E402
from streamprocess.stt.audio import load_audio  # noqa: E402
from tests.scoring import wer  # noqa: E402

JFK = "/work/shared/testdata/audio/jfk.flac"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
SERVERS: dict[str, Any] = {"whisperlive": peers.whisperlive_server, "whisperlivekit": peers.whisperlivekit_server}
CLIENTS: dict[str, Any] = {"whisperlive": peers.whisperlive_caption, "whisperlivekit": peers.whisperlivekit_caption}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def append_only(run: StreamRun) -> bool:
    """Whether the stable column only ever grew (word by word, punctuation and case aside)."""
    before: list[str] = []
    for _, _, done in run.views:
        words = [norm(w) for w in done.split() if norm(w)]
        if words[: len(before)] != before:
            return False
        before = words
    return True


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s over {len(values)} words"


async def streams(peer: str, port: int, samples: Any, n: int) -> list[StreamRun]:
    return list(await asyncio.gather(*(CLIENTS[peer](port, samples, tail_silence=1.0) for _ in range(n))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", choices=list(SERVERS), required=True)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--audio", default=JFK)
    args = parser.parse_args()

    samples = load_audio(Path(args.audio))
    reference = reference_words(samples)
    port = free_port()
    began = time.monotonic()
    with SERVERS[args.peer](port, threads=args.threads) as server:
        print(f"{args.peer}: pid {server.pid}, ready in {time.monotonic() - began:.1f} s: {' '.join(server.command)}")
        for n in args.streams:
            for i, run in enumerate(asyncio.run(streams(args.peer, port, samples, n))):
                visible, stable, missed, unstable = word_latencies(run, reference)
                print(
                    f"N={n} #{i}: ok={run.ok} views={len(run.views)} stable append-only={append_only(run)} "
                    f"WER={wer(JFK_TEXT, run.text):.3f}"
                )
                print(f"  text: {run.text}")
                print(f"  word latency: {summary(visible)}, {missed} never visible")
                print(f"  committed latency: {summary(stable)}, {unstable} never committed")
                for t, shown, done in run.views[:: max(1, len(run.views) // 8)]:
                    print(f"    {t:5.2f} s  stable={done!r}  visible={shown!r}")


if __name__ == "__main__":
    main()
