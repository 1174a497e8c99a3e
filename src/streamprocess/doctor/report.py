"""What ``streamprocess doctor`` reports: a :class:`Check` per finding, gathered in a :class:`Report`; and how
its fixes are spelled (:func:`apt`, :func:`pip`)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        """Required checks that failed: each one makes ``doctor`` exit 1."""
        return [c for c in self.checks if c.required and c.status is Status.fail]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.warn]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        warned = f"{len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}"
        if self.failed:
            names = ", ".join(c.name for c in self.failed)
            return (
                f"{len(self.failed)} required check{'s' * (len(self.failed) != 1)} failed ({names}), {warned}: "
                "fix them, then run `streamprocess doctor` again"
            )
        return f"ready: all {sum(c.required for c in self.checks)} required checks passed, {warned}"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "checks": [c.to_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def sudo() -> str:
    return "" if os.name != "posix" or os.geteuid() == 0 else "sudo "


def apt(*packages: str) -> str:
    return f"{sudo()}apt-get install {' '.join(packages)}"


def pip(package: str) -> str:
    """A project dependency is missing from the environment: install it, or let the setup script complete it."""
    return f"pip install {package} (or `bash scripts/setup.sh`, which installs what .venv lacks)"


def print_report(report: Report, console: Any) -> None:
    """The checks as a rich table, then the one-line summary."""
    from rich.table import Table
    from rich.text import Text

    styles = {Status.ok: "green", Status.warn: "yellow", Status.fail: "bold red"}
    table = Table("check", "status", "detail", "how to fix")
    for c in report.checks:
        name = Text(c.name)
        if not c.required:
            name.append(" (optional)", style="dim")
        table.add_row(name, Text(c.status.value, style=styles[c.status]), Text(c.detail), Text(c.fix))
    console.print(table)
    console.print(Text(report.summary(), style="bold red" if not report.ok else "bold green"))
