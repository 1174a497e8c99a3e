"""Job ids, settings and the recursion guard, and that the docs list every setting."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from streamprocess.config import Settings
from streamprocess.jobs import JobMessage, JobRecord, is_job_id, job_id_for, schema_files

from .helpers import ROOT


def test_job_id_is_deterministic_and_distinct() -> None:
    a = job_id_for("b", "inbox/x.wav", "etag1", "stt")
    assert a == job_id_for("b", "inbox/x.wav", "etag1", "stt") and is_job_id(a)
    others = {
        job_id_for("b", "inbox/x.wav", "etag2", "stt"),
        job_id_for("b", "inbox/x.wav", "etag1", "ocr"),
        job_id_for("c", "inbox/x.wav", "etag1", "stt"),
        job_id_for("b", "inbox/x.wav2", "etag1", "stt"),
        job_id_for("b", "inbox/x.wa", "vetag1", "stt"),
    }
    assert a not in others and len(others) == 5


@pytest.mark.parametrize(
    "overrides",
    [
        {"inbox_prefix": "", "results_prefix": "results/"},
        {"inbox_prefix": "data/", "results_prefix": "data/out/"},
        {"inbox_prefix": "in/", "jobs_prefix": "in/jobs/"},
    ],
)
def test_results_can_never_land_in_the_inbox(overrides: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="trigger processing again"):
        Settings(**overrides)


def test_a_separate_results_bucket_may_reuse_prefixes() -> None:
    s = Settings(store="s3", inbox_prefix="", results_bucket="out")
    assert s.output_bucket == "out"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMPROCESS_QUEUE", "redis")
    monkeypatch.setenv("STREAMPROCESS_CONCURRENCY", "7")
    s = Settings()
    assert (s.queue, s.concurrency) == ("redis", 7)
    monkeypatch.setenv("STREAMPROCESS_QUEUE", "kafka")
    with pytest.raises(ValidationError):
        Settings()


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(STREAMPROCESS_[A-Z0-9_]+)` \| ([^|]*) \|", readme, re.M))
    for name, field in Settings.model_fields.items():
        var = f"STREAMPROCESS_{name.upper()}"
        assert var in rows, f"README's configuration table lacks {var}"
        default = field.default
        shown = "unset" if default is None else str(getattr(default, "value", default))
        assert rows[var].strip().strip("`") == shown, f"README gives {var} the default {rows[var]!r}, code {shown!r}"
    assert set(rows) == {f"STREAMPROCESS_{n.upper()}" for n in Settings.model_fields}, "README lists unknown settings"


def test_checked_in_schemas_are_current() -> None:
    for name, text in schema_files().items():
        path = ROOT / "events" / "schemas" / name
        assert path.read_text() == text, f"{path} is stale: run `streamprocess schemas`"
    assert "job_id" in JobMessage.model_json_schema()["required"]
    assert "state" in JobRecord.model_json_schema()["properties"]
