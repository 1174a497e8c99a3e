"""What every benchmark script writes the same way: its JSON, with the run's machine, Python and command."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def write_results(out: Path, results: dict[str, Any], **meta: Any) -> None:
    """``out`` holds ``{"meta": {machine, python, command, **meta}, **results}``; says where it went."""
    head = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "command": f"python bench/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:]),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": {**head, **meta}, **results}, indent=2) + "\n")
    print(f"wrote {out}")
