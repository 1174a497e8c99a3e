"""Per-job options from strings: job options and object metadata (``x-amz-meta-*``, all strings, dashes in names)
read into an engine's pydantic options model, over defaults (which come from the settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import PermanentError

M = TypeVar("M", bound=BaseModel)


def options_from_mapping(
    model: type[M],
    values: Mapping[str, Any],
    defaults: M | None,
    *,
    error: type[PermanentError],
    aliases: Mapping[str, str] | None = None,
) -> M:
    """``values`` over ``defaults`` (the model's own defaults when None): names are matched without regard to case,
    ``-`` for ``_``, ``aliases`` renamed (``lang`` → ``languages``); None values and unknown names are ignored. A
    value that does not validate raises ``error`` naming the option."""
    base = (defaults or model()).model_dump()
    given = {k.replace("-", "_").lower(): v for k, v in values.items() if v is not None}
    for alias, name in (aliases or {}).items():
        if alias in given:
            given[name] = given.pop(alias)
    given = {k: v for k, v in given.items() if k in model.model_fields}
    try:
        return model.model_validate({**base, **given})
    except ValidationError as e:
        err = e.errors()[0]
        raise error(f"option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def normalise_language(value: str | None) -> str | None:
    """A requested language as jobs and live streams take it: case and spaces do not matter, and ``auto`` (or empty)
    means detect (None)."""
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    return value.strip().lower()
