"""Who is calling: bearer credentials → a tenant (an API key's) or the MinIO events token, for every door.

The HTTP API, the WebSocket and gRPC all read ``Authorization: Bearer <token>`` (gRPC as metadata) with
:func:`bearer_token` and look the token up with :meth:`Credentials.identify`; each door then says no in its own
words (a problem, a close frame, a status).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value; None for no value, another scheme or no token."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Caller(NamedTuple):
    kind: Literal["api", "events", "admin"]  # an API key, the MinIO events token, or an admin key
    tenant: str | None = None  # an API key's tenant


@dataclass(frozen=True)
class Credentials:
    """The API keys (key → tenant) and the events tokens a door accepts (``Settings.events_token_list()``: the
    events token is known, so that a door refuses it as the wrong credential rather than an unknown one)."""

    api_keys: Mapping[str, str]
    events_tokens: Sequence[str]
    admin_keys: Sequence[str] = ()  # the admin API's keys (``Settings.admin_key_list()``): no tenant, no jobs

    def identify(self, token: str) -> Caller | None:
        """Who a bearer token is: an API key's tenant, the events token, or None (unknown). Every key is compared,
        in constant time on digests."""
        digest = hashlib.sha256(token.encode()).digest()

        def same(secret: str) -> bool:
            return hmac.compare_digest(digest, hashlib.sha256(secret.encode()).digest())

        tenants = [tenant for key, tenant in self.api_keys.items() if same(key)]
        if tenants:
            return Caller("api", tenants[0])
        if any([same(k) for k in self.admin_keys]):
            return Caller("admin")
        return Caller("events") if any([same(t) for t in self.events_tokens]) else None
