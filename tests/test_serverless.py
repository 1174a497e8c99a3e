"""serverless.yml packages offline with the Serverless Framework v3, into the stack the README describes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow


def test_serverless_package(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is not installed (apt-get install nodejs npm; scripts/test.sh does this)")
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "CI": "true"}
    out = tmp_path / "package"
    proc = subprocess.run(
        [npx, "--yes", "serverless@3", "package", "--package", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    for name in (
        "DropBucket",
        "EventsQueue",
        "EventsDeadLetterQueue",
        "SttQueue",
        "SttDeadLetterQueue",
        "OcrQueue",
        "OcrDeadLetterQueue",
        "EventsQueuePolicy",
        "ApiLambdaFunction",
        "IngestLambdaFunction",
    ):
        assert name in resources, name
    [rule] = resources["DropBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert rule["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}]
    mapping = next(r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    names = zipfile.ZipFile(out / "streamprocess.zip").namelist()
    assert "functions/api.py" in names and "src/streamprocess/ingest.py" in names
    assert not any("__pycache__" in n or n.startswith(("tests/", ".venv/", "data/")) for n in names)
