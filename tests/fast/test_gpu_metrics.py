"""GPU metrics: without a GPU nothing is exported and nothing fails (for real: this machine has nvidia-ml-py and no
NVIDIA driver); with one, NVML is read at scrape time. The present path runs against a fake NVML module put in place
of `pynvml` in this process (there is no GPU here): the numbers it reports must come out of the scrape."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamprocess.metrics import export_gpu_metrics

GPU_NAMES = ("streamprocess_gpu_utilization_ratio", "streamprocess_gpu_memory_used_bytes")


def scrape(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """(metric name, gpu label) -> value, for the GPU metrics in one scrape of ``registry``."""
    text = generate_latest(registry).decode()
    return {
        (s.name, s.labels["gpu"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in GPU_NAMES
    }


def nvml_works_here() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    return True


def test_this_machine_exports_what_it_has(caplog: pytest.LogCaptureFixture) -> None:
    """No GPU (this machine, CI): nothing exported, one debug line, no error. On a GPU machine: each GPU's two
    metrics, read from the real NVML."""
    registry = CollectorRegistry()
    with caplog.at_level(logging.DEBUG, logger="streamprocess.metrics"):
        exported = export_gpu_metrics(registry)
        assert export_gpu_metrics(registry) is exported  # asked again: the same answer, no second line
    lines = [r for r in caplog.records if r.name == "streamprocess.metrics"]
    if not nvml_works_here():
        assert exported is False and scrape(registry) == {} and b"streamprocess_gpu" not in generate_latest(registry)
        assert len(lines) == 1 and lines[0].levelno == logging.DEBUG and "no GPU metrics" in lines[0].getMessage()
        return
    seen = scrape(registry)
    assert exported is True and lines == [] and ("streamprocess_gpu_memory_used_bytes", "0") in seen
    assert all(0 <= v <= 1 for (name, _), v in seen.items() if name.endswith("ratio"))


def test_without_nvidia_ml_py_nothing_is_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as if the gpu extra were not installed: import fails
    registry = CollectorRegistry()
    assert export_gpu_metrics(registry) is False and scrape(registry) == {}


class FakeNvml:
    """Two GPUs as NVML reports them; ``broken`` indexes fail as a GPU fallen off the bus does."""

    class NVMLError(Exception):
        pass

    def __init__(self, util: list[int], used: list[int]) -> None:
        self.util, self.used, self.broken, self.inits = util, used, set[int](), 0

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.util)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index in self.broken:
            raise self.NVMLError("GPU is lost")
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=self.util[handle], memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=self.used[handle], total=80 << 30, free=0)


def test_a_gpu_is_read_at_scrape_time(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(util=[73, 0], used=[5 << 30, 1024])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    registry = CollectorRegistry()
    assert export_gpu_metrics(registry) is True and export_gpu_metrics(registry) is True and nvml.inits == 1
    assert scrape(registry) == {
        ("streamprocess_gpu_utilization_ratio", "0"): 0.73,
        ("streamprocess_gpu_utilization_ratio", "1"): 0.0,
        ("streamprocess_gpu_memory_used_bytes", "0"): float(5 << 30),
        ("streamprocess_gpu_memory_used_bytes", "1"): 1024.0,
    }
    nvml.util[0], nvml.used[1] = 100, 2048  # the next scrape reads NVML again
    again = scrape(registry)
    assert again[("streamprocess_gpu_utilization_ratio", "0")] == 1.0
    assert again[("streamprocess_gpu_memory_used_bytes", "1")] == 2048.0


def test_a_gpu_nvml_cannot_read_is_left_out_of_that_scrape(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = FakeNvml(util=[10, 20], used=[1, 2])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    registry = CollectorRegistry()
    assert export_gpu_metrics(registry)
    nvml.broken.add(0)
    with caplog.at_level(logging.WARNING, logger="streamprocess.metrics"):
        seen = scrape(registry)
    assert seen == {
        ("streamprocess_gpu_utilization_ratio", "1"): 0.2,
        ("streamprocess_gpu_memory_used_bytes", "1"): 2.0,
    }
    assert any("GPU 0" in r.getMessage() for r in caplog.records)


def test_nvml_that_does_not_initialise_exports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(util=[50], used=[1])

    def no_driver() -> None:
        raise FakeNvml.NVMLError("Driver Not Loaded")

    nvml.nvmlInit = no_driver  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    registry = CollectorRegistry()
    assert export_gpu_metrics(registry) is False and scrape(registry) == {}
