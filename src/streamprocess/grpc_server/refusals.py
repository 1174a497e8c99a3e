"""How a gRPC call is authenticated and refused.

The API key travels as the metadata ``authorization: Bearer <key>``: none or an unknown one is UNAUTHENTICATED,
the events token PERMISSION_DENIED (each refusal's status is its error code's, :data:`.status.GRPC_STATUS`).

A refused client stream is drained before its status goes out (:func:`drain`): a grpc.aio client whose write is
still in flight when the status arrives replaces that status with ``INTERNAL: Internal error from Core``
(grpc/grpc#36066). The drain is bounded (``DRAIN_MESSAGES``, ``DRAIN_BYTES``, ``DRAIN_SECONDS``), so a client that
never stops sending cannot hold the server; such a client may still be told INTERNAL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc

from ..errors import ErrorCode
from ..tenants import Credentials, bearer_token
from .status import GRPC_STATUS

# How much of a refused (or finished) client stream is read and discarded before the status is sent: until the
# client half-closes, or at most this many messages, bytes or seconds.
DRAIN_MESSAGES = 256
DRAIN_BYTES = 64 << 20
DRAIN_SECONDS = 2.0


async def drain(requests: AsyncIterator[Any], seconds: float = DRAIN_SECONDS) -> bool:
    """Reads and discards a client stream until the client half-closes (True) or a bound is reached (False).

    Sending a status while the client is still writing makes a grpc.aio client report INTERNAL instead of that
    status (grpc/grpc#36066); once the client has half-closed, no write of its can race the status."""
    deadline = time.monotonic() + seconds
    iterator = aiter(requests)
    messages = size = 0
    while messages < DRAIN_MESSAGES and size < DRAIN_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            message = await asyncio.wait_for(anext(iterator), left)
        except StopAsyncIteration:
            return True
        except TimeoutError:
            return False
        except grpc.RpcError:  # the client cancelled, or the call is over
            return True
        messages += 1
        size += message.ByteSize()
    return False


async def refuse(
    context: grpc.aio.ServicerContext[Any, Any],
    code: ErrorCode,
    details: str,
    requests: AsyncIterator[Any] | None = None,
) -> NoReturn:
    """Ends the call with ``code``'s status; a client stream (``requests``) is drained first (bounded, see
    :func:`drain`) so that a grpc.aio client gets that status and not INTERNAL. Every refusal goes through here."""
    if requests is not None:
        await drain(requests)
    await context.abort(GRPC_STATUS[code], details)
    raise AssertionError("unreachable: abort raises")


class Authenticated:
    """A servicer whose calls carry an API key."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    async def _authenticate(
        self, context: grpc.aio.ServicerContext[Any, Any], requests: AsyncIterator[Any] | None = None
    ) -> str:
        """Checks the metadata's API key and returns its tenant; pass a streaming call's ``requests`` so a refusal
        drains them."""
        metadata = dict(context.invocation_metadata() or ())
        token = bearer_token(str(metadata.get("authorization", "")))
        if token is None:
            await refuse(context, ErrorCode.UNAUTHENTICATED, "send metadata authorization: Bearer <API key>", requests)
        caller = self.credentials.identify(token)
        if caller is None:
            await refuse(context, ErrorCode.UNAUTHENTICATED, "unknown API key", requests)
        if caller.kind == "events" or caller.tenant is None:
            await refuse(context, ErrorCode.FORBIDDEN, "the events token cannot call this service", requests)
        return caller.tenant
