"""Prometheus metrics (prometheus-client), exposed by the worker (``--metrics-port``) and the API (``/metrics``, and
``--metrics-port`` without a key), and the GPUs' utilisation and memory when NVML is there
(:func:`export_gpu_metrics`)."""

from __future__ import annotations

import importlib
import logging
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

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


# --- GPUs (nvidia-ml-py, the `gpu` extra) -------------------------------------------------------------------------
class GpuCollector(Collector):
    """Reads NVML at scrape time: ``streamprocess_gpu_utilization_ratio`` (0-1, the share of the last sample
    period a kernel ran) and ``streamprocess_gpu_memory_used_bytes``, labelled by GPU index. A GPU NVML cannot
    read is left out of that scrape (logged), never an error: /metrics must answer."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml

    def collect(self) -> Iterator[GaugeMetricFamily]:
        util = GaugeMetricFamily(
            "streamprocess_gpu_utilization_ratio",
            "GPU busy share over NVML's last sample period (0-1).",
            labels=["gpu"],
        )
        used = GaugeMetricFamily("streamprocess_gpu_memory_used_bytes", "GPU memory in use (bytes).", labels=["gpu"])
        try:
            count = int(self.nvml.nvmlDeviceGetCount())
        except Exception as e:
            log.warning("NVML: cannot count GPUs: %s", e)
            count = 0
        for index in range(count):
            try:
                handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
                busy = self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100
                memory = self.nvml.nvmlDeviceGetMemoryInfo(handle).used
            except Exception as e:  # a GPU gone or in a bad state: the others still report
                log.warning("NVML: cannot read GPU %d: %s", index, e)
                continue
            util.add_metric([str(index)], float(busy))
            used.add_metric([str(index)], float(memory))
        yield util
        yield used


_gpu_exported: weakref.WeakKeyDictionary[CollectorRegistry, bool] = weakref.WeakKeyDictionary()  # registry -> exported?


def export_gpu_metrics(registry: CollectorRegistry = REGISTRY) -> bool:
    """Registers :class:`GpuCollector` with ``registry`` when nvidia-ml-py imports and NVML initialises (a GPU and
    its driver are there); otherwise exports nothing and says why in one debug line. Once per registry; returns
    whether GPU metrics are exported."""
    if registry in _gpu_exported:
        return _gpu_exported[registry]
    try:
        nvml = importlib.import_module("pynvml")  # nvidia-ml-py; optional, so imported by name
        nvml.nvmlInit()
    except Exception as e:  # not installed, no driver, no GPU
        log.debug("no GPU metrics: NVML is not available (%s: %s)", type(e).__name__, e)
        _gpu_exported[registry] = False
        return False
    registry.register(GpuCollector(nvml))
    _gpu_exported[registry] = True
    return True
