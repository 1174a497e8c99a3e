"""One contract for every object store: the local directory and S3 (a real moto server)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from streamprocess.errors import InvalidKey, ObjectNotFound, WriteConflict
from streamprocess.events import make_object_created_event
from streamprocess.storage import DropFolderWatcher, LocalObjectStore, ObjectCreated, ObjectStore
from streamprocess.storage.s3 import S3ObjectStore
from streamprocess.storage.signing import PresignError

WEIRD_KEYS = [
    "inbox/with space.wav",
    "inbox/plus+sign.wav",
    "inbox/percent%20literal%.wav",
    "inbox/ünïcödé/日本語の音声.mp3",
    "inbox/emoji-🎙️.flac",
    "inbox/(parens) [brackets] {braces} & ampersand = equals ; semi , comma ' quote.ogg",
    "inbox/" + "/".join(["d" * 90] * 10) + "/" + "k" * 84,  # 1,000 characters
]


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        s: ObjectStore = LocalObjectStore(tmp_path / "store", "local")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        s = S3ObjectStore(bucket, endpoint_url=request.getfixturevalue("moto_url"))
    yield s
    await s.close()


def test_thousand_character_key_is_in_the_list() -> None:
    assert len(WEIRD_KEYS[-1]) == 1000


@pytest.mark.parametrize("key", WEIRD_KEYS)
async def test_round_trip_weird_keys(store: ObjectStore, key: str) -> None:
    data = key.encode() * 3
    info = await store.put(key, data, content_type="audio/wav", metadata={"Language": "en"})
    assert info.size == len(data) and info.etag
    assert await store.get(key) == data
    head = await store.head(key)
    assert (head.size, head.etag, head.content_type) == (len(data), info.etag, "audio/wav")
    assert head.metadata == {"language": "en"}
    assert [o.key async for o in store.list("inbox/")] == [key]
    await store.delete(key)
    assert not await store.exists(key)
    assert [o async for o in store.list("inbox/")] == []


async def test_ranges_files_and_listing(store: ObjectStore, tmp_path: Path) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(blob)
    info = await store.put("inbox/big.bin", src)
    assert info.size == len(blob)
    assert await store.get("inbox/big.bin", byte_range=(0, 9)) == blob[:10]
    assert await store.get("inbox/big.bin", byte_range=(len(blob) - 5, len(blob) + 100)) == blob[-5:]
    out = tmp_path / "out.bin"
    await store.download("inbox/big.bin", out)
    assert out.read_bytes() == blob
    await store.put("inbox/a/1", b"1")
    await store.put("inbox/a/2", b"2")
    await store.put("inbox/ab", b"3")
    await store.put("results/x", b"4")
    assert [o.key async for o in store.list("inbox/a")] == ["inbox/a/1", "inbox/a/2", "inbox/ab"]
    assert [o.key async for o in store.list("inbox/a/")] == ["inbox/a/1", "inbox/a/2"]
    assert len([o async for o in store.list("")]) == 5
    await store.put("inbox/a/1", b"overwritten")
    assert await store.get("inbox/a/1") == b"overwritten"


async def test_empty_object_and_missing_object(store: ObjectStore) -> None:
    await store.put("inbox/empty", b"")
    assert await store.get("inbox/empty") == b""
    assert await store.get("inbox/empty", byte_range=(0, 8191)) == b""
    assert (await store.head("inbox/empty")).size == 0
    with pytest.raises(ObjectNotFound):
        await store.head("inbox/nope")
    with pytest.raises(ObjectNotFound):
        await store.get("inbox/nope")
    await store.delete("inbox/nope")  # no error, as S3


async def test_s3_presigned_get_and_put_work_over_http(moto_url: str, s3_bucket: str) -> None:
    # The local store's URLs are served by the HTTP API; its signing is checked in test_local_presign_checks.
    store = S3ObjectStore(s3_bucket, endpoint_url=moto_url)
    put = await store.presign("PUT", "inbox/up load.wav", expires_in=60, content_type="audio/wav")
    async with httpx.AsyncClient() as client:
        r = await client.put(put.url, content=b"RIFF....WAVE", headers=put.headers)
        assert r.status_code == 200, r.text
        get = await store.presign("GET", "inbox/up load.wav", expires_in=60)
        r = await client.get(get.url)
        assert r.status_code == 200 and r.content == b"RIFF....WAVE"
    assert "X-Amz-Expires=60" in get.url and "X-Amz-Signature=" in get.url
    post = await store.presign("POST", "inbox/form.wav", expires_in=60, content_type="audio/wav", max_size=10)
    assert post.method == "POST" and post.fields["Content-Type"] == "audio/wav" and "policy" in post.fields
    await store.close()


# ---------------------------------------------------------------------------------------------- local only
@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "inbox/../../escape",
        "/etc/passwd",
        "inbox//double",
        "inbox/./dot",
        "inbox/",
        "a\x00b",
        ".streamprocess/queue.db",
        "inbox/" + "x" * 256,
        "",
        "x" * 1025,
    ],
)
async def test_local_rejects_escaping_keys(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "store")
    with pytest.raises(InvalidKey):
        await store.put(key, b"x")
    with pytest.raises(InvalidKey):
        await store.get(key)
    assert not (tmp_path / "escape").exists()


async def test_local_refuses_symlinks_out_of_the_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s3cret")
    os.symlink(outside, tmp_path / "store" / "link")
    with pytest.raises(InvalidKey, match="outside"):
        await store.get("link/secret")
    with pytest.raises(InvalidKey, match="outside"):
        await store.put("link/new", b"x")
    assert not (outside / "new").exists()


async def test_local_writes_are_atomic_and_leave_no_temporaries(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    await store.put("results/j/out.json", b"{}")
    assert (tmp_path / "store" / "results" / "j" / "out.json").read_bytes() == b"{}"
    assert list((tmp_path / "store" / ".streamprocess" / "tmp").iterdir()) == []
    with pytest.raises(InvalidKey, match="prefix"):
        await store.put("results/j", b"a key that is also a folder")
    await store.delete("results/j/out.json")
    assert not (tmp_path / "store" / "results" / "j").exists()  # empty folders go, as S3 has none


async def test_local_presign_checks(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store", presign_secret=b"k" * 32, public_base_url="http://api:8000")
    p = await store.presign("PUT", "inbox/a b.wav", expires_in=60, content_type="audio/wav", max_size=100)
    url = urlsplit(p.url)
    assert url.path == "/local-store/inbox/a%20b.wav" and p.headers == {"Content-Type": "audio/wav"}
    q = dict(parse_qsl(url.query))
    store.verify_presigned("PUT", "inbox/a b.wav", q, content_type="audio/wav", content_length=100)
    cases = [
        (("GET", "inbox/a b.wav", q), {"content_type": "audio/wav", "content_length": 1}, "signed for PUT"),
        (("PUT", "inbox/other.wav", q), {"content_type": "audio/wav", "content_length": 1}, "signature"),
        (("PUT", "inbox/a b.wav", q), {"content_type": "image/png", "content_length": 1}, "Content-Type"),
        (("PUT", "inbox/a b.wav", q), {"content_type": "audio/wav", "content_length": 101}, "at most 100"),
        (
            ("PUT", "inbox/a b.wav", {**q, "max": "1000"}),
            {"content_type": "audio/wav", "content_length": 1},
            "signature",
        ),
    ]
    for args, kwargs, fragment in cases:
        with pytest.raises(PresignError, match=fragment):
            store.verify_presigned(*args, **kwargs)
    expired = await store.presign("GET", "inbox/a b.wav", expires_in=-1)
    with pytest.raises(PresignError, match="expired"):
        store.verify_presigned("GET", "inbox/a b.wav", dict(parse_qsl(urlsplit(expired.url).query)))
    other = LocalObjectStore(tmp_path / "store", presign_secret=b"x" * 32)
    with pytest.raises(PresignError, match="signature"):
        other.verify_presigned("PUT", "inbox/a b.wav", q, content_type="audio/wav", content_length=1)


async def test_local_announces_puts_and_files_dropped_by_hand(tmp_path: Path) -> None:
    events: list[dict] = []

    async def sink(created: ObjectCreated) -> None:  # as the runtime puts it on the events queue
        events.append(make_object_created_event(**asdict(created)))

    store = LocalObjectStore(tmp_path / "store", notify=sink, notify_prefixes=["inbox/"])
    watcher = DropFolderWatcher(store)
    await store.put("inbox/via-put.wav", b"RIFF")
    await store.put("results/not-announced.json", b"{}")
    assert [e["Records"][0]["s3"]["object"]["key"] for e in events] == ["inbox/via-put.wav"]

    # A file copied in by hand is announced once it stops changing; one being written is not.
    inbox = tmp_path / "store" / "inbox"
    (inbox / "sub").mkdir()
    (inbox / "sub" / "by hand+1.wav").write_bytes(b"RIFF-hand")
    (inbox / ".hidden").write_bytes(b"x")
    (inbox / "download.wav.part").write_bytes(b"x")
    pending: dict = {}
    assert await watcher.scan_once(pending, settle=0) == []  # first sight: wait for it to settle
    time.sleep(0.01)
    assert await watcher.scan_once(pending, settle=0) == ["inbox/sub/by hand+1.wav"]
    assert await watcher.scan_once(pending, settle=0) == []  # never twice
    assert events[-1]["Records"][0]["s3"]["object"]["key"] == "inbox/sub/by+hand%2B1.wav"
    assert (await store.head("inbox/sub/by hand+1.wav")).etag == events[-1]["Records"][0]["s3"]["object"]["eTag"]
    # Overwritten by hand: a new version, announced again.
    (inbox / "sub" / "by hand+1.wav").write_bytes(b"RIFF-hand-v2")
    await watcher.scan_once(pending, settle=0)
    assert await watcher.scan_once(pending, settle=0) == ["inbox/sub/by hand+1.wav"]
    assert len(events) == 3


async def test_conditional_writes(store: ObjectStore) -> None:
    first = await store.put("jobs/j.json", b"v1", if_none_match=True)
    with pytest.raises(WriteConflict):
        await store.put("jobs/j.json", b"v1-again", if_none_match=True)
    data, info = await store.read("jobs/j.json")
    assert (data, info.etag) == (b"v1", first.etag)
    second = await store.put("jobs/j.json", b"v2", if_match=info.etag)
    with pytest.raises(WriteConflict):
        await store.put("jobs/j.json", b"v3", if_match=info.etag)  # stale: v2 replaced it
    assert await store.get("jobs/j.json") == b"v2"
    with pytest.raises(WriteConflict):
        await store.put("jobs/absent.json", b"x", if_match=second.etag)
    assert not await store.exists("jobs/absent.json")


async def test_job_store_updates_are_atomic_under_contention(store: ObjectStore) -> None:
    """Twenty concurrent read-modify-write updates of one record: none is lost."""
    import asyncio

    from streamprocess.jobs import JobRecord, JobStore, SourceRef

    jobs = JobStore(store, "jobs/")

    def bump(rec: JobRecord | None) -> JobRecord:
        rec = rec or JobRecord(job_id="a" * 32, kind="stt", source=SourceRef(bucket="b", key="k"))
        rec.attempts += 1
        return rec

    await asyncio.gather(*(jobs.update("a" * 32, bump, retries=100) for _ in range(20)))
    record = await jobs.get("a" * 32)
    assert record is not None and record.attempts == 20
