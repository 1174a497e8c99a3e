"""The reliability suite's figures: each test reports one ``RELIABILITY ...`` line, printed at once and again in
pytest's terminal summary (CI runs without ``-s``, so the summary is where they show)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def reliability_figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    lines = request.config.stash.setdefault(FIGURES, [])

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
