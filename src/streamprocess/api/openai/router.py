"""``POST /v1/audio/transcriptions`` and ``POST /v1/audio/translations``, compatible with OpenAI's audio API, so
existing clients work unchanged.

A request becomes an ordinary STT job (stored, queued, processed by the workers; a translation is a job with
``task=translate``) and the call waits for it (at most ``STREAMPROCESS_WAIT_MAX`` seconds). ``model`` is accepted
and ignored: the configured model answers. ``temperature`` is accepted; decoding keeps faster-whisper's
temperature fallback. OpenAI answers 400 to a bad request and to a failed transcription; so does this door, and
to a language or a translation the configured model cannot do (``unsupported_language``, ``unsupported_task``),
before any job is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from ...errors import ErrorCode
from ...jobs import JobRecord, JobState
from ...processors.stt import check_options
from ...stt.options import InvalidOptions
from ...stt.types import Transcript
from ..deps import Rt, Subs, Tenant, require_api_key
from ..problems import ApiError
from ..spool import submit_file
from .protocol import ResponseFormat, Transcription, Translation
from .service import verbose, verbose_translation

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["openai"])

#: OpenAI's response formats that are one of a transcript's result files.
RESULT_FORMATS = {"text": "txt", "srt": "srt", "vtt": "vtt"}

AudioFile = Annotated[UploadFile, File()]
Model = Annotated[str, Form()]
Prompt = Annotated[str | None, Form()]
Format = Annotated[ResponseFormat, Form()]
Temperature = Annotated[float, Form(ge=0, le=1)]


async def _finished_job(
    request: Request, rt: Rt, subs: Subs, tenant: str, file: UploadFile, options: dict[str, str | None]
) -> JobRecord:
    """The STT job of ``file`` with ``options``, submitted and waited for; OpenAI's 400 for what fails."""
    try:
        check_options(rt.settings, options)
    except InvalidOptions as e:
        raise ApiError(e.code, e.message, status=400) from None
    job_id = await submit_file(request, subs, file, "stt", options, tenant)
    record = await subs.wait(job_id, subs.settings.wait_max, tenant)
    if record.state is JobState.failed:
        raise ApiError.job_failed(record.error, status=400, unknown="transcription failed")
    if record.state is not JobState.succeeded:
        raise ApiError(ErrorCode.TIMEOUT, f"job {job_id} did not finish in time; poll /status/{job_id}")
    return record


async def _answer(
    subs: Subs,
    record: JobRecord,
    response_format: ResponseFormat,
    as_json: Callable[[Transcript], BaseModel],
    as_verbose: Callable[[Transcript], BaseModel],
) -> Response:
    if response_format in RESULT_FORMATS:
        data, media_type = await subs.result(record, RESULT_FORMATS[response_format])
        return PlainTextResponse(data.decode("utf-8"), media_type=media_type)
    transcript = await subs.transcript(record)
    body = as_json(transcript) if response_format == "json" else as_verbose(transcript)
    return JSONResponse(body.model_dump(exclude_none=True))


@router.post("/v1/audio/transcriptions")
async def transcriptions(
    request: Request,
    rt: Rt,
    subs: Subs,
    tenant: Tenant,
    file: AudioFile,
    model: Model,
    language: Annotated[str | None, Form()] = None,
    prompt: Prompt = None,
    response_format: Format = "json",
    temperature: Temperature = 0.0,
    timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
) -> Response:
    """Transcribe an audio file, as OpenAI's `audio.transcriptions.create`; `verbose_json` adds
    `language_probability`."""
    granularities = set(timestamp_granularities or [])
    if granularities - {"word", "segment"}:
        raise ApiError(ErrorCode.INVALID_REQUEST, "timestamp_granularities[] takes word and/or segment", status=400)
    options = {
        "initial-prompt": prompt,
        "language": language,
        "word-timestamps": "true" if "word" in granularities else None,
    }
    record = await _finished_job(request, rt, subs, tenant, file, options)
    return await _answer(
        subs,
        record,
        response_format,
        lambda t: Transcription(text=t.text),
        lambda t: verbose(t, "word" in granularities),
    )


@router.post("/v1/audio/translations")
async def translations(
    request: Request,
    rt: Rt,
    subs: Subs,
    tenant: Tenant,
    file: AudioFile,
    model: Model,
    prompt: Prompt = None,
    response_format: Format = "json",
    temperature: Temperature = 0.0,
) -> Response:
    """Translate an audio file's speech into English, as OpenAI's `audio.translations.create` (the language is
    detected); `verbose_json` adds `source_language` and `source_language_probability`. An English-only model
    cannot translate: 400 `unsupported_task`."""
    options = {"initial-prompt": prompt, "task": "translate"}
    record = await _finished_job(request, rt, subs, tenant, file, options)
    return await _answer(subs, record, response_format, lambda t: Translation(text=t.text), verbose_translation)
