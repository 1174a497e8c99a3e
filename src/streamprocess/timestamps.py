"""Zone-aware times everywhere: a time that arrives without a zone is taken as UTC.

moto's S3 events, some S3-compatible stores and hand-written events give ``eventTime`` without a zone; mixing
such a time with an aware one raises ``TypeError`` in arithmetic and comparisons (a metrics line once turned every
succeeded S3 job into a retry that way). Every model field that holds a time uses :data:`UTCDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` with a zone: a naive time is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


#: A datetime that is always zone-aware (naive input is UTC), so arithmetic between any two never raises.
UTCDateTime = Annotated[datetime, AfterValidator(as_utc)]
