"""MinIO bucket notifications: ``POST /events/s3`` (its webhook target), authenticated by the events token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...events import parse_records
from ...kinds import EVENTS_QUEUE
from ..deps import Rt, require_events_token

router = APIRouter(tags=["events"])


@router.post("/events/s3", status_code=202, dependencies=[Depends(require_events_token)])
async def s3_events(request: Request, rt: Rt) -> dict[str, int]:
    """MinIO bucket notifications (its webhook target, with ``auth_token`` set to STREAMPROCESS_EVENTS_TOKEN)."""
    body = await request.body()
    records = parse_records(body)  # refuse what is not an event before queueing it
    if records:
        await rt.queues[EVENTS_QUEUE].send(body.decode("utf-8", errors="replace"))
    return {"records": len(records)}
