"""A local Triton Inference Server for development and tests: the ``tritonserver`` binary shipped in the PyPI package
nvidia-pytriton (its python backend only), started on a model repository, waited for, and stopped.

How it runs (as pytriton itself starts it, ``pytriton/triton.py`` and ``pytriton/server/triton_server.py``):

- the binary and its python backend (``libtriton_python.so``, ``triton_python_backend_utils.py``) come from
  ``pytriton/tritonserver``; the python-backend stub comes from ``python_backend_stubs/<major.minor>``, built per
  Python version, and must sit beside the backend library: a private backend folder is assembled per server;
- the stub embeds ``libpython<major.minor>.so``: this Python's own lib dir goes first in ``LD_LIBRARY_PATH`` so the
  stub gets this interpreter's library (not another 3.x of the system), and the bundled libraries
  (``nvidia_pytriton.libs``) after it;
- the stub finds its ``sys.prefix`` by looking for ``python3`` on ``PATH``: this environment's ``bin`` goes first,
  so the models import this environment's numpy and onnxruntime;
- each server gets its own shared-memory prefix (``--backend-config=python,shm-region-prefix-name=...``), so two
  servers on one machine do not collide.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

STUB = "triton_python_backend_stub"
#: nvidia-pytriton cannot be an extra (it requires numpy<2 and protobuf<7; pyproject.toml says why): its binary and
#: stubs need none of its dependencies.
INSTALL_HINT = "install it without its dependencies: pip install --no-deps 'nvidia-pytriton>=0.5'"


class TritonNotInstalled(RuntimeError):
    """No usable tritonserver here (nvidia-pytriton missing, or no stub for this Python)."""


class TritonStartFailed(RuntimeError):
    """tritonserver exited, or did not become ready in time; the message ends with its log's last lines."""


@dataclass(frozen=True)
class TritonInstall:
    binary: Path  # tritonserver
    python_backend: Path  # the folder with libtriton_python.so and triton_python_backend_utils.py
    stub: Path  # triton_python_backend_stub for this Python
    libs: Path  # the shared libraries bundled with the wheel
    python_libdir: Path | None  # this Python's libpython folder (None: the system's is used)
    version: str  # nvidia-pytriton's version


def find_tritonserver() -> TritonInstall:
    """The tritonserver shipped in nvidia-pytriton, with the python-backend stub for this Python; raises
    :class:`TritonNotInstalled` with what to do."""
    from importlib import metadata
    from importlib.util import find_spec

    spec = find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonNotInstalled(f"nvidia-pytriton is not installed: {INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations)))
    dist = root / "tritonserver"
    binary = dist / "bin" / "tritonserver"
    backend = dist / "backends" / "python"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = dist / "python_backend_stubs" / version / STUB
    if not binary.is_file() or not (backend / "libtriton_python.so").is_file():
        raise TritonNotInstalled(f"nvidia-pytriton at {root} has no tritonserver: {INSTALL_HINT}")
    if not stub.is_file():
        shipped = sorted(p.name for p in (dist / "python_backend_stubs").glob("*"))
        raise TritonNotInstalled(
            f"nvidia-pytriton has no python-backend stub for Python {version} (it has {', '.join(shipped)})"
        )
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlibrary = sysconfig.get_config_var("LDLIBRARY") or ""
    python_libdir = Path(libdir) if libdir and (Path(libdir) / ldlibrary).is_file() else None
    return TritonInstall(
        binary=binary,
        python_backend=backend,
        stub=stub,
        libs=root.parent / "nvidia_pytriton.libs",
        python_libdir=python_libdir,
        version=metadata.version("nvidia-pytriton"),
    )


def server_env(install: TritonInstall, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment tritonserver and its python-backend stubs need (see the module's docstring)."""
    env = dict(os.environ if base is None else base)
    libs = [str(p) for p in (install.python_libdir, install.libs) if p]
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, *filter(None, [env.get("LD_LIBRARY_PATH")])])
    bin_dir = str(Path(sys.executable).parent)  # the environment's bin (a venv's own, not the base Python's)
    env["PATH"] = os.pathsep.join([bin_dir, *filter(None, [env.get("PATH")])])
    return env


def wait_ready(url: str, timeout: float = 120.0, *, alive: subprocess.Popen[bytes] | None = None) -> bool:
    """Poll ``{url}/v2/health/ready`` until it answers 200 (all models ready): True, or False after ``timeout``
    seconds or as soon as the process ``alive`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


class LocalTriton:
    """A tritonserver process on ``repo``, ready when the ``with`` block starts and stopped when it ends::

    with LocalTriton(repo, http_port=8000, grpc_port=8001, metrics_port=8002) as triton:
        triton.http_url  # http://127.0.0.1:8000 (tritonclient.http takes triton.http_address)
        triton.grpc_address  # 127.0.0.1:8001
    """

    def __init__(
        self,
        repo: Path,
        http_port: int = 8000,
        grpc_port: int = 8001,
        metrics_port: int = 8002,
        *,
        address: str = "127.0.0.1",
        ready_timeout: float = 180.0,
        log_verbose: int = 0,
        log_file: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.repo = Path(repo).resolve()
        self.http_port, self.grpc_port, self.metrics_port = http_port, grpc_port, metrics_port
        self.address = address
        self.ready_timeout = ready_timeout
        self.log_verbose = log_verbose
        self.extra_args = list(extra_args or [])
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._log_file = log_file
        self.log_path: Path | None = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """Where a client on this machine reaches it."""
        return "127.0.0.1" if self.address in ("0.0.0.0", "") else self.address

    @property
    def http_address(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.grpc_address}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    def command(self, backends: Path, install: TritonInstall) -> list[str]:
        return [
            str(install.binary),
            f"--model-repository={self.repo}",
            f"--backend-directory={backends}",
            f"--http-address={self.address}",
            f"--http-port={self.http_port}",
            f"--grpc-address={self.address}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.address}",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--exit-on-error=true",
            "--exit-timeout-secs=10",
            f"--log-verbose={self.log_verbose}",
            f"--backend-config=python,shm-region-prefix-name=streamprocess-{uuid.uuid4().hex[:12]}",
            *self.extra_args,
        ]

    def start(self) -> None:
        """Start tritonserver and wait until it is ready; raises :class:`TritonStartFailed` (with the log's tail)."""
        if self.process is not None:
            raise RuntimeError(f"tritonserver already started (pid {self.process.pid})")
        install = find_tritonserver()
        if not self.repo.is_dir():
            raise TritonStartFailed(f"no model repository at {self.repo}")
        self._workdir = tempfile.TemporaryDirectory(prefix="streamprocess-triton-")
        work = Path(self._workdir.name)
        backends = work / "backends" / "python"
        backends.mkdir(parents=True)
        for item in install.python_backend.iterdir():  # the backend, with this Python's stub beside it
            if item.is_file():
                (backends / item.name).symlink_to(item)
        (backends / STUB).symlink_to(install.stub)
        self.log_path = self._log_file or work / "tritonserver.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(backends.parent, install),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env(install),
                cwd=work,
                start_new_session=True,  # its own process group: Ctrl+C reaches us, and we stop it and its stubs
            )
        try:
            ready = wait_ready(self.http_url, self.ready_timeout, alive=self.process)
        except BaseException:  # Ctrl+C while it loads: leave nothing running
            self.stop()
            raise
        if not ready:
            code = self.process.poll()
            why = f"exited with code {code}" if code is not None else f"not ready after {self.ready_timeout:.0f} s"
            tail = self.log_tail()
            self.stop()
            raise TritonStartFailed(f"tritonserver {why}; the end of its log:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL to its process group after ``timeout`` seconds; returns the exit code."""
        process, self.process = self.process, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(process.pid)
                    process.wait()
            code = process.returncode
            _kill_group(process.pid)  # stubs left behind by a server that died
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        return code

    def __enter__(self) -> LocalTriton:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
