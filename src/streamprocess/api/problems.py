"""Errors as RFC 9457 problem details (``application/problem+json``), for every error the API returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ErrorCode, StreamProcessError
from ..jobs import JobError

PROBLEM = "application/problem+json"

E = ErrorCode
#: The HTTP status of each error code: a problem's status, whether a library error or a door's own refusal.
#: Input the service cannot take is 422, a dependency out of reach 503.
HTTP_STATUS: dict[ErrorCode, int] = {
    E.INTERNAL_ERROR: 503,
    E.PERMANENT_ERROR: 422,
    E.TRANSIENT_ERROR: 503,
    E.FAILED: 422,
    E.TIMEOUT: 504,
    E.UNAUTHENTICATED: 401,
    E.FORBIDDEN: 403,
    E.DISABLED: 404,
    E.INVALID_REQUEST: 422,
    E.INVALID_OPTIONS: 400,
    E.UNSUPPORTED_MEDIA_TYPE: 415,
    E.TOO_LARGE: 413,
    E.SIZE_REQUIRED: 422,
    E.JOB_NOT_FOUND: 404,
    E.NOT_READY: 409,
    E.NO_SUCH_RESULT: 404,
    E.UPLOAD_USED: 409,
    E.UPLOAD_EXPIRED: 409,
    E.UPLOAD_FAILED: 503,
    E.PRESIGN_INVALID: 403,
    E.INVALID_KEY: 422,
    E.OBJECT_NOT_FOUND: 422,
    E.UNREADABLE_INPUT: 422,
    E.WRITE_CONFLICT: 503,
    E.INVALID_EVENT: 400,
    E.REJECTED_INPUT: 422,
    E.MESSAGE_LOST: 503,
    E.INVALID_MESSAGE: 422,
    E.SOURCE_CHANGED: 422,
    E.ATTEMPTS_EXHAUSTED: 503,
    E.PROCESSOR_UNAVAILABLE: 503,
    E.UNSUPPORTED_MEDIA: 415,
    E.FILE_TOO_LARGE: 422,
    E.CORRUPT_MEDIA: 422,
    E.BAD_AUDIO: 422,
    E.NO_AUDIO: 422,
    E.AUDIO_TOO_LONG: 422,
    E.TOO_MANY_PAGES: 422,
    E.PAGE_TOO_LARGE: 422,
    E.ENCRYPTED_PDF: 422,
    E.UNSUPPORTED_LANGUAGE: 400,
    E.UNSUPPORTED_TASK: 400,
    E.MODEL_UNAVAILABLE: 503,
    E.ENGINE_UNAVAILABLE: 503,
    E.ENGINE_ERROR: 503,
    E.BAD_REQUEST: 422,
    E.BAD_CONFIG: 422,
    E.CONFIG_EXPECTED: 422,
    E.FRAME_TOO_LARGE: 422,
    E.POOL_FULL: 503,
    E.LIVE_DISABLED: 404,
    E.IDLE_TIMEOUT: 503,
    E.AUDIO_DROPPED: 503,
    E.SAVE_FAILED: 503,
}


def http_status(code: str) -> int:
    """The status of an error code; a code this version does not know (an old job record's) is 503."""
    try:
        return HTTP_STATUS[ErrorCode(code)]
    except ValueError:
        return 503


class ApiError(Exception):
    """A door's own refusal, as a problem. Its status is the code's (:data:`HTTP_STATUS`) unless ``status`` says
    otherwise: a door whose contract differs (OpenAI answers 400 to every bad request) or a failed job's code."""

    def __init__(
        self, code: ErrorCode, detail: str, *, status: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.code: str = code
        self.status = status or HTTP_STATUS[code]
        self.detail, self.headers = detail, headers

    @classmethod
    def job_failed(cls, error: JobError | None, status: int, unknown: str = "the job failed") -> ApiError:
        """A job that failed, refused with its recorded code and message (``unknown`` when it has none)."""
        refusal = cls(ErrorCode.FAILED, error.message if error else unknown, status=status)
        if error is not None:
            refusal.code = error.code
        return refusal


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if code:
        body["code"] = code
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.detail, instance=request.url.path, code=exc.code, headers=exc.headers)

    @app.exception_handler(StreamProcessError)
    async def _library(request: Request, exc: StreamProcessError) -> JSONResponse:
        return problem(http_status(exc.code), exc.message, instance=request.url.path, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        return problem(422, detail, instance=request.url.path, code=ErrorCode.INVALID_REQUEST, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=getattr(exc, "headers", None)
        )
