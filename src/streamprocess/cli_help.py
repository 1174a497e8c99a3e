"""Readable ``--help`` for the command line.

Typer (0.2x) shows each option's Python type in help: ``--help <bool>``, ``--queue <list[str]>``,
``files... <list[Path]>``. :class:`ReadableHelpGroup` (``typer.Typer(cls=...)``) names a value in words instead, as
click does (``INTEGER``, ``FLOAT``, ``TEXT``, ``PATH``; ``TEXT...`` for a repeatable one), and shows nothing for a
flag, which takes no value. Choices stay as they are (``<queued|running|…>``). Only help text changes: parsing and
error messages do not (a ``metavar`` would have renamed the option in errors). A group's list of commands shows each
one's first paragraph as one flowing line, not with its docstring's line breaks.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from typer.core import TyperGroup

_WORDS = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "path": "PATH", "Path": "PATH"}
_TYPE = re.compile(r"<(list\[)?(\w+)\]?>")


def _readable_type(shown: str | None, is_flag: bool) -> str | None:
    if is_flag:
        return ""
    match = _TYPE.fullmatch(shown or "")
    if not match or match.group(2) not in _WORDS:
        return shown
    return _WORDS[match.group(2)] + ("..." if match.group(1) else "")


def _readable(param: Any) -> None:
    shown = getattr(param, "display_type_rich", None)
    if shown is None or getattr(param, "_readable_help", False):
        return
    is_flag = bool(getattr(param, "is_flag", False))

    def display_type_rich(ctx: Any) -> str | None:
        return _readable_type(shown(ctx=ctx), is_flag)

    param.display_type_rich = display_type_rich  # what both help renderers call
    param._readable_help = True


def _readable_command(command: Any) -> None:
    if command.help and not command.short_help:  # a group's list of commands keeps a docstring's line breaks
        command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
    for param in command.params:
        _readable(param)
    get_help_option = command.get_help_option  # made on first use, with the context's option names

    def readable_help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            _readable(option)
        return option

    command.get_help_option = readable_help_option
    for sub in getattr(command, "commands", {}).values():
        _readable_command(sub)


class ReadableHelpGroup(TyperGroup):
    """A typer group whose help, and its commands' (sub-groups included), names values in words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable_command(self)
