"""Errors with a stable machine-readable code, shared by every layer.

Every code an error (or a job record, or a live event) carries is an :class:`ErrorCode`; each door maps the codes
once, exhaustively: HTTP to a status (``api.problems.HTTP_STATUS``), gRPC to a status code
(``grpc_server.status.GRPC_STATUS``), the WebSocket to a close code (``api.live.closes.CLOSE_CODES``).

A :class:`PermanentError` means "retrying cannot help" (corrupt media, wrong type, too large): the job fails at
once with a record and its message goes to the dead-letter queue. Any other exception is treated as transient
and retried with backoff until the attempts run out.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """Every error code the service sends: in problem details, job records, OCR replies and live events."""

    # generic
    INTERNAL_ERROR = "internal_error"
    PERMANENT_ERROR = "permanent_error"
    TRANSIENT_ERROR = "transient_error"
    FAILED = "failed"  # a job failed without a recorded reason
    TIMEOUT = "timeout"  # a job did not finish within the wait
    # requests and credentials
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    DISABLED = "disabled"
    INVALID_REQUEST = "invalid_request"
    INVALID_OPTIONS = "invalid_options"
    # submissions and uploads
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_LARGE = "too_large"
    SIZE_REQUIRED = "size_required"
    JOB_NOT_FOUND = "job_not_found"
    NOT_READY = "not_ready"
    NO_SUCH_RESULT = "no_such_result"
    UPLOAD_USED = "upload_used"
    UPLOAD_EXPIRED = "upload_expired"
    UPLOAD_FAILED = "upload_failed"
    PRESIGN_INVALID = "presign_invalid"
    # storage, events, queues, jobs
    INVALID_KEY = "invalid_key"
    OBJECT_NOT_FOUND = "object_not_found"
    UNREADABLE_INPUT = "unreadable_input"
    WRITE_CONFLICT = "write_conflict"
    INVALID_EVENT = "invalid_event"
    REJECTED_INPUT = "rejected_input"
    MESSAGE_LOST = "message_lost"
    INVALID_MESSAGE = "invalid_message"
    SOURCE_CHANGED = "source_changed"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    PROCESSOR_UNAVAILABLE = "processor_unavailable"
    # media
    UNSUPPORTED_MEDIA = "unsupported_media"
    FILE_TOO_LARGE = "file_too_large"
    CORRUPT_MEDIA = "corrupt_media"
    BAD_AUDIO = "bad_audio"
    NO_AUDIO = "no_audio"
    AUDIO_TOO_LONG = "audio_too_long"
    TOO_MANY_PAGES = "too_many_pages"
    PAGE_TOO_LARGE = "page_too_large"
    ENCRYPTED_PDF = "encrypted_pdf"
    # engines
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    UNSUPPORTED_TASK = "unsupported_task"
    MODEL_UNAVAILABLE = "model_unavailable"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    ENGINE_ERROR = "engine_error"
    # live streams
    BAD_REQUEST = "bad_request"
    BAD_CONFIG = "bad_config"
    CONFIG_EXPECTED = "config_expected"
    FRAME_TOO_LARGE = "frame_too_large"
    POOL_FULL = "pool_full"
    LIVE_DISABLED = "live_disabled"
    IDLE_TIMEOUT = "idle_timeout"
    AUDIO_DROPPED = "audio_dropped"  # a warning, not fatal
    SAVE_FAILED = "save_failed"


class StreamProcessError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class PermanentError(StreamProcessError):
    """The input or request itself is bad; do not retry."""

    code = ErrorCode.PERMANENT_ERROR


class TransientError(StreamProcessError):
    """A dependency hiccup; retry later."""

    code = ErrorCode.TRANSIENT_ERROR


class InvalidKey(PermanentError):
    code = ErrorCode.INVALID_KEY


class ObjectNotFound(PermanentError):
    code = ErrorCode.OBJECT_NOT_FOUND


class UnsupportedMedia(PermanentError):
    code = ErrorCode.UNSUPPORTED_MEDIA


class FileTooLarge(PermanentError):
    code = ErrorCode.FILE_TOO_LARGE


class InvalidEvent(PermanentError):
    code = ErrorCode.INVALID_EVENT


class WriteConflict(TransientError):
    """A conditional write lost a race: the object changed (or appeared) since it was read."""

    code = ErrorCode.WRITE_CONFLICT


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
