"""Jobs: direct submissions (multipart, optionally waiting for the result), a job's status and its results."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from ...jobs import JobState
from ...kinds import KINDS
from ...processors.stt import check_options
from ..deps import Rt, Subs, Tenant, require_api_key
from ..problems import ApiError
from ..spool import submit_file
from .protocol import Accepted, JobStatus

#: Every result format of every kind (json, txt, srt, vtt, hocr, md, html, pdf).
RESULT_FORMATS = sorted({result.format for kind in KINDS.values() for result in kind.results})

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["jobs"])


async def _submit(
    kind: str, file: UploadFile, request: Request, subs: Subs, wait: float, options: dict[str, str | None], tenant: str
) -> JSONResponse:
    job_id = await submit_file(request, subs, file, kind, options, tenant)
    status_url = str(request.url_for("job_status", job_id=job_id))
    record = await subs.wait(job_id, wait, tenant) if wait > 0 else None
    if record is not None and record.state is JobState.succeeded:
        data, _ = await subs.result(record, "json")  # inline as the result file has it, byte for byte
        body = Accepted(job_id=job_id, state=record.state, status_url=status_url, result=json.loads(data))
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    state = record.state if record is not None else JobState.queued
    if record is not None and record.state is JobState.failed and record.error:
        raise ApiError.job_failed(record.error, status=422)
    return JSONResponse(
        Accepted(job_id=job_id, state=state, status_url=status_url).model_dump(mode="json"),
        status_code=202,
        headers={"Location": status_url},
    )


Wait = Annotated[float, Query(ge=0, description="Seconds to wait for the result (returned inline when done).")]


@router.post(
    "/stt/upload",
    response_model=Accepted,
    status_code=202,
    responses={200: {"model": Accepted, "description": "Finished within ?wait"}},
)
async def stt_upload(
    request: Request,
    rt: Rt,
    subs: Subs,
    tenant: Tenant,
    file: Annotated[UploadFile, File()],
    wait: Wait = 0,
    language: Annotated[str | None, Form(description="Language code; unset or `auto` detects it.")] = None,
    task: Annotated[
        str | None, Form(description="`transcribe` (default) or `translate` (to English; multilingual models).")
    ] = None,
    word_timestamps: Annotated[bool | None, Form()] = None,
    hotwords: Annotated[str | None, Form()] = None,
    initial_prompt: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Transcribe (or translate to English) an audio file (multipart). 202 with the job id, or the transcript when
    it finishes in ?wait. A language or task the model cannot do is refused at once (400)."""
    options = {
        "language": language,
        "task": task,
        "hotwords": hotwords,
        "initial-prompt": initial_prompt,
        "word-timestamps": None if word_timestamps is None else str(word_timestamps).lower(),
    }
    check_options(rt.settings, options)
    return await _submit("stt", file, request, subs, wait, options, tenant)


@router.post(
    "/ocr/process",
    response_model=Accepted,
    status_code=202,
    responses={200: {"model": Accepted, "description": "Finished within ?wait"}},
)
async def ocr_process(
    request: Request,
    subs: Subs,
    tenant: Tenant,
    file: Annotated[UploadFile, File()],
    wait: Wait = 0,
    lang: Annotated[str | None, Form()] = None,
    engine: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """OCR an image or PDF (multipart). 202 with the job id, or the OCR JSON when it finishes in ?wait."""
    return await _submit("ocr", file, request, subs, wait, {"lang": lang, "engine": engine}, tenant)


@router.get("/status/{job_id}", response_model=JobStatus, name="job_status")
async def job_status(job_id: str, subs: Subs, tenant: Tenant) -> JobStatus:
    """State, progress, timings, error and the result formats that are ready. Another tenant's job is 404."""
    return JobStatus.of(await subs.get(job_id, tenant))


@router.get(
    "/jobs/{job_id}/result",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/plain": {}, "application/pdf": {}}}},
)
async def job_result(
    job_id: str,
    subs: Subs,
    tenant: Tenant,
    format: Annotated[str, Query(pattern=f"^({'|'.join(RESULT_FORMATS)})$")] = "json",
) -> Response:
    """A finished job's result: json, txt, srt or vtt (speech); json, txt, hocr, md (Markdown), html (the tables)
    or pdf (OCR)."""
    data, media_type = await subs.result(await subs.get(job_id, tenant), format)
    return Response(content=data, media_type=media_type)
