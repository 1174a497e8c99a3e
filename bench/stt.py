"""Speech-to-text: the pipeline's STT job against plain faster-whisper, on the same files, in the same run.

    python bench/stt.py [--runs 5] [--long-runs 3] [--files jfk.flac,...]

For each file, interleaved run by run (so drift hits all three alike):
- raw:      ``WhisperModel.transcribe(path, beam_size=5, vad_filter=True)`` with the segments consumed;
- engine:   the ``stt`` processor on a job context (decode, transcribe, write JSON/TXT/SRT/VTT);
- pipeline: a whole job on the embedded default (object written → bucket event → router → queue → worker →
            results and record), event to done.
The model is the default (bundled Whisper tiny.en, int8 on CPU), loaded once and shared by all three. Reports
median and p95 seconds, real-time factor (seconds of compute per second of audio) and the ratio to raw
(goal ≤ 1.05), and WER (jiwer, lower-cased, punctuation removed) where a reference exists. Then batched vs
sequential decoding on a long file (jfk.flac, then a briefing synthesized by espeak-ng: ≈ 2.5 minutes).
Prints tables and writes JSON (default bench/results/stt.json).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from streamprocess.config import Settings  # noqa: E402
from streamprocess.jobs import JobState, job_id_for  # noqa: E402
from streamprocess.live.pcm import to_s16le  # noqa: E402
from streamprocess.processors.base import JobContext  # noqa: E402
from streamprocess.processors.stt import SttProcessor  # noqa: E402
from streamprocess.runtime import Runtime  # noqa: E402
from streamprocess.stt import TranscribeOptions  # noqa: E402
from streamprocess.stt.audio import SAMPLE_RATE, load_audio  # noqa: E402
from tests.scoring import wer  # noqa: E402

AUDIO = ROOT.parent / "shared" / "testdata" / "audio"
REFERENCES = {
    "jfk.flac": "And so my fellow Americans, ask not what your country can do for you, ask what you can do for "
    "your country.",
    "multilingual.mp3": "Permission is hereby granted, free of charge, to any person obtaining a copy of the software "
    "and associated documentation files to deal in the software without restriction, including without limitation "
    "the rights to use, copy, modify, merge, publish, distribute, sublicence, and or sell copies of the software, and "
    "to permit persons to whom the software is furnished to do so, subject to the following conditions. The above "
    "copyright notice and this permission notice shall be included in all copies or substantial portions of the "
    "software.",
    "espeak.wav": "The quarterly report was delivered to the board on Tuesday morning. Please send the signed "
    "contract back before the end of the week. The weather service expects heavy rain along the "
    "northern coast tonight.",
}


FILES = ("jfk.flac", "hotwords.mp3", "multilingual.mp3", "stereo_diarization.wav", "espeak.wav")


def stats(values: list[float]) -> dict[str, float]:
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
    return {"median_s": round(statistics.median(values), 4), "p95_s": round(p95, 4), "n": len(values)}


def raw_transcribe(model: Any, path: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    segments, _ = model.transcribe(str(path), beam_size=5, vad_filter=True)
    text = " ".join(s.text.strip() for s in segments)
    return time.perf_counter() - t0, text


def engine_job(processor: SttProcessor, path: Path, workdir: Path) -> tuple[float, str]:
    out = workdir / uuid.uuid4().hex
    out.mkdir()
    ctx = JobContext(
        job_id="bench",
        kind="stt",
        input_path=path,
        media_type="audio",
        options={},
        output_dir=out,
        source_key=path.name,
    )
    t0 = time.perf_counter()
    result = processor.process(ctx)
    elapsed = time.perf_counter() - t0
    return elapsed, result.outputs["transcript.txt"].read_text()


async def pipeline_job(rt: Runtime, path: Path) -> tuple[float, str]:
    key = f"inbox/bench/{uuid.uuid4().hex}{path.suffix}"
    t0 = time.time()
    info = await rt.store.put(key, path)
    job_id = job_id_for(rt.settings.bucket, key, info.etag, "stt")
    while True:
        rec = await rt.jobs.get(job_id)
        if rec is not None and rec.state in (JobState.succeeded, JobState.failed):
            break
        await asyncio.sleep(0.02)  # light polling: the time comes from the record, not from this loop
    if rec.state is JobState.failed or rec.finished_at is None:
        raise RuntimeError(f"job failed: {rec.error}")
    text = (await rt.store.get(rec.results["transcript.txt"])).decode()
    return rec.finished_at.timestamp() - t0, text


def make_espeak(workdir: Path) -> Path | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    path = workdir / "espeak.wav"
    subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), REFERENCES["espeak.wav"]], check=True)
    return path


LONG_TEXT = (
    "Good morning and welcome to the weekly operations review. We will start with the numbers from the warehouse, "
    "then move on to the new routing software, and finish with questions from the regional teams. "
    "Shipments rose by eight percent compared with last week, mostly because the northern depot reopened on Monday. "
    "Returns stayed flat, but the average time to process a return dropped from four days to three. "
    "Most of the improvement came from the new routing software, which now plans every delivery route overnight. "
    "Drivers told us that the morning briefings are shorter and that they spend less time waiting at the loading dock. "
    "There were two problems. First, the software does not yet know about road works in the city centre, "
    "so some routes were planned through closed streets. Second, the handheld scanners lost their connection "
    "several times on Wednesday afternoon, and parcels had to be logged by hand. "
    "The supplier has promised a fix for the scanners by the end of the month, and the road works will be entered "
    "manually until the map provider updates its data. "
    "Next week we will test weekend deliveries in two districts. If the test goes well, weekend service will start "
    "in every region after the holidays. Please send your questions to the operations team before Friday. "
    "One more thing about safety. The new loading ramps at the southern depot are steeper than the old ones, "
    "so please use the handrails and never carry more than two boxes at a time. "
    "We also need volunteers for the first aid course in March; the course takes one day and counts as working time. "
    "Finally, thank you all for the extra effort during the storm last month. Customers noticed, and so did we."
)


def make_long(workdir: Path) -> tuple[Path, str]:
    """About two minutes of distinct speech: jfk.flac, then a synthesized briefing."""
    import wave

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is needed for the long file: apt-get install espeak-ng")
    speech = workdir / "briefing.wav"
    subprocess.run([exe, "-v", "en-us", "-s", "130", "-w", str(speech), LONG_TEXT], check=True)
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    samples = np.concatenate([load_audio(AUDIO / "jfk.flac"), gap, load_audio(speech)])
    path = workdir / "long.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(to_s16le(samples))
    return path, REFERENCES["jfk.flac"] + " " + LONG_TEXT


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sp-bench-stt-") as tmp:
        workdir = Path(tmp)
        files = [AUDIO / n for n in FILES if n != "espeak.wav" and n in args.files]
        if missing := [f for f in files if not f.exists()]:
            raise SystemExit(f"absent: {', '.join(map(str, missing))} (the shared test audio)")
        if "espeak.wav" in args.files and (espeak := make_espeak(workdir)):
            files.append(espeak)
        if not files:
            raise SystemExit(f"no audio: {AUDIO} is absent and espeak-ng is not installed")
        settings = Settings(data_dir=workdir / "data", stt_processor="stt", ocr_processor="noop", concurrency=1)
        processor = SttProcessor(settings)
        model = processor.engine.model  # the very same loaded model for raw, engine and pipeline
        per_file = []
        async with Runtime(settings) as rt:
            await rt.ensure()
            worker, _ = rt.worker(["events", "stt"])
            worker.consumers = [
                (q, h if q.name.endswith("events") else _shared(h, processor)) for q, h in worker.consumers
            ]
            task = asyncio.create_task(worker.run())
            for path in files:
                duration = load_audio(path).size / SAMPLE_RATE
                raw_transcribe(model, path)  # warm-up
                times: dict[str, list[float]] = {"raw": [], "engine": [], "pipeline": []}
                texts = {}
                for _ in range(args.runs):
                    t, texts["raw"] = raw_transcribe(model, path)
                    times["raw"].append(t)
                    t, texts["engine"] = engine_job(processor, path, workdir)
                    times["engine"].append(t)
                    t, texts["pipeline"] = await pipeline_job(rt, path)
                    times["pipeline"].append(t)
                raw_median = statistics.median(times["raw"])
                entry: dict[str, Any] = {"file": path.name, "audio_s": round(duration, 2)}
                for mode, values in times.items():
                    s = stats(values)
                    s["rtf"] = round(s["median_s"] / duration, 4)
                    s["ratio_to_raw"] = round(s["median_s"] / raw_median, 3)
                    entry[mode] = s
                if path.name in REFERENCES:
                    entry["wer"] = {mode: round(wer(REFERENCES[path.name], text), 4) for mode, text in texts.items()}
                print(
                    f"{path.name}: raw {entry['raw']['median_s']} s, engine ×{entry['engine']['ratio_to_raw']}, "
                    f"pipeline ×{entry['pipeline']['ratio_to_raw']}",
                    file=sys.stderr,
                    flush=True,
                )
                per_file.append(entry)
            worker.stop()
            await task

        if not args.long_runs:
            return {"files": per_file, "long": None}
        long_path, long_ref = make_long(workdir)
        long_audio = load_audio(long_path)
        long: dict[str, Any] = {
            "file": "jfk.flac + a synthesized briefing (espeak-ng)",
            "audio_s": round(long_audio.size / SAMPLE_RATE, 1),
        }
        for name, opts in (("sequential", TranscribeOptions()), ("batched (batch 8)", TranscribeOptions(batched=True))):
            runs, text = [], ""
            for _ in range(args.long_runs):
                t0 = time.perf_counter()
                text = processor.engine.transcribe(long_audio, opts).text
                runs.append(time.perf_counter() - t0)
            s = stats(runs)
            s["rtf"] = round(s["median_s"] / long["audio_s"], 4)
            s["wer"] = round(wer(long_ref, text), 4)
            long[name] = s
        long["batched_speedup"] = round(long["sequential"]["median_s"] / long["batched (batch 8)"]["median_s"], 3)
    return {"files": per_file, "long": long}


def _shared(handler: Any, processor: SttProcessor) -> Any:
    handler.processor = processor  # use the benchmark's processor instance (same model) in the pipeline too
    return handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--long-runs", type=int, default=3, help="0: no long-file comparison")
    parser.add_argument("--files", type=lambda s: s.split(","), default=list(FILES), help=",".join(FILES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stt.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))

    from rich.console import Console
    from rich.table import Table

    t = Table(title="STT: pipeline vs plain faster-whisper (tiny.en int8, CPU), medians")
    for col in (
        "file",
        "audio s",
        "raw s",
        "engine s",
        "pipeline s",
        "pipeline p95 s",
        "RTF (pipeline)",
        "ratio engine",
        "ratio pipeline",
        "WER",
    ):
        t.add_column(col)
    for r in results["files"]:
        t.add_row(
            r["file"],
            str(r["audio_s"]),
            str(r["raw"]["median_s"]),
            str(r["engine"]["median_s"]),
            str(r["pipeline"]["median_s"]),
            str(r["pipeline"]["p95_s"]),
            str(r["pipeline"]["rtf"]),
            str(r["engine"]["ratio_to_raw"]),
            str(r["pipeline"]["ratio_to_raw"]),
            f"{r['wer']['pipeline']:.1%}" if "wer" in r else "—",
        )
    console = Console(width=180)
    console.print(t)
    if long := results["long"]:
        lt = Table(title=f"Long file: {long['file']}, {long['audio_s']} s")
        for col in ("mode", "median s", "p95 s", "RTF", "WER"):
            lt.add_column(col)
        for mode in ("sequential", "batched (batch 8)"):
            m = long[mode]
            lt.add_row(mode, str(m["median_s"]), str(m["p95_s"]), str(m["rtf"]), f"{m['wer']:.1%}")
        console.print(lt)
        console.print(f"batched speed-up: ×{long['batched_speedup']}")
    write_results(args.out, results, runs=args.runs, model="default (Whisper tiny.en, CTranslate2 int8)")


if __name__ == "__main__":
    main()
