"""The ``streamprocess`` command (typer + rich): :data:`app` lists every command; each lives with its idea.

- :mod:`.serve`: ``up`` (the whole service), ``api`` (the API and gRPC, no workers) and ``worker`` (queue consumers
  only)
- :mod:`.jobs`: ``submit``, ``status``, ``jobs``, ``queues``
- :mod:`.replay`: ``replay`` (archive, backfill, dead-letter redrive, failed jobs)
- :mod:`.engines`: ``transcribe`` and ``ocr``, here and now without any service
- :mod:`.admin`: ``doctor``, ``config``, ``schemas``, ``setup s3``
- :mod:`.models`: ``models list`` (the Whisper models known, and which are here), ``models pull`` (a hub model into
  the models dir), ``models path``
- :mod:`.triton`: ``triton repo`` (write a Triton model repository for the OCR models), ``triton serve`` (a local
  tritonserver for development)
- :mod:`.common`: the consoles, settings with one line per bad value, logging, start-up refusals
"""

from __future__ import annotations

import typer

from ..cli_help import ReadableHelpGroup
from . import admin, engines, jobs, models, replay, serve, triton

app = typer.Typer(
    help="StreamProcess: media in, text out.", no_args_is_help=True, add_completion=False, cls=ReadableHelpGroup
)  # values named in words in --help, not Python types
setup_app = typer.Typer(help="Create or check cloud wiring.", no_args_is_help=True)

app.command()(serve.up)
app.command()(serve.api)
app.command()(serve.worker)
app.add_typer(setup_app, name="setup")
app.add_typer(triton.app, name="triton")
app.add_typer(models.app, name="models")
setup_app.command("s3")(admin.setup_s3_command)
app.command()(jobs.submit)
app.command()(engines.transcribe)
app.command()(engines.ocr)
app.command()(jobs.status)
app.command("jobs")(jobs.list_jobs)
app.command()(jobs.queues)
app.command()(replay.replay)
app.command()(admin.doctor)
app.command()(admin.config)
app.command()(admin.schemas)


def main() -> None:  # pragma: no cover
    app()
