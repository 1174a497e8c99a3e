"""A presigned upload: what a client asks for and the URL it gets."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UploadRequest(BaseModel):
    filename: str = Field(..., max_length=255, examples=["meeting.m4a"])
    content_type: str = Field(..., examples=["audio/mp4"])
    size: int | None = Field(
        None,
        gt=0,
        description=(
            "Bytes. The embedded store's URL refuses more (default: the upload limit); an S3 URL is signed for exactly "
            "this many, and S3 deployments require it."
        ),
    )
    options: dict[str, str] = Field(
        default_factory=dict, description='Job options, e.g. {"language": "de", "task": "translate"}.'
    )


class UploadTarget(BaseModel):
    url: str
    method: str
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    expires_at: datetime


class UploadResponse(BaseModel):
    job_id: str
    upload: UploadTarget
    status_url: str
