"""Job ids: deterministic, so every duplicate event for one object version maps to one job, and its results to one
place."""

from __future__ import annotations

import hashlib

JOB_ID_LENGTH = 32


def job_id_for(bucket: str, key: str, version: str | None, kind: str) -> str:
    """A stable id for processing one version of one object as ``kind``."""
    material = "\x00".join([bucket, key, version or "", kind])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:JOB_ID_LENGTH]


def is_job_id(value: str) -> bool:
    return len(value) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in value)
