"""The admin API's request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ...replay import ReplayReport
from ...timestamps import UTCDateTime


class ReplayRequest(BaseModel):
    """One source, as `streamprocess replay` takes it: ``archive`` (``since``, ``until``), ``prefix``, ``dlq``
    (``dlq``: events, stt, ocr or all), ``failed`` (``code``), ``jobs`` (``jobs``); then the filters and options."""

    source: Literal["archive", "prefix", "dlq", "failed", "jobs"]
    since: UTCDateTime | None = Field(None, description="archive: the window's start (default: archive_days ago).")
    until: UTCDateTime | None = Field(None, description="archive: the window's end, exclusive (default: now).")
    prefix: str | None = Field(None, description="prefix: a key prefix under the inbox.")
    dlq: Literal["events", "stt", "ocr", "all"] = "all"
    code: str | None = Field(None, description="failed: only this error code.")
    jobs: list[str] = Field(default_factory=list, max_length=10_000)
    kind: Literal["stt", "ocr"] | None = None
    key: str | None = Field(None, description="Only objects whose key matches this glob.")
    tenant: str | None = None
    dry_run: bool = False
    force: bool = False
    rate: float | None = Field(None, gt=0, description="Jobs queued per second at most.")

    @model_validator(mode="after")
    def _source_needs(self) -> ReplayRequest:
        if self.source == "prefix" and self.prefix is None:
            raise ValueError("source prefix needs `prefix`")
        if self.source == "jobs" and not self.jobs:
            raise ValueError("source jobs needs `jobs`")
        return self


class ReplayStarted(BaseModel):
    replay_id: str
    status_url: str


class ReplayStatus(BaseModel):
    """A replay's report so far (``running``) or as it ended."""

    running: bool
    report: ReplayReport
