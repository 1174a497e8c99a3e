"""The HTTP API in this process (httpx's ASGI transport over create_app), on the embedded store and queue, with a
burst worker between the requests: submit, status, result, and the refusals, in a second or two."""

from __future__ import annotations

import asyncio

import httpx

from streamprocess.runtime import Runtime

from ..helpers import wav_bytes
from ..processors import PNG


async def finish_queued_work(rt: Runtime) -> None:
    worker, missing = rt.worker(["events", "stt", "ocr"], burst=True, receive_wait=1.0)
    assert not missing, missing
    await asyncio.wait_for(worker.run(), 20)


async def test_health_needs_no_key_and_the_schema_lists_the_doors(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/stt/upload", "/ocr/process", "/status/{job_id}", "/jobs/{job_id}/result"} <= set(paths)


async def test_a_job_needs_a_key(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert (await client.get("/status/" + "0" * 32)).status_code == 401
    wrong = await client.get("/status/" + "0" * 32, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (await client.get("/status/" + "0" * 32, headers=auth)).status_code == 404


async def test_upload_queue_process_and_fetch_the_transcript(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    audio = wav_bytes()
    accepted = await client.post("/stt/upload", files={"file": ("hello.wav", audio, "audio/wav")}, headers=auth)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    queued = await client.get(f"/status/{job_id}", headers=auth)
    assert queued.status_code == 200 and queued.json()["state"] == "queued"

    await finish_queued_work(runtime)

    done = (await client.get(f"/status/{job_id}", headers=auth)).json()
    assert done["state"] == "succeeded", done
    text = await client.get(f"/jobs/{job_id}/result", params={"format": "txt"}, headers=auth)
    assert text.status_code == 200 and text.text.startswith(f"stt of {len(audio)} bytes")
    body = (await client.get(f"/jobs/{job_id}/result", headers=auth)).json()
    assert body["text"] == text.text.strip()


async def test_ocr_document_and_a_format_the_job_has_not(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    accepted = await client.post("/ocr/process", files={"file": ("scan.png", PNG, "image/png")}, headers=auth)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    await finish_queued_work(runtime)
    assert (await client.get(f"/status/{job_id}", headers=auth)).json()["state"] == "succeeded"
    text = await client.get(f"/jobs/{job_id}/result", params={"format": "txt"}, headers=auth)
    assert text.status_code == 200 and text.text.startswith(f"ocr of {len(PNG)} bytes")
    for fmt in ("hocr", "md", "html"):  # every OCR result format is asked for by name; this job wrote none of them
        missing = await client.get(f"/jobs/{job_id}/result", params={"format": fmt}, headers=auth)
        assert missing.status_code == 404, (fmt, missing.text)
    unknown = await client.get(f"/jobs/{job_id}/result", params={"format": "docx"}, headers=auth)
    assert unknown.status_code == 422, unknown.text
