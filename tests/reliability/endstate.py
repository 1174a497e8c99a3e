"""The one home of the reliability suite's end-state check, for every queue and store:

every input ends in exactly one terminal record (succeeded), with exactly one result set, nothing stuck (a record
still running, queued or awaiting upload), nothing lost (an input without a record, or a message on a
dead-letter queue), and nothing left on the queues once the workers have drained them.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streamprocess.jobs import JobRecord, JobState
from streamprocess.kinds import QUEUE_ROLES as ROLES
from streamprocess.runtime import Runtime

from ..helpers import dlq_bodies

#: The Scripted processor's one output.
RESULT_NAMES = ["result.txt"]
STUCK_STATES = (JobState.running, JobState.queued, JobState.awaiting_upload)


@dataclass
class EndState:
    inputs: int
    records: int = 0
    succeeded: int = 0
    failed: int = 0
    stuck: int = 0  # records still running / queued / awaiting upload
    lost: int = 0  # inputs without a record, plus messages on a dead-letter queue
    dlq: int = 0  # messages on the dead-letter queues of events, stt, ocr
    duplicated_results: int = 0  # inputs with more than one result set (or a result set that is not one job's)
    redone: int = 0  # jobs the processor ran more than once (a kill mid-run; fine as long as results are one set)
    runs: int = 0  # processor runs in all
    max_runs: int = 0  # most runs of one job
    expired: int = 0  # attempts whose worker vanished (lease ran out) and whose job was taken over
    left_in_queues: int = 0  # messages still on events/stt/ocr at the end
    problems: list[str] = field(default_factory=list)

    def figures(self) -> str:
        return (
            f"jobs={self.inputs} lost={self.lost} stuck={self.stuck} duplicated_results={self.duplicated_results} "
            f"redone={self.redone} runs={self.runs} max_runs={self.max_runs} expired={self.expired} "
            f"dlq={self.dlq} failed={self.failed} "
            f"left_in_queues={self.left_in_queues}"
        )


def _by_input(records: Iterable[JobRecord]) -> dict[str, list[JobRecord]]:
    out: dict[str, list[JobRecord]] = defaultdict(list)
    for r in records:
        out[r.source.key].append(r)
    return out


async def wait_terminal(rt: Runtime, keys: list[str], timeout: float) -> float:
    """Poll the job records until every input in ``keys`` has a terminal one (or ``timeout``); seconds waited."""
    start = time.monotonic()
    wanted = set(keys)
    while time.monotonic() - start < timeout:
        records = _by_input(await rt.jobs.list())
        if all(k in records and all(r.terminal for r in records[k]) for k in wanted):
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - start


async def queue_total(rt: Runtime) -> int:
    return sum([(await rt.queues[role].depth()).total for role in ROLES])


async def wait_drained(rt: Runtime, timeout: float) -> int:
    """Wait until the workers have taken everything off events/stt/ocr (late duplicates of finished jobs are
    acked as they come back); returns what is left."""
    deadline = time.monotonic() + timeout
    while (left := await queue_total(rt)) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    return left


async def end_state(
    rt: Runtime, keys: list[str], runs: Callable[[str], int], *, others: Iterable[str] = (), drain_timeout: float = 15.0
) -> EndState:
    """Check every input in ``keys`` (object keys under the inbox) against the rules above. Inputs in ``others``
    were dropped too but are not checked (their messages were lost on purpose): their records and results are no
    problem."""
    s = rt.settings
    state = EndState(inputs=len(keys))
    state.left_in_queues = await wait_drained(rt, drain_timeout)
    if state.left_in_queues:
        state.problems.append(f"{state.left_in_queues} message(s) still on the queues after {drain_timeout} s")

    records = await rt.jobs.list()
    state.records = len(records)
    by_input = _by_input(records)
    result_sets: dict[str, list[str]] = defaultdict(list)  # job id -> names under results/<job id>/
    async for info in rt.result_store.list(s.results_prefix):
        job_id, _, name = info.key[len(s.results_prefix) :].partition("/")
        result_sets[job_id].append(name)
    job_ids = {r.job_id for r in records}
    orphans = sorted(set(result_sets) - job_ids)
    if orphans:
        state.duplicated_results += len(orphans)
        state.problems.append(f"result sets without a job record: {orphans[:5]}")

    for key in keys:
        mine = by_input.get(key, [])
        if not mine:
            state.lost += 1
            state.problems.append(f"{key}: no job record (lost)")
            continue
        if len(mine) > 1:
            state.problems.append(f"{key}: {len(mine)} job records {[(r.job_id, r.state.value) for r in mine]}")
        sets = [r.job_id for r in mine if r.job_id in result_sets]
        if len(sets) > 1:
            state.duplicated_results += 1
            state.problems.append(f"{key}: {len(sets)} result sets ({sets})")
        for r in mine:
            state.expired += sum(a.outcome == "expired" for a in r.history)
            n = runs(r.job_id)
            state.runs += n
            state.redone += n > 1
            state.max_runs = max(state.max_runs, n)
            if r.state in STUCK_STATES:
                state.stuck += 1
                state.problems.append(
                    f"{key}: job {r.job_id} stuck {r.state.value} (attempts {r.attempts}, history "
                    f"{[a.outcome for a in r.history]}, lease_owner {r.lease_owner})"
                )
            elif r.state is JobState.failed:
                state.failed += 1
                state.problems.append(f"{key}: job {r.job_id} failed: {r.error}")
            else:
                state.succeeded += 1
                names = sorted(result_sets.get(r.job_id, []))
                if names != RESULT_NAMES:
                    state.problems.append(f"{key}: job {r.job_id} succeeded with result files {names}")
                elif r.job_id not in (
                    text := (await rt.result_store.get(f"{s.results_prefix}{r.job_id}/result.txt")).decode(
                        errors="replace"
                    )
                ):
                    state.problems.append(f"{key}: job {r.job_id}'s result is another job's: {text[:80]!r}")
                if sorted(r.results) != RESULT_NAMES or r.results["result.txt"] != (
                    f"{s.results_prefix}{r.job_id}/result.txt"
                ):
                    state.problems.append(f"{key}: job {r.job_id} record names results {r.results}")
                if n < 1:
                    state.problems.append(f"{key}: job {r.job_id} succeeded without a processor run")
    extra = sorted(set(by_input) - set(keys) - set(others))
    if extra:
        state.problems.append(f"job records for inputs that were never dropped: {extra[:5]}")

    for role in ROLES:
        bodies = await dlq_bodies(rt, role)
        if bodies:
            state.dlq += len(bodies)
            state.problems.append(f"{role} dead-letter queue holds {len(bodies)}: {[b[:200] for b in bodies[:3]]}")
    state.lost += state.dlq
    return state
