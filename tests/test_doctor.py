"""`streamprocess doctor`: what a machine has and lacks, how to fix it, and exit 1 when something required is
missing. A missing Tesseract language is simulated with TESSDATA_PREFIX pointing at a folder holding only
eng + osd: nothing on the machine is uninstalled."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.local_services import free_port
from streamprocess.backends import NET_TIMEOUT
from streamprocess.cli import app
from streamprocess.config import Settings
from streamprocess.doctor import Status
from streamprocess.doctor.ocr import check_tesseract, probe_tesseract

from .helpers import cli, cli_env

TESSERACT = probe_tesseract()


def _tessdata() -> Path:
    if TESSERACT.exe is None or not {"eng", "osd", "kor"} <= TESSERACT.languages or not TESSERACT.tessdata:
        pytest.skip("needs tesseract with eng, osd and kor (scripts/setup.sh installs them)")
    return Path(TESSERACT.tessdata)


def _env(tmp_path: Path, **settings: object) -> dict[str, str]:
    """Settings for a doctor run that passes everything but what a test breaks: free ports, a fresh data folder."""
    port = free_port()
    grpc_port = next(p for p in iter(free_port, None) if p != port)
    env = cli_env(**{"port": port, "grpc_port": grpc_port, "data_dir": tmp_path / "data", **settings})
    env.pop("TESSDATA_PREFIX", None)
    return env


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli("doctor", *args), env=env, capture_output=True, text=True, timeout=60)


def _by_name(report: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: c for c in report["checks"]}


def test_doctor_on_a_machine_missing_a_tesseract_language(tmp_path: Path) -> None:
    full = _tessdata()
    partial = tmp_path / "tessdata"
    partial.mkdir()
    for lang in ("eng", "osd"):
        shutil.copy(full / f"{lang}.traineddata", partial)
    env = {**_env(tmp_path, ocr_languages="eng+kor"), "TESSDATA_PREFIX": str(partial)}

    proc = _doctor(env, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    langs = _by_name(report)["Tesseract languages"]
    assert langs["status"] == "fail" and langs["required"] is True
    assert "missing kor" in langs["detail"] and "eng" in langs["detail"]
    assert "apt-get install tesseract-ocr-kor" in langs["fix"]
    assert str(partial) in langs["fix"]  # TESSDATA_PREFIX is named, with what to copy there
    # Only the language fails; what optional languages lack is a warning.
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["Tesseract languages"]
    others = _by_name(report)["other Tesseract languages"]
    assert others["status"] == "warn" and others["required"] is False and "jpn" in others["detail"]

    table = _doctor(env)  # the same, as the table a person reads
    assert table.returncode == 1
    assert "Tesseract languages" in table.stdout and "missing kor" in table.stdout
    assert "tesseract-ocr-kor" in table.stdout
    assert "1 required check failed (Tesseract languages)" in table.stdout


def test_doctor_passes_with_every_language(tmp_path: Path) -> None:
    env = {**_env(tmp_path, ocr_languages="eng+kor"), "TESSDATA_PREFIX": str(_tessdata())}
    proc = _doctor(env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready: all" in proc.stdout
    assert "eng, kor" in proc.stdout


def test_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _env(tmp_path, port=port)
        result = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    assert result.exit_code == 1, result.output
    check = _by_name(json.loads(result.stdout))["HTTP port"]
    assert check["status"] == "fail" and check["required"] is True
    assert f"port {port} on 127.0.0.1 is in use" in check["detail"]
    assert "Stop it" in check["fix"] and "STREAMPROCESS_PORT" in check["fix"]  # as `up` says it


def test_same_port_twice(tmp_path: Path) -> None:
    port = free_port()
    result = CliRunner().invoke(app, ["doctor", "--json"], env=_env(tmp_path, port=port, grpc_port=port))
    assert result.exit_code == 1
    check = _by_name(json.loads(result.stdout))["gRPC port"]
    assert check["status"] == "fail" and "also the HTTP port" in check["detail"]


def test_redis_configured_but_closed_fails_fast(tmp_path: Path) -> None:
    closed = free_port()  # bound and closed again: nothing listens there
    env = _env(tmp_path, queue="redis", redis_url=f"redis://user:hunter2@127.0.0.1:{closed}/0")
    start = time.monotonic()
    result = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    assert time.monotonic() - start < NET_TIMEOUT + 5
    assert result.exit_code == 1
    check = _by_name(json.loads(result.stdout))["Redis"]
    assert check["status"] == "fail" and check["required"] is True
    assert f"127.0.0.1:{closed}" in check["detail"]
    assert "start Redis" in check["fix"] and "STREAMPROCESS_REDIS_URL" in check["fix"]
    assert "hunter2" not in result.stdout  # the password in the URL is never printed


def test_redis_reachable(tmp_path: Path, redis_url: str) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"], env=_env(tmp_path, queue="redis", redis_url=redis_url))
    check = _by_name(json.loads(result.stdout))["Redis"]
    assert check["status"] == "ok" and check["detail"].startswith("Redis ")


def test_configuration_error_is_a_failed_check(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"], env=_env(tmp_path, concurrency=0))
    assert result.exit_code == 1
    (check,) = json.loads(result.stdout)["checks"]
    assert check["name"] == "settings" and check["status"] == "fail" and "concurrency" in check["detail"]


def test_no_tesseract_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on PATH
    (check,) = check_tesseract(Settings(ocr_languages="kor"))
    assert check.name == "Tesseract" and check.status is Status.fail and check.required
    assert "apt-get install tesseract-ocr tesseract-ocr-kor" in check.fix
    # Only PP-OCR configured: Tesseract is optional then (diagnose turns the failure into a warning).
    (check,) = check_tesseract(Settings(ocr_languages="eng", ocr_engine="ppocr"))
    assert check.required is False
