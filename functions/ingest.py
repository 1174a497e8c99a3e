"""AWS Lambda: S3 bucket events arriving on SQS become jobs (the router), with partial batch failures.

mangum does not do SQS, so this is a plain handler around :class:`streamprocess.ingest.EventRouter`. A record whose
event cannot be routed now (a dependency failed, or it is not an event at all) is reported in
``batchItemFailures``, so SQS retries it and, after the queue's ``maxReceiveCount``, moves it to the dead-letter
queue; the other records of the batch are done. An input that is not media already has a failed job record that
says so, and is not retried. The router's upkeep of the event archive (deleting hours past
``STREAMPROCESS_ARCHIVE_DAYS``) runs here at most once an hour per warm container.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from streamprocess.config import get_settings
from streamprocess.ingest import RejectedInputs
from streamprocess.runtime import Runtime

log = logging.getLogger(__name__)

ARCHIVE_UPKEEP_EVERY = 3600.0
_last_upkeep: list[float] = []  # when this container last expired old archived events (monotonic)


async def handle(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    failures = []
    async with Runtime(get_settings()) as rt:
        router = rt.router()
        for record in event.get("Records", []):
            try:
                await router.route_payload(record.get("body", ""))
            except RejectedInputs as e:
                log.warning("message %s: %s (failed job records written)", record.get("messageId"), e)
            except Exception as e:  # retried by SQS, then dead-lettered
                log.error("message %s not routed: %s", record.get("messageId"), e)
                failures.append({"itemIdentifier": record["messageId"]})
        if not _last_upkeep or time.monotonic() - _last_upkeep[0] >= ARCHIVE_UPKEEP_EVERY:
            _last_upkeep[:] = [time.monotonic()]
            try:
                await rt.archive.expire()
            except Exception as e:  # the next hour tries again; routing is what matters here
                log.warning("expiring old archived events failed: %s", e)
    return {"batchItemFailures": failures}


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    return asyncio.run(handle(event))
