"""Prometheus metrics (prometheus-client), exposed by the worker (``--metrics-port``) and the API (``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)

EVENTS_RECEIVED = Counter(
    "streamprocess_events_received_total", "Bucket event records received by the router.", ["outcome"]
)
JOBS_RECEIVED = Counter("streamprocess_jobs_received_total", "Job messages received by workers.", ["kind"])
JOBS_SUCCEEDED = Counter("streamprocess_jobs_succeeded_total", "Jobs that succeeded.", ["kind"])
JOBS_FAILED = Counter("streamprocess_jobs_failed_total", "Jobs that failed for good.", ["kind", "code"])
JOBS_RETRIED = Counter("streamprocess_jobs_retried_total", "Attempts that failed and were retried.", ["kind", "code"])
JOBS_DUPLICATE = Counter(
    "streamprocess_jobs_duplicate_total", "Job messages skipped: already done or running elsewhere.", ["kind"]
)
JOBS_IN_FLIGHT = Gauge("streamprocess_jobs_in_flight", "Jobs running in this process.", ["kind"])
STAGE_SECONDS = Histogram(
    "streamprocess_stage_seconds", "Seconds spent per job stage.", ["kind", "stage"], buckets=_STAGE_BUCKETS
)
EVENT_TO_DONE_SECONDS = Histogram(
    "streamprocess_event_to_done_seconds",
    "From the bucket event to the job's end.",
    ["kind"],
    buckets=_STAGE_BUCKETS,
)
DEAD_LETTERED = Counter(
    "streamprocess_dead_lettered_total", "Messages a worker moved to a dead-letter queue.", ["queue"]
)
QUEUE_DEPTH = Gauge("streamprocess_queue_depth", "Messages in a queue.", ["queue", "state"])

# --- live captioning ---------------------------------------------------------------------------------------------
_LIVE_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)
LIVE_ACTIVE = Gauge("streamprocess_live_streams_active", "Live captioning streams open now.")
LIVE_REFUSED = Counter("streamprocess_live_streams_refused_total", "Live streams refused: the pool was full.")
LIVE_STREAMS = Counter("streamprocess_live_streams_total", "Live streams ended, by how.", ["reason"])
LIVE_PARTIAL_LATENCY = Histogram(
    "streamprocess_live_partial_latency_seconds",
    "From the arrival of the newest audio a hypothesis heard to its partial or final being sent.",
    buckets=_LIVE_BUCKETS,
)
LIVE_BATCH_SIZE = Histogram(
    "streamprocess_live_batch_size",
    "Decode requests per model call.",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
)
LIVE_QUEUE_WAIT = Histogram(
    "streamprocess_live_queue_wait_seconds",
    "Time a decode request waited for its batch to start.",
    buckets=_LIVE_BUCKETS,
)
LIVE_DECODE_SECONDS = Histogram(
    "streamprocess_live_decode_seconds", "Seconds per batched model call.", buckets=_LIVE_BUCKETS
)
