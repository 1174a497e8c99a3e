"""What a newcomer meets in the first hour: the scripts work offline once .venv is complete, the local services say
what they lack and stop their servers, and help and messages say what is true."""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import symtable
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local_services import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)  # the interpreter .venv was made from
TESSERACT = ["tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-kor", "tesseract-ocr-jpn", "tesseract-ocr-chi-sim"]


def offline_env(**extra: str) -> dict[str, str]:
    """The package index unreachable: no pip configuration files, no find-links, an index on a closed port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "STREAMPROCESS_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_DEFAULT_TIMEOUT="5",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHON=BASE_PYTHON,
        APT_PACKAGES="",
    )
    env.update(extra)
    return env


def _setup_runs_here() -> None:
    """setup.sh always checks Tesseract's Debian packages (and venv for the base python): skip where it would call
    apt-get, as a test must not."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian machine: scripts/setup.sh installs with apt-get")
    for pkg in TESSERACT:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True).stdout
        if "install ok installed" not in out:
            pytest.skip(f"{pkg} is not installed: scripts/setup.sh would run apt-get")
    if subprocess.run([BASE_PYTHON, "-c", "import venv, ensurepip"], capture_output=True).returncode:
        pytest.skip("the base python lacks venv/ensurepip: scripts/setup.sh would run apt-get")


def _venv_check():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("venv_check", ROOT / "scripts" / "venv_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------- scripts: no index needed once set up
@pytest.mark.parametrize(
    "script, extras, args",
    [
        ("scripts/up.sh", "", ["--help"]),  # up.sh as a newcomer runs it; --help stops short of serving
        ("scripts/setup.sh", "[test]", []),  # what scripts/test.sh sources before pytest
    ],
    ids=["up.sh", "setup.sh-test-extras"],
)
def test_a_complete_venv_needs_no_package_index(script: str, extras: str, args: list[str]) -> None:
    _setup_runs_here()
    why = _venv_check().check(_venv_check().parse_extras(extras))
    assert why is None, f".venv is not complete here ({why}): run bash scripts/test.sh once"
    started = time.monotonic()
    run = subprocess.run(
        ["bash", script, *args],
        cwd=ROOT,
        env=offline_env(PIP_EXTRAS=extras),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout + run.stderr
    assert "installing" not in run.stdout + run.stderr and "pip" not in run.stderr, run.stdout + run.stderr
    assert took < 20, f"{script} took {took:.1f} s"
    if script == "scripts/up.sh":
        assert "Usage: streamprocess up" in run.stdout


def test_what_changes_in_pyproject_decides_a_reinstall(tmp_path: Path) -> None:
    """The decision scripts/setup.sh takes, against this .venv: a comment or a tool setting needs no install; a new
    requirement, a stricter version, a requirement of a requested extra, a new version or script does."""
    vc = _venv_check()
    text = (ROOT / "pyproject.toml").read_text()
    pyproject = tmp_path / "pyproject.toml"

    def decide(new_text: str, extras: str = "[test]") -> str | None:
        pyproject.write_text(new_text)
        return vc.check(vc.parse_extras(extras), pyproject=pyproject)

    assert decide(text) is None
    assert decide(text + "\n# a comment\n[tool.example]\nsetting = 1\n") is None
    deps = "dependencies = [\n"
    assert text.count(deps) == 1
    assert (
        decide(text.replace(deps, deps + '    "streamprocess-absent-package>=1",\n'))
        == "streamprocess-absent-package is not installed (required by pyproject.toml)"
    )
    assert "requires pytest>=999" in decide(text.replace('"pytest>=8"', '"pytest>=999"'))
    with_extra = text.replace(
        "[project.optional-dependencies]\n",
        '[project.optional-dependencies]\nextra-one = ["streamprocess-absent-package"]\n',
    )
    assert decide(with_extra, "") is None  # an extra nobody asked for
    assert (
        decide(with_extra, "[extra-one]")
        == "streamprocess-absent-package is not installed (required by the extra-one extra)"
    )
    assert "pyproject.toml says 9.9.9" in decide(re.sub(r'(?m)^version = ".*"$', 'version = "9.9.9"', text))
    assert "entry points changed" in decide(
        text.replace("[project.scripts]\n", '[project.scripts]\nsp-new = "streamprocess.cli:main"\n')
    )
    with pytest.raises(KeyError, match="no extra nope"):
        decide(text, "[nope]")


def test_an_install_without_the_index_fails_saying_why(tmp_path: Path) -> None:
    """A new .venv (the same as one whose requirements changed) must be installed: offline, that fails at once and
    says why, instead of pip's 'No matching distribution found for setuptools>=77'."""
    _setup_runs_here()
    (tmp_path / "scripts").mkdir()
    for name in ("pyproject.toml", "README.md", "scripts/setup.sh", "scripts/venv_check.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    started = time.monotonic()
    run = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=tmp_path,
        env=offline_env(PIP_EXTRAS=""),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert "setup: pip could not install StreamProcess into .venv (streamprocess is not installed)." in run.stderr
    assert "pip needs the package index (or PIP_FIND_LINKS)" in run.stderr
    assert took < 60, f"took {took:.1f} s"


# ------------------------------------------------------------------------------------ python -m infra.local_services
def _children(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2 :].split()  # after "pid (name) ": state, ppid, …
        if int(rest[1]) == pid:
            found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextlib.contextmanager
def _local_services(
    *args: str, env: dict[str, str] | None = None, code: str | None = None
) -> Iterator[subprocess.Popen[str]]:
    """``python -m infra.local_services ARGS`` in a session of its own, killed with whatever it started (servers
    included) when the block ends, whatever the test made of it."""
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "infra.local_services", *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads children from /proc")
def test_local_services_stop_their_servers_on_sigterm() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis_port, moto_port = free_port(), free_port()
    with _local_services("--redis-port", str(redis_port), "--moto-port", str(moto_port)) as proc:
        wait_port(redis_port, proc)
        wait_port(moto_port, proc, timeout=60)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "Services are up. To use them:\n"  # printed once both answer
        children = _children(proc.pid)
        assert any("redis-server" in c for c in children.values()), children
        assert any("moto" in c for c in children.values()), children
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [cmd for pid, cmd in children.items() if _alive(pid)], "servers left running"
        for port in (redis_port, moto_port):
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                pass


HIDE_MOTO = (
    "import runpy, sys; sys.modules['moto'] = None; "
    "runpy.run_module('infra.local_services', run_name='__main__', alter_sys=True)"
)


def test_local_services_say_what_is_missing(tmp_path: Path) -> None:
    redis_port, moto_port = free_port(), free_port()
    if shutil.which("redis-server"):
        with _local_services("--redis-port", str(redis_port), "--moto-port", str(moto_port), code=HIDE_MOTO) as proc:
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert err.strip() == (
            "local services: moto's server is not installed (no module moto): "
            ".venv/bin/pip install -e '.[dev]' (or pip install 'moto[server]')"
        )
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", redis_port), timeout=1):
            pass  # the redis-server started first was stopped
    env = {**os.environ, "PATH": str(tmp_path)}  # no redis-server on it
    with _local_services("--redis-port", str(redis_port), "--moto-port", str(moto_port), env=env) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip() == (
        "local services: redis-server is not installed: apt-get install redis-server (scripts/test.sh does it)"
    )


# ----------------------------------------------------------------------------------------------- help and messages
RAW_TYPE = re.compile(r"<(bool|int|float|str|path|Path|list\[[^>]*\])>")


def _commands(group, path=()):  # type: ignore[no-untyped-def]
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_help_names_values_in_words_not_python_types() -> None:
    import typer.main
    from typer.testing import CliRunner

    from streamprocess.cli import app

    runner = CliRunner()
    paths = list(_commands(typer.main.get_command(app)))
    assert ("worker",) in paths and ("setup", "s3") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert "--help" in result.output
        assert not RAW_TYPE.findall(result.output), (path, result.output)
        if path == ("worker",):
            assert re.search(r"--concurrency\s+INTEGER", result.output), result.output
            assert re.search(r"--queue\s+-q\s+TEXT\.\.\.", result.output), result.output
            assert re.search(r"--help\s+Show this message", result.output), result.output
    errors = runner.invoke(app, ["worker", "--concurrency", "x"], env={"COLUMNS": "200"})
    assert errors.exit_code == 2 and "'--concurrency'" in errors.output  # errors still name the option


def test_the_unsupported_media_message_names_every_format_that_works() -> None:
    from streamprocess.errors import UnsupportedMedia
    from streamprocess.media import detect

    with pytest.raises(UnsupportedMedia) as e:
        detect(b"just some text\n")
    assert "GIF" in str(e.value)
    assert detect(b"GIF89a" + bytes(64)).kind == "ocr"
    with pytest.raises(UnsupportedMedia) as empty:
        detect(b"")
    assert empty.value.code == "unsupported_media"  # the README says so


def test_readme_states_and_python_examples() -> None:
    from streamprocess.jobs import JobState

    readme = (ROOT / "README.md").read_text()
    states = re.search(r"States are (.+?);", readme, re.S)
    assert states, "the README lists the job states"
    assert set(re.findall(r"`(\w+)`", states.group(1))) == {s.value for s in JobState}
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        ast.parse(block)
        undefined = _undefined_names(block)
        assert not undefined, f"README example uses {sorted(undefined)} without defining them:\n{block}"
    assert "streamprocess caption" not in (ROOT / "src" / "streamprocess" / "live" / "client.py").read_text()


def _undefined_names(code: str) -> set[str]:
    top = symtable.symtable(code, "<readme>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for s in table.get_symbols():
            if s.is_referenced() and (table is top or s.is_global()):
                used.add(s.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return used - defined - set(dir(builtins))
