"""Errors as RFC 9457 problem details (``application/problem+json``), for every error the API returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import PermanentError, StreamProcessError

PROBLEM = "application/problem+json"

#: HTTP status for each error code the library raises; permanent errors are 422, others 503.
STATUS_BY_CODE = {
    "job_not_found": 404,
    "no_such_result": 404,
    "not_ready": 409,
    "unsupported_media_type": 415,
    "unsupported_media": 415,
    "too_large": 413,
    "presign_invalid": 403,
    "invalid_options": 400,
    "unsupported_language": 400,
    "invalid_event": 400,
    "upload_used": 409,
    "upload_expired": 409,
}


class ApiError(Exception):
    def __init__(self, status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.code, self.headers = status, detail, code, headers


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
        status = STATUS_BY_CODE.get(exc.code, 422 if isinstance(exc, PermanentError) else 503)
        return problem(status, exc.message, instance=request.url.path, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        return problem(422, detail, instance=request.url.path, code="invalid_request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=getattr(exc, "headers", None)
        )
