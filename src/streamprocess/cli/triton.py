"""``streamprocess triton``: ``repo`` writes the OCR models' Triton model repository, ``serve`` runs a local
tritonserver (nvidia-pytriton's, python backend) on one for development. Both need the ``triton`` extra."""

from __future__ import annotations

import errno
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from ..errors import ExitCode
from .common import console, say

if TYPE_CHECKING:
    from ..ocr.triton.server import LocalTriton

app = typer.Typer(help="Serve the OCR models with a Triton Inference Server.", no_args_is_help=True)

EXTRA_HINT = "Install the triton extra: pip install 'streamprocess[triton]'"


def _import_failed(e: ImportError) -> typer.Exit:
    say(f"the triton extra is not installed ({e.name or e} is missing).")
    say(EXTRA_HINT, style=None)
    return typer.Exit(ExitCode.FAILED)


@app.command()
def repo(
    directory: Annotated[Path, typer.Argument(help="Folder to write the model repository into (created if missing).")],
    backend: Annotated[
        str, typer.Option(help="onnxruntime (production, NGC's tritonserver) or python (nvidia-pytriton's).")
    ] = "onnxruntime",
    cpu: Annotated[bool, typer.Option("--cpu", help="Instances on the CPU (KIND_CPU) instead of the GPU.")] = False,
    tensorrt: Annotated[
        bool, typer.Option("--tensorrt", help="TensorRT as the GPU execution accelerator (onnxruntime on GPU).")
    ] = False,
    max_batch: Annotated[
        int | None, typer.Option(help="max_batch_size of every model (default: 8 det, 64 cls/rec).")
    ] = None,
    queue_delay_us: Annotated[int, typer.Option(help="Dynamic batching's max queue delay, in microseconds.")] = 2000,
    instances: Annotated[int, typer.Option(help="Model instances per GPU (or on the CPU).")] = 1,
    ir_version: Annotated[
        int | None,
        typer.Option(help="Re-save the ONNX files at this IR version (9: a Triton with onnxruntime < 1.18)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the models already in the folder.")] = False,
) -> None:
    """Write ppocr_det, ppocr_cls and ppocr_rec (config.pbtxt, 1/model.onnx out of the installed rapidocr, and
    ppocr_rec/characters.txt) into DIRECTORY. Other files there are left alone; existing models only with --force."""
    try:
        from ..ocr.triton.repository import RepositoryExists, write_repository
    except ImportError as e:
        raise _import_failed(e) from None
    if backend not in ("onnxruntime", "python"):
        say(f"unknown backend {backend!r}: onnxruntime or python")
        raise typer.Exit(ExitCode.USAGE)
    sizes = {name: max_batch for name in ("ppocr_det", "ppocr_cls", "ppocr_rec")} if max_batch else None
    try:
        written = write_repository(
            directory,
            backend="python" if backend == "python" else "onnxruntime",
            kind="cpu" if cpu or backend == "python" else "gpu",
            tensorrt=tensorrt,
            max_batch_size=sizes,
            queue_delay_us=queue_delay_us,
            instances=instances,
            ir_version=ir_version,
            force=force,
        )
    except ImportError as e:
        raise _import_failed(e) from None
    except RepositoryExists as e:
        say(str(e))
        raise typer.Exit(ExitCode.FAILED) from None
    except ValueError as e:
        say(str(e))
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as e:
        say(f"cannot write {directory}: {e.strerror or e}")
        raise typer.Exit(ExitCode.FAILED) from None
    for folder in written:
        console.print(f"wrote {folder}", markup=False, highlight=False)


@app.command()
def serve(
    repo_dir: Annotated[
        Path | None,
        typer.Option("--repo", help="A model repository (python backend) to serve; default: write one to a temp dir."),
    ] = None,
    http_port: Annotated[int, typer.Option(help="Triton's HTTP port (KServe v2 REST).")] = 8000,
    grpc_port: Annotated[int, typer.Option(help="Triton's gRPC port.")] = 8001,
    metrics_port: Annotated[int, typer.Option(help="Triton's Prometheus metrics port.")] = 8002,
    address: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    log_file: Annotated[
        Path | None, typer.Option(help="Append tritonserver's log to this file (default: a temporary one).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Triton's verbose log (--log-verbose=1).")] = False,
) -> None:
    """Run a local Triton Inference Server (the tritonserver in nvidia-pytriton, on the CPU) serving the OCR models
    through its python backend, with the names, inputs and outputs of the production repository. Prints its URLs;
    Ctrl+C (or SIGTERM) stops it."""
    try:
        from ..ocr.triton.repository import write_repository
        from ..ocr.triton.server import LocalTriton, TritonNotInstalled, TritonStartFailed, find_tritonserver
    except ImportError as e:
        raise _import_failed(e) from None
    try:
        install = find_tritonserver()
    except TritonNotInstalled as e:
        say(f"cannot start: {e}")
        raise typer.Exit(ExitCode.FAILED) from None
    for what, port, option in (("HTTP", http_port, "--http-port"), ("gRPC", grpc_port, "--grpc-port")):
        _check_port(address, port, what, option)
    _check_port(address, metrics_port, "metrics", "--metrics-port")
    with tempfile.TemporaryDirectory(prefix="streamprocess-triton-repo-") as tmp:
        if repo_dir is None:
            repo_dir = Path(tmp)
            console.print("writing a python-backend model repository ...", markup=False, highlight=False)
            try:
                write_repository(repo_dir, backend="python")
            except ImportError as e:
                raise _import_failed(e) from None
        elif not repo_dir.is_dir():
            say(f"no model repository at {repo_dir}")
            raise typer.Exit(ExitCode.BAD_SETTING)
        elif any('platform: "onnxruntime_onnx"' in p.read_text() for p in repo_dir.glob("*/config.pbtxt")):
            say(f"{repo_dir} is for the onnxruntime backend, which nvidia-pytriton's tritonserver lacks.")
            say("Write one for it with: streamprocess triton repo DIR --backend python", style=None)
            raise typer.Exit(ExitCode.BAD_SETTING)
        triton = LocalTriton(
            repo_dir,
            http_port,
            grpc_port,
            metrics_port,
            address=address,
            log_verbose=1 if verbose else 0,
            log_file=log_file.resolve() if log_file else None,
        )
        console.print(f"starting tritonserver (nvidia-pytriton {install.version}) on {repo_dir} ...", markup=False)
        stopping = threading.Event()  # Ctrl+C or SIGTERM from now on, even while it loads the models
        previous = {s: signal.signal(s, lambda _sig, _frame: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            triton.start()
            code = _serve_until_stopped(triton, stopping)
        except TritonStartFailed as e:
            say(f"cannot start: {e}")
            raise typer.Exit(ExitCode.FAILED) from None
        finally:
            triton.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    raise typer.Exit(ExitCode.OK if code is None else ExitCode.FAILED)


def _serve_until_stopped(triton: LocalTriton, stopping: threading.Event) -> int | None:
    """Print the URLs and wait for ``stopping`` (Ctrl+C, SIGTERM: stop it, None) or for tritonserver to exit (its
    code, or 1)."""
    console.print(
        f"Triton ready: HTTP {triton.http_url}  gRPC {triton.grpc_url}  metrics {triton.metrics_url}\n"
        f"models: ppocr_det, ppocr_cls, ppocr_rec; log: {triton.log_path}. Ctrl+C stops it.",
        markup=False,
        highlight=False,
    )
    while not stopping.wait(0.5):
        if triton.process is None or triton.process.poll() is not None:
            code = triton.process.returncode if triton.process else None
            say(f"tritonserver exited (code {code}); the end of its log:\n{triton.log_tail()}")
            return code or 1
    console.print("stopping tritonserver ...", markup=False)
    triton.stop()
    return None


def _check_port(address: str, port: int, what: str, option: str) -> None:
    """Exit with PORT_IN_USE (or BAD_SETTING) now rather than after tritonserver has loaded the models."""
    kind: Literal["in use", "bad"] | None = None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
    except OverflowError:
        kind = "bad"
        why = "is not a port number (0-65535)"
    except OSError as e:
        kind = "in use" if e.errno == errno.EADDRINUSE else "bad"
        why = "is in use by another process" if kind == "in use" else f"cannot be used: {e.strerror or e}"
    if kind is None:
        return
    say(f"cannot start: {what} port {port} on {address} {why}.")
    say(f"Stop it, or choose another with {option}." if kind == "in use" else f"Choose another with {option}.", None)
    raise typer.Exit(ExitCode.PORT_IN_USE if kind == "in use" else ExitCode.BAD_SETTING)
