"""The local object store: one bucket in a directory (the embedded default).

- Key ``inbox/a.wav`` is the file ``<root>/inbox/a.wav``, so the store doubles as a drop folder.
- Writes are atomic (temporary file in ``<root>/.streamprocess/tmp``, fsync, rename).
- Keys are validated: no absolute paths, no ``.``/``..``/empty segments, no NUL, nothing under the store's own
  ``.streamprocess`` folder, no segment over 255 bytes (a file-system limit), and the resolved path (symbolic
  links included) must stay inside the root.
- ETag, content type and user metadata live in a sidecar under ``.streamprocess/meta``.
- Like S3's bucket notifications, an object put under one of ``notify_prefixes`` is handed to the ``notify`` sink
  as an :class:`~.base.ObjectCreated`; files dropped into the folder by hand are announced by
  :class:`~.watcher.DropFolderWatcher`.
- :meth:`presign` signs URLs with :class:`~.signing.UrlSigner`; the HTTP API serves them and checks them with
  :meth:`verify_presigned`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import AsyncGenerator, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import InvalidKey, ObjectNotFound, WriteConflict
from .base import (
    DEFAULT_URL_TTL,
    ObjectCreated,
    ObjectCreatedSink,
    ObjectInfo,
    ObjectStore,
    PresignedRequest,
    UnreadableObject,
    unreadable,
    validate_key,
)
from .signing import DEFAULT_PUBLIC_BASE_URL, PresignError, UrlSigner

INTERNAL_DIR = ".streamprocess"
DEFAULT_BUCKET: str = Settings.model_fields["bucket"].default
_CHUNK = 1024 * 1024


class LocalObjectStore(ObjectStore):
    def __init__(
        self,
        root: Path | str,
        bucket: str = DEFAULT_BUCKET,
        *,
        notify: ObjectCreatedSink | None = None,
        notify_prefixes: Iterable[str] = (),
        presign_secret: bytes | None = None,
        public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
    ) -> None:
        self.root = Path(root).resolve()
        self.bucket = bucket
        self.notify = notify
        self.notify_prefixes = tuple(notify_prefixes)
        self.signer = UrlSigner(bucket, presign_secret, public_base_url)
        self._internal = self.root / INTERNAL_DIR
        self._tmp = self._internal / "tmp"
        self._meta = self._internal / "meta"
        self._locks = self._internal / "locks"
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

    def read_meta(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._meta_path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def write_meta(self, key: str, meta: dict[str, Any]) -> None:
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
            await self.announce(key, info.size, info.etag)
        return info

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
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
                current: str | None = self.current_meta(key, path)["etag"]
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
            self.write_meta(key, meta)
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

    def current_meta(self, key: str, path: Path) -> dict[str, Any]:
        """The sidecar if it still describes the file; else one computed now (a file dropped by hand)."""
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
        except OSError as e:  # a symbolic link loop, a folder this process may not enter
            raise unreadable(key, e) from None
        if stat.S_ISDIR(st.st_mode):
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r} (it is a prefix)")
        if not stat.S_ISREG(st.st_mode):  # opening a FIFO would block
            raise UnreadableObject(f"{key!r} cannot be read: it is not a regular file (a FIFO, socket or device)")
        meta = self.read_meta(key)
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
            raise unreadable(key, e) from None
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
        return self._info(key, await asyncio.to_thread(self.current_meta, key, path))

    async def read(self, key: str) -> tuple[bytes, ObjectInfo]:
        path = self.path_for(key)

        def read_consistent() -> tuple[bytes, ObjectInfo]:
            for _ in range(100):
                meta = self.current_meta(key, path)  # metadata first: a racing write makes the ETag stale,
                try:  # never newer than the bytes, so a conditional write based on it fails safely
                    data = path.read_bytes()
                    st = path.stat()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
                except OSError as e:
                    raise unreadable(key, e) from None
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
                raise unreadable(key, e) from None

        return await asyncio.to_thread(read)

    async def download(self, key: str, path: Path) -> ObjectInfo:
        src = self.path_for(key)
        info = await self.head(key)
        try:
            await asyncio.to_thread(shutil.copyfile, src, path)
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in bucket {self.bucket!r}") from None
        return info

    async def list(self, prefix: str = "") -> AsyncGenerator[ObjectInfo, None]:
        keys = await asyncio.to_thread(self.list_keys, prefix)
        for key in keys:
            try:
                yield await self.head(key)
            except ObjectNotFound:  # deleted meanwhile
                continue

    def list_keys(self, prefix: str) -> builtins.list[str]:
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

    # ------------------------------------------------------------------ notifications
    async def announce(self, key: str, size: int, etag: str) -> None:
        """Hand ``key`` to the sink. If the sink fails, the sidecar is forgotten, so the drop-folder watcher
        announces the object again rather than lose it."""
        assert self.notify is not None
        try:
            await self.notify(ObjectCreated(bucket=self.bucket, key=key, size=size, etag=etag))
        except BaseException:
            self._meta_path(key).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ signed URLs
    async def presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int = DEFAULT_URL_TTL,
        content_type: str | None = None,
        max_size: int | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
        create_only: bool = False,
    ) -> PresignedRequest:
        """Signs a URL the HTTP API serves. Its signed PUTs are always create-only: the API's PUT route writes with
        ``if_none_match``, so a URL uploads once (``create_only`` is implied; ``size`` is checked as a maximum)."""
        method = method.upper()
        if method not in ("GET", "PUT"):
            raise PresignError(f"the local store signs GET and PUT, not {method}")
        self.path_for(key)
        return self.signer.sign(
            method, key, expires_in=expires_in, content_type=content_type, max_size=max_size or size, metadata=metadata
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
        """Check a request against a URL from :meth:`presign`; raises :class:`~.signing.PresignError` saying why
        not. Returns the metadata the upload must be stored with."""
        return self.signer.verify(method, key, query, content_type=content_type, content_length=content_length)
