"""Signed URLs for the local store: HMAC-SHA256 over the method, bucket, key, expiry, content type, maximum size
and metadata. The HTTP API serves ``/local-store/<key>`` and checks each request with :meth:`UrlSigner.verify`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from ..config import Settings
from ..errors import ErrorCode, PermanentError
from .base import PresignedRequest

DEFAULT_PUBLIC_BASE_URL: str = Settings.model_fields["public_base_url"].default


class PresignError(PermanentError):
    code = ErrorCode.PRESIGN_INVALID


class UrlSigner:
    """Signs and checks the local store's URLs with one secret (a random one per process when none is given)."""

    def __init__(self, bucket: str, secret: bytes | None = None, public_base_url: str = DEFAULT_PUBLIC_BASE_URL):
        self.bucket = bucket
        self._secret = secret or secrets.token_bytes(32)
        self.public_base_url = public_base_url.rstrip("/")

    def _signature(
        self, method: str, key: str, expires: int, content_type: str, max_size: int, metadata: dict[str, str]
    ) -> str:
        meta = "&".join(f"{k}={v}" for k, v in sorted(metadata.items()))
        msg = "\n".join([method, self.bucket, key, str(expires), content_type, str(max_size), meta])
        return hmac.new(self._secret, msg.encode(), hashlib.sha256).hexdigest()

    def sign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PresignedRequest:
        """A URL for ``method`` (GET or PUT, upper case) on ``key`` (already validated by the store)."""
        expires = int(time.time()) + int(expires_in)
        ct, size, meta = content_type or "", max_size or 0, {k.lower(): v for k, v in (metadata or {}).items()}
        query: dict[str, object] = {
            "method": method,
            "expires": expires,
            "ct": ct,
            "max": size,
            **{f"meta.{k}": v for k, v in meta.items()},
            "sig": self._signature(method, key, expires, ct, size, meta),
        }
        url = f"{self.public_base_url}/local-store/{quote(key, safe='/')}?{urlencode(query)}"
        headers = {"Content-Type": content_type} if (content_type and method == "PUT") else {}
        return PresignedRequest(
            url=url, method=method, expires_at=datetime.fromtimestamp(expires, UTC), headers=headers
        )

    def verify(
        self,
        method: str,
        key: str,
        query: dict[str, str],
        *,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> dict[str, str]:
        """Check a request against a URL from :meth:`sign`; raises :class:`PresignError` saying why not.
        Returns the metadata the upload must be stored with."""
        try:
            expires, size = int(query["expires"]), int(query.get("max", 0))
            ct, sig, signed_method = query.get("ct", ""), query["sig"], query["method"]
        except (KeyError, ValueError):
            raise PresignError("the URL is not a signed URL of this store") from None
        meta = {k.removeprefix("meta."): v for k, v in query.items() if k.startswith("meta.")}
        expected = self._signature(signed_method, key, expires, ct, size, meta)
        if not hmac.compare_digest(expected, sig):
            raise PresignError("the URL's signature does not match")
        if signed_method != method.upper():
            raise PresignError(f"the URL was signed for {signed_method}, not {method.upper()}")
        if time.time() > expires:
            raise PresignError("the URL has expired")
        if ct and (content_type or "").split(";")[0].strip().lower() != ct.lower():
            raise PresignError(f"the URL only accepts Content-Type {ct}")
        if size and (content_length is None or content_length > size):
            raise PresignError(f"the URL accepts at most {size} bytes", code=ErrorCode.TOO_LARGE)
        return meta
