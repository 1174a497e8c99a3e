"""This machine and the settings: the settings load, the data folder is writable with room, the ports are free."""

from __future__ import annotations

import shutil
import tempfile

from ..config import QueueBackend, Settings, StoreBackend
from ..errors import StartupError
from ..startup import bind_test
from .report import Check, Status

#: Below this much free space in the data folder's file system, a warning.
LOW_DISK = 1024**3


def check_settings(settings: Settings) -> list[Check]:
    store = (
        f"local store in {settings.data_dir}"
        if settings.store is StoreBackend.local
        else f"S3 bucket {settings.bucket}"
    )
    return [Check("settings", Status.ok, f"{store}, {settings.queue.value} queue (`streamprocess config` lists all)")]


def check_data_dir(settings: Settings) -> list[Check]:
    if settings.store is not StoreBackend.local and settings.queue is not QueueBackend.embedded:
        return []
    folder = settings.data_dir.expanduser().resolve()
    fix = f"mkdir -p {folder} && chown $(id -un) {folder}, or set STREAMPROCESS_DATA_DIR to a folder you can write"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [Check("data folder", Status.fail, f"{existing} is not a folder", fix)]
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".doctor-"):
            pass
    except OSError as e:
        return [Check("data folder", Status.fail, f"cannot write in {existing}: {e.strerror or e}", fix)]
    free = shutil.disk_usage(existing).free
    state = "writable" if existing == folder else f"will be created (in writable {existing})"
    detail = f"{folder} {state}, {free / 1024**3:.1f} GiB free"
    if free < LOW_DISK:
        return [
            Check(
                "data folder",
                Status.warn,
                detail + ": little room for uploads and results",
                "free disk space, or set STREAMPROCESS_DATA_DIR to a larger disk",
            )
        ]
    return [Check("data folder", Status.ok, detail)]


def check_ports(settings: Settings) -> list[Check]:
    wanted = [("HTTP port", settings.port, "STREAMPROCESS_PORT", "", True)]
    if settings.grpc_port:
        wanted.append(("gRPC port", settings.grpc_port, "STREAMPROCESS_GRPC_PORT", " (0 turns gRPC off)", True))
    if settings.metrics_port:  # only `streamprocess worker` serves it
        wanted.append(("metrics port", settings.metrics_port, "STREAMPROCESS_METRICS_PORT", "", False))
    checks = []
    seen: dict[int, str] = {}
    for name, port, var, extra, required in wanted:
        if not 0 < port < 65536:
            checks.append(Check(name, Status.fail, f"{var}={port} is not a port (1-65535)", f"set {var}", required))
            continue
        if port in seen:
            checks.append(
                Check(
                    name,
                    Status.fail,
                    f"{var}={port} is also the {seen[port]}",
                    f"set {var} to another port{extra}",
                    required,
                )
            )
            continue
        seen[port] = name
        try:  # the same bind test `streamprocess up` makes before it starts
            bind_test(settings.host, port, name.removesuffix(" port"), f"set {var} to a free port{extra}")
        except StartupError as e:
            checks.append(Check(name, Status.fail if required else Status.warn, e.message, e.hint or "", required))
            continue
        checks.append(Check(name, Status.ok, f"{settings.host}:{port} is free", required=required))
    return checks
