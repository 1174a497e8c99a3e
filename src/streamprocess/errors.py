"""Errors with a stable machine-readable code, shared by every layer.

A :class:`PermanentError` means "retrying cannot help" (corrupt media, wrong type, too large): the job fails at
once with a record and its message goes to the dead-letter queue. Any other exception is treated as transient
and retried with backoff until the attempts run out.
"""

from __future__ import annotations

from enum import IntEnum


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


class ExitCode(IntEnum):
    """How ``streamprocess`` commands exit; the start-up failures of ``up`` each have their own (README, Exit codes).
    2 stays with typer/click, which use it for a bad command line."""

    OK = 0
    FAILED = 1  # a command's own failure (a file that could not be processed), or an unexpected error
    USAGE = 2  # a bad command line (typer/click)
    BAD_SETTING = 3  # a setting (STREAMPROCESS_* or its option) is invalid, or names an address this machine lacks
    PORT_IN_USE = 4  # the HTTP or gRPC port is taken by another process
    STORE_UNAVAILABLE = 5  # the object store (S3/MinIO, or the local data folder) cannot be reached or used
    QUEUE_UNAVAILABLE = 6  # the queue (Redis, SQS, or the embedded queue's file) cannot be reached or used


class StartupError(Exception):
    """A reason a service cannot start: one or two plain lines for the operator, and the exit code to leave with."""

    def __init__(self, code: ExitCode, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = code
        self.message = message
        self.hint = hint
