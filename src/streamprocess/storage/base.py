"""The object store interface: one bucket, keys as S3 spells them.

Two implementations sit side by side: :mod:`.local` (a directory, the embedded default) and :mod:`.s3`
(aiobotocore; AWS, MinIO or any S3-compatible server). S3 notifies of new objects itself (a bucket notification);
the local store hands an :class:`ObjectCreated` to its sink instead, and the wiring side turns it into the message
the events queue carries.
"""

from __future__ import annotations

import abc
import errno
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..config import Settings
from ..errors import ErrorCode, InvalidKey, PermanentError

MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
#: How long a signed URL lasts when the caller does not say: the settings' upload URL lifetime.
DEFAULT_URL_TTL: int = Settings.model_fields["upload_url_ttl"].default


@dataclass(frozen=True)
class ObjectCreated:
    """An object landed under a notified prefix: what a store tells its sink (S3's ``ObjectCreated`` event)."""

    bucket: str
    key: str
    size: int
    etag: str  # without quotes
    version_id: str | None = None


#: Called when an object lands under a notified prefix.
ObjectCreatedSink = Callable[[ObjectCreated], Awaitable[None]]


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # without quotes
    last_modified: datetime
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* (lower-case names)
    version_id: str | None = None


@dataclass(frozen=True)
class PresignedRequest:
    """What a client needs to upload or download without credentials."""

    url: str
    method: str  # GET, PUT or POST
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)  # headers the client must send (PUT)
    fields: dict[str, str] = field(default_factory=dict)  # form fields to send before the file (POST)


class UnreadableObject(PermanentError):
    """The key names something that cannot be read as an object: a symbolic link loop, a FIFO or device, a file
    this process may not read."""

    code = ErrorCode.UNREADABLE_INPUT


def unreadable(key: str, e: OSError) -> UnreadableObject:
    """The error for an OS error met reading ``key``, saying why in words."""
    if e.errno == errno.ELOOP:
        return UnreadableObject(f"{key!r} cannot be read: it is a symbolic link loop")
    if e.errno in (errno.EACCES, errno.EPERM):
        return UnreadableObject(f"{key!r} cannot be read: permission denied")
    return UnreadableObject(f"{key!r} cannot be read: {e.strerror or e}")


def validate_key(key: str) -> str:
    """Checks every store applies: a non-empty str of at most 1,024 UTF-8 bytes with no NUL."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("object key must be a non-empty string")
    if "\x00" in key:
        raise InvalidKey("object key must not contain NUL")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKey(f"object key {key!r} is not valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise InvalidKey(f"object key is {size} bytes long; the limit is {MAX_KEY_BYTES}")
    return key


class ObjectStore(abc.ABC):
    """A bucket. All methods are coroutines except :attr:`bucket`."""

    bucket: str

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: bytes | Path,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Store ``data`` (bytes, or a file to stream) under ``key``, atomically.

        Conditional writes, as S3's: ``if_none_match=True`` only creates, ``if_match=etag`` only replaces that
        version; otherwise :class:`~streamprocess.errors.WriteConflict` is raised and nothing is written.
        """

    @abc.abstractmethod
    async def read(self, key: str) -> tuple[bytes, ObjectInfo]:
        """The object's bytes and the metadata (ETag) of exactly that version."""

    @abc.abstractmethod
    async def get(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        """The object's bytes; ``byte_range=(first, last)`` is inclusive, as HTTP's Range."""

    @abc.abstractmethod
    async def download(self, key: str, path: Path) -> ObjectInfo:
        """Stream the object to a local file."""

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo:
        """Metadata; raises :class:`~streamprocess.errors.ObjectNotFound`."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> AsyncGenerator[ObjectInfo, None]:
        """Objects under ``prefix``, in key order."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; no error if it is absent."""

    @abc.abstractmethod
    async def presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int = DEFAULT_URL_TTL,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
        create_only: bool = False,
    ) -> PresignedRequest:
        """A time-limited URL to GET, PUT or POST the object without credentials; an upload through it stores
        ``metadata`` (``x-amz-meta-*``) with the object. For a PUT, ``size`` is the exact length it must have
        (where the store can sign it), and ``create_only`` makes the URL upload once: it never replaces an
        object that is there (S3: a signed ``If-None-Match: *``)."""

    async def exists(self, key: str) -> bool:
        from ..errors import ObjectNotFound

        try:
            await self.head(key)
        except ObjectNotFound:
            return False
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    async def __aenter__(self) -> ObjectStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
