"""``POST /v1/audio/transcriptions``, compatible with OpenAI's audio API, so existing clients work unchanged.

The request becomes an ordinary STT job (stored, queued, processed by the workers) and the call waits for it
(at most ``STREAMPROCESS_WAIT_MAX`` seconds). ``model`` is accepted and ignored: the configured model answers.
``temperature`` is accepted; decoding keeps faster-whisper's temperature fallback. OpenAI answers 400 to a bad
request and to a failed transcription; so does this door.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ...errors import ErrorCode
from ...jobs import JobState
from ..deps import Subs, Tenant, require_api_key
from ..problems import ApiError
from ..spool import submit_file
from .protocol import ResponseFormat, Transcription
from .service import verbose

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["openai"])

#: OpenAI's response formats that are one of a transcript's result files.
RESULT_FORMATS = {"text": "txt", "srt": "srt", "vtt": "vtt"}


@router.post("/v1/audio/transcriptions")
async def transcriptions(
    request: Request,
    subs: Subs,
    tenant: Tenant,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()],
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
    timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
) -> Response:
    """Transcribe an audio file, as OpenAI's `audio.transcriptions.create`."""
    granularities = set(timestamp_granularities or [])
    if granularities - {"word", "segment"}:
        raise ApiError(ErrorCode.INVALID_REQUEST, "timestamp_granularities[] takes word and/or segment", status=400)
    options = {
        "initial-prompt": prompt,
        "language": language,
        "word-timestamps": "true" if "word" in granularities else None,
    }
    job_id = await submit_file(request, subs, file, "stt", options, tenant)
    record = await subs.wait(job_id, subs.settings.wait_max, tenant)
    if record.state is JobState.failed:
        raise ApiError.job_failed(record.error, status=400, unknown="transcription failed")
    if record.state is not JobState.succeeded:
        raise ApiError(ErrorCode.TIMEOUT, f"job {job_id} did not finish in time; poll /status/{job_id}")
    if response_format in RESULT_FORMATS:
        data, media_type = await subs.result(record, RESULT_FORMATS[response_format])
        return PlainTextResponse(data.decode("utf-8"), media_type=media_type)
    transcript = await subs.transcript(record)
    if response_format == "json":
        return JSONResponse(Transcription(text=transcript.text).model_dump())
    return JSONResponse(verbose(transcript, "word" in granularities).model_dump(exclude_none=True))
