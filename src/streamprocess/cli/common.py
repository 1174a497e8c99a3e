"""What every command shares: the consoles, settings read with one line per bad value, logging, refusals."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler

from ..config import Settings
from ..errors import ExitCode, StartupError
from ..startup import one_line

# Not a terminal (logs, CI, pipes): do not wrap paths and ids at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

log = logging.getLogger("streamprocess.cli")


def settings_from(**overrides: object) -> Settings:
    """The settings, with the options given on the command line (``None``: not given) over them; a bad value is
    one line per setting on stderr and exit code :attr:`ExitCode.BAD_SETTING`."""
    try:
        base = Settings()
        data = base.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return Settings.model_validate(data) if overrides else base
    except ValidationError as e:
        for line in setting_errors(e):
            say(line)
        raise typer.Exit(ExitCode.BAD_SETTING) from None
    except ValueError as e:  # a value pydantic-settings could not even parse (a bad JSON list, say)
        say(f"bad setting: {one_line(e)}")
        raise typer.Exit(ExitCode.BAD_SETTING) from None


def setting_errors(e: ValidationError) -> list[str]:
    """One line per invalid setting, named by its environment variable; secrets are not echoed."""
    lines = []
    for problem in e.errors():
        name = "_".join(str(part) for part in problem["loc"])
        msg = problem["msg"].removeprefix("Value error, ")
        if not name:  # a rule across settings
            lines.append(f"bad settings: {msg}")
            continue
        value = problem.get("input")
        secret = any(w in name for w in ("secret", "key", "token", "password", "url"))  # as hide_input_in_errors
        shown = f"={value!r}" if isinstance(value, str | int | float) and not secret else ""
        lines.append(f"bad setting STREAMPROCESS_{name.upper()}{shown}: {msg}")
    return lines


def say(line: str, style: str | None = "red") -> None:
    """One plain line on stderr: no markup, no highlighting, no wrapping (tests and log collectors read it)."""
    err.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def refuse(e: StartupError) -> NoReturn:
    """A service that cannot start: one or two plain lines and the error's exit code (the traceback at DEBUG)."""
    log.debug("start-up failed", exc_info=True)
    say(f"cannot start: {e.message}")
    if e.hint:
        say(e.hint, style=None)
    raise typer.Exit(e.exit_code) from None


def setup_logging(level: str) -> None:
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(console=err, show_path=False, rich_tracebacks=True)
        fmt = "%(name)s: %(message)s"
    else:  # plain, one line per record, for log collectors and CI
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level.upper(), format=fmt, datefmt="%H:%M:%S", handlers=[handler], force=True)
    for noisy in (
        "botocore",
        "aiobotocore",
        "urllib3",
        "uvicorn.access",
        "fontTools",
        "pikepdf",
        "faster_whisper",
        "ocrmypdf",
        "RapidOCR",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def exit_now_if_released(released: int) -> None:
    """Released jobs may still occupy processor threads (a thread cannot be cancelled), and the interpreter would
    wait for them at exit: their messages are back on the queue, so leave at once."""
    if released:
        log.info("exiting with %d released job(s) still in threads", released)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
