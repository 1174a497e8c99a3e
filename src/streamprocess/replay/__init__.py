"""Event replay: run work again from archived events, objects already in the bucket, dead-letter queues or job
records (``streamprocess replay``).

Every source comes down to job messages, and each goes through one path: the filters (kind, key glob, tenant),
the job's record (a job that succeeded is skipped unless ``force``; one running or queued is left to it), then
:meth:`JobStore.reopen` (a compare-and-swap to ``queued``: two replays at once never both queue a job), the
message on its kind's queue, and the record marked dispatched. Events are resolved by the router's own rules
(:meth:`EventRouter.resolve`), so a replayed event makes the same job, with the same id, as the original did.

- ``archive``: the events the router archived (:mod:`streamprocess.archive`) in a time window;
- ``prefix``: a backfill: an ``ObjectCreated`` event for each object under a prefix of the inbox;
- ``dlq``: dead-lettered messages: each is handled as above and acked only once its jobs are queued (or need
  nothing); one filtered out or in error stays in the dead-letter queue (at least once, never lost);
- ``failed`` (optionally by error code) and ``jobs`` (by id): job records.

A dry run decides the same and changes nothing. ``force`` copies a succeeded job's results to
``<results_prefix><job_id>/v<N>/`` and lists them in the record (``previous_results``) before it runs again. The
summary is a :class:`ReplayReport`, written to ``<jobs_prefix>replays/<id>.json`` (not for a dry run). Stopping
(:meth:`Replayer.stop`, Ctrl+C) ends after the item in hand and leaves nothing half done: run it again.
"""

from __future__ import annotations

from .replayer import Replayer
from .report import (
    REPORTS,
    Outcome,
    ReplayItem,
    ReplayOptions,
    ReplayReport,
    backfill_prefix,
    dlq_roles,
    new_replay_id,
)

__all__ = [
    "REPORTS",
    "Outcome",
    "ReplayItem",
    "ReplayOptions",
    "ReplayReport",
    "Replayer",
    "backfill_prefix",
    "dlq_roles",
    "new_replay_id",
]
