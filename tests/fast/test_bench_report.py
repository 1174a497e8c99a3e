"""The benchmark figures in the docs come from the committed results: README.md and docs/deployment.md say exactly
what bench/report.py renders from bench/results/*.json (so a table cannot drift from the run that made it, nor be
edited by hand), and the marker splicing leaves the hand-written prose alone and refuses broken markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report

from ..helpers import ROOT

RESULTS = ROOT / "bench" / "results"
DOCS = [ROOT / "README.md", ROOT / "docs" / "deployment.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_say_what_the_committed_results_say(doc: Path) -> None:
    text = doc.read_text()
    rendered, kept = report.render(text, report.load(RESULTS), ROOT / "docs" / "bench", doc)
    assert kept == [], f"{doc.name}: sections with no committed result: {kept}"
    assert rendered == text, (
        f"{doc.name} differs from what bench/results renders: run python bench/run_benchmarks.py --report-only "
        "(or the full run) instead of editing the generated sections by hand"
    )


def test_every_plot_the_readme_shows_is_committed() -> None:
    text = (ROOT / "README.md").read_text()
    for name in ("pipeline", "stt", "live", "ocr"):
        assert f"](docs/bench/{name}.png)" in text
        assert (ROOT / "docs" / "bench" / f"{name}.png").stat().st_size > 10_000


def test_the_run_record_names_the_machine_and_a_full_run() -> None:
    run = report.load(RESULTS)["run"]
    assert not run["quick"], "the committed figures must come from a full run, not --quick"
    assert run["machine"]["cores"] >= 1 and run["machine"]["cpu"] and run["machine"]["commit"]
    assert all(b["status"] == "ok" for b in run["benchmarks"].values()), run["benchmarks"]
    # Every result says which command made it, at which commit (a later --only run replaces some of them).
    assert all(b["command"].startswith("python bench/run_benchmarks.py") for b in run["benchmarks"].values())
    assert all(
        b["command"] == "python bench/run_benchmarks.py" or "--only" in b["command"] for b in run["benchmarks"].values()
    )
    assert set(run["benchmarks"]) == {"pipeline", "stt", "live", "ocr", "triton", "cold_start"}


def results() -> report.Results:
    return {
        "cold_start": {
            "runs": 2,
            "results": {"api": {"what": "api", "median_total_s": 0.5}, "stt": {"what": "x", "median_total_s": 1.25}},
        }
    }


DOC = """# Hand-written title

Prose before, with a <!-- comment --> of its own.

<!-- bench:cold_start -->
| stale | table |
<!-- /bench:cold_start -->

<!-- bench:live -->
old live figures
<!-- /bench:live -->

Prose after.
"""


def test_a_section_is_replaced_and_everything_else_kept(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    text, kept = report.render(DOC, results(), None, doc)
    assert kept == ["live"]  # no live.json: that section stays as it was
    assert "old live figures" in text and "stale" not in text
    assert "| `streamprocess api`, live off | first `/ready` 200 | 0.50 s |" in text
    assert "| STT job pod, Whisper tiny.en (bundled), CPU int8 | model loaded | 1.25 s |" in text
    before, after = DOC.split("<!-- bench:cold_start -->")
    assert text.startswith(before) and text.endswith(after.split("<!-- /bench:cold_start -->")[1])
    assert report.render(text, results(), None, doc)[0] == text  # rendering again changes nothing


def test_a_plot_is_linked_relative_to_the_doc_only_when_it_exists(tmp_path: Path) -> None:
    plots = tmp_path / "docs" / "bench"
    plots.mkdir(parents=True)
    doc = tmp_path / "README.md"
    assert report.image(plots, "live.png", "Live", doc) == ""
    (plots / "live.png").write_bytes(b"png")
    assert report.image(plots, "live.png", "Live", doc) == "\n\n![Live](docs/bench/live.png)"
    assert report.image(plots, "live.png", "Live", plots / "deployment.md") == "\n\n![Live](live.png)"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("<!-- bench:live -->\nno end\n", "unmatched bench markers: ['live']"),
        ("<!-- bench:live -->\n<!-- /bench:stt -->\n", "unmatched bench markers: ['live']"),
        ("<!-- bench:tables -->\nx\n<!-- /bench:tables -->\n", "unknown section <!-- bench:tables -->"),
    ],
)
def test_broken_markers_are_refused(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(report.ReportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        report.render(doc, results(), None, tmp_path / "doc.md")


def test_a_result_missing_a_key_names_the_file_and_key(tmp_path: Path) -> None:
    broken = {"cold_start": {"results": {}}}  # no "runs"
    with pytest.raises(report.ReportError, match=r"cold_start.json lacks 'runs'"):
        report.render(DOC, broken, None, tmp_path / "doc.md")
