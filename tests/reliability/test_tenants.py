"""Tenants, single-use upload URLs, upload expiry and the job record before the 202, against one real
`streamprocess up` (uvicorn, gRPC, the live pool) with two named tenants, a bare key and the events token."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from infra.local_services import free_port
from streamprocess.config import Settings, tenant_of_key
from streamprocess.jobs import JobRecord
from streamprocess.live.client import caption
from streamprocess.v1 import ocr_pb2, ocr_pb2_grpc

from ..helpers import cli_env, up_server, wav_bytes
from ..processors import PNG

Report = Callable[[str], None]

ACME, GLOBEX, BARE, EVENTS = "acme-key-1", "globex-key-1", "bare-key-9f3", "events-token"
TTL = 3  # seconds an upload URL lives (the sweep runs every TTL / 2 s)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------------------------------------- settings
def test_api_keys_parse_into_tenants() -> None:
    s = Settings(api_keys=f"acme={ACME}, globex={GLOBEX},acme=acme-key-2,{BARE}")
    bare = "key-" + hashlib.sha256(BARE.encode()).hexdigest()[:8]
    assert tenant_of_key(BARE) == bare and BARE not in bare
    assert s.api_key_tenants() == {ACME: "acme", GLOBEX: "globex", "acme-key-2": "acme", BARE: bare}
    assert s.drop_tenant == "default" and Settings(drop_tenant="acme").drop_tenant == "acme"
    assert Settings(api_keys="acme=ab==").api_key_tenants() == {"ab==": "acme"}  # a key may hold '='
    for bad in ("acme=", "a/b=secret-part", "acme=k1,globex=k1", "=k"):
        with pytest.raises(ValidationError) as e:
            Settings(api_keys=bad)
        assert "secret-part" not in str(e.value) and "k1" not in str(e.value).replace("API_KEYS", "")
    with pytest.raises(ValidationError):
        Settings(drop_tenant="no spaces")


# ---------------------------------------------------------------------------------------------- one server
class Server:
    def __init__(self, url: str, grpc_target: str, data: Path, log: Path) -> None:
        self.url, self.grpc, self.data, self.log = url, grpc_target, data, log

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def record(self, job_id: str) -> JobRecord:
        return JobRecord.model_validate_json((self.data / "jobs" / f"{job_id}.json").read_text())

    def wait_done(self, job_id: str, key: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while time.monotonic() < deadline:
                r = c.get(f"/status/{job_id}", headers=auth(key))
                if r.status_code == 200 and r.json()["state"] in ("succeeded", "failed"):
                    return r.json()
                time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not end: {r.status_code} {r.text}\n{self.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tenants")
    port, grpc_port = free_port(), free_port()
    env = cli_env(
        api_keys=f"acme={ACME},globex={GLOBEX},{BARE}",
        events_token=EVENTS,
        presign_secret="p" * 32,
        drop_tenant="acme",
        upload_url_ttl=TTL,
        watch_interval=0.2,
        watch_settle=0.2,
        stt_processor="tests.processors:Echo",
        ocr_processor="tests.processors:Echo",
        live_max_streams=2,
        concurrency=4,
        data_dir=str(tmp / "data"),
    )
    env["STREAMPROCESS_GRPC_PORT"] = str(grpc_port)
    env["SP_TEST_STATE"] = str(tmp)
    with up_server(tmp, env, port, grpc_port) as log:
        yield Server(f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", tmp / "data", log)


def png() -> bytes:
    return PNG + b"\x00" * 32


# ---------------------------------------------------------------------------------------------- (6) tenants
def test_every_door_keeps_each_tenants_jobs_to_itself(server: Server, reliability_figures: Report) -> None:
    owners: dict[str, str] = {}  # job id -> the key of its tenant
    checks = refused = 0
    with server.client() as c:
        r = c.post("/stt/upload", headers=auth(ACME), files={"file": ("acme talk.wav", wav_bytes())})
        assert r.status_code == 202, r.text
        owners[r.json()["job_id"]] = ACME
        r = c.post("/ocr/process", headers=auth(GLOBEX), files={"file": ("globex scan.png", png())})
        assert r.status_code == 202, r.text
        owners[r.json()["job_id"]] = GLOBEX
        r = c.post("/stt/upload", headers=auth(BARE), files={"file": ("bare.wav", wav_bytes())})
        owners[r.json()["job_id"]] = BARE
        up = c.post(
            "/uploads",
            headers=auth(GLOBEX),
            json={"filename": "globex presigned.png", "content_type": "image/png", "size": len(png())},
        ).json()
        assert httpx.put(up["upload"]["url"], content=png(), headers=up["upload"]["headers"]).status_code == 200
        owners[up["job_id"]] = GLOBEX
        r = c.post(
            "/v1/audio/transcriptions",
            headers=auth(GLOBEX),
            files={"file": ("openai call.wav", wav_bytes())},
            data={"model": "whisper-1"},
        )
        assert r.status_code == 200 and r.json()["text"].startswith("stt of"), r.text

    async def grpc_document() -> ocr_pb2.OCRResponse:
        async with grpc.aio.insecure_channel(server.grpc) as channel:
            return await ocr_pb2_grpc.OCRServiceStub(channel).ProcessDocument(
                ocr_pb2.DocumentRequest(request_id="g", content=png(), filename="grpc page.png"),
                metadata=(("authorization", f"Bearer {BARE}"),),
                timeout=60,
            )

    answer = asyncio.run(grpc_document())
    assert answer.ok, answer.error
    owners[answer.job_id] = BARE

    silence = np.zeros(8000, np.float32)
    live = asyncio.run(
        caption(server.url.replace("http", "ws") + "/v1/stt/stream", GLOBEX, silence, speed=20, config={"save": True})
    )
    owners[live.of("closed")[0]["job_id"]] = GLOBEX

    (server.data / "inbox").mkdir(exist_ok=True)
    (server.data / "inbox" / "dropped by hand.wav").write_bytes(wav_bytes())  # the drop tenant: acme
    deadline = time.monotonic() + 30
    while not (
        dropped := [
            p
            for p in (server.data / "jobs").glob("*.json")
            if JobRecord.model_validate_json(p.read_text()).source.key.endswith("by hand.wav")
        ]
    ):
        assert time.monotonic() < deadline, "the dropped file did not become a job"
        time.sleep(0.1)
    owners[dropped[0].stem] = ACME

    tenant = {ACME: "acme", GLOBEX: "globex", BARE: tenant_of_key(BARE)}
    openai_jobs = [
        r
        for p in (server.data / "jobs").glob("*.json")
        if (r := JobRecord.model_validate_json(p.read_text())).source.key.endswith("openai call.wav")
    ]
    assert [r.tenant for r in openai_jobs] == ["globex"]

    unknown = "0123456789abcdef" * 2
    with server.client() as c:
        for job_id, owner in owners.items():
            assert server.wait_done(job_id, owner)["state"] == "succeeded", job_id
            assert server.record(job_id).tenant == tenant[owner]
            for path in (f"/status/{job_id}", f"/jobs/{job_id}/result", f"/jobs/{job_id}/result?format=txt"):
                assert c.get(path, headers=auth(owner)).status_code == 200, (path, owner)
                for other in {ACME, GLOBEX, BARE} - {owner}:
                    r = c.get(path, headers=auth(other))
                    same = c.get(path.replace(job_id, unknown), headers=auth(other))
                    assert r.status_code == 404 and r.json()["code"] == "job_not_found", (path, other, r.text)
                    assert json.loads(r.text.replace(job_id, unknown)) == same.json()  # existence does not leak
                    refused += 1
                assert c.get(path).status_code == 401
                assert c.get(path, headers=auth("wrong-key")).status_code == 401
                assert c.get(path, headers=auth(EVENTS)).status_code == 403
                checks += 6
                refused += 3
    assert BARE not in "".join(p.read_text() for p in (server.data / "jobs").glob("*.json"))
    doors = "rest,presigned,openai,grpc,websocket,drop-folder"
    reliability_figures(
        f"RELIABILITY tenants jobs={len(owners)} doors={doors} reads_checked={checks} refused={refused} leaked=0"
    )


# ---------------------------------------------------------------------------------- (9) the record before the 202
def test_status_answers_right_after_the_202(server: Server, reliability_figures: Report) -> None:
    def one(i: int) -> tuple[int, int]:
        with server.client() as c:
            path, name, body = (
                ("/stt/upload", f"c{i}.wav", wav_bytes()) if i % 2 else ("/ocr/process", f"c{i}.png", png())
            )
            r = c.post(path, headers=auth(ACME), files={"file": (name, body)})
            assert r.status_code == 202, r.text
            return r.status_code, c.get(f"/status/{r.json()['job_id']}", headers=auth(ACME)).status_code

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))
    assert [s for _, s in answers].count(404) == 0, answers
    reliability_figures(
        f"RELIABILITY status-after-202 uploads={len(answers)} concurrent=50 "
        f"not_found={[s for _, s in answers].count(404)}"
    )


# ---------------------------------------------------------------------------------------------- (7) uploads
def test_a_presigned_url_uploads_once(server: Server) -> None:
    first, second = wav_bytes(), wav_bytes()[:-2] + b"\x7f\x7f"
    with server.client() as c:
        up = c.post(
            "/uploads",
            headers=auth(ACME),
            json={"filename": "once.wav", "content_type": "audio/wav", "size": len(first)},
        ).json()
        url, headers = up["upload"]["url"], up["upload"]["headers"]
        assert httpx.put(url, content=first, headers=headers).status_code == 200
        stored = server.data / "inbox" / "uploads" / up["job_id"] / "once.wav"
        assert server.wait_done(up["job_id"], ACME)["state"] == "succeeded"
        result = c.get(f"/jobs/{up['job_id']}/result?format=txt", headers=auth(ACME)).text
        replay = httpx.put(url, content=second, headers=headers)
        assert replay.status_code == 409 and replay.json()["code"] == "upload_used", replay.text
        assert replay.headers["content-type"] == "application/problem+json"
        assert stored.read_bytes() == first
        assert c.get(f"/jobs/{up['job_id']}/result?format=txt", headers=auth(ACME)).text == result

        # Two PUTs racing on one URL: exactly one lands.
        up = c.post(
            "/uploads",
            headers=auth(ACME),
            json={"filename": "race.wav", "content_type": "audio/wav", "size": len(first)},
        ).json()
        with ThreadPoolExecutor(2) as pool:
            codes = sorted(
                pool.map(
                    lambda body: (
                        httpx.put(up["upload"]["url"], content=body, headers=up["upload"]["headers"]).status_code
                    ),
                    [first, second],
                )
            )
        assert codes == [200, 409], codes


def test_an_upload_that_never_comes_fails_the_job(server: Server) -> None:
    with server.client() as c:
        up = c.post(
            "/uploads", headers=auth(GLOBEX), json={"filename": "never.wav", "content_type": "audio/wav", "size": 100}
        ).json()
        job_id = up["job_id"]
        record = server.record(job_id)
        assert record.state == "awaiting_upload" and record.upload_expires_at is not None
        assert abs((record.upload_expires_at.timestamp() - time.time()) - TTL) < 2
        deadline = time.monotonic() + TTL + 10
        while server.record(job_id).state == "awaiting_upload":  # the service's sweep, with nobody reading
            assert time.monotonic() < deadline, "the sweep never expired the upload"
            time.sleep(0.2)
        record = server.record(job_id)
        assert record.state == "failed" and record.error is not None and record.error.code == "upload_expired"
        status = c.get(f"/status/{job_id}", headers=auth(GLOBEX)).json()
        assert status["state"] == "failed" and status["error"]["code"] == "upload_expired"
        late = httpx.put(up["upload"]["url"], content=b"x" * 10, headers=up["upload"]["headers"])
        assert late.status_code in (403, 409)


def test_reading_an_expired_upload_expires_it(tmp_path: Path) -> None:
    """Without any sweep: the read itself notices the URL expired."""
    from streamprocess.runtime import Runtime
    from streamprocess.submit import JobNotFound

    async def go() -> None:
        async with Runtime(Settings(data_dir=tmp_path / "data", upload_url_ttl=1)) as rt:
            await rt.ensure()
            subs = rt.submissions()
            upload = await subs.create_upload("a.wav", "audio/wav", 100, tenant="acme")
            assert (await subs.get(upload.job_id, "acme")).state == "awaiting_upload"
            with pytest.raises(JobNotFound):
                await subs.get(upload.job_id, "globex")
            await asyncio.sleep(1.2)
            record = await subs.get(upload.job_id, "acme")
            assert record.state == "failed" and record.error is not None and record.error.code == "upload_expired"
            assert (await rt.jobs.get(upload.job_id)).state == "failed"  # type: ignore[union-attr]

    asyncio.run(go())
