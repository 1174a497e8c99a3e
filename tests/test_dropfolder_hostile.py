"""The drop folder against hostile items: symbolic link loops, links out of the store, names that are not UTF-8,
keys over 1,024 bytes. None of them may stall the watcher, and each gets exactly one outcome: a failed job record
where a key can be formed, otherwise one warning (not one per scan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from streamprocess.errors import PermanentError
from streamprocess.events import make_object_created_event, parse_records
from streamprocess.jobs import JobState
from streamprocess.storage import DropFolderWatcher, LocalObjectStore, ObjectCreated

from .helpers import Pipeline
from .processors import scripted_input

LOGGER = "streamprocess.storage.watcher"
BAD_NAME = b"bad-\xff\xfe-name.wav"  # not valid UTF-8
LONG_DIRS = ["d" * 250] * 5  # each segment under 255 bytes; the key is over 1,024 bytes


def make_hostile_inbox(root: Path, outside: Path) -> dict[str, Any]:
    """Bad items next to each other in ``<root>/inbox``; returns what the test needs to find them again."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    os.symlink("loop.wav", inbox / "loop.wav")  # a link to itself
    os.symlink("ping.wav", inbox / "pong.wav")  # two links to each other
    os.symlink("pong.wav", inbox / "ping.wav")
    os.symlink("/etc/passwd", inbox / "passwd.wav")  # out of the store
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.wav").write_bytes(b"RIFF-outside")
    os.symlink(outside / "secret.wav", inbox / "outside.wav")
    os.mkfifo(inbox / "pipe.wav")  # opening it would block
    bad_name = os.fsencode(inbox) + b"/" + BAD_NAME
    fd = os.open(bad_name, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"RIFF-bad-name")
    os.close(fd)
    long_dir = inbox.joinpath(*LONG_DIRS)
    long_dir.mkdir(parents=True)
    (long_dir / "long.wav").write_bytes(b"RIFF-long")
    long_key = "inbox/" + "/".join(LONG_DIRS) + "/long.wav"
    assert len(long_key.encode()) > 1024
    return {
        "keyed": {
            "inbox/loop.wav": "unreadable_input",
            "inbox/ping.wav": "unreadable_input",
            "inbox/pong.wav": "unreadable_input",
            "inbox/passwd.wav": "invalid_key",
            "inbox/outside.wav": "invalid_key",
            "inbox/pipe.wav": "unreadable_input",
        },
        "bad_name": bad_name,
        "long_dir": long_dir,
    }


def warnings_about(records: list[logging.LogRecord], fragment: str) -> list[logging.LogRecord]:
    return [r for r in records if r.levelno >= logging.WARNING and fragment in r.getMessage()]


async def test_hostile_items_do_not_stall_the_watcher_and_warn_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    events: list[str] = []

    async def sink(created: ObjectCreated) -> None:  # as the runtime puts it on the events queue
        event = make_object_created_event(**asdict(created))
        events.append(event["Records"][0]["s3"]["object"]["key"])

    drop = DropFolderWatcher(LocalObjectStore(tmp_path / "store", notify=sink, notify_prefixes=["inbox/"]))
    hostile = make_hostile_inbox(tmp_path / "store", tmp_path / "outside")
    scans = 0
    scan_once = drop.scan_once

    async def counting(pending: dict, settle: float) -> list[str]:  # type: ignore[type-arg]
        nonlocal scans
        scans += 1
        return await scan_once(pending, settle)

    drop.scan_once = counting  # type: ignore[method-assign]
    watcher = asyncio.create_task(drop.watch(interval=0.05, settle=0.05))
    try:
        await asyncio.sleep(0.2)
        (tmp_path / "store" / "inbox" / "good.wav").write_bytes(b"RIFF-good")  # dropped next to the bad ones
        dropped = time.monotonic()
        while "inbox/good.wav" not in events:
            assert time.monotonic() - dropped < 5, (
                f"good.wav not picked up; {scans} scans, events {events}\n{caplog.text[-3000:]}"
            )
            await asyncio.sleep(0.02)
        start = scans
        while scans < start + 10:
            await asyncio.sleep(0.02)
        assert not watcher.done()
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher

    # Keyed bad items: one bucket event each (the router turns it into a failed job record); the good file once.
    assert sorted(events) == sorted([*hostile["keyed"], "inbox/good.wav"])
    # Unkeyed bad items: one warning each, naming the item.
    assert len(warnings_about(caplog.records, "bad-\\xff\\xfe-name.wav")) == 1, caplog.text
    assert len(warnings_about(caplog.records, "long.wav")) == 1, caplog.text
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 2, caplog.text
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged:\n" + caplog.text

    # Memory stays bounded: items that are gone are forgotten (and warned about again if they come back).
    assert set(drop._rejected) == set(hostile["keyed"]) and len(drop._warned) == 2
    os.unlink(hostile["bad_name"])
    os.unlink(hostile["long_dir"] / "long.wav")
    for key in hostile["keyed"]:
        os.unlink(tmp_path / "store" / key)
    await drop.scan_once({}, 0)
    assert not drop._rejected and not drop._warned
    caplog.clear()
    fd = os.open(hostile["bad_name"], os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    for _ in range(3):
        await drop.scan_once({}, 0)
    assert len(warnings_about(caplog.records, "bad-\\xff\\xfe-name.wav")) == 1, caplog.text


async def test_each_scan_skips_hostile_items_without_raising(tmp_path: Path) -> None:
    events: list[str] = []

    async def sink(created: ObjectCreated) -> None:  # as the runtime puts it on the events queue
        event = make_object_created_event(**asdict(created))
        events.append(event["Records"][0]["s3"]["object"]["key"])

    drop = DropFolderWatcher(LocalObjectStore(tmp_path / "store", notify=sink, notify_prefixes=["inbox/"]))
    hostile = make_hostile_inbox(tmp_path / "store", tmp_path / "outside")
    (tmp_path / "store" / "inbox" / "good.wav").write_bytes(b"RIFF-good")
    pending: dict[str, tuple[int, int]] = {}
    announced = []
    for _ in range(10):
        announced += await drop.scan_once(pending, settle=0)
        time.sleep(0.005)
    assert announced == ["inbox/good.wav"]
    assert sorted(events) == sorted([*hostile["keyed"], "inbox/good.wav"])

    # After a restart nothing is announced again: the sidecars remember the good file and the refused items.
    events.clear()
    again = DropFolderWatcher(LocalObjectStore(tmp_path / "store", notify=sink, notify_prefixes=["inbox/"]))
    for _ in range(3):
        assert await again.scan_once({}, settle=0) == []
    assert events == []


async def test_the_store_refuses_loops_with_a_permanent_error(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    (tmp_path / "store" / "inbox").mkdir()
    os.symlink("loop.wav", tmp_path / "store" / "inbox" / "loop.wav")
    for call in (
        store.head("inbox/loop.wav"),
        store.get("inbox/loop.wav", byte_range=(0, 10)),
        store.read("inbox/loop.wav"),
    ):
        with pytest.raises(PermanentError) as caught:
            await call
        assert caught.value.code == "unreadable_input" and "loop" in caught.value.message


async def test_router_turns_an_unreadable_object_into_one_failed_record(tmp_path: Path) -> None:
    p = Pipeline(tmp_path)
    rt = await p.runtime()
    try:
        inbox = Path(p.settings.data_dir) / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        os.symlink("loop.wav", inbox / "loop.wav")
        os.symlink("/etc/passwd", inbox / "passwd.wav")
        router = rt.router()
        for key, code in (("inbox/loop.wav", "unreadable_input"), ("inbox/passwd.wav", "invalid_key")):
            event = make_object_created_event(bucket=rt.store.bucket, key=key, size=0, etag="abc")
            for _ in range(2):  # a duplicate event: still one record
                [record] = parse_records(event)
                routed = await router.route(record)
                assert routed.outcome == "failed" and code in (routed.reason or "")
            [job] = [r for r in await rt.jobs.list() if r.source.key == key]
            assert job.state is JobState.failed and job.error is not None
            assert (job.error.code, job.error.permanent) == (code, True)
    finally:
        await rt.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(
        tmp_path,
        visibility_timeout=2,
        max_attempts=3,
        retry_base_delay=0.2,
        retry_max_delay=1,
        watch_interval=0.1,
        watch_settle=0.1,
    )
    yield p
    p.stop()


async def test_pipeline_gives_each_keyed_bad_item_one_failed_record(embedded: Pipeline) -> None:
    rt = await embedded.runtime()
    data = Path(embedded.settings.data_dir)
    hostile = make_hostile_inbox(data, embedded.tmp / "outside")
    assert isinstance(rt.store, LocalObjectStore)
    watcher = asyncio.create_task(DropFolderWatcher(rt.store).watch(0.1, 0.1))
    try:
        embedded.start_worker()
        (data / "inbox" / "good.wav").write_bytes(scripted_input())
        good = await embedded.wait_state("good.wav", JobState.succeeded, timeout=20)
        assert embedded.result_files(good.job_id) == ["result.txt"]
        for key, code in hostile["keyed"].items():
            failed = await embedded.wait_state(key.rsplit("/", 1)[-1], JobState.failed, timeout=10)
            assert failed.error is not None and (failed.error.code, failed.error.permanent) == (code, True)
            assert failed.error.message
        await asyncio.sleep(1)  # more scans: nothing more happens
        records = await embedded.records()
        assert sorted(r.source.key for r in records) == sorted([*hostile["keyed"], "inbox/good.wav"])
        assert "Traceback" not in embedded.log_text()
        assert not watcher.done()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await rt.close()
