"""The replayer: every source down to job messages, and one path for each (see :mod:`streamprocess.replay`)."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ..archive import EventArchive
from ..errors import InvalidEvent, StreamProcessError
from ..events import S3EventRecord, make_object_created_event, parse_records
from ..ingest import EventRouter, Rejection, Routed
from ..jobs import JobMessage, JobRecord, JobState, JobStore
from ..kinds import EVENTS_QUEUE, result_key
from ..queues.base import Message, Queue
from ..storage.base import ObjectStore
from ..timestamps import now_utc
from .report import MAX_REPORT_ITEMS, REPORTS, Outcome, ReplayItem, ReplayOptions, ReplayReport, new_replay_id

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One thing a source offers: a job message, or why there is none."""

    what: str
    message: JobMessage | None = None
    outcome: Outcome | None = None  # set when there is no message
    reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Replayer:
    def __init__(
        self,
        *,
        router: EventRouter,
        jobs: JobStore,
        queues: Mapping[str, Queue],
        result_store: ObjectStore,
        archive: EventArchive,
        results_prefix: str,
        jobs_prefix: str,
        options: ReplayOptions,
        on_item: Callable[[ReplayItem], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> None:
        self.router = router
        self.jobs = jobs
        self.queues = queues
        self.result_store = result_store
        self.archive = archive
        self.results_prefix = results_prefix
        self.jobs_prefix = jobs_prefix
        self.options = options
        self.on_item = on_item
        self.on_total = on_total
        self._stopped = False
        self._next_send = 0.0
        self.report = ReplayReport(id=new_replay_id(), source="", dry_run=options.dry_run, force=options.force)

    def stop(self) -> None:
        """End after the item in hand (Ctrl+C)."""
        self._stopped = True

    # ------------------------------------------------------------------ sources
    async def replay_archive(self, since: datetime, until: datetime) -> ReplayReport:
        records = [r async for r in self.archive.window(since, until)]
        return await self._run(f"archive {since.isoformat()} .. {until.isoformat()}", self._events(records))

    async def replay_prefix(self, prefix: str) -> ReplayReport:
        store, records = self.router.store, []
        async for info in store.list(prefix):
            event = make_object_created_event(
                bucket=store.bucket, key=info.key, size=info.size, etag=info.etag, version_id=info.version_id
            )
            records += parse_records(event)
        return await self._run(f"prefix s3://{store.bucket}/{prefix}", self._events(records))

    async def replay_jobs(self, job_ids: list[str]) -> ReplayReport:
        async def records() -> list[JobRecord | str]:
            return [await self.jobs.get(j) or j for j in job_ids]

        return await self._run(f"jobs {' '.join(job_ids)}", self._records(await records()))

    async def replay_failed(self, code: str | None = None) -> ReplayReport:
        found: list[JobRecord | str] = [
            r
            for r in await self.jobs.list()
            if r.state is JobState.failed and (code is None or (r.error is not None and r.error.code == code))
        ]
        return await self._run("failed jobs" + (f" ({code})" if code else ""), self._records(found))

    async def replay_dlq(self, roles: list[str]) -> ReplayReport:
        self.report.source = f"dead-letter queues of {', '.join(roles)}"
        total = 0
        for role in roles:
            total += (await self.queues[role].dlq.depth()).total
        if self.on_total:
            self.on_total(total)
        try:
            for role in roles:
                await self._redrive(role)
        finally:
            await self._finish()
        return self.report

    # ------------------------------------------------------------------ candidates
    async def _events(self, records: list[S3EventRecord]) -> AsyncIterator[Candidate]:
        if self.on_total:
            self.on_total(len(records))
        for record in records:
            yield await self._from_event(record)

    async def _from_event(self, record: S3EventRecord) -> Candidate:
        what = f"s3://{record.bucket}/{record.key}"
        if self.options.key and not fnmatch.fnmatchcase(record.key, self.options.key):
            return Candidate(what, outcome=Outcome.skipped_filter, reason=f"key is not {self.options.key}")
        try:
            resolved = await self.router.resolve(record, archive=False)
        except StreamProcessError as e:
            return Candidate(what, outcome=Outcome.error, reason=str(e))
        if isinstance(resolved, Routed):
            return Candidate(what, outcome=Outcome.skipped_other, reason=resolved.reason)
        if isinstance(resolved, Rejection):
            return Candidate(
                what,
                outcome=Outcome.error,
                reason=f"cannot be processed: {resolved.error}",
                extra={"job_id": self.router.rejected_job_id(resolved)},
            )
        return Candidate(what, message=resolved)

    async def _records(self, records: list[JobRecord | str]) -> AsyncIterator[Candidate]:
        if self.on_total:
            self.on_total(len(records))
        for rec in records:
            if isinstance(rec, str):
                yield Candidate(f"job {rec}", outcome=Outcome.error, reason="no such job")
                continue
            what = f"job {rec.job_id}"
            src = rec.source
            if src.bucket == self.router.store.bucket and src.key.startswith(self.router.inbox_prefix):
                # Resolved again from its object, by the router's rules: a job rejected at routing (too large, say)
                # runs once the cause is fixed, and one whose object changed or went is said so.
                event = make_object_created_event(
                    bucket=src.bucket, key=src.key, size=src.size or 0, etag=src.etag or "", version_id=src.version_id
                )
                found = await self._from_event(parse_records(event)[0])
                found.what = what
                if found.message is not None and found.message.job_id != rec.job_id:
                    found = Candidate(what, outcome=Outcome.error, reason="its object changed (a new job)")
                elif found.message is not None:
                    found.message.event_time = rec.event_time
                yield found
            elif rec.media_type is not None:  # outside the inbox (a saved live stream): its own record says it all
                yield Candidate(
                    what,
                    message=JobMessage(
                        job_id=rec.job_id,
                        kind=rec.kind,
                        source=src,
                        media_type=rec.media_type,
                        options=rec.options,
                        event_time=rec.event_time,
                    ),
                )
            else:
                yield Candidate(what, outcome=Outcome.error, reason="the record names no input to run")

    # ------------------------------------------------------------------ one job
    def _wanted(self, message: JobMessage, record: JobRecord | None) -> str | None:
        """Why the filters leave this job out, or None."""
        o = self.options
        if o.kind and message.kind != o.kind:
            return f"kind is {message.kind}"
        if o.key and not fnmatch.fnmatchcase(message.source.key, o.key):
            return f"key is not {o.key}"
        tenant = record.tenant if record is not None and record.tenant else self.router.tenant
        if o.tenant and tenant != o.tenant:
            return f"tenant is {tenant}"
        return None

    async def _pace(self) -> None:
        if not self.options.rate:
            return
        now = time.monotonic()
        if self._next_send > now:
            await asyncio.sleep(self._next_send - now)
        self._next_send = max(now, self._next_send) + 1 / self.options.rate

    async def _set_aside(self, record: JobRecord) -> Callable[[int], dict[str, str]]:
        """Copy a succeeded job's results to the keys of version N (the next one): never overwritten later."""
        version = len(record.previous_results) + 1

        def keys(n: int) -> dict[str, str]:
            return {name: result_key(self.results_prefix, record.job_id, f"v{n}/{name}") for name in record.results}

        for name, key in record.results.items():
            data, info = await self.result_store.read(key)
            await self.result_store.put(keys(version)[name], data, content_type=info.content_type)
        return keys

    async def _job(self, c: Candidate) -> ReplayItem:
        msg = c.message
        if msg is None:
            assert c.outcome is not None
            return ReplayItem(what=c.what, outcome=c.outcome, reason=c.reason, job_id=c.extra.get("job_id"))
        item = ReplayItem(what=c.what, outcome=Outcome.queued, job_id=msg.job_id, kind=msg.kind)
        record = await self.jobs.get(msg.job_id)
        if (why := self._wanted(msg, record)) is not None:
            item.outcome, item.reason = Outcome.skipped_filter, why
            return item
        if record is not None:
            if record.state is JobState.succeeded and not self.options.force:
                item.outcome, item.reason = Outcome.skipped_done, "already succeeded"
                return item
            if record.state in (JobState.running, JobState.awaiting_upload, JobState.queued):
                item.outcome, item.reason = Outcome.skipped_busy, f"is {record.state}"
                if record.state is JobState.queued and not record.dispatched:
                    item.outcome = Outcome.queued  # its sender died (or is sending it now): reopen decides
                else:
                    return item
        if self.options.dry_run:
            item.reason = "dry run"
            return item
        previous = None
        if record is not None and record.state is JobState.succeeded:
            previous = await self._set_aside(record)
        await self._pace()
        message = msg.model_copy(update={"enqueued_at": time.time()})
        _, why_not = await self.jobs.reopen(
            message, force=self.options.force, previous=previous, tenant=self.router.tenant, settle=self.options.settle
        )
        if why_not:
            item.outcome = Outcome.skipped_done if "succeeded" in why_not else Outcome.skipped_busy
            item.reason = why_not
            return item
        await self.queues[msg.kind].send(message.model_dump_json())
        await self.jobs.dispatched(msg.job_id)
        return item

    def _count(self, item: ReplayItem) -> None:
        self.report.counts[item.outcome] += 1
        if len(self.report.items) < MAX_REPORT_ITEMS:
            self.report.items.append(item)
        level = logging.WARNING if item.outcome is Outcome.error else logging.INFO
        log.log(level, "replay %s: %s%s", item.what, item.outcome, f" ({item.reason})" if item.reason else "")
        if self.on_item:
            self.on_item(item)

    async def _handle(self, c: Candidate) -> ReplayItem:
        try:
            item = await self._job(c)
        except StreamProcessError as e:
            item = ReplayItem(what=c.what, outcome=Outcome.error, reason=str(e))
        self._count(item)
        return item

    # ------------------------------------------------------------------ running
    async def _run(self, source: str, candidates: AsyncIterator[Candidate]) -> ReplayReport:
        self.report.source = source
        try:
            async for c in candidates:
                if self._stopped:
                    self.report.interrupted = True
                    break
                await self._handle(c)
        finally:
            await self._finish()
        return self.report

    async def _redrive(self, role: str) -> None:
        """Each dead-lettered message of ``role``: its jobs queued (or found done), then acked; kept otherwise."""
        dlq = self.queues[role].dlq
        kept: list[Message] = []
        seen: set[str] = set()  # a message kept may come back (Redis gives back what is held too long): once is all
        try:
            while not self._stopped:
                batch = await dlq.receive(10, wait=0.2, visibility_timeout=600)
                if not batch or all(m.id in seen for m in batch):
                    kept += batch
                    break
                for m in batch:
                    if self._stopped or m.id in seen:
                        kept.append(m)
                        continue
                    seen.add(m.id)
                    items = [await self._handle(c) for c in await self._from_dead(role, m)]
                    stays = {Outcome.error, Outcome.skipped_filter}
                    if self.options.dry_run or any(i.outcome in stays for i in items):
                        kept.append(m)
                    else:
                        await dlq.ack(m)
                        self.report.dlq_removed += 1
            self.report.interrupted = self.report.interrupted or self._stopped
        finally:
            for m in kept:  # back where they were, visible again
                await dlq.nack(m)

    async def _from_dead(self, role: str, m: Message) -> list[Candidate]:
        """A dead-lettered message's jobs: the job message itself, or one per S3 record of an event."""
        what = f"{self.queues[role].dlq.name} message {m.id}"
        try:
            if role != EVENTS_QUEUE:
                return [Candidate(what, message=JobMessage.model_validate_json(m.body))]
            records = parse_records(m.body)
        except ValidationError as e:
            return [Candidate(what, outcome=Outcome.error, reason=f"not a job message: {e.errors()[0]['msg']}")]
        except InvalidEvent as e:
            return [Candidate(what, outcome=Outcome.error, reason=str(e))]
        if not records:
            return [Candidate(what, outcome=Outcome.skipped_other, reason="an event without S3 records")]
        return [await self._from_event(r) for r in records]

    async def _finish(self) -> None:
        self.report.finished_at = now_utc()
        self.report.filters = self.options.filters()
        if self.options.dry_run:
            return
        key = f"{self.jobs_prefix}{REPORTS}{self.report.id}.json"
        self.report.report_key = key
        body = json.dumps(self.report.model_dump(mode="json"), indent=2).encode()
        await self.result_store.put(key, body, content_type="application/json")
