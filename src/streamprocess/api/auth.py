"""API keys: ``Authorization: Bearer <key>``.

401 when the request carries no usable credentials (none, another scheme, an unknown key), with
``WWW-Authenticate: Bearer``; 403 when the credentials are valid but not for this route (the MinIO events token
on the API, an API key on ``/events/s3``).
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.requests import HTTPConnection

from .problems import ApiError


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "missing credentials: send Authorization: Bearer <API key>", code="unauthenticated",
                       headers={"WWW-Authenticate": 'Bearer realm="streamprocess"'})
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "use the Bearer scheme: Authorization: Bearer <API key>", code="unauthenticated",
                       headers={"WWW-Authenticate": 'Bearer realm="streamprocess", error="invalid_request"'})
    return token.strip()


def credential(token: str, api_keys: list[str], events_tokens: list[str]) -> str | None:
    """What a bearer token is: ``api`` (an API key), ``events`` (the MinIO events token) or None (unknown).
    Compared in constant time. Shared by the HTTP API and the gRPC service."""
    def matches(keys: list[str]) -> bool:
        return any(hmac.compare_digest(token.encode(), k.encode()) for k in keys)

    return "api" if matches(api_keys) else "events" if matches(events_tokens) else None


def keys(conn: HTTPConnection) -> tuple[list[str], list[str]]:
    """The API keys and the events tokens an HTTP request or WebSocket is checked against."""
    return conn.app.state.api_keys, conn.app.state.runtime.settings.events_token_list()


_INVALID = {"WWW-Authenticate": 'Bearer realm="streamprocess", error="invalid_token"'}


async def require_api_key(request: Request) -> None:
    kind = credential(_token(request), *keys(request))
    if kind == "events":
        raise ApiError(403, "the events token is only for POST /events/s3", code="forbidden")
    if kind is None:
        raise ApiError(401, "unknown API key", code="unauthenticated", headers=_INVALID)


async def require_events_token(request: Request) -> None:
    api, events = keys(request)
    if not events:
        raise ApiError(404, "the MinIO events endpoint is off: set STREAMPROCESS_EVENTS_TOKEN", code="disabled")
    kind = credential(_token(request), api, events)
    if kind == "api":
        raise ApiError(403, "API keys cannot post bucket events; use the events token", code="forbidden")
    if kind is None:
        raise ApiError(401, "unknown events token", code="unauthenticated", headers=_INVALID)
