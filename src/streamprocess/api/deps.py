"""What routes ask for, in one place: the caller's tenant (``Authorization: Bearer <API key>``), the events token
check and the submission service.

401 when a request carries no usable credentials (none, another scheme, an unknown key), with
``WWW-Authenticate: Bearer``; 403 when the credentials are valid but not for this route (the MinIO events token
on the API, an API key on ``/events/s3``). The token is read and looked up by :mod:`streamprocess.tenants`, as on
the WebSocket and gRPC.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..errors import ErrorCode
from ..runtime import Runtime
from ..submit import Submissions
from ..tenants import Caller, Credentials, bearer_token
from .problems import ApiError

_CHALLENGE = 'Bearer realm="streamprocess"'
_INVALID = {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'}


def credentials(conn: HTTPConnection) -> Credentials:
    """The API keys and events tokens an HTTP request or WebSocket is checked against."""
    creds: Credentials = conn.app.state.credentials
    return creds


class StreamRefused(Exception):
    """A WebSocket stream (``/v1/stt/stream``, ``/v1/realtime``) refused: the door sends ``code`` and ``message`` in
    its own error shape, then closes with the code's close code (:mod:`.live.closes`)."""

    def __init__(self, code: ErrorCode, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def stream_tenant(conn: HTTPConnection, token: str | None, how: str) -> str:
    """The tenant whose API key ``token`` is (a saved stream becomes that tenant's job), for the WebSocket doors;
    :class:`StreamRefused` otherwise. ``how``: how that door takes a key, said when none came."""
    if not token:
        raise StreamRefused(ErrorCode.UNAUTHENTICATED, how)
    caller = credentials(conn).identify(token)
    if caller is None:
        raise StreamRefused(ErrorCode.UNAUTHENTICATED, "unknown API key")
    if caller.tenant is None:
        raise StreamRefused(ErrorCode.FORBIDDEN, "the events token cannot open live streams: use an API key")
    return caller.tenant


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt


def submissions(conn: HTTPConnection) -> Submissions:
    subs: Submissions = conn.app.state.submissions
    return subs


def _caller(request: Request) -> Caller | None:
    header = request.headers.get("authorization", "")
    if not header:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "missing credentials: send Authorization: Bearer <API key>",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    token = bearer_token(header)
    if token is None:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "use the Bearer scheme: Authorization: Bearer <API key>",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_request"'},
        )
    return credentials(request).identify(token)


# The security schemes the OpenAPI document declares (Swagger UI's Authorize button). They only document: with
# auto_error=False they never answer a request themselves; _caller decides, with its own problems.
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
    caller = _caller(request)
    if caller is None:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "unknown API key", headers=_INVALID)
    if caller.kind == "admin":
        raise ApiError(ErrorCode.FORBIDDEN, "an admin key is only for /admin/*")
    if caller.kind != "api" or caller.tenant is None:
        raise ApiError(ErrorCode.FORBIDDEN, "the events token is only for POST /events/s3")
    return caller.tenant


async def optional_api_key(request: Request, _: Annotated[_Documented, Depends(_api_key_scheme)] = None) -> str | None:
    """The caller's tenant when the request carries credentials (checked as :func:`require_api_key` checks them),
    None when it carries none: a Kubernetes probe has no key."""
    if "authorization" not in request.headers:
        return None
    return await require_api_key(request)


async def require_events_token(request: Request, _: Annotated[_Documented, Depends(_events_scheme)] = None) -> None:
    if not credentials(request).events_tokens:
        raise ApiError(ErrorCode.DISABLED, "the MinIO events endpoint is off: set STREAMPROCESS_EVENTS_TOKEN")
    caller = _caller(request)
    if caller is not None and caller.kind == "api":
        raise ApiError(ErrorCode.FORBIDDEN, "API keys cannot post bucket events; use the events token")
    if caller is not None and caller.kind != "events":
        raise ApiError(ErrorCode.FORBIDDEN, "only the events token can post bucket events")
    if caller is None:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "unknown events token", headers=_INVALID)


_admin_scheme = HTTPBearer(
    scheme_name="AdminKey", auto_error=False, description="One of STREAMPROCESS_ADMIN_KEYS: the admin API (/admin/*)."
)


async def require_admin_key(request: Request, _: Annotated[_Documented, Depends(_admin_scheme)] = None) -> None:
    if not credentials(request).admin_keys:
        raise ApiError(ErrorCode.DISABLED, "the admin API is off: set STREAMPROCESS_ADMIN_KEYS")
    caller = _caller(request)
    if caller is None:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "unknown admin key", headers=_INVALID)
    if caller.kind != "admin":
        raise ApiError(ErrorCode.FORBIDDEN, "the admin API needs an admin key (STREAMPROCESS_ADMIN_KEYS)")


#: A route parameter holding the authenticated caller's tenant.
Tenant = Annotated[str, Depends(require_api_key)]
#: A route parameter holding the submission service.
Subs = Annotated[Submissions, Depends(submissions)]
#: A route parameter holding the runtime (its store, queues and settings).
Rt = Annotated[Runtime, Depends(runtime)]
