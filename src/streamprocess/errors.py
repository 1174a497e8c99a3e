"""Errors with a stable machine-readable code, shared by every layer.

A :class:`PermanentError` means "retrying cannot help" (corrupt media, wrong type, too large): the job fails at
once with a record and its message goes to the dead-letter queue. Any other exception is treated as transient
and retried with backoff until the attempts run out.
"""

from __future__ import annotations


class StreamProcessError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class PermanentError(StreamProcessError):
    """The input or request itself is bad; do not retry."""

    code = "permanent_error"


class TransientError(StreamProcessError):
    """A dependency hiccup; retry later."""

    code = "transient_error"


class InvalidKey(PermanentError):
    code = "invalid_key"


class ObjectNotFound(PermanentError):
    code = "object_not_found"


class UnsupportedMedia(PermanentError):
    code = "unsupported_media"


class FileTooLarge(PermanentError):
    code = "file_too_large"


class InvalidEvent(PermanentError):
    code = "invalid_event"


class WriteConflict(TransientError):
    """A conditional write lost a race: the object changed (or appeared) since it was read."""

    code = "write_conflict"
