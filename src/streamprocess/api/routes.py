"""REST routes: presigned uploads, direct submissions, job status and results, MinIO bucket events."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..errors import WriteConflict
from ..events import parse_records
from ..jobs import JobError, JobRecord, JobState, Progress
from ..storage.local import LocalObjectStore
from ..submit import RESULT_FILES, Submissions, UploadUsed
from .auth import Tenant, require_api_key, require_events_token
from .problems import ApiError

api = APIRouter(dependencies=[Depends(require_api_key)])
public = APIRouter()  # authenticated otherwise: signed URLs, the events token


# ---------------------------------------------------------------------------------------------- models
class UploadRequest(BaseModel):
    filename: str = Field(..., max_length=255, examples=["meeting.m4a"])
    content_type: str = Field(..., examples=["audio/mp4"])
    size: int | None = Field(
        None,
        gt=0,
        description=(
            "Bytes. The embedded store's URL refuses more (default: the upload limit); an S3 URL is signed for exactly "
            "this many, and S3 deployments require it."
        ),
    )
    options: dict[str, str] = Field(default_factory=dict, description='Job options, e.g. {"language": "en"}.')


class UploadTarget(BaseModel):
    url: str
    method: str
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    expires_at: datetime


class UploadResponse(BaseModel):
    job_id: str
    upload: UploadTarget
    status_url: str


class JobStatus(BaseModel):
    job_id: str
    kind: str
    state: JobState
    source_key: str
    attempts: int
    progress: Progress | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    error: JobError | None = None
    results: list[str] = Field(default_factory=list, description="Formats ready at /jobs/{id}/result?format=…")
    summary: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, r: JobRecord) -> JobStatus:
        ready = [fmt for fmt, name in RESULT_FILES.get(r.kind, {}).items() if name in r.results]
        return cls(
            job_id=r.job_id,
            kind=r.kind,
            state=r.state,
            source_key=r.source.key,
            attempts=r.attempts,
            progress=r.progress,
            timings=r.timings,
            error=r.error,
            results=ready,
            summary=r.summary,
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
        )


class Accepted(BaseModel):
    job_id: str
    state: JobState
    status_url: str
    result: Any | None = Field(None, description="The JSON result, when ?wait saw the job finish.")


def submissions(request: Request) -> Submissions:
    return request.app.state.submissions


Subs = Annotated[Submissions, Depends(submissions)]


# ---------------------------------------------------------------------------------------------- uploads
@api.post("/uploads", response_model=UploadResponse, status_code=201, tags=["uploads"])
async def create_upload(body: UploadRequest, request: Request, subs: Subs, tenant: Tenant) -> UploadResponse:
    """A presigned upload straight to object storage; the job id is known now, the job starts when it lands.
    The URL uploads once (a second PUT is refused); if no upload comes before it expires, the job fails
    (`upload_expired`)."""
    upload = await subs.create_upload(body.filename, body.content_type, body.size, body.options, tenant=tenant)
    r = upload.request
    return UploadResponse(
        job_id=upload.job_id,
        status_url=str(request.url_for("job_status", job_id=upload.job_id)),
        upload=UploadTarget(url=r.url, method=r.method, headers=r.headers, fields=r.fields, expires_at=r.expires_at),
    )


async def spool(chunks: AsyncIterator[bytes], path: Path, limit: int, over: str) -> None:
    """Write a request body to ``path``, refusing it with 413 as soon as it passes ``limit`` bytes."""
    size = 0
    with open(path, "wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"{over} {limit}-byte limit", code="too_large")
            out.write(chunk)


@public.put("/local-store/{key:path}", tags=["uploads"], include_in_schema=False)
async def local_store_put(key: str, request: Request) -> Response:
    """The embedded store's signed upload URLs land here: signature, expiry, type and size are checked, and a URL
    uploads once: its second use is refused (409 ``upload_used``), and of two racing uses exactly one lands."""
    store = request.app.state.runtime.store
    if not isinstance(store, LocalObjectStore):
        raise ApiError(404, "this deployment stores uploads in S3; use the URL /uploads returned")
    length = request.headers.get("content-length")
    metadata = store.verify_presigned(
        "PUT",
        key,
        dict(request.query_params),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
    )
    subs: Submissions = request.app.state.submissions
    await subs.check_upload(metadata.get("job-id"))  # refuse a used URL before receiving its body
    limit = int(request.query_params.get("max", 0)) or request.app.state.runtime.settings.upload_max_size
    with tempfile.TemporaryDirectory(prefix="sp-put-") as tmp:
        path = Path(tmp) / "body"
        await spool(request.stream(), path, limit, "the upload is over the URL's")
        await subs.check_upload(metadata.get("job-id"))
        try:  # create-only: atomic against another use of this URL, under the store's lock
            info = await store.put(
                key, path, content_type=request.headers.get("content-type"), metadata=metadata, if_none_match=True
            )
        except WriteConflict:
            raise UploadUsed("this upload URL was used already: a presigned upload URL uploads once") from None
    return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})


# ---------------------------------------------------------------------------------------------- direct submissions
async def store_upload(
    request: Request, subs: Submissions, file: UploadFile, kind: str, options: dict[str, str | None], tenant: str
) -> str:
    """Spool a multipart file to disk within the size limit and submit it; returns the job id."""
    settings = request.app.state.runtime.settings
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.upload_max_size + 64 * 1024:
        raise ApiError(413, f"the request is over the {settings.upload_max_size}-byte upload limit", code="too_large")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(1 << 20):
            yield chunk

    with tempfile.TemporaryDirectory(prefix="sp-upload-") as tmp:
        path = Path(tmp) / "file"
        await spool(chunks(), path, settings.upload_max_size, "the file is over the")
        return await subs.submit(
            path, file.filename or "upload", kind, {k: v for k, v in options.items() if v is not None}, tenant=tenant
        )


async def _submit(
    kind: str, file: UploadFile, request: Request, subs: Subs, wait: float, options: dict[str, str | None], tenant: str
) -> JSONResponse:
    job_id = await store_upload(request, subs, file, kind, options, tenant)
    status_url = str(request.url_for("job_status", job_id=job_id))
    record = await subs.wait(job_id, wait, tenant) if wait > 0 else None
    if record is not None and record.state is JobState.succeeded:
        data, _ = await subs.result(record, "json")
        body = Accepted(job_id=job_id, state=record.state, status_url=status_url, result=json.loads(data))
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    state = record.state if record is not None else JobState.queued
    if record is not None and record.state is JobState.failed and record.error:
        raise ApiError(422, record.error.message, code=record.error.code)
    return JSONResponse(
        Accepted(job_id=job_id, state=state, status_url=status_url).model_dump(mode="json"),
        status_code=202,
        headers={"Location": status_url},
    )


Wait = Annotated[float, Query(ge=0, description="Seconds to wait for the result (returned inline when done).")]


@api.post(
    "/stt/upload",
    response_model=Accepted,
    status_code=202,
    tags=["jobs"],
    responses={200: {"model": Accepted, "description": "Finished within ?wait"}},
)
async def stt_upload(
    request: Request,
    subs: Subs,
    tenant: Tenant,
    file: Annotated[UploadFile, File()],
    wait: Wait = 0,
    language: Annotated[str | None, Form()] = None,
    word_timestamps: Annotated[bool | None, Form()] = None,
    hotwords: Annotated[str | None, Form()] = None,
    initial_prompt: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Transcribe an audio file (multipart). 202 with the job id, or the transcript when it finishes in ?wait."""
    options = {
        "language": language,
        "hotwords": hotwords,
        "initial-prompt": initial_prompt,
        "word-timestamps": None if word_timestamps is None else str(word_timestamps).lower(),
    }
    return await _submit("stt", file, request, subs, wait, options, tenant)


@api.post(
    "/ocr/process",
    response_model=Accepted,
    status_code=202,
    tags=["jobs"],
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


# ---------------------------------------------------------------------------------------------- status, results
@api.get("/status/{job_id}", response_model=JobStatus, name="job_status", tags=["jobs"])
async def job_status(job_id: str, subs: Subs, tenant: Tenant) -> JobStatus:
    """State, progress, timings, error and the result formats that are ready. Another tenant's job is 404."""
    return JobStatus.of(await subs.get(job_id, tenant))


@api.get(
    "/jobs/{job_id}/result",
    tags=["jobs"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/plain": {}, "application/pdf": {}}}},
)
async def job_result(
    job_id: str,
    subs: Subs,
    tenant: Tenant,
    format: Annotated[str, Query(pattern="^(json|txt|srt|vtt|hocr|pdf)$")] = "json",
) -> Response:
    """A finished job's result: json, txt, srt or vtt (speech); json, txt, hocr or pdf (OCR)."""
    data, media_type = await subs.result(await subs.get(job_id, tenant), format)
    return Response(content=data, media_type=media_type)


# ---------------------------------------------------------------------------------------------- MinIO webhook
@public.post("/events/s3", status_code=202, tags=["events"], dependencies=[Depends(require_events_token)])
async def s3_events(request: Request) -> dict[str, int]:
    """MinIO bucket notifications (its webhook target, with ``auth_token`` set to STREAMPROCESS_EVENTS_TOKEN)."""
    body = await request.body()
    records = parse_records(body)  # refuse what is not an event before queueing it
    if records:
        await request.app.state.runtime.queues["events"].send(body.decode("utf-8", errors="replace"))
    return {"records": len(records)}
