"""API keys: ``Authorization: Bearer <key>``, each belonging to a tenant.

401 when the request carries no usable credentials (none, another scheme, an unknown key), with
``WWW-Authenticate: Bearer``; 403 when the credentials are valid but not for this route (the MinIO events token
on the API, an API key on ``/events/s3``). :func:`credential` is the one place a bearer token becomes a caller
(an API key's tenant, or the events token), for every door: HTTP routes, the WebSocket and gRPC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Annotated, NamedTuple

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from .problems import ApiError


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "missing credentials: send Authorization: Bearer <API key>",
            code="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="streamprocess"'},
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "use the Bearer scheme: Authorization: Bearer <API key>",
            code="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="streamprocess", error="invalid_request"'},
        )
    return token.strip()


class Caller(NamedTuple):
    kind: str  # "api" (an API key) or "events" (the MinIO events token)
    tenant: str | None = None  # an API key's tenant


def credential(token: str, api_keys: Mapping[str, str], events_tokens: Iterable[str]) -> Caller | None:
    """Who a bearer token is: an API key's tenant (``api_keys`` maps key → tenant), the events token, or None
    (unknown). Every key is compared, in constant time on digests. Shared by the HTTP API, WebSocket and gRPC."""
    digest = hashlib.sha256(token.encode()).digest()

    def same(secret: str) -> bool:
        return hmac.compare_digest(digest, hashlib.sha256(secret.encode()).digest())

    tenants = [tenant for key, tenant in api_keys.items() if same(key)]
    if tenants:
        return Caller("api", tenants[0])
    return Caller("events") if any([same(t) for t in events_tokens]) else None


def keys(conn: HTTPConnection) -> tuple[Mapping[str, str], list[str]]:
    """The API keys (key → tenant) and the events tokens an HTTP request or WebSocket is checked against."""
    return conn.app.state.api_keys, conn.app.state.runtime.settings.events_token_list()


_INVALID = {"WWW-Authenticate": 'Bearer realm="streamprocess", error="invalid_token"'}

# The security schemes the OpenAPI document declares (Swagger UI's Authorize button). They only document: with
# auto_error=False they never answer a request themselves; _token and credential decide, with their own problems.
_api_key_scheme = HTTPBearer(
    scheme_name="ApiKey",
    auto_error=False,
    description=("An API key: one of STREAMPROCESS_API_KEYS, or the key `streamprocess up` prints when none is set."),
)
_events_scheme = HTTPBearer(
    scheme_name="EventsToken",
    auto_error=False,
    description=(
        "STREAMPROCESS_EVENTS_TOKEN, the token MinIO's webhook target sends (auth_token); only for POST /events/s3."
    ),
)
_Documented = HTTPAuthorizationCredentials | None


async def require_api_key(request: Request, _: Annotated[_Documented, Depends(_api_key_scheme)] = None) -> str:
    """The caller's tenant (a dependency: FastAPI runs it once per request however many routes ask)."""
    caller = credential(_token(request), *keys(request))
    if caller is None:
        raise ApiError(401, "unknown API key", code="unauthenticated", headers=_INVALID)
    if caller.kind != "api" or caller.tenant is None:
        raise ApiError(403, "the events token is only for POST /events/s3", code="forbidden")
    return caller.tenant


#: A route parameter holding the authenticated caller's tenant.
Tenant = Annotated[str, Depends(require_api_key)]


async def require_events_token(request: Request, _: Annotated[_Documented, Depends(_events_scheme)] = None) -> None:
    api, events = keys(request)
    if not events:
        raise ApiError(404, "the MinIO events endpoint is off: set STREAMPROCESS_EVENTS_TOKEN", code="disabled")
    caller = credential(_token(request), api, events)
    if caller is not None and caller.kind == "api":
        raise ApiError(403, "API keys cannot post bucket events; use the events token", code="forbidden")
    if caller is None:
        raise ApiError(401, "unknown events token", code="unauthenticated", headers=_INVALID)
