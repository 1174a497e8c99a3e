"""End to end: the embedded default (`streamprocess up`) and S3 + SQS on a real moto server."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import boto3
import httpx
import pytest

from infra.local_services import free_port, wait_port
from streamprocess.config import Settings
from streamprocess.jobs import JobRecord, job_id_for
from streamprocess.runtime import Runtime

from .helpers import ROOT, SHARED_AUDIO, cli, cli_env, unique, wav_bytes
from .processors import PNG

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float = 30, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_embedded_up_processes_a_dropped_file(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    log = tmp_path / "up.log"
    env = cli_env(stt_processor="noop", ocr_processor="noop", api_keys="test-key")
    auth = {"Authorization": "Bearer test-key"}
    proc = subprocess.Popen(
        cli("up", "--port", str(port), "--data-dir", str(data)),
        env=env,
        cwd=tmp_path,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", headers=auth)
        assert ready.status_code == 200, ready.text
        banner = log.read_text()
        assert f"{data.resolve()}/inbox/" in banner and "results" in banner

        # Dropped by hand, as a newcomer would: a real recording (or a WAV) and a PNG.
        audio = SHARED_AUDIO / "jfk.flac"
        if audio.exists():
            shutil.copy(audio, data / "inbox" / "jfk speech.flac")
            audio_bytes = audio.read_bytes()
        else:
            audio_bytes = wav_bytes()
            (data / "inbox" / "jfk speech.flac").write_bytes(audio_bytes)
        (data / "inbox" / "scans").mkdir()
        (data / "inbox" / "scans" / "page 1.png").write_bytes(PNG)

        def records() -> list[JobRecord]:
            return [JobRecord.model_validate_json(p.read_text()) for p in (data / "jobs").glob("*.json")]

        done = wait_for(
            lambda: len([r for r in records() if r.state == "succeeded"]) == 2 and records(), what="two succeeded jobs"
        )
        by_kind = {r.kind: r for r in done}
        assert set(by_kind) == {"stt", "ocr"}
        stt = by_kind["stt"]
        assert stt.source.key == "inbox/jfk speech.flac"
        result = json.loads((data / "results" / stt.job_id / "noop.json").read_text())
        assert result["bytes"] == len(audio_bytes)
        assert stt.job_id == job_id_for("local", "inbox/jfk speech.flac", stt.source.etag, "stt")
        assert set(stt.timings) >= {"queue_wait", "download", "process", "upload", "total"}

        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=auth).text
        assert 'streamprocess_jobs_succeeded_total{kind="stt"} 1.0' in metrics
        assert 'streamprocess_jobs_succeeded_total{kind="ocr"} 1.0' in metrics
        assert "streamprocess_stage_seconds_bucket" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    assert code == 0, log.read_text()


def test_up_says_which_engines_are_missing(tmp_path: Path) -> None:
    """With no engine installed for a kind, `up` says so and leaves those jobs queued (nothing lost)."""
    port = free_port()
    log = tmp_path / "up.log"
    proc = subprocess.Popen(
        cli("up", "--port", str(port)),
        env=cli_env(ocr_processor="noop", stt_processor="no-such-engine"),
        cwd=tmp_path,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, proc)
        (tmp_path / "data" / "inbox" / "a.wav").write_bytes(wav_bytes())
        job = wait_for(lambda: list((tmp_path / "data" / "jobs").glob("*.json")), what="a job record")
        record = JobRecord.model_validate_json(job[0].read_text())
        assert record.state == "queued" and record.kind == "stt"
        assert "no processor named 'no-such-engine'" in log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


async def test_s3_bucket_notification_to_sqs_to_worker(moto_url: str, s3_bucket: str, tmp_path: Path) -> None:
    prefix = unique("sp") + "-"
    settings = Settings(
        store="s3",
        bucket=s3_bucket,
        s3_endpoint_url=moto_url,
        queue="sqs",
        sqs_endpoint_url=moto_url,
        queue_prefix=prefix,
        stt_processor="noop",
        ocr_processor="noop",
        visibility_timeout=10,
    )
    async with Runtime(settings) as rt:
        await rt.ensure()  # queues + DLQs + redrive policy

    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")
    events_url = sqs.get_queue_url(QueueName=f"{prefix}events")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(f"{prefix}events-dlq")
    s3.put_bucket_notification_configuration(
        Bucket=s3_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": attrs["QueueArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbox/"}]}},
                }
            ]
        },
    )

    metrics_port = free_port()
    env = cli_env(
        **{k: v for k, v in settings.model_dump(mode="json").items() if v is not None}, metrics_port=metrics_port
    )
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(cli("worker"), env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        key = "inbox/meeting notes+final ü.wav"
        put = s3.put_object(Bucket=s3_bucket, Key=key, Body=wav_bytes(), Metadata={"language": "en"})
        s3.put_object(Bucket=s3_bucket, Key="results/decoy.wav", Body=wav_bytes())  # outside the filter
        job_id = job_id_for(s3_bucket, key, put["ETag"].strip('"'), "stt")

        def record() -> JobRecord | None:
            try:
                body = s3.get_object(Bucket=s3_bucket, Key=f"jobs/{job_id}.json")["Body"].read()
            except s3.exceptions.NoSuchKey:
                return None
            r = JobRecord.model_validate_json(body)
            return r if r.state == "succeeded" else None

        done = wait_for(record, timeout=60, what=f"job {job_id} to succeed\n")
        assert done.source.key == key and done.options == {"language": "en"}
        result = json.loads(s3.get_object(Bucket=s3_bucket, Key=f"results/{job_id}/noop.json")["Body"].read())
        assert result["bytes"] == len(wav_bytes())
        listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix="jobs/")["Contents"]
        assert [o["Key"] for o in listed] == [f"jobs/{job_id}.json"]  # the decoy and the results started nothing
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'streamprocess_jobs_succeeded_total{kind="stt"} 1.0' in metrics
        assert f'streamprocess_queue_depth{{queue="{prefix}stt",state="available"}}' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log.read_text()
