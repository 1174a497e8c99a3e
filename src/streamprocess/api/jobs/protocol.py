"""What the job routes answer: a job's status, and a submission's acceptance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ...jobs import JobError, JobRecord, JobState
from ...kinds import KINDS
from ...progress import Progress


class JobStatus(BaseModel):
    job_id: str
    kind: str
    state: JobState
    source_key: str
    attempts: int
    progress: Progress | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    error: JobError | None = None
    results: list[str] = Field(default_factory=list, description="Formats ready at /jobs/{id}/result?format=…")
    summary: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, r: JobRecord) -> JobStatus:
        kind = KINDS.get(r.kind)
        ready = [f.format for f in kind.results if f.name in r.results] if kind is not None else []
        return cls(
            job_id=r.job_id,
            kind=r.kind,
            state=r.state,
            source_key=r.source.key,
            attempts=r.attempts,
            progress=r.progress,
            timings=r.timings,
            error=r.error,
            results=ready,
            summary=r.summary,
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
        )


class Accepted(BaseModel):
    job_id: str
    state: JobState
    status_url: str
    result: Any | None = Field(None, description="The JSON result, when ?wait saw the job finish.")
