"""The Lambda handlers with real API Gateway v2 and SQS events, on the embedded store and queue."""

from __future__ import annotations

import base64
import importlib
import io
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from streamprocess.config import get_settings
from streamprocess.events import make_object_created_event

from .helpers import wav_bytes


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STREAMPROCESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STREAMPROCESS_API_KEYS", "lambda-key")
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def http_event(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> dict:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:03:00:00 +0000",
            "timeEpoch": 1795489200000,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "pytest",
            },
        },
        "isBase64Encoded": body is not None,
        "body": base64.b64encode(body).decode() if body is not None else None,
    }


CONTEXT = SimpleNamespace(function_name="api", aws_request_id="req", invoked_function_arn="arn", memory_limit_in_mb=512)


def test_api_through_mangum(env: Path) -> None:
    api = importlib.reload(importlib.import_module("functions.api"))
    health = api.handler(http_event("GET", "/health"), CONTEXT)
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}
    denied = api.handler(http_event("GET", "/status/" + "0" * 32), CONTEXT)
    assert denied["statusCode"] == 401
    # A multipart POST arrives base64-encoded from API Gateway.
    boundary = "----sp" + uuid.uuid4().hex
    buf = io.BytesIO()
    buf.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="hello.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\n".encode()
    )
    buf.write(wav_bytes())
    buf.write(f"\r\n--{boundary}--\r\n".encode())
    event = http_event(
        "POST",
        "/stt/upload",
        body=buf.getvalue(),
        headers={"authorization": "Bearer lambda-key", "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    accepted = api.handler(event, CONTEXT)
    assert accepted["statusCode"] == 202, accepted["body"]
    job_id = json.loads(accepted["body"])["job_id"]
    stored = list((env / "inbox" / "uploads" / job_id).iterdir())
    assert [p.name for p in stored] == ["hello.wav"] and stored[0].read_bytes() == wav_bytes()
    status = api.handler(
        http_event("GET", f"/status/{job_id}", headers={"authorization": "Bearer lambda-key"}), CONTEXT
    )
    assert status["statusCode"] == 200, status["body"]  # the record is written before the 202 (no router ran)
    assert json.loads(status["body"])["state"] == "queued"


def test_sqs_ingest_reports_partial_failures(env: Path) -> None:
    ingest = importlib.reload(importlib.import_module("functions.ingest"))
    import asyncio

    from streamprocess.storage.local import LocalObjectStore

    store = LocalObjectStore(env)
    info = asyncio.run(store.put("inbox/call.wav", wav_bytes()))
    good = make_object_created_event(bucket="local", key="inbox/call.wav", size=info.size, etag=info.etag)
    text = asyncio.run(store.put("inbox/notes.txt", b"plain text"))
    rejected = make_object_created_event(bucket="local", key="inbox/notes.txt", size=text.size, etag=text.etag)
    event = {
        "Records": [
            {"messageId": "m-good", "body": json.dumps(good), "eventSource": "aws:sqs"},
            {"messageId": "m-garbage", "body": "this is not an event", "eventSource": "aws:sqs"},
            {"messageId": "m-text", "body": json.dumps(rejected), "eventSource": "aws:sqs"},
        ]
    }
    result = ingest.handler(event, CONTEXT)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-garbage"}]}
    records = [json.loads(p.read_text()) for p in (env / "jobs").glob("*.json")]
    states = {r["source"]["key"]: (r["state"], (r["error"] or {}).get("code")) for r in records}
    assert states == {"inbox/call.wav": ("queued", None), "inbox/notes.txt": ("failed", "unsupported_media")}
