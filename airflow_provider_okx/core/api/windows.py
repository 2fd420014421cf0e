"""Time windows of the history and price routes: what we ask OKX, and what we keep.

OKX documents ``begin``/``end`` in milliseconds ("after begin", "before end") without saying
whether either bound is inclusive. So a window is asked one millisecond wider than needed
at the start, and every record is filtered here:

- transactions: ``begin <= tx_time < end`` (half-open: consecutive windows tile a history
  with no record counted twice or lost);
- historical prices: ``begin <= time <= end`` (both inclusive: the point at a cut-off is
  the price as of the cut-off).

Sans-IO: no HTTP library, no Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.models import EPOCH, datetime_to_ms


def aware_utc(value: object, field: str) -> datetime:
    """``value`` as an aware UTC datetime; a naive datetime or anything else is refused."""
    if not isinstance(value, datetime):
        raise OkxInvalidInputError(field, value, "expected an aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise OkxInvalidInputError(
            field, value, "a naive datetime is ambiguous: give a time zone (e.g. tzinfo=timezone.utc)"
        )
    result = value.astimezone(timezone.utc)
    if result < EPOCH:
        raise OkxInvalidInputError(field, value, "is before 1970")
    return result


@dataclass(frozen=True)
class TimeWindow:
    """``[begin, end)`` or ``[begin, end]`` in aware UTC; either bound may be open (``None``)."""

    begin: datetime | None
    end: datetime | None
    end_inclusive: bool = False

    @classmethod
    def of(cls, begin: object, end: object, *, end_inclusive: bool = False) -> TimeWindow:
        """Checked bounds: aware datetimes (or ``None``), ``begin`` before ``end``."""
        first = None if begin is None else aware_utc(begin, "begin")
        last = None if end is None else aware_utc(end, "end")
        if first is not None and last is not None and (last < first or (last == first and not end_inclusive)):
            raise OkxInvalidInputError("end", end, f"is not after begin ({begin})")
        return cls(first, last, end_inclusive)

    @property
    def query_begin_ms(self) -> int | None:
        """``begin`` to send: one millisecond early, in case OKX's bound is exclusive."""
        return None if self.begin is None else max(0, datetime_to_ms(self.begin) - 1)

    @property
    def query_end_ms(self) -> int | None:
        """``end`` to send: rounded up to the millisecond, plus one when the end is inclusive."""
        if self.end is None:
            return None
        ms = datetime_to_ms(self.end)
        if self.end.microsecond % 1000:
            ms += 1
        return ms + 1 if self.end_inclusive else ms

    def contains(self, when: datetime) -> bool:
        if self.begin is not None and when < self.begin:
            return False
        if self.end is None:
            return True
        return when < self.end or (when == self.end and self.end_inclusive)
