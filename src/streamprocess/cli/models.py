"""``streamprocess models``: ``list`` the Whisper models this installation knows (and which are here), ``pull`` a hub
model into the models dir (``STREAMPROCESS_MODELS_DIR``), ``path`` of a model's folder. The catalog itself is
:mod:`streamprocess.stt.catalog`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ExitCode, StreamProcessError
from .common import console, say, settings_from

app = typer.Typer(help="Whisper models: list them, pull one from the hub, show where one is.", no_args_is_help=True)


@app.command("list")
def list_models(as_json: Annotated[bool, typer.Option("--json", help="Print the models as JSON.")] = False) -> None:
    """Every model STREAMPROCESS_STT_MODEL may name: the bundled tiny.en (`default`), the packaged multilingual
    `base`, faster-whisper's hub names and folders in the models dir; English-only or multilingual, here or not."""
    from ..stt import catalog

    settings = settings_from()
    root = catalog.models_dir_or_default(settings.models_dir)
    entries = catalog.catalog(root)
    if as_json:
        print(json.dumps({"models_dir": str(root), "models": [e.to_json() for e in entries]}, indent=2))
        return
    table = Table(title=f"Whisper models (models dir: {root})")
    for column in ("name", "kind", "languages", "here", "where"):
        table.add_column(column)
    for e in entries:
        languages = {True: "multilingual", False: "English-only", None: "?"}[e.multilingual]
        where = e.path or ""
        if e.note:
            where = f"{where} ({e.note})" if where else e.note
        table.add_row(e.name, e.kind, languages, "yes" if e.present else "no", where)
    console.print(table)


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="A faster-whisper hub name (`small`, `large-v3`, `turbo`, …).")],
) -> None:
    """Download a hub model into the models dir (STREAMPROCESS_MODELS_DIR), where STREAMPROCESS_STT_MODEL=NAME
    then finds it offline."""
    from ..stt import catalog

    if name in catalog.BUNDLED_NAMES or name == catalog.PACKAGED_NAME:
        what = "is bundled" if name in catalog.BUNDLED_NAMES else "comes with the `multilingual` extra's packages"
        say(f"{name!r} needs no pull: it {what} and works offline.", style=None)
        return
    if name not in catalog.hub_names():
        say(f"unknown model {name!r}: pull takes one of faster-whisper's names: {', '.join(catalog.hub_names())}")
        raise typer.Exit(ExitCode.USAGE)
    settings = settings_from()
    try:
        folder = catalog.pull(name, settings.models_dir)
    except StreamProcessError as e:
        say(e.message)
        raise typer.Exit(ExitCode.FAILED) from None
    console.print(f"{name}: {folder}")


@app.command()
def path(name: Annotated[str, typer.Argument(help="A name `models list` shows, or a folder.")]) -> None:
    """Print the folder holding model NAME (reassembling `base` if needed); exits 1 when it is not here."""
    from ..stt import catalog

    settings = settings_from()
    try:
        folder = catalog.locate(name, settings.models_dir)
    except StreamProcessError as e:
        say(e.message)
        raise typer.Exit(ExitCode.FAILED) from None
    if folder is None:
        root = catalog.models_dir_or_default(settings.models_dir)
        say(
            f"model {name!r} is not here: `streamprocess models pull {name}` downloads a hub name into {root}; "
            "`streamprocess models list` shows what is here"
        )
        raise typer.Exit(ExitCode.FAILED)
    print(folder)
