"""Receiving a file within the upload limit: request bodies and multipart files are written to disk as they come,
and refused (413 ``too_large``) as soon as they pass it."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request, UploadFile

from ..errors import ErrorCode
from ..submit import Submissions
from .problems import ApiError


async def spool(chunks: AsyncIterator[bytes], path: Path, limit: int, over: str) -> None:
    """Write a request body to ``path``, refusing it with 413 as soon as it passes ``limit`` bytes."""
    size = 0
    with open(path, "wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ApiError(ErrorCode.TOO_LARGE, f"{over} {limit}-byte limit")
            out.write(chunk)


async def submit_file(
    request: Request, subs: Submissions, file: UploadFile, kind: str, options: dict[str, str | None], tenant: str
) -> str:
    """Spool a multipart file to disk within the size limit and submit it; returns the job id."""
    limit = subs.settings.upload_max_size
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise ApiError(ErrorCode.TOO_LARGE, f"the request is over the {limit}-byte upload limit")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(1 << 20):
            yield chunk

    with tempfile.TemporaryDirectory(prefix="sp-upload-") as tmp:
        path = Path(tmp) / "file"
        await spool(chunks(), path, limit, "the file is over the")
        return await subs.submit(
            path, file.filename or "upload", kind, {k: v for k, v in options.items() if v is not None}, tenant=tenant
        )
