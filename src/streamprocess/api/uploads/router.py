"""Presigned uploads: ``POST /uploads`` hands out a URL that uploads once, straight to object storage; on the
embedded store that URL is ``PUT /local-store/<key>``, served here."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from ...errors import WriteConflict
from ...kinds import STT, kind_for_content_type
from ...processors.stt import check_options
from ...submit import UploadUsed
from ..deps import Rt, Subs, Tenant, require_api_key
from ..spool import spool
from .protocol import UploadRequest, UploadResponse, UploadTarget

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["uploads"])
#: Authenticated by the URL's signature instead of an API key.
signed = APIRouter(tags=["uploads"])


@router.post("/uploads", response_model=UploadResponse, status_code=201)
async def create_upload(body: UploadRequest, request: Request, rt: Rt, subs: Subs, tenant: Tenant) -> UploadResponse:
    """A presigned upload straight to object storage; the job id is known now, the job starts when it lands.
    The URL uploads once (a second PUT is refused); if no upload comes before it expires, the job fails
    (`upload_expired`). Speech job options (`language`, `task`, …) the model cannot do are refused now (400), not
    after the upload."""
    if kind_for_content_type(body.content_type.split(";")[0].strip().lower()) is STT:
        check_options(rt.settings, body.options)
    upload = await subs.create_upload(body.filename, body.content_type, body.size, body.options, tenant=tenant)
    r = upload.request
    return UploadResponse(
        job_id=upload.job_id,
        status_url=str(request.url_for("job_status", job_id=upload.job_id)),
        upload=UploadTarget(url=r.url, method=r.method, headers=r.headers, fields=r.fields, expires_at=r.expires_at),
    )


@runtime_checkable
class ServesSignedUrls(Protocol):
    """A store whose signed URLs this API serves (the embedded store's); S3 serves its own."""

    def verify_presigned(
        self,
        method: str,
        key: str,
        query: dict[str, str],
        *,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> dict[str, str]: ...


@signed.put("/local-store/{key:path}", include_in_schema=False)
async def local_store_put(key: str, request: Request, rt: Rt, subs: Subs) -> Response:
    """The embedded store's signed upload URLs land here: signature, expiry, type and size are checked, and a URL
    uploads once: its second use is refused (409 ``upload_used``), and of two racing uses exactly one lands."""
    store = rt.store
    if not rt.is_embedded_store or not isinstance(store, ServesSignedUrls):
        raise HTTPException(404, "this deployment stores uploads in S3; use the URL /uploads returned")
    length = request.headers.get("content-length")
    metadata = store.verify_presigned(
        "PUT",
        key,
        dict(request.query_params),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
    )
    await subs.check_upload(metadata.get("job-id"))  # refuse a used URL before receiving its body
    limit = int(request.query_params.get("max", 0)) or subs.settings.upload_max_size
    with tempfile.TemporaryDirectory(prefix="sp-put-") as tmp:
        path = Path(tmp) / "body"
        await spool(request.stream(), path, limit, "the upload is over the URL's")
        await subs.check_upload(metadata.get("job-id"))
        try:  # create-only: atomic against another use of this URL, under the store's lock
            info = await store.put(
                key, path, content_type=request.headers.get("content-type"), metadata=metadata, if_none_match=True
            )
        except WriteConflict:
            raise UploadUsed("this upload URL was used already: a presigned upload URL uploads once") from None
    return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})
