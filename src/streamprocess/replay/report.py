"""What a replay is asked (:class:`ReplayOptions`) and what it answers (:class:`ReplayReport`), and the checks every
door applies to a request for one (:func:`backfill_prefix`, :func:`dlq_roles`)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from ..kinds import EVENTS_QUEUE, KINDS
from ..timestamps import UTCDateTime, now_utc

#: Under the jobs prefix: where replay reports are kept.
REPORTS = "replays/"
#: Items a report lists at most (the counts cover all).
MAX_REPORT_ITEMS = 10_000


class Outcome(StrEnum):
    queued = "queued"  # a dry run: would be queued
    skipped_done = "skipped_done"  # the job succeeded already (no --force)
    skipped_busy = "skipped_busy"  # the job is running or queued already
    skipped_filter = "skipped_filter"  # left out by --kind, --key or --tenant
    skipped_other = "skipped_other"  # not a job: the object is gone, the event starts none
    error = "error"


class ReplayItem(BaseModel):
    what: str
    outcome: Outcome
    job_id: str | None = None
    kind: str | None = None
    reason: str | None = None


class ReplayReport(BaseModel):
    id: str
    source: str
    dry_run: bool
    force: bool
    filters: dict[str, str] = Field(default_factory=dict)
    started_at: UTCDateTime = Field(default_factory=now_utc)
    finished_at: UTCDateTime | None = None
    interrupted: bool = False
    counts: dict[Outcome, int] = Field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    dlq_removed: int = 0  # dead-lettered messages taken off their dead-letter queue
    items: list[ReplayItem] = Field(default_factory=list)
    report_key: str | None = None

    @property
    def errors(self) -> int:
        return self.counts[Outcome.error]


@dataclass
class ReplayOptions:
    dry_run: bool = False
    force: bool = False
    rate: float | None = None  # job messages sent per second at most
    kind: str | None = None
    key: str | None = None  # a glob over the object key
    tenant: str | None = None
    settle: float = 30.0  # see JobStore.reopen

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("kind", self.kind), ("key", self.key), ("tenant", self.tenant)) if v}


def new_replay_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def backfill_prefix(given: str, *, bucket: str, inbox: str) -> str:
    """The key prefix a backfill lists, from ``s3://bucket/path/`` or a key prefix: inside the inbox of the
    configured bucket only (never results, records or the archive); a prefix above the inbox means the inbox.
    Raises ValueError."""
    if given.startswith("s3://"):
        named, _, given = given.removeprefix("s3://").partition("/")
        if named != bucket:
            raise ValueError(f"{named!r} is not the inbox bucket {bucket!r}")
    if given.startswith(inbox):
        return given
    if inbox.startswith(given):
        return inbox
    raise ValueError(
        f"a backfill reads the inbox only: give a prefix under {inbox!r} (not results, records or the archive)"
    )


def dlq_roles(role: str) -> list[str]:
    """The queue roles whose dead-letter queues ``role`` names: ``events``, ``stt``, ``ocr``, or ``all``. Raises
    ValueError."""
    roles = [EVENTS_QUEUE, *KINDS]
    if role == "all":
        return roles
    if role not in roles:
        raise ValueError(f"no queue role {role!r}; use {', '.join(roles)} or all")
    return [role]
