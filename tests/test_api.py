"""The HTTP API under uvicorn (`streamprocess up`), with real engines: uploads, jobs, auth, OpenAI SDK, MinIO."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from infra.local_services import free_port, wait_port
from streamprocess.storage.local import LocalObjectStore

from . import documents as docs
from .helpers import ROOT, SHARED_AUDIO, cli, cli_env, jfk

pytestmark = pytest.mark.slow

KEY, OTHER_KEY, EVENTS_TOKEN, SECRET = "key-a", "key-b", "minio-token", "s" * 32
AUTH = {"Authorization": f"Bearer {KEY}"}


class Server:
    def __init__(self, url: str, data: Path, log: Path) -> None:
        self.url, self.data, self.log = url, data, log

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("api")
    port = free_port()
    env = cli_env(
        api_keys=f"{KEY},{OTHER_KEY}",
        events_token=EVENTS_TOKEN,
        presign_secret=SECRET,
        upload_max_size=5 * 1024 * 1024,
        watch_interval=3600,
        wait_max=30,
        data_dir=str(tmp / "data"),
    )
    log = tmp / "up.log"
    proc = subprocess.Popen(
        cli("up", "--port", str(port)), env=env, cwd=tmp, stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    try:
        wait_port(port, proc)
        yield Server(f"http://127.0.0.1:{port}", tmp / "data", log)
    finally:
        proc.terminate()
        proc.wait(30)


def wait_state(client: httpx.Client, job_id: str, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/status/{job_id}", headers=AUTH)
        if r.status_code == 200 and r.json()["state"] in states:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached {states}: {r.status_code} {r.text}")


def png_page() -> bytes:
    import io

    buf = io.BytesIO()
    docs.prose_page()[0].save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- presigned uploads
def test_presigned_upload_on_the_embedded_store(server: Server) -> None:
    audio = jfk()
    with server.client() as c:
        r = c.post(
            "/uploads",
            headers=AUTH,
            json={
                "filename": "my talk.flac",
                "content_type": "audio/flac",
                "size": len(audio),
                "options": {"word-timestamps": "true"},
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        job_id, upload = body["job_id"], body["upload"]
        assert upload["method"] == "PUT" and upload["url"].startswith(server.url + "/local-store/")
        assert body["status_url"].endswith(f"/status/{job_id}")
        assert c.get(f"/status/{job_id}", headers=AUTH).json()["state"] == "awaiting_upload"
        r = httpx.put(upload["url"], content=audio, headers=upload["headers"])  # no API key: the URL is the key
        assert r.status_code == 200, r.text
        done = wait_state(c, job_id, ("succeeded", "failed"))
        assert done["state"] == "succeeded" and set(done["results"]) == {"json", "txt", "srt", "vtt"}
        text = c.get(f"/jobs/{job_id}/result", params={"format": "txt"}, headers=AUTH)
        assert text.headers["content-type"].startswith("text/plain")
        if (SHARED_AUDIO / "jfk.flac").exists():
            assert "fellow Americans" in text.text
            words = c.get(f"/jobs/{job_id}/result", headers=AUTH).json()["segments"][0]["words"]
            assert words, "the upload's options reached the job"
        r = c.get(f"/jobs/{job_id}/result", params={"format": "pdf"}, headers=AUTH)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_the_storage_side_refuses_bad_uploads(server: Server) -> None:
    with server.client() as c:
        r = c.post("/uploads", headers=AUTH, json={"filename": "a.wav", "content_type": "audio/wav", "size": 100})
        upload = r.json()["upload"]
        too_big = httpx.put(upload["url"], content=b"x" * 101, headers=upload["headers"])
        assert too_big.status_code == 413 and "at most 100 bytes" in too_big.json()["detail"]
        wrong_type = httpx.put(upload["url"], content=b"x" * 10, headers={"Content-Type": "image/png"})
        assert wrong_type.status_code == 403 and "Content-Type audio/wav" in wrong_type.json()["detail"]
        tampered = httpx.put(
            upload["url"].replace("max=100", "max=1000000"), content=b"x" * 10, headers=upload["headers"]
        )
        assert tampered.status_code == 403 and "signature" in tampered.json()["detail"]
        # An expired URL, signed with the server's secret.
        key = urlsplit(upload["url"]).path.removeprefix("/local-store/")
        store = LocalObjectStore(server.data, presign_secret=SECRET.encode(), public_base_url=server.url)
        import asyncio

        expired = asyncio.run(store.presign("PUT", key, expires_in=-5, content_type="audio/wav", max_size=100))
        r = httpx.put(expired.url, content=b"x" * 10, headers=expired.headers)
        assert r.status_code == 403 and "expired" in r.json()["detail"]
        # Refused before signing: a type off the allowlist, a size over the limit.
        r = c.post("/uploads", headers=AUTH, json={"filename": "x.exe", "content_type": "application/x-msdownload"})
        assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
        r = c.post(
            "/uploads", headers=AUTH, json={"filename": "b.wav", "content_type": "audio/wav", "size": 50 * 1024 * 1024}
        )
        assert r.status_code == 413
        assert dict(parse_qsl(urlsplit(upload["url"]).query))["method"] == "PUT"


# ---------------------------------------------------------------------------------------------- direct submissions
def test_direct_submissions_and_wait(server: Server) -> None:
    with server.client() as c:
        r = c.post(
            "/stt/upload",
            params={"wait": 60},
            headers=AUTH,
            files={"file": ("speech.flac", jfk(), "application/octet-stream")},
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "succeeded" and r.json()["result"]["language"] == "en"
        r = c.post("/ocr/process", params={"wait": 60}, headers=AUTH, files={"file": ("scan.png", png_page())})
        assert r.status_code == 200, r.text
        page = r.json()["result"]["pages"][0]
        assert "routing software" in " ".join(line["text"] for b in page["blocks"] for line in b["lines"])
        r = c.post("/ocr/process", headers=AUTH, files={"file": ("scan.png", png_page())})
        assert r.status_code == 202 and r.headers["location"].endswith(f"/status/{r.json()['job_id']}")
        wrong = c.post("/stt/upload", params={"wait": 30}, headers=AUTH, files={"file": ("scan.png", png_page())})
        assert wrong.status_code == 422 and "was sent for stt" in wrong.json()["detail"]
        notes = c.post("/stt/upload", headers=AUTH, files={"file": ("notes.txt", b"plain text")})
        assert notes.status_code == 415 and notes.headers["content-type"] == "application/problem+json"
        big = c.post("/stt/upload", headers=AUTH, files={"file": ("big.wav", b"RIFF" + b"\0" * (6 * 1024 * 1024))})
        assert big.status_code == 413
        missing = c.get("/status/" + "0" * 32, headers=AUTH)
        assert missing.status_code == 404 and missing.json()["title"] == "Not Found"


# ---------------------------------------------------------------------------------------------- auth
# /ready is not here: probes call it without a key (tests/fast/test_probes.py covers it with and without one).
ROUTES = [
    ("GET", "/metrics"),
    ("GET", "/status/abc"),
    ("GET", "/jobs/abc/result"),
    ("POST", "/uploads"),
    ("POST", "/stt/upload"),
    ("POST", "/ocr/process"),
    ("POST", "/v1/audio/transcriptions"),
]


@pytest.mark.parametrize("method, path", ROUTES)
def test_auth_matrix(server: Server, method: str, path: str) -> None:
    with server.client() as c:
        none = c.request(method, path)
        assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
        assert none.headers["content-type"] == "application/problem+json"
        assert c.request(method, path, headers={"Authorization": "Basic a2V5LWE6"}).status_code == 401
        assert c.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.request(method, path, headers={"Authorization": f"Bearer {EVENTS_TOKEN}"}).status_code == 403
        for key in (KEY, OTHER_KEY):
            assert c.request(method, path, headers={"Authorization": f"Bearer {key}"}).status_code not in (401, 403)
    assert httpx.get(server.url + "/health").status_code == 200


def test_minio_webhook(server: Server) -> None:
    sample = json.loads((ROOT / "events" / "minio-webhook.json").read_text())
    record = sample["Records"][0]
    record["s3"]["bucket"]["name"] = "local"
    record["s3"]["object"]["key"] = "inbox/minio/scan+01.png"
    (server.data / "inbox" / "minio").mkdir(parents=True, exist_ok=True)
    (server.data / "inbox" / "minio" / "scan 01.png").write_bytes(png_page())  # the watcher is asleep here
    del record["s3"]["object"]["eTag"]
    body = json.dumps(sample)
    with server.client() as c:
        assert c.post("/events/s3", content=body).status_code == 401
        assert c.post("/events/s3", content=body, headers=AUTH).status_code == 403
        r = c.post("/events/s3", content=body, headers={"Authorization": f"Bearer {EVENTS_TOKEN}"})
        assert r.status_code == 202 and r.json() == {"records": 1}
        bad = c.post("/events/s3", content=b"{}", headers={"Authorization": f"Bearer {EVENTS_TOKEN}"})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_event"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        records = [json.loads(p.read_text()) for p in (server.data / "jobs").glob("*.json")]
        done = [r for r in records if r["source"]["key"] == "inbox/minio/scan 01.png" and r["state"] == "succeeded"]
        if done:
            assert done[0]["kind"] == "ocr"
            return
        time.sleep(0.2)
    raise AssertionError("the MinIO event did not become a finished job")


# ---------------------------------------------------------------------------------------------- OpenAI SDK
def test_openai_sdk(server: Server, tmp_path: Path) -> None:
    import openai

    audio = SHARED_AUDIO / "jfk.flac"
    if not audio.exists():
        pytest.skip(f"{audio} is absent")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    with open(audio, "rb") as f:
        result = client.audio.transcriptions.create(model="whisper-1", file=f)
    assert "fellow Americans" in result.text
    with open(audio, "rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert isinstance(text, str) and "ask not" in text
    with open(audio, "rb") as f:
        srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
    assert re.search(r"^1\n00:00:00,000 --> \d\d:\d\d:\d\d,\d{3}\n", srt)
    with open(audio, "rb") as f:
        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="en",
        )
    assert verbose.language == "english" and abs(verbose.duration - 11.0) < 0.2
    assert verbose.segments and verbose.words and verbose.words[0].word
    with pytest.raises(openai.AuthenticationError):
        bad = openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0)
        with open(audio, "rb") as f:
            bad.audio.transcriptions.create(model="whisper-1", file=f)
    shutil.copy(audio, tmp_path / "copy.flac")


def test_schemathesis_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    """Generated requests on every operation of the OpenAPI schema: no 5xx."""
    exe = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [
            str(exe),
            "run",
            f"{server.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {KEY}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "20261124",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ generated, \d+ passed", proc.stdout), proc.stdout[-2000:]
