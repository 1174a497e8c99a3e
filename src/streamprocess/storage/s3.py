"""S3 object store (aiobotocore): AWS S3, MinIO or any S3-compatible server via ``endpoint_url``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ..aws import LazyClient
from ..errors import ErrorCode, ObjectNotFound, PermanentError, WriteConflict
from .base import ObjectInfo, ObjectStore, PresignedRequest, validate_key

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_CHUNK = 1024 * 1024


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        # Path-style addressing works with MinIO and moto as well as AWS.
        self._client = LazyClient(
            "s3", endpoint_url=endpoint_url, region=region, s3={"addressing_style": "path"}, signature_version="s3v4"
        )

    async def client(self) -> Any:
        return await self._client.get()

    async def close(self) -> None:
        await self._client.close()

    def _missing(self, key: str) -> ObjectNotFound:
        return ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}")

    async def put(
        self,
        key: str,
        data: bytes | Path,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        validate_key(key)
        client = await self.client()
        extra: dict[str, Any] = {}
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        if if_match is not None:
            extra["IfMatch"] = f'"{if_match.strip(chr(34))}"'
        if content_type:
            extra["ContentType"] = content_type
        if metadata:
            extra["Metadata"] = {k.lower(): v for k, v in metadata.items()}
        try:
            if isinstance(data, Path):
                size = data.stat().st_size
                with open(data, "rb") as body:
                    resp = await client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
            else:
                size = len(data)
                resp = await client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), **extra)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code in _CONFLICT or (if_match is not None and code in _NOT_FOUND):
                raise WriteConflict(f"{key!r}: {e.response['Error'].get('Message', 'precondition failed')}") from None
            raise
        return ObjectInfo(
            key=key,
            size=size,
            etag=resp["ETag"].strip('"'),
            last_modified=datetime.now(UTC),
            content_type=content_type,
            metadata=extra.get("Metadata", {}),
            version_id=resp.get("VersionId"),
        )

    async def _get_object(self, key: str, **kwargs: Any) -> dict[str, Any]:
        validate_key(key)
        client = await self.client()
        try:
            return await client.get_object(Bucket=self.bucket, Key=key, **kwargs)
        except ClientError as e:
            if e.response["Error"]["Code"] in _NOT_FOUND:
                raise self._missing(key) from None
            if e.response["Error"]["Code"] == "InvalidRange":
                return {"Body": None}
            raise

    async def read(self, key: str) -> tuple[bytes, ObjectInfo]:
        resp = await self._get_object(key)
        async with resp["Body"] as body:
            data = await body.read()
        return data, self._info(key, resp)

    async def get(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        kwargs = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        resp = await self._get_object(key, **kwargs)
        if resp["Body"] is None:  # range past the end (e.g. a zero-byte object)
            return b""
        async with resp["Body"] as body:
            return await body.read()

    async def download(self, key: str, path: Path) -> ObjectInfo:
        resp = await self._get_object(key)
        with open(path, "wb") as out:
            async with resp["Body"] as body:
                async for chunk in body.iter_chunks(_CHUNK):
                    out.write(chunk)
        return self._info(key, resp)

    def _info(self, key: str, resp: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=resp.get("ContentLength", resp.get("Size", 0)),
            etag=resp["ETag"].strip('"'),
            last_modified=resp["LastModified"],
            content_type=resp.get("ContentType"),
            metadata=resp.get("Metadata") or {},
            version_id=resp.get("VersionId"),
        )

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        client = await self.client()
        try:
            resp = await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response["Error"]["Code"] in _NOT_FOUND:
                raise self._missing(key) from None
            raise
        return self._info(key, resp)

    async def list(self, prefix: str = "") -> AsyncGenerator[ObjectInfo, None]:
        client = await self.client()
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield self._info(item["Key"], item)

    async def delete(self, key: str) -> None:
        validate_key(key)
        client = await self.client()
        await client.delete_object(Bucket=self.bucket, Key=key)

    async def presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int = 900,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
        create_only: bool = False,
    ) -> PresignedRequest:
        """A PUT signs every header it names (Content-Type, ``x-amz-meta-*``, ``If-None-Match: *`` when
        ``create_only``, Content-Length when ``size`` is given), so S3 refuses a request without them, or with
        other values: the client must send ``headers`` as returned and exactly ``size`` bytes. ``max_size`` bounds
        only a POST (``content-length-range``)."""
        validate_key(key)
        meta = {f"x-amz-meta-{k.lower()}": v for k, v in (metadata or {}).items()}
        client = await self.client()
        method = method.upper()
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        if method == "GET":
            url = await client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
            return PresignedRequest(url=url, method="GET", expires_at=expires_at)
        if method == "PUT":
            params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if content_type:
                params["ContentType"] = content_type
            if metadata:
                params["Metadata"] = {k.lower(): v for k, v in metadata.items()}
            if size is not None:
                params["ContentLength"] = size
            if create_only:  # S3 conditional write: a second upload through this URL fails with 412
                params["IfNoneMatch"] = "*"
            url = await client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
            headers = {"Content-Type": content_type} if content_type else {}
            if create_only:
                headers["If-None-Match"] = "*"
            headers.update(meta)
            return PresignedRequest(url=url, method="PUT", expires_at=expires_at, headers=headers)
        if method == "POST":
            if create_only:
                raise PermanentError(
                    "a presigned POST cannot refuse to replace an object; use PUT", code=ErrorCode.PRESIGN_INVALID
                )
            # A presigned POST is the only S3 upload that can enforce a size range on the storage side.
            fields: dict[str, str] = dict(meta)
            conditions: list[Any] = [{k: v} for k, v in meta.items()]
            if content_type:
                fields["Content-Type"] = content_type
                conditions.append({"Content-Type": content_type})
            if max_size:
                conditions.append(["content-length-range", 1, max_size])
            post = await client.generate_presigned_post(
                self.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
            )
            return PresignedRequest(url=post["url"], method="POST", expires_at=expires_at, fields=post["fields"])
        raise PermanentError(f"cannot presign {method}; use GET, PUT or POST", code=ErrorCode.PRESIGN_INVALID)
