"""The S3 drop folder and the presigned, single-use PUT upload, against moto's real S3/SQS server."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from infra.local_services import free_port, wait_port

from .helpers import cli, cli_env, jfk, unique

pytestmark = pytest.mark.slow


def test_setup_s3_then_presigned_put_flow(moto_url: str, tmp_path: Path) -> None:
    bucket, prefix = unique("drop"), unique("sp") + "-"
    env = cli_env(
        store="s3",
        bucket=bucket,
        s3_endpoint_url=moto_url,
        queue="sqs",
        sqs_endpoint_url=moto_url,
        queue_prefix=prefix,
        api_keys="k",
        data_dir=str(tmp_path / "data"),
    )
    first = subprocess.run(cli("setup", "s3"), env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout and "6 change(s)" in first.stdout, first.stdout
    second = subprocess.run(cli("setup", "s3"), env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "0 change(s)" in second.stdout, second.stdout  # idempotent

    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")
    [rule] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "inbox/"}] or rule["Filter"]["Key"][
        "FilterRules"
    ] == [{"Name": "prefix", "Value": "inbox/"}]
    url = sqs.get_queue_url(QueueName=f"{prefix}events")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["Policy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(f"{prefix}events-dlq")

    port = free_port()
    log = tmp_path / "up.log"
    proc = subprocess.Popen(
        cli("up", "--port", str(port)), env=env, cwd=tmp_path, stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    try:
        wait_port(port, proc)
        api, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer k"}
        audio = jfk()
        r = httpx.post(
            f"{api}/uploads",
            headers=auth,
            json={"filename": "board meeting.flac", "content_type": "audio/flac", "size": len(audio)},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        upload = body["upload"]
        assert upload["method"] == "PUT" and upload["url"].startswith(moto_url)
        headers = upload["headers"]
        assert headers["x-amz-meta-job-id"] == body["job_id"] and headers["If-None-Match"] == "*"
        assert headers["Content-Type"] == "audio/flac"
        signed = parse_qs(urlsplit(upload["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
        # S3 refuses the URL without these headers, or with other values: one upload, of exactly this size
        assert {"if-none-match", "content-length", "content-type", "x-amz-meta-job-id"} <= set(signed)
        put = httpx.put(upload["url"], content=audio, headers=headers)
        assert put.status_code == 200, put.text
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = httpx.get(f"{api}/status/{body['job_id']}", headers=auth).json()
            if status["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.3)
        assert status["state"] == "succeeded", (status, log.read_text()[-3000:])
        srt = httpx.get(f"{api}/jobs/{body['job_id']}/result", params={"format": "srt"}, headers=auth)
        assert srt.status_code == 200 and " --> " in srt.text
        key = status["source_key"]
        head = s3.head_object(Bucket=bucket, Key=key)
        assert key.startswith("inbox/uploads/") and head["Metadata"]["job-id"] == body["job_id"]

        # The URL uploads once: a replay with other bytes is refused by S3 and changes nothing.
        replay = httpx.put(upload["url"], content=audio[::-1], headers=headers)
        assert replay.status_code == 412 and "PreconditionFailed" in replay.text, replay.text
        assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == head["ETag"]
        assert httpx.get(f"{api}/jobs/{body['job_id']}/result", params={"format": "srt"}, headers=auth).text == srt.text
        # S3 URLs are signed for an exact size, so it is required.
        r = httpx.post(f"{api}/uploads", headers=auth, json={"filename": "a.flac", "content_type": "audio/flac"})
        assert r.status_code == 422 and r.json()["code"] == "size_required", r.text
    finally:
        proc.terminate()
        proc.wait(30)
