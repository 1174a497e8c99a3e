"""Settings, read from the environment (``STREAMPROCESS_*``) and an optional ``.env`` file.

Every field here is listed, with its default, in README.md's configuration table; ``streamprocess config``
prints the effective values. Secrets (API keys, AWS keys, Redis passwords inside ``redis_url``) come only from
the environment; AWS credentials use the standard ``AWS_*`` variables read by botocore.

API keys belong to tenants: ``STREAMPROCESS_API_KEYS=acme=key1,globex=key2`` gives two tenants (a tenant may have
several keys, for rotation); a bare ``key`` is a tenant of its own, named ``key-<first 8 hex of its SHA-256>`` (a
name that is stable and does not reveal the key). :meth:`Settings.api_key_tenants` parses them.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .kinds import KINDS

MiB = 1024 * 1024

#: The folder under ``data_dir`` where the embedded backends keep their own files (the embedded queue's database,
#: the local store's locks); never an object key.
INTERNAL_DIR = ".streamprocess"

#: What a tenant may be called: it is written into job records and logs.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

#: ``STREAMPROCESS_TRITON_URL``: the scheme picks tritonclient's transport (the OCR engine parses it again).
TRITON_URL = re.compile(r"(http|grpc)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}/?")


def tenant_of_key(key: str) -> str:
    """The tenant of a bare API key (one given without ``tenant=``): stable, and not the key itself."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def parse_api_keys(entries: list[str]) -> dict[str, str]:
    """``tenant=key`` or bare ``key`` entries → {key: tenant}. Raises ValueError (never quoting a key) for an entry
    with an empty key or a bad tenant name, or a key given to two tenants. The text before the first ``=`` is the
    tenant, so a key that holds ``=`` must be written with its tenant."""
    keys: dict[str, str] = {}
    for n, entry in enumerate((e.strip() for e in entries), 1):
        if not entry:
            continue
        name, eq, key = entry.partition("=")
        name, key = (name.strip(), key.strip()) if eq else (tenant_of_key(entry), entry)
        if not key or not TENANT_NAME.fullmatch(name):
            raise ValueError(
                f"STREAMPROCESS_API_KEYS entry {n} is neither `tenant=key` (a tenant name of letters, "
                "digits, '.', '_' or '-', up to 64) nor a bare key without '='"
            )
        if keys.get(key, name) != name:
            raise ValueError(f"STREAMPROCESS_API_KEYS entry {n} gives a key to a second tenant")
        keys[key] = name
    return keys


class StoreBackend(StrEnum):
    local = "local"
    s3 = "s3"


class QueueBackend(StrEnum):
    embedded = "embedded"
    sqs = "sqs"
    redis = "redis"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STREAMPROCESS_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        hide_input_in_errors=True,  # an error must not print a secret (API keys, tokens, passwords in URLs)
    )

    # --- object store ---------------------------------------------------------------------------
    store: StoreBackend = Field(StoreBackend.local, description="Object store: `local` (a directory) or `s3`.")
    data_dir: Path = Field(Path("data"), description="Root of the local store and of the embedded queue file.")
    bucket: str = Field("local", description="Bucket holding the drop prefix (the inbox).")
    results_bucket: str | None = Field(None, description="Bucket for results and job records; default: `bucket`.")
    inbox_prefix: str = Field("inbox/", description="Only objects under this prefix start jobs (the drop folder).")
    results_prefix: str = Field("results/", description="Results are written under `<prefix><job_id>/`.")
    jobs_prefix: str = Field("jobs/", description="Job records are written as `<prefix><job_id>.json`.")
    archive_prefix: str = Field(
        "archive/events/",
        description="Accepted bucket events are archived (for `streamprocess replay --archive`) under "
        "`<prefix>YYYY/MM/DD/HH/`, in the results bucket.",
    )
    archive_days: int = Field(
        30, ge=0, description="Days archived bucket events are kept (older hours are deleted); 0 turns the archive off."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto); AWS when unset.")
    aws_region: str = Field("us-east-1", description="AWS region for S3 and SQS.")
    presign_secret: SecretStr | None = Field(
        None, description="HMAC key for the local store's signed URLs; a random per-process key when unset."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL the local store's signed URLs point at (the API)."
    )

    # --- queues ---------------------------------------------------------------------------------
    queue: QueueBackend = Field(QueueBackend.embedded, description="Queue: `embedded` (SQLite), `sqs` or `redis`.")
    queue_prefix: str = Field(
        "streamprocess-",
        description="Queue names are `<prefix>events`, `<prefix>stt`, `<prefix>ocr`, each with a `-dlq`.",
    )
    sqs_endpoint_url: str | None = Field(None, description="SQS endpoint (moto, ElasticMQ); AWS when unset.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL for the `redis` queue.")
    queue_poll_interval: float = Field(
        0.05, gt=0, description="Seconds between polls of the embedded queue by other processes."
    )

    # --- worker ---------------------------------------------------------------------------------
    concurrency: int = Field(2, ge=1, description="Jobs a worker runs at once.")
    visibility_timeout: float = Field(
        60.0, gt=0, description="Seconds a received message stays hidden; a heartbeat extends it while a job runs."
    )
    max_attempts: int = Field(
        3, ge=1, description="Attempts per job; after that it fails with a record and goes to the dead-letter queue."
    )
    retry_base_delay: float = Field(2.0, ge=0, description="First retry delay (s) after a transient error; doubles.")
    retry_max_delay: float = Field(300.0, ge=0, description="Cap on the retry delay (s).")
    shutdown_grace: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM, seconds in-flight jobs get to finish before they are released (and open HTTP "
        "requests before they are cut).",
    )
    max_file_size: int = Field(2048 * MiB, gt=0, description="Largest input object (bytes); larger ones fail.")
    stt_processor: str = Field("stt", description="Processor for audio jobs (registry name or `module:attr`).")
    ocr_processor: str = Field("ocr", description="Processor for image/PDF jobs (registry name or `module:attr`).")
    # --- speech-to-text engine -----------------------------------------------------------------
    stt_model: str = Field(
        "default",
        description="Whisper model: `default` (bundled tiny.en, offline), `base` (multilingual, offline with the "
        "`multilingual` extra), a faster-whisper name (`large-v3`, `distil-large-v3`, `turbo`, …; from the models "
        "dir when pulled there, else the Hugging Face hub), a model folder's name in the models dir, or a local "
        "CTranslate2 model folder (`streamprocess models list` shows them).",
    )
    models_dir: Path | None = Field(
        None,
        description="Where `base` is reassembled and `streamprocess models pull` puts models; unset: "
        "`$XDG_CACHE_HOME/streamprocess/models` (`~/.cache/streamprocess/models`).",
    )
    stt_device: str = Field("auto", description="`auto` (CUDA when present), `cpu` or `cuda`.")
    stt_compute_type: str = Field("auto", description="`auto` (int8 on CPU, float16 on GPU) or a CTranslate2 type.")
    stt_cpu_threads: int = Field(0, ge=0, description="CPU threads per transcription; 0 lets CTranslate2 choose.")
    stt_max_duration: float = Field(10800.0, gt=0, description="Longest audio (seconds) a job may have.")
    stt_language: str | None = Field(None, description="Default language; unset detects it (multilingual models).")
    stt_vad_filter: bool = Field(True, description="Default for skipping silence with Silero VAD.")
    stt_word_timestamps: bool = Field(False, description="Default for word-level timestamps.")
    stt_beam_size: int = Field(5, ge=1, le=20, description="Default beam size.")
    stt_batched: bool = Field(False, description="Default for BatchedInferencePipeline (for GPUs and long files).")
    stt_batch_size: int = Field(8, ge=1, le=64, description="Batch size when batched.")

    # --- OCR engine ------------------------------------------------------------------------------
    ocr_languages: str = Field(
        "auto",
        description="Default languages: `auto` (the script found per page and per line: PP-OCR for Latin, Chinese "
        "and Japanese, Tesseract for Hangul and other installed scripts), or Tesseract codes (`eng`, `kor+jpn`).",
    )
    ocr_engine: str = Field(
        "auto",
        description="`auto` (PP-OCR where it reads the language, else Tesseract), `ppocr`, `tesseract`, or `triton` "
        "(as `auto`, with PP-OCR's models on the Triton server at `STREAMPROCESS_TRITON_URL`).",
    )
    ocr_dpi: float = Field(200.0, ge=50, le=600, description="Resolution PDF pages are rendered at.")
    ocr_det_side: int = Field(960, ge=320, le=4000, description="PP-OCR detection input: longer side, pixels.")
    ocr_runtime: str = Field(
        "auto",
        description="PP-OCR runtime: `auto` (OpenVINO when installed, else onnxruntime), `openvino` or `onnxruntime`.",
    )
    ocr_threads: int = Field(0, ge=0, description="Inference threads for PP-OCR; 0 uses every core.")
    ocr_max_pages: int = Field(500, ge=1, description="Most pages a document may have.")
    ocr_max_pixels: int = Field(50_000_000, gt=0, description="Most pixels a page may have (decompression bombs).")
    triton_url: str | None = Field(
        None,
        description="Triton server running PP-OCR's models for the `triton` OCR engine (`STREAMPROCESS_OCR_ENGINE="
        "triton` or a job's `engine: triton`): `http://host:port` or `grpc://host:port`.",
    )
    triton_timeout: float = Field(30.0, gt=0, description="Seconds one Triton request may take.")
    triton_attempts: int = Field(
        5, ge=1, description="Tries per Triton request on transient errors (backoff between), then the job is retried."
    )

    # --- live captioning (WebSocket /v1/stt/stream, gRPC STTService) -------------------------------
    live_max_streams: int = Field(
        16, ge=0, description="Live streams served at once; one more is refused (WebSocket 1013); 0 turns live off."
    )
    live_model: str | None = Field(None, description="Whisper model for live captions; default: `stt_model`.")
    live_max_batch: int = Field(
        0,
        ge=0,
        le=128,
        description=(
            "Most decode requests the scheduler runs as one batch; 0: 8 on a GPU, 1 on CPU (where batching slowed "
            "captions: bench/live.py)."
        ),
    )
    live_workers: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Live model calls that run at once; 0: one per CPU core, one thread each (`STREAMPROCESS_STT_CPU_THREADS` "
            "threads each when set), 1 on a GPU."
        ),
    )
    live_max_wait_ms: float = Field(
        10.0, ge=0, le=1000, description="How long the scheduler waits for more requests to fill a batch (ms)."
    )
    live_step: float = Field(0.25, ge=0.05, le=5, description="Seconds of new audio before a stream decodes again.")
    live_buffer_max: float = Field(
        15.0, ge=2, le=28, description="Seconds of audio a stream's decode buffer holds before it is cut."
    )
    live_idle_timeout: float = Field(30.0, gt=0, description="A stream with no audio this long (s) is closed.")

    metrics_port: int | None = Field(
        None, description="Port for Prometheus metrics without a key (`worker`, `api`, `up`)."
    )

    # --- HTTP API ----------------------------------------------------------------------------------
    api_keys: SecretStr | None = Field(
        None,
        description="Comma-separated API keys for `Authorization: Bearer`, each `tenant=key` or a bare `key` "
        "(its own tenant); unset: `up` makes one per run, for `drop_tenant`, and prints it.",
    )
    drop_tenant: str = Field(
        "default", description="Tenant that drop-folder and bucket-event jobs (and `up`'s generated key) belong to."
    )
    events_token: SecretStr | None = Field(
        None, description="Token MinIO sends to `POST /events/s3` (its webhook `auth_token`); unset: endpoint off."
    )
    admin_keys: SecretStr | None = Field(
        None,
        description="Comma-separated keys for the admin API (`POST /admin/replay`, `GET /admin/replay/{id}`); unset: "
        "the admin API is off.",
    )
    upload_max_size: int = Field(500 * MiB, gt=0, description="Largest upload (bytes) the API accepts or signs for.")
    upload_content_types: str = Field(
        "audio/*,video/*,application/ogg,image/png,image/jpeg,image/tiff,image/bmp,image/webp,image/gif,"
        "application/pdf",
        description="Content types the API accepts for uploads (`type/*` wildcards).",
    )
    upload_url_ttl: int = Field(900, ge=1, le=7 * 24 * 3600, description="Seconds a presigned upload URL is valid.")
    wait_max: float = Field(600.0, ge=0, description="Longest `?wait=` (and OpenAI-compatible call) in seconds.")

    # --- embedded mode (`streamprocess up`) -----------------------------------------------------
    host: str = Field("127.0.0.1", description="HTTP API host (and gRPC's).")
    port: int = Field(8000, description="HTTP API port.")
    grpc_port: int = Field(
        50051,
        ge=0,
        le=65535,
        description="gRPC port (OCRService, STTService, grpc.health.v1) for `up` and `api`; 0 turns it off.",
    )
    watch_interval: float = Field(0.5, gt=0, description="Seconds between scans of the local drop folder.")
    watch_settle: float = Field(
        0.5, ge=0, description="A file dropped by hand must be unchanged this long before it is picked up."
    )
    log_level: str = Field("INFO", description="Logging level.")

    @field_validator("inbox_prefix", "results_prefix", "jobs_prefix", "archive_prefix")
    @classmethod
    def _prefix_shape(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"prefix {v!r} must be relative and contain no '..'")
        return v

    @field_validator("triton_url")
    @classmethod
    def _triton_url_shape(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is not None and not TRITON_URL.fullmatch(v):
            raise ValueError(f"STREAMPROCESS_TRITON_URL={v!r} must be http://host:port or grpc://host:port")
        return v

    @model_validator(mode="after")
    def _triton_engine_has_url(self) -> Settings:
        if self.ocr_engine == "triton" and not self.triton_url:
            raise ValueError("STREAMPROCESS_OCR_ENGINE=triton needs STREAMPROCESS_TRITON_URL (http:// or grpc://)")
        return self

    @field_validator("drop_tenant")
    @classmethod
    def _tenant_name(cls, v: str) -> str:
        if not TENANT_NAME.fullmatch(v):
            raise ValueError("a tenant name is 1-64 letters, digits, '.', '_' or '-'")
        return v

    @field_validator("api_keys")
    @classmethod
    def _api_keys_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            parse_api_keys(v.get_secret_value().split(","))
        return v

    @model_validator(mode="after")
    def _recursion_guard(self) -> Settings:
        """Results and job records must never land where they would start processing again."""
        if self.output_bucket == self.bucket:
            for name in ("results_prefix", "jobs_prefix", "archive_prefix"):
                out = getattr(self, name)
                if out.startswith(self.inbox_prefix) or self.inbox_prefix.startswith(out):
                    raise ValueError(
                        f"{name}={out!r} overlaps inbox_prefix={self.inbox_prefix!r} in bucket {self.bucket!r}: "
                        "results would trigger processing again; use distinct prefixes or a results_bucket"
                    )
        return self

    @property
    def output_bucket(self) -> str:
        return self.results_bucket or self.bucket

    def queue_name(self, role: str) -> str:
        return f"{self.queue_prefix}{role}"

    def api_key_tenants(self) -> dict[str, str]:
        """{API key: tenant}; parsed on each call: a front door parses it once and keeps it."""
        return parse_api_keys(self.api_keys.get_secret_value().split(",") if self.api_keys else [])

    def admin_key_list(self) -> list[str]:
        keys = self.admin_keys.get_secret_value().split(",") if self.admin_keys else []
        return [k.strip() for k in keys if k.strip()]

    def events_token_list(self) -> list[str]:
        return [self.events_token.get_secret_value()] if self.events_token else []

    def content_type_allowed(self, content_type: str | None) -> bool:
        ct = (content_type or "").split(";")[0].strip().lower()
        for pattern in (p.strip().lower() for p in self.upload_content_types.split(",") if p.strip()):
            if ct == pattern or (pattern.endswith("/*") and ct.startswith(pattern[:-1])):
                return True
        return False

    def processor_for(self, kind: str) -> str:
        """The processor name configured for ``kind`` (``stt_processor`` for ``stt``, …)."""
        return str(getattr(self, KINDS[kind].processor_setting))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of the environment, read once per process: for the Lambda handlers (``functions/``), which have
    no other place to keep them. Everything else is given its settings by whoever built it."""
    return Settings()
