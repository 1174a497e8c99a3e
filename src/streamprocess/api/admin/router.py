"""Replays over HTTP: ``POST /admin/replay`` starts one in this process and answers its id at once;
``GET /admin/replay/{id}`` is its report so far, or as written to the store when it ended (by this process or by
`streamprocess replay`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ...errors import ErrorCode, ObjectNotFound
from ...replay import REPORTS, Replayer, ReplayOptions, ReplayReport, backfill_prefix, dlq_roles
from ...timestamps import now_utc
from ..deps import Rt, require_admin_key
from ..problems import ApiError
from .protocol import ReplayRequest, ReplayStarted, ReplayStatus

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin_key)], tags=["admin"])


def _running(request: Request) -> dict[str, tuple[Replayer, asyncio.Task[ReplayReport]]]:
    state = request.app.state
    if not hasattr(state, "replays"):
        state.replays = {}
    replays: dict[str, tuple[Replayer, asyncio.Task[ReplayReport]]] = state.replays
    return replays


@router.post("/replay", response_model=ReplayStarted, status_code=202)
async def start_replay(body: ReplayRequest, request: Request, rt: Rt) -> JSONResponse:
    """Start a replay (as `streamprocess replay` runs one); 202 with its id and where to follow it."""
    s = rt.settings
    try:
        prefix = backfill_prefix(body.prefix or "", bucket=s.bucket, inbox=s.inbox_prefix)
    except ValueError as e:
        raise ApiError(ErrorCode.INVALID_REQUEST, str(e)) from None
    options = ReplayOptions(
        dry_run=body.dry_run, force=body.force, rate=body.rate, kind=body.kind, key=body.key, tenant=body.tenant
    )
    replayer = rt.replayer(options)
    if body.source == "archive":
        since = body.since or now_utc() - timedelta(days=max(1, s.archive_days))
        work = replayer.replay_archive(since, body.until or now_utc())
    elif body.source == "prefix":
        work = replayer.replay_prefix(prefix)
    elif body.source == "dlq":
        work = replayer.replay_dlq(dlq_roles(body.dlq))
    elif body.source == "failed":
        work = replayer.replay_failed(body.code)
    else:
        work = replayer.replay_jobs(body.jobs)
    replay_id = replayer.report.id
    _running(request)[replay_id] = (replayer, asyncio.create_task(work))
    url = str(request.url_for("replay_status", replay_id=replay_id))
    return JSONResponse(
        ReplayStarted(replay_id=replay_id, status_url=url).model_dump(), status_code=202, headers={"Location": url}
    )


@router.get("/replay/{replay_id}", response_model=ReplayStatus)
async def replay_status(replay_id: str, request: Request, rt: Rt) -> ReplayStatus:
    """A replay's progress (the counts so far) while it runs here, or its report once it ended."""
    found = _running(request).get(replay_id)
    if found is not None:
        replayer, task = found
        if not task.done():
            return ReplayStatus(running=True, report=replayer.report)
        if task.exception() is not None:
            raise ApiError(ErrorCode.INTERNAL_ERROR, f"replay {replay_id} failed: {task.exception()}")
        return ReplayStatus(running=False, report=task.result())
    if not replay_id.replace("-", "").isalnum():
        raise ApiError(ErrorCode.INVALID_REQUEST, "not a replay id")
    try:
        raw = await rt.result_store.get(f"{rt.settings.jobs_prefix}{REPORTS}{replay_id}.json")
    except ObjectNotFound:
        raise ApiError(ErrorCode.JOB_NOT_FOUND, f"no replay {replay_id}") from None
    return ReplayStatus(running=False, report=ReplayReport.model_validate_json(raw))
