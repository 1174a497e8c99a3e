"""Progress of a piece of work, in its own unit (seconds of audio, pages): the callback type and the record.

An engine reports through a :data:`ProgressFn`; a job's processor turns those reports into a :class:`Progress`,
which the worker copies into the job record about once a second.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

#: ``(done, total)`` in the unit of the work; called from the thread doing it, as often as it likes (the receiver
#: keeps the newest report).
ProgressFn = Callable[[float, float], None]


class Progress(BaseModel):  # how far a job is, as its record shows it (no docstring: it would enter the schema)
    done: float
    total: float | None = None
    unit: str = "seconds"

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)
