"""``POST /v1/audio/transcriptions``, compatible with OpenAI's audio API, so existing clients work unchanged.

The request becomes an ordinary STT job (stored, queued, processed by the workers) and the call waits for it
(at most ``STREAMPROCESS_WAIT_MAX`` seconds). ``model`` is accepted and ignored: the configured model answers.
``temperature`` is accepted; decoding keeps faster-whisper's temperature fallback.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..jobs import JobState
from .auth import Tenant, require_api_key
from .problems import ApiError
from .routes import Subs, store_upload

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["openai"])

LANGUAGE_NAMES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ja": "japanese",
    "zh": "chinese",
    "ko": "korean",
    "ru": "russian",
    "pl": "polish",
    "tr": "turkish",
    "ar": "arabic",
    "hi": "hindi",
}


def verbose(transcript: dict[str, Any], words: bool) -> dict[str, Any]:
    segments = [
        {
            "id": s["id"],
            "seek": 0,
            "start": s["start"],
            "end": s["end"],
            "text": s["text"],
            "tokens": [],
            "temperature": s.get("temperature") or 0.0,
            "avg_logprob": s["avg_logprob"],
            "compression_ratio": s.get("compression_ratio") or 0.0,
            "no_speech_prob": s["no_speech_prob"],
        }
        for s in transcript["segments"]
    ]
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(transcript["language"], transcript["language"]),
        "duration": transcript["duration"],
        "text": transcript["text"],
        "segments": segments,
    }
    if words:
        body["words"] = [
            {"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
            for s in transcript["segments"]
            for w in (s.get("words") or [])
        ]
    return body


@router.post("/v1/audio/transcriptions")
async def transcriptions(
    request: Request,
    subs: Subs,
    tenant: Tenant,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()],
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[Literal["json", "text", "srt", "verbose_json", "vtt"], Form()] = "json",
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
    timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
) -> Response:
    """Transcribe an audio file, as OpenAI's `audio.transcriptions.create`."""
    granularities = set(timestamp_granularities or [])
    if granularities - {"word", "segment"}:
        raise ApiError(400, "timestamp_granularities[] takes word and/or segment", code="invalid_request")
    options = {
        "initial-prompt": prompt,
        "language": language,
        "word-timestamps": "true" if "word" in granularities else None,
    }
    job_id = await store_upload(request, subs, file, "stt", options, tenant)
    record = await subs.wait(job_id, request.app.state.runtime.settings.wait_max, tenant)
    if record.state is JobState.failed:
        raise ApiError(
            400,
            record.error.message if record.error else "transcription failed",
            code=record.error.code if record.error else "failed",
        )
    if record.state is not JobState.succeeded:
        raise ApiError(504, f"job {job_id} did not finish in time; poll /status/{job_id}", code="timeout")
    if response_format in ("text", "srt", "vtt"):
        fmt = {"text": "txt", "srt": "srt", "vtt": "vtt"}[response_format]
        data, media_type = await subs.result(record, fmt)
        return PlainTextResponse(data.decode("utf-8"), media_type=media_type)
    transcript = json.loads((await subs.result(record, "json"))[0])
    if response_format == "json":
        return JSONResponse({"text": transcript["text"]})
    return JSONResponse(verbose(transcript, "word" in granularities))
