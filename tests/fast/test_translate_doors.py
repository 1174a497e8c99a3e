"""Translation (``task=translate``) and languages at the doors that make jobs, in this process (httpx's ASGI
transport over create_app; OpenAI's own SDK, ``openai.AsyncOpenAI``, over that transport), no model loaded:

- on the English-only default (tiny.en) ``translate`` and a non-English language are refused before any job is
  made, with the one code :func:`streamprocess.stt.models.check_language` gives (``unsupported_task``,
  ``unsupported_language``) and its HTTP status (``api.problems.HTTP_STATUS``), or OpenAI's 400 on its routes;
- on ``base`` (multilingual, known from its name: nothing is loaded or reassembled) the same requests are accepted
  and the job carries ``task`` to the worker;
- ``POST /v1/audio/translations`` answers OpenAI's ``Translation`` and ``TranslationVerbose`` shapes (the SDK parses
  them; ``verbose_json`` adds ``source_language`` and its probability), over the Echo processor.

The translations themselves, with the real model, are in tests/test_translation.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import httpx
import openai
import pytest

from streamprocess.api import create_app
from streamprocess.api.problems import HTTP_STATUS
from streamprocess.config import Settings
from streamprocess.errors import ErrorCode
from streamprocess.runtime import Runtime
from tests.fast.conftest import KEY

from ..helpers import wav_bytes

# OpenAI's SDK marks audio.translations.create deprecated (whisper-1's shutdown is announced): the route is still
# OpenAI's, and the SDK's method is what clients call.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

T = TypeVar("T")
AUDIO = ("hello.wav", wav_bytes(), "audio/wav")


@contextlib.asynccontextmanager
async def api_on(settings: Settings, model: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The API on the built-in STT processor with model ``model``; nothing here runs a job."""
    async with Runtime(settings.model_copy(update={"stt_processor": "stt", "stt_model": model})) as rt:
        await rt.ensure()
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://fast.test") as client:
            yield rt, client


ASKS = [
    ({"task": "translate"}, ErrorCode.UNSUPPORTED_TASK),
    ({"language": "de"}, ErrorCode.UNSUPPORTED_LANGUAGE),
    ({"language": "de", "task": "translate"}, ErrorCode.UNSUPPORTED_LANGUAGE),
]


async def test_rest_refuses_translate_and_other_languages_on_the_english_only_model(
    settings: Settings, auth: dict[str, str]
) -> None:
    async with api_on(settings, "default") as (rt, client):
        for form, code in ASKS:
            direct = await client.post("/stt/upload", files={"file": AUDIO}, data=form, headers=auth)
            presigned = await client.post(
                "/uploads",
                json={"filename": "a.wav", "content_type": "audio/wav", "size": 100, "options": form},
                headers=auth,
            )
            for answer in (direct, presigned):
                assert answer.status_code == HTTP_STATUS[code], answer.text
                problem = answer.json()
                assert problem["code"] == code and "English-only" in problem["detail"], problem
        assert await rt.jobs.list() == []  # refused before any job was made
        # the same options on a document are not the speech model's business
        png = await client.post(
            "/uploads",
            json={"filename": "a.png", "content_type": "image/png", "options": {"task": "translate"}},
            headers=auth,
        )
        assert png.status_code == 201, png.text
        bogus = await client.post("/stt/upload", files={"file": AUDIO}, data={"task": "summarise"}, headers=auth)
        assert bogus.status_code == 400 and bogus.json()["code"] == ErrorCode.INVALID_OPTIONS, bogus.text


async def test_rest_takes_translate_and_languages_on_the_multilingual_model(
    settings: Settings, auth: dict[str, str]
) -> None:
    async with api_on(settings, "base") as (rt, client):
        for form, _ in ASKS:
            direct = await client.post("/stt/upload", files={"file": AUDIO}, data=form, headers=auth)
            presigned = await client.post(
                "/uploads",
                json={"filename": "a.wav", "content_type": "audio/wav", "size": 100, "options": form},
                headers=auth,
            )
            assert direct.status_code == 202 and presigned.status_code == 201, (direct.text, presigned.text)
            for job_id in (direct.json()["job_id"], presigned.json()["job_id"]):
                record = await rt.jobs.get(job_id)
                assert record is not None and record.options == form, record  # what the worker will read


def sdk(client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    """OpenAI's SDK, as a user would make it, over the in-process transport."""
    return openai.AsyncOpenAI(base_url="http://fast.test/v1", api_key=KEY, max_retries=0, http_client=client)


async def test_openai_refuses_translations_and_other_languages_on_the_english_only_model(settings: Settings) -> None:
    async with api_on(settings, "default") as (rt, client):
        api = sdk(client)
        with pytest.raises(openai.BadRequestError) as refused:
            await api.audio.translations.create(model="whisper-1", file=AUDIO)
        assert refused.value.status_code == 400
        body: Any = refused.value.body
        assert body["code"] == ErrorCode.UNSUPPORTED_TASK and "cannot translate" in body["detail"], body
        with pytest.raises(openai.BadRequestError) as refused:
            await api.audio.transcriptions.create(model="whisper-1", file=AUDIO, language="ko")
        body = refused.value.body
        assert body["code"] == ErrorCode.UNSUPPORTED_LANGUAGE and "'ko'" in body["detail"], body
        assert await rt.jobs.list() == []


async def with_worker(rt: Runtime, call: Awaitable[T]) -> T:
    """``call`` (a door waiting for its job) while burst workers take the queued work until it returns."""
    task = asyncio.ensure_future(call)
    while not task.done():
        worker, missing = rt.worker(["events", "stt"], burst=True, receive_wait=0.2)
        assert not missing, missing
        await asyncio.wait_for(worker.run(), 20)
        await asyncio.wait({task}, timeout=0.05)
    return await task


async def test_openai_translations_answer_openai_shapes(runtime: Runtime, client: httpx.AsyncClient) -> None:
    api = sdk(client)
    plain = await with_worker(runtime, api.audio.translations.create(model="whisper-1", file=AUDIO))
    assert isinstance(plain, openai.types.audio.Translation) and plain.text.startswith("stt of ")
    verbose = await with_worker(
        runtime, api.audio.translations.create(model="whisper-1", file=AUDIO, response_format="verbose_json")
    )
    assert isinstance(verbose, openai.types.audio.TranslationVerbose), type(verbose)
    assert verbose.language == "english" and verbose.text == plain.text and verbose.duration == 0.0
    extra = verbose.model_extra or {}
    assert extra == {"task": "translate", "source_language": "english", "source_language_probability": 1.0}, extra
    text = await with_worker(
        runtime, api.audio.translations.create(model="whisper-1", file=AUDIO, response_format="text")
    )
    assert isinstance(text, str) and text.strip() == plain.text
    jobs = await runtime.jobs.list()
    assert len(jobs) == 3 and all(j.options == {"task": "translate"} for j in jobs), jobs  # the jobs behind them
    transcription = await with_worker(
        runtime, api.audio.transcriptions.create(model="whisper-1", file=AUDIO, response_format="verbose_json")
    )
    assert transcription.language == "english"
    assert (transcription.model_extra or {}).get("language_probability") == 1.0, transcription
