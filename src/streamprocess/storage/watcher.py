"""The drop folder: files copied by hand under the local store's notify prefixes are announced, as S3's bucket
notifications announce uploads, once they stop changing.

One bad item never stops a pass. An item that has a key but can never be read as an object (a symbolic link loop,
a link out of the store, a FIFO, a file this process may not read) is announced once, so the event router gives it
a failed job record saying why; one that cannot even be a key (a name that is not UTF-8, a key over 1,024 bytes)
gets one warning. Either happens once per version of the item, not per pass; the store's sidecars remember what
was announced across restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass, field

from ..config import Settings
from ..errors import InvalidKey, ObjectNotFound, PermanentError
from .base import UnreadableObject, unreadable, validate_key
from .local import LocalObjectStore

log = logging.getLogger(__name__)

# Names a browser or copy tool uses while a file is still being written: never picked up.
_PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", "~")
_DEFAULT_INTERVAL: float = Settings.model_fields["watch_interval"].default
_DEFAULT_SETTLE: float = Settings.model_fields["watch_settle"].default

#: What identifies one version of a drop-folder item without reading it: (inode, size, mtime, ctime) of the
#: entry itself (``lstat``: a link, not its target). ctime changes on chmod, so a file made readable is tried again.
Signature = tuple[int, int, int, int]


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _printable(text: str) -> str:
    """A file name fit for a log line: bytes that are not UTF-8 shown as ``\\xff``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


@dataclass
class _Scan:
    found: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (size, mtime) of a regular file
    signatures: dict[str, Signature] = field(default_factory=dict)  # key -> signature, for every keyed item
    refused: dict[str, PermanentError] = field(default_factory=dict)  # keyed items that can never be taken
    unkeyed: dict[str, str] = field(default_factory=dict)  # relative path -> why it cannot be a key


class DropFolderWatcher:
    """Scans ``store``'s notify prefixes and announces what lands there to the store's sink."""

    def __init__(self, store: LocalObjectStore) -> None:
        self.store = store
        self._seen: dict[str, tuple[int, int]] = {}  # files already announced, by (size, mtime)
        # Items that cannot be taken, so each has one outcome rather than one per scan; entries are forgotten when
        # the item goes (or changes), so these stay as small as the folder's bad items.
        self._rejected: dict[str, Signature] = {}  # announced once for a failed job record
        self._warned: dict[str, Signature] = {}  # warned about once (no key can be formed, or a read failed)

    async def scan_once(self, pending: dict[str, tuple[int, int]], settle: float) -> list[str]:
        """One pass: announce files dropped by hand once they stop changing.

        ``pending`` carries (size, mtime) of files seen unsettled in the previous pass. Returns the keys announced.
        """
        store = self.store
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
            meta = store.read_meta(key)
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
                meta = await asyncio.to_thread(store.current_meta, key, store.path_for(key))
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
            store.write_meta(key, meta)
            await store.announce(key, meta["size"], meta["etag"])
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

        The sidecar remembers it across restarts. The announced ETag stands for this version of the entry (its
        content cannot be read), so a duplicate event maps to the same job and the same single record.
        """
        if self._rejected.get(key) == signature:
            return
        meta = self.store.read_meta(key)
        if not (meta and meta.get("refused") == list(signature)):
            log.info("drop folder: %r cannot be taken (%s); announcing it for a failed job record", key, error)
            etag = hashlib.md5(f"refused:{signature}".encode(), usedforsecurity=False).hexdigest()
            self.store.write_meta(key, {"key": key, "refused": list(signature), "etag": etag})
            await self.store.announce(key, 0, etag)
        self._rejected[key] = signature

    def _scan_candidates(self) -> _Scan:
        store, scan = self.store, _Scan()
        for prefix in store.notify_prefixes:
            for key in store.list_keys(prefix):
                name = key.rsplit("/", 1)[-1]
                if name.startswith(".") or name.endswith(_PARTIAL_SUFFIXES):
                    continue
                path = store.root / key
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
                        store.path_for(key)
                    st = os.stat(path)
                except InvalidKey as e:
                    scan.refused[key] = e
                    continue
                except (FileNotFoundError, NotADirectoryError):  # a dangling link (or gone): nothing to take yet
                    scan.signatures.pop(key, None)
                    continue
                except OSError as e:  # a symbolic link loop
                    scan.refused[key] = unreadable(key, e)
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

    async def watch(self, interval: float = _DEFAULT_INTERVAL, settle: float = _DEFAULT_SETTLE) -> None:
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
