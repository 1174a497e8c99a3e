"""Object stores behind one interface: :class:`LocalObjectStore` (embedded default) and :class:`S3ObjectStore`.

Beside the local store: its drop-folder watcher (:mod:`.watcher`) and its URL signer (:mod:`.signing`).
"""

from __future__ import annotations

from ..config import Settings, StoreBackend
from .base import ObjectCreated, ObjectCreatedSink, ObjectInfo, ObjectStore, PresignedRequest, validate_key
from .local import LocalObjectStore
from .watcher import DropFolderWatcher

__all__ = [
    "DropFolderWatcher",
    "LocalObjectStore",
    "ObjectCreated",
    "ObjectCreatedSink",
    "ObjectInfo",
    "ObjectStore",
    "PresignedRequest",
    "make_store",
    "validate_key",
]


def make_store(
    settings: Settings, bucket: str | None = None, *, notify: ObjectCreatedSink | None = None
) -> ObjectStore:
    """The store for ``bucket`` (default: the inbox bucket) as the settings configure it.

    ``notify`` receives an :class:`ObjectCreated` for each object landing under the local store's inbox prefix;
    S3 sends its own notifications (configured on the bucket), so it is ignored there.
    """
    bucket = bucket or settings.bucket
    if settings.store is StoreBackend.local:
        if bucket != settings.bucket:
            raise ValueError("the local store holds a single bucket: leave results_bucket unset")
        secret = settings.presign_secret.get_secret_value().encode() if settings.presign_secret else None
        return LocalObjectStore(
            settings.data_dir,
            bucket,
            notify=notify,
            notify_prefixes=[settings.inbox_prefix],
            presign_secret=secret,
            public_base_url=settings.public_base_url,
        )
    from .s3 import S3ObjectStore

    return S3ObjectStore(bucket, endpoint_url=settings.s3_endpoint_url, region=settings.aws_region)
