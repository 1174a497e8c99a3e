"""Pipeline overhead: event → done latency and jobs/s with the no-op processor, on each queue backend.

    python bench/pipeline.py [--backends embedded,redis,sqs] [--latency-jobs 100] [--throughput-jobs 200]

- embedded: local store + embedded (SQLite) queue, everything in one process (what `streamprocess up` runs);
- redis: local store + Redis Streams (a real redis-server started here);
- sqs: S3 + SQS on a real moto server, with the bucket notification S3 → SQS doing the eventing.

Latency is measured one job at a time, from just before the object is written to the job record's
``finished_at`` (the whole path: event, router, job queue, claim, download, processor, upload, record). The
processor's own time (the "raw engine": here a no-op that hashes the file) is reported beside it, and the
overhead is the difference. Throughput writes N objects at once and divides by the time until the last is done.
The worker runs in this process with the default settings except ``concurrency`` (8).
Prints a table and writes JSON (default bench/results/pipeline.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from infra.local_services import moto_server, redis_server  # noqa: E402
from streamprocess.config import Settings  # noqa: E402
from streamprocess.jobs import JobRecord, JobState, job_id_for  # noqa: E402
from streamprocess.runtime import Runtime  # noqa: E402

GOALS_MS = {"embedded": 20, "redis": 30, "sqs": 100}
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00"


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


async def wait_done(rt: Runtime, job_id: str, timeout: float = 60, poll: float = 0.005) -> JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = await rt.jobs.get(job_id)
        if rec is not None and rec.state in (JobState.succeeded, JobState.failed):
            if rec.state is JobState.failed:
                raise RuntimeError(f"job {job_id} failed: {rec.error}")
            return rec
        await asyncio.sleep(poll)
    raise TimeoutError(f"job {job_id} not done in {timeout} s")


async def submit(rt: Runtime, settings: Settings) -> tuple[str, float]:
    key = f"{settings.inbox_prefix}bench/{uuid.uuid4().hex}.wav"
    t0 = time.time()
    info = await rt.store.put(key, WAV + uuid.uuid4().bytes)
    return job_id_for(settings.bucket, key, info.version_id or info.etag, "stt"), t0


async def run_backend(name: str, settings: Settings, latency_jobs: int, throughput_jobs: int) -> dict[str, Any]:
    async with Runtime(settings) as rt:
        await rt.ensure()
        worker, missing = rt.worker(["events", "stt"])
        assert not missing, missing
        running = asyncio.create_task(worker.run())
        poll = 0.01 if name == "sqs" else 0.003
        try:
            for _ in range(5):  # warm-up: connections, imports, caches
                job_id, _ = await submit(rt, settings)
                await wait_done(rt, job_id, poll=poll)

            latencies, processing, stages = [], [], {}
            for _ in range(latency_jobs):
                job_id, t0 = await submit(rt, settings)
                rec = await wait_done(rt, job_id, poll=poll)
                assert rec.finished_at is not None
                latencies.append(rec.finished_at.timestamp() - t0)
                processing.append(rec.timings["process"])
                for stage, secs in rec.timings.items():
                    stages.setdefault(stage, []).append(secs)
                await asyncio.sleep(0.02)  # let the queues go quiet between jobs

            t_start = time.time()
            submitted = []
            for i in range(0, throughput_jobs, 20):
                submitted += await asyncio.gather(*(submit(rt, settings) for _ in range(min(20, throughput_jobs - i))))
            done = [await wait_done(rt, job_id, timeout=300, poll=0.05) for job_id, _ in submitted]
            t_end = max(r.finished_at.timestamp() for r in done if r.finished_at)
            loaded = [
                r.finished_at.timestamp() - t0 for r, (_, t0) in zip(done, submitted, strict=True) if r.finished_at
            ]
        finally:
            worker.stop()
            await running
    overhead = [lat - proc for lat, proc in zip(latencies, processing, strict=True)]
    lat, over = summary(latencies), summary(overhead)
    return {
        "backend": name,
        "latency": lat,
        "processor_noop": summary(processing),
        "overhead": over,
        "overhead_ratio_p50": round(lat["p50_ms"] / max(1e-6, statistics.median(processing) * 1000), 1),
        "stages_p50_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in stages.items()},
        "throughput_jobs_per_s": round(throughput_jobs / (t_end - t_start), 1),
        "latency_under_load": summary(loaded),
        "goal_p50_overhead_ms": GOALS_MS[name],
        "meets_goal": over["p50_ms"] < GOALS_MS[name],
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="sp-bench-") as tmp, contextlib.ExitStack() as stack:
        common = {"stt_processor": "noop", "ocr_processor": "noop", "concurrency": 8}
        for name in args.backends:
            data = Path(tmp) / name
            if name == "embedded":
                settings = Settings(data_dir=data, **common)
            elif name == "redis":
                url = stack.enter_context(redis_server())
                settings = Settings(data_dir=data, queue="redis", redis_url=url, **common)
            else:
                endpoint = stack.enter_context(moto_server())
                settings = await _s3_settings(endpoint, common)
            print(f"running {name} …", file=sys.stderr, flush=True)
            results.append(await run_backend(name, settings, args.latency_jobs, args.throughput_jobs))
    return results


async def _s3_settings(endpoint: str, common: dict[str, Any]) -> Settings:
    import boto3

    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        store="s3", bucket=bucket, s3_endpoint_url=endpoint, queue="sqs", sqs_endpoint_url=endpoint, **common
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(Bucket=bucket)
    async with Runtime(settings) as rt:
        await rt.ensure()
    url = sqs.get_queue_url(QueueName=settings.queue_name("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": settings.inbox_prefix}]}},
                }
            ]
        },
    )
    sqs.purge_queue(QueueUrl=url)  # drop the s3:TestEvent
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="embedded,redis,sqs", type=lambda s: s.split(","))
    parser.add_argument("--latency-jobs", type=int, default=100)
    parser.add_argument("--throughput-jobs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pipeline.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(main_async(args))

    from rich.console import Console
    from rich.table import Table

    t = Table(title="Pipeline overhead, no-op processor (ms)")
    for col in ("backend", "p50", "p95", "p99", "overhead p50", "noop p50", "goal", "jobs/s", "p50 under load"):
        t.add_column(col)
    for r in results:
        t.add_row(
            r["backend"],
            str(r["latency"]["p50_ms"]),
            str(r["latency"]["p95_ms"]),
            str(r["latency"]["p99_ms"]),
            str(r["overhead"]["p50_ms"]),
            str(r["processor_noop"]["p50_ms"]),
            f"< {r['goal_p50_overhead_ms']} {'✓' if r['meets_goal'] else '✗'}",
            str(r["throughput_jobs_per_s"]),
            str(r["latency_under_load"]["p50_ms"]),
        )
    Console(width=160).print(t)
    write_results(args.out, {"results": results}, latency_jobs=args.latency_jobs, throughput_jobs=args.throughput_jobs)


if __name__ == "__main__":
    main()
