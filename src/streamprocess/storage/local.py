"""The local object store: one bucket in a directory (the embedded default).

- Key ``inbox/a.wav`` is the file ``<root>/inbox/a.wav``, so the store doubles as a drop folder.
- Writes are atomic (temporary file in ``<root>/.streamprocess/tmp``, fsync, rename).
- Keys are validated: no absolute paths, no ``.``/``..``/empty segments, no NUL, nothing under the store's own
  ``.streamprocess`` folder, no segment over 255 bytes (a file-system limit), and the resolved path (symbolic
  links included) must stay inside the root.
- ETag, content type and user metadata live in a sidecar under ``.streamprocess/meta``.
- Like S3's bucket notifications, an object that lands under one of ``notify_prefixes`` produces an S3 event
  (through :meth:`put`, or dropped into the folder by hand and picked up by :meth:`watch`).
- :meth:`presign` signs URLs with HMAC-SHA256 (expiry, method, content type, maximum size); the HTTP API serves
  them and checks them with :meth:`verify_presigned`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import InvalidKey, ObjectNotFound, PermanentError, WriteConflict
from ..events import make_object_created_event
from .base import EventSink, ObjectInfo, ObjectStore, PresignedRequest, validate_key

log = logging.getLogger(__name__)

INTERNAL_DIR = ".streamprocess"
_CHUNK = 1024 * 1024
# Names a browser or copy tool uses while a file is still being written: never picked up by the watcher.
_PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", "~")


class PresignError(PermanentError):
    code = "presign_invalid"


class UnreadableObject(PermanentError):
    """The key names something that cannot be read as an object: a symbolic link loop, a FIFO or device, a file
    this process may not read."""

    code = "unreadable_input"


def _unreadable(key: str, e: OSError) -> UnreadableObject:
    if e.errno == errno.ELOOP:
        return UnreadableObject(f"{key!r} cannot be read: it is a symbolic link loop")
    if e.errno in (errno.EACCES, errno.EPERM):
        return UnreadableObject(f"{key!r} cannot be read: permission denied")
    return UnreadableObject(f"{key!r} cannot be read: {e.strerror or e}")


def _printable(text: str) -> str:
    """A file name fit for a log line: bytes that are not UTF-8 shown as ``\\xff``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


#: What identifies one version of a drop-folder item without reading it: (inode, size, mtime, ctime) of the
#: entry itself (``lstat``: a link, not its target). ctime changes on chmod, so a file made readable is tried again.
Signature = tuple[int, int, int, int]


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class _Scan:
    found: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (size, mtime) of a regular file
    signatures: dict[str, Signature] = field(default_factory=dict)  # key -> signature, for every keyed item
    refused: dict[str, PermanentError] = field(default_factory=dict)  # keyed items that can never be taken
    unkeyed: dict[str, str] = field(default_factory=dict)  # relative path -> why it cannot be a key


class LocalObjectStore(ObjectStore):
    def __init__(
        self,
        root: Path | str,
        bucket: str = "local",
        *,
        notify: EventSink | None = None,
        notify_prefixes: Iterable[str] = (),
        presign_secret: bytes | None = None,
        public_base_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.root = Path(root).resolve()
        self.bucket = bucket
        self.notify = notify
        self.notify_prefixes = tuple(notify_prefixes)
        self._secret = presign_secret or secrets.token_bytes(32)
        self.public_base_url = public_base_url.rstrip("/")
        self._internal = self.root / INTERNAL_DIR
        self._tmp = self._internal / "tmp"
        self._meta = self._internal / "meta"
        self._locks = self._internal / "locks"
        self._seen: dict[str, tuple[int, int]] = {}  # drop-folder files already announced, by (size, mtime)
        # Drop-folder items that cannot be taken, so each has one outcome rather than one per scan; entries are
        # forgotten when the item goes (or changes), so these stay as small as the folder's bad items.
        self._rejected: dict[str, Signature] = {}  # announced once for a failed job record
        self._warned: dict[str, Signature] = {}  # warned about once (no key can be formed, or a read failed)
        for d in (self.root, self._tmp, self._meta, self._locks):
            d.mkdir(parents=True, exist_ok=True)
        for prefix in self.notify_prefixes:  # the drop folder exists before anything is dropped
            if "/" in prefix:
                (self.root / prefix.rsplit("/", 1)[0]).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ keys and paths
    def path_for(self, key: str) -> Path:
        """The file for ``key``; raises :class:`InvalidKey` for anything that could escape the root."""
        validate_key(key)
        if key.startswith("/") or key.startswith("\\"):
            raise InvalidKey(f"object key {key!r} must not be an absolute path")
        parts = key.split("/")
        for part in parts:
            if part in ("", ".", ".."):
                raise InvalidKey(f"object key {key!r} has an empty, '.' or '..' segment")
            if len(part.encode()) > 255:
                raise InvalidKey(f"object key {key!r} has a segment over 255 bytes (a file-system limit)")
        if parts[0] == INTERNAL_DIR:
            raise InvalidKey(f"object key {key!r} is in the store's reserved {INTERNAL_DIR}/ folder")
        path = self.root.joinpath(*parts)
        # Refuse symbolic links that lead outside the root (checked on the deepest existing ancestor).
        probe = path
        while not probe.exists() and probe != self.root:
            probe = probe.parent
        real = Path(os.path.realpath(probe))
        if real != self.root and self.root not in real.parents:
            raise InvalidKey(f"object key {key!r} resolves outside the store")
        return path

    def key_for(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _meta_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self._meta / digest[:2] / f"{digest}.json"

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._meta_path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write_meta(self, key: str, meta: dict[str, Any]) -> None:
        path = self._meta_path(key)
        path.parent.mkdir(exist_ok=True)
        tmp = self._tmp / f"meta-{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, path)

    def _notifies(self, key: str) -> bool:
        return self.notify is not None and any(key.startswith(p) for p in self.notify_prefixes)

    # ------------------------------------------------------------------ interface
    async def put(
        self,
        key: str,
        data: bytes | Path,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        path = self.path_for(key)
        if if_match is not None or if_none_match:
            info = await asyncio.to_thread(
                self._put_conditional, key, path, data, content_type, metadata or {}, if_match, if_none_match
            )
        else:
            info = await asyncio.to_thread(self._put_sync, key, path, data, content_type, metadata or {})
        if self._notifies(key):
            try:
                await self._emit(info)
            except BaseException:
                # Forget the object so the watcher announces it again rather than lose the event.
                self._meta_path(key).unlink(missing_ok=True)
                raise
        return info

    @contextlib.contextmanager
    def _key_lock(self, key: str):  # type: ignore[no-untyped-def]
        """An exclusive lock shared by every process using this store (256 stripes, by key hash)."""
        stripe = hashlib.sha256(key.encode()).hexdigest()[:2]
        with open(self._locks / stripe, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _put_conditional(
        self,
        key: str,
        path: Path,
        data: bytes | Path,
        content_type: str | None,
        metadata: dict[str, str],
        if_match: str | None,
        if_none_match: bool,
    ) -> ObjectInfo:
        with self._key_lock(key):
            try:
                current: str | None = self._current_meta(key, path)["etag"]
            except ObjectNotFound:
                current = None
            if if_none_match and current is not None:
                raise WriteConflict(f"{key!r} already exists")
            if if_match is not None and current != if_match.strip('"'):
                raise WriteConflict(f"{key!r} changed: ETag {current}, expected {if_match}")
            return self._put_sync(key, path, data, content_type, metadata)

    def _put_sync(
        self, key: str, path: Path, data: bytes | Path, content_type: str | None, metadata: dict[str, str]
    ) -> ObjectInfo:
        if path.is_dir():
            raise InvalidKey(f"object key {key!r} names an existing prefix (folder)")
        tmp = self._tmp / f"obj-{uuid.uuid4().hex}"
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with open(tmp, "wb") as out:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    out.write(data)
                    md5.update(data)
                else:
                    with open(data, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                            md5.update(chunk)
                out.flush()
                os.fsync(out.fileno())
            st = tmp.stat()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise InvalidKey(f"object key {key!r} lies under an existing object, not a prefix") from None
            meta = {
                "key": key,
                "etag": md5.hexdigest(),
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "content_type": content_type,
                "metadata": {k.lower(): v for k, v in metadata.items()},
                "announced": self._notifies(key),
            }
            self._write_meta(key, meta)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return self._info(key, meta)

    def _info(self, key: str, meta: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=meta["size"],
            etag=meta["etag"],
            last_modified=datetime.fromtimestamp(meta["mtime_ns"] / 1e9, UTC),
            content_type=meta.get("content_type"),
            metadata=meta.get("metadata") or {},
        )

    def _current_meta(self, key: str, path: Path) -> dict[str, Any]:
        """The sidecar if it still describes the file; else one computed now (a file dropped by hand)."""
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
        except OSError as e:  # a symbolic link loop, a folder this process may not enter
            raise _unreadable(key, e) from None
        if stat.S_ISDIR(st.st_mode):
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r} (it is a prefix)")
        if not stat.S_ISREG(st.st_mode):  # opening a FIFO would block
            raise UnreadableObject(f"{key!r} cannot be read: it is not a regular file (a FIFO, socket or device)")
        meta = self._read_meta(key)
        if meta and meta.get("size") == st.st_size and meta.get("mtime_ns") == st.st_mtime_ns:
            return meta
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    md5.update(chunk)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
        except OSError as e:
            raise _unreadable(key, e) from None
        return {
            "key": key,
            "etag": md5.hexdigest(),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "content_type": None,
            "metadata": {},
            "announced": False,
        }

    async def head(self, key: str) -> ObjectInfo:
        path = self.path_for(key)
        return self._info(key, await asyncio.to_thread(self._current_meta, key, path))

    async def read(self, key: str) -> tuple[bytes, ObjectInfo]:
        path = self.path_for(key)

        def read_consistent() -> tuple[bytes, ObjectInfo]:
            for _ in range(100):
                meta = self._current_meta(key, path)  # metadata first: a racing write makes the ETag stale,
                try:  # never newer than the bytes, so a conditional write based on it fails safely
                    data = path.read_bytes()
                    st = path.stat()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
                except OSError as e:
                    raise _unreadable(key, e) from None
                if (st.st_size, st.st_mtime_ns) == (meta["size"], meta["mtime_ns"]):
                    return data, self._info(key, meta)
            raise WriteConflict(f"{key!r} keeps changing while being read")

        return await asyncio.to_thread(read_consistent)

    async def get(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        path = self.path_for(key)

        def read() -> bytes:
            try:
                with open(path, "rb") as f:
                    if byte_range is None:
                        return f.read()
                    first, last = byte_range
                    f.seek(first)
                    return f.read(max(0, last - first + 1))
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
            except OSError as e:
                raise _unreadable(key, e) from None

        return await asyncio.to_thread(read)

    async def download(self, key: str, path: Path) -> ObjectInfo:
        src = self.path_for(key)
        info = await self.head(key)
        try:
            await asyncio.to_thread(shutil.copyfile, src, path)
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
        return info

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        keys = await asyncio.to_thread(self._list_keys, prefix)
        for key in keys:
            try:
                yield await self.head(key)
            except ObjectNotFound:  # deleted meanwhile
                continue

    def _list_keys(self, prefix: str) -> list[str]:
        # Walk only the deepest folder the prefix names, then filter on the full prefix.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        if not start.is_dir() or (base and self.root not in start.resolve().parents):
            return []
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != INTERNAL_DIR]
            for name in filenames:
                key = self.key_for(Path(dirpath) / name)
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)

        def remove() -> None:
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                pass
            except IsADirectoryError:
                return
            self._meta_path(key).unlink(missing_ok=True)
            parent = path.parent  # drop folders left empty, as S3 has no folders
            while parent != self.root:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

        await asyncio.to_thread(remove)

    # ------------------------------------------------------------------ events
    async def _emit(self, info: ObjectInfo) -> None:
        assert self.notify is not None
        await self.notify(make_object_created_event(bucket=self.bucket, key=info.key, size=info.size, etag=info.etag))

    async def scan_once(self, pending: dict[str, tuple[int, int]], settle: float) -> list[str]:
        """One pass over the notify prefixes: announce files dropped by hand once they stop changing.

        ``pending`` carries (size, mtime) of files seen unsettled in the previous pass. Returns the keys announced.

        One bad item never stops the pass. An item that has a key but can never be read as an object (a symbolic
        link loop, a link out of the store, a FIFO, a file this process may not read) is announced once, so the
        event router gives it a failed job record saying why; one that cannot even be a key (a name that is not
        UTF-8, a key over 1,024 bytes) gets one warning. Either happens once per version of the item, not per pass.
        """
        scan = await asyncio.to_thread(self._scan_candidates)
        for key, why in scan.unkeyed.items():
            self._warn_once(key, scan.signatures[key], "drop folder: cannot take %s: %s", _printable(key), why)
        for key, error in scan.refused.items():
            await self._refuse(key, scan.signatures[key], error)
        announced = []
        now = time.time_ns()
        for key, (size, mtime_ns) in scan.found.items():
            signature = scan.signatures[key]
            if self._rejected.get(key) == signature:  # refused before, unchanged
                continue
            if self._seen.get(key) == (size, mtime_ns):  # announced before, unchanged: no sidecar read
                continue
            meta = self._read_meta(key)
            if meta and meta.get("announced") and (meta.get("size"), meta.get("mtime_ns")) == (size, mtime_ns):
                pending.pop(key, None)
                self._seen[key] = (size, mtime_ns)
                continue
            stable = pending.get(key) == (size, mtime_ns) and (now - mtime_ns) / 1e9 >= settle
            if not stable:
                pending[key] = (size, mtime_ns)
                continue
            pending.pop(key, None)
            try:
                meta = await asyncio.to_thread(self._current_meta, key, self.path_for(key))
            except ObjectNotFound:
                continue  # gone (or replaced by a folder) meanwhile
            except PermanentError as e:  # unreadable, or became a link out of the store meanwhile
                await self._refuse(key, signature, e)
                continue
            except Exception as e:  # perhaps passing (an I/O error): tried again next pass, reported once
                self._warn_once(key, signature, "drop folder: cannot read %r (trying again): %s", key, e)
                continue
            if (meta["size"], meta["mtime_ns"]) != (size, mtime_ns):
                continue  # changed while hashing; next pass
            meta["announced"] = True
            self._write_meta(key, meta)
            try:
                await self._emit(self._info(key, meta))
            except BaseException:
                self._meta_path(key).unlink(missing_ok=True)
                raise
            self._seen[key] = (size, mtime_ns)
            self._warned.pop(key, None)
            announced.append(key)
        # Forget what is gone, so these stay as small as the folder.
        for gone in set(pending) - set(scan.found):
            pending.pop(gone, None)
        for gone in set(self._seen) - set(scan.found):
            self._seen.pop(gone, None)
        for gone in set(self._rejected) - set(scan.signatures):
            self._rejected.pop(gone, None)
        for gone in set(self._warned) - set(scan.signatures):
            self._warned.pop(gone, None)
        return announced

    def _warn_once(self, key: str, signature: Signature, msg: str, *args: object) -> None:
        if self._warned.get(key) != signature:
            log.warning(msg, *args)
            self._warned[key] = signature

    async def _refuse(self, key: str, signature: Signature, error: PermanentError) -> None:
        """Announce an item that can never be taken, once per version, so the router writes its failed record.

        The sidecar remembers it across restarts. The event's ETag stands for this version of the entry (its
        content cannot be read), so a duplicate event maps to the same job and the same single record.
        """
        if self._rejected.get(key) == signature:
            return
        meta = self._read_meta(key)
        if not (meta and meta.get("refused") == list(signature)):
            log.info("drop folder: %r cannot be taken (%s); announcing it for a failed job record", key, error)
            etag = hashlib.md5(f"refused:{signature}".encode(), usedforsecurity=False).hexdigest()
            self._write_meta(key, {"key": key, "refused": list(signature), "etag": etag})
            assert self.notify is not None
            try:
                await self.notify(make_object_created_event(bucket=self.bucket, key=key, size=0, etag=etag))
            except BaseException:
                self._meta_path(key).unlink(missing_ok=True)
                raise
        self._rejected[key] = signature

    def _scan_candidates(self) -> _Scan:
        scan = _Scan()
        for prefix in self.notify_prefixes:
            for key in self._list_keys(prefix):
                name = key.rsplit("/", 1)[-1]
                if name.startswith(".") or name.endswith(_PARTIAL_SUFFIXES):
                    continue
                path = self.root / key
                try:
                    entry = os.lstat(path)
                except OSError:  # gone meanwhile
                    continue
                scan.signatures[key] = _signature(entry)
                try:
                    validate_key(key)
                except InvalidKey as e:  # not UTF-8, or over 1,024 bytes: no key, so no job record either
                    scan.unkeyed[key] = e.message
                    continue
                try:
                    if stat.S_ISLNK(entry.st_mode):  # folders are not followed, so only the entry can lead out
                        self.path_for(key)
                    st = os.stat(path)
                except InvalidKey as e:
                    scan.refused[key] = e
                    continue
                except (FileNotFoundError, NotADirectoryError):  # a dangling link (or gone): nothing to take yet
                    scan.signatures.pop(key, None)
                    continue
                except OSError as e:  # a symbolic link loop
                    scan.refused[key] = _unreadable(key, e)
                    continue
                if stat.S_ISDIR(st.st_mode):
                    scan.signatures.pop(key, None)
                    continue
                if not stat.S_ISREG(st.st_mode):
                    scan.refused[key] = UnreadableObject(
                        f"{key!r} cannot be read: it is not a regular file (a FIFO, socket or device)"
                    )
                    continue
                scan.found[key] = (st.st_size, st.st_mtime_ns)
        return scan

    async def watch(self, interval: float = 0.5, settle: float = 0.5) -> None:
        """Announce files dropped under the notify prefixes until cancelled.

        A pass that fails as a whole (the events queue is down) is retried; the same failure again and again is
        logged with its traceback once, then at most once a minute."""
        pending: dict[str, tuple[int, int]] = {}
        failing: str | None = None
        reported = 0.0
        while True:
            try:
                announced = await self.scan_once(pending, settle)
                for key in announced:
                    log.info("drop folder: picked up %s", key)
                if failing is not None and announced:  # a pass with nothing to announce proves nothing
                    log.info("drop folder scan works again")
                    failing = None
            except Exception as e:
                what, now = f"{type(e).__name__}: {e}", time.monotonic()
                if what != failing:
                    log.exception("drop folder scan failed; retrying")
                    failing, reported = what, now
                elif now - reported >= 60:
                    log.warning("drop folder scan still failing (%s); retrying", what)
                    reported = now
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ signed URLs
    def _signature(
        self, method: str, key: str, expires: int, content_type: str, max_size: int, metadata: dict[str, str]
    ) -> str:
        meta = "&".join(f"{k}={v}" for k, v in sorted(metadata.items()))
        msg = "\n".join([method, self.bucket, key, str(expires), content_type, str(max_size), meta])
        return hmac.new(self._secret, msg.encode(), hashlib.sha256).hexdigest()

    async def presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int = 900,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
        create_only: bool = False,
    ) -> PresignedRequest:
        """Signs a URL the HTTP API serves. Its signed PUTs are always create-only: the API's PUT route writes with
        ``if_none_match``, so a URL uploads once (``create_only`` is implied; ``size`` is checked as a maximum)."""
        method = method.upper()
        max_size = max_size or size
        if method not in ("GET", "PUT"):
            raise PresignError(f"the local store signs GET and PUT, not {method}")
        self.path_for(key)
        expires = int(time.time()) + int(expires_in)
        ct, size, meta = content_type or "", max_size or 0, {k.lower(): v for k, v in (metadata or {}).items()}
        query: dict[str, object] = {
            "method": method,
            "expires": expires,
            "ct": ct,
            "max": size,
            **{f"meta.{k}": v for k, v in meta.items()},
            "sig": self._signature(method, key, expires, ct, size, meta),
        }
        url = f"{self.public_base_url}/local-store/{quote(key, safe='/')}?{urlencode(query)}"
        headers = {"Content-Type": content_type} if (content_type and method == "PUT") else {}
        return PresignedRequest(
            url=url, method=method, expires_at=datetime.fromtimestamp(expires, UTC), headers=headers
        )

    def verify_presigned(
        self,
        method: str,
        key: str,
        query: dict[str, str],
        *,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> dict[str, str]:
        """Check a request against a URL from :meth:`presign`; raises :class:`PresignError` saying why not.
        Returns the metadata the upload must be stored with."""
        try:
            expires, size = int(query["expires"]), int(query.get("max", 0))
            ct, sig, signed_method = query.get("ct", ""), query["sig"], query["method"]
        except (KeyError, ValueError):
            raise PresignError("the URL is not a signed URL of this store") from None
        meta = {k.removeprefix("meta."): v for k, v in query.items() if k.startswith("meta.")}
        expected = self._signature(signed_method, key, expires, ct, size, meta)
        if not hmac.compare_digest(expected, sig):
            raise PresignError("the URL's signature does not match")
        if signed_method != method.upper():
            raise PresignError(f"the URL was signed for {signed_method}, not {method.upper()}")
        if time.time() > expires:
            raise PresignError("the URL has expired")
        if ct and (content_type or "").split(";")[0].strip().lower() != ct.lower():
            raise PresignError(f"the URL only accepts Content-Type {ct}")
        if size and (content_length is None or content_length > size):
            raise PresignError(f"the URL accepts at most {size} bytes", code="too_large")
        return meta
