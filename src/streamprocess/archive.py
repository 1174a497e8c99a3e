"""The event archive: every bucket event the router accepts, kept in the object store for replay.

Each accepted S3 record is one JSON object (the parsed record, as S3 spells it) at
``<archive_prefix>YYYY/MM/DD/HH/<hash>.json``, partitioned by the event's own time and named by a hash of
(bucket, key, ETag or version, event time): the same event archived twice (a redelivery, a duplicate notification)
is one object. The archive lives in the results bucket under a prefix the settings keep out of the inbox, so it
never starts a job. Hours older than ``days`` are deleted by :meth:`EventArchive.expire`, which the router's
upkeep runs (:meth:`streamprocess.runtime.Runtime.upkeep`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from .errors import WriteConflict
from .events import S3EventRecord
from .storage.base import ObjectStore

log = logging.getLogger(__name__)

_HOUR = "%Y/%m/%d/%H/"


class EventArchive:
    def __init__(self, store: ObjectStore, prefix: str, days: int) -> None:
        self.store = store
        self.prefix = prefix
        self.days = days

    @property
    def enabled(self) -> bool:
        return self.days > 0

    def key(self, record: S3EventRecord) -> str:
        when = record.event_time.astimezone(UTC)
        material = "\x00".join(
            [record.bucket, record.key, record.version_id or record.etag or "", when.isoformat()]
        ).encode("utf-8", "surrogatepass")
        return f"{self.prefix}{when.strftime(_HOUR)}{hashlib.sha256(material).hexdigest()[:32]}.json"

    async def put(self, record: S3EventRecord) -> bool:
        """Archive ``record`` (once: False when it was there already, or the archive is off)."""
        if not self.enabled:
            return False
        body = record.model_dump_json(by_alias=True, exclude_none=True).encode()
        try:
            await self.store.put(self.key(record), body, content_type="application/json", if_none_match=True)
        except WriteConflict:
            return False
        return True

    async def window(self, since: datetime, until: datetime) -> AsyncIterator[S3EventRecord]:
        """The archived records whose event time is in [since, until), oldest hour first."""
        since, until = since.astimezone(UTC), until.astimezone(UTC)
        hour = since.replace(minute=0, second=0, microsecond=0)
        while hour < until:
            async for info in self.store.list(f"{self.prefix}{hour.strftime(_HOUR)}"):
                try:
                    record = S3EventRecord.model_validate(json.loads(await self.store.get(info.key)))
                except ValueError:
                    log.warning("archive: %s is not an archived S3 event record; skipped", info.key)
                    continue
                if since <= record.event_time < until:
                    yield record
            hour += timedelta(hours=1)

    async def expire(self, now: datetime | None = None) -> int:
        """Delete archived events in hours older than ``days``. Returns how many objects went."""
        if not self.enabled:
            return 0
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=self.days)).strftime(_HOUR)
        deleted = 0
        async for info in self.store.list(self.prefix):
            hour = info.key.removeprefix(self.prefix)[: len("YYYY/MM/DD/HH/")]
            if len(hour) == len(cutoff) and hour < cutoff:
                await self.store.delete(info.key)
                deleted += 1
        return deleted

    async def sweep(self, interval: float = 3600.0) -> None:
        """:meth:`expire` every ``interval`` seconds (the first at once), until cancelled."""
        while True:
            try:
                if n := await self.expire():
                    log.info("archive: %d event(s) older than %d days deleted", n, self.days)
            except Exception:
                log.exception("the sweep of the event archive failed; trying again")
            await asyncio.sleep(interval)
