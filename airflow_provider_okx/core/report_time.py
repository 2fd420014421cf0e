"""When a treasury report's balances were really fetched, and whether that fits its date.

OKX serves only current balances: a run for a past logical date (a backfill, a catch-up run)
fetches today's balances. :class:`SnapshotTime` measures the gap between the fetch and the end
of the run's period (``data_interval_end``, or the logical date when that is later: a manual
run's logical date is the moment it was triggered) and calls the snapshot *stale* beyond
``max_snapshot_lag``. The operator refuses a stale snapshot unless told to publish it, and then
labels it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

# Their home is core.inputs (the report operator checks them at DAG parse time without this
# module's dataclasses); re-exported here, where they were first defined.
from airflow_provider_okx.core.inputs import DEFAULT_MAX_SNAPSHOT_LAG, parse_lag

__all__ = [
    "DEFAULT_MAX_SNAPSHOT_LAG",
    "RunPeriod",
    "SnapshotTime",
    "describe",
    "format_instant",
    "parse_instant",
    "parse_lag",
]


def parse_instant(raw: object) -> datetime.datetime:
    """An ISO 8601 instant with a zone (``2026-11-24T00:00:05.123Z``) as an aware datetime."""
    if isinstance(raw, datetime.datetime):
        moment = raw
    elif isinstance(raw, str):
        moment = datetime.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    else:
        raise TypeError(f"not an instant: {raw!r}")
    if moment.tzinfo is None:
        raise ValueError(f"{raw!r} has no time zone")
    return datetime.datetime.fromtimestamp(moment.timestamp(), tz=datetime.timezone.utc)


def format_instant(moment: datetime.datetime) -> str:
    """``2026-11-24T00:00:05.123Z`` (UTC, milliseconds)."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def describe(lag: datetime.timedelta) -> str:
    """``21 days 9 h 34 min``, ``3 h 5 min``, ``45 s`` (the size of ``lag``)."""
    seconds = int(abs(lag).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} day" + ("" if days == 1 else "s")] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


@dataclass(frozen=True)
class RunPeriod:
    """What a run says about time: the report's date and the instant its period ends."""

    date: str | None
    """``YYYY-MM-DD`` of the logical date (``None``: the run has no logical date)."""
    end: datetime.datetime | None

    @classmethod
    def of(cls, context: Any) -> RunPeriod:
        logical = context.get("logical_date")
        moments = [parse_instant(m) for m in (logical, context.get("data_interval_end")) if m is not None]
        date = context.get("ds")
        if not date and logical is not None:
            date = parse_instant(logical).date().isoformat()
        return cls(date=date or None, end=max(moments) if moments else None)


@dataclass(frozen=True)
class SnapshotTime:
    """When the balances were fetched, against the run's period."""

    date: str
    first_fetched_at: datetime.datetime
    """When the fetch began (mapped snapshots: the earliest batch)."""
    fetched_at: datetime.datetime
    """When the last balance had been read (mapped snapshots: the latest batch)."""
    period_end: datetime.datetime | None
    max_lag: datetime.timedelta

    @classmethod
    def of(
        cls,
        period: RunPeriod,
        first_fetched_at: datetime.datetime,
        fetched_at: datetime.datetime,
        max_lag: datetime.timedelta,
    ) -> SnapshotTime:
        date = period.date or fetched_at.astimezone(datetime.timezone.utc).date().isoformat()
        return cls(date, first_fetched_at, fetched_at, period.end, max_lag)

    @property
    def lag(self) -> datetime.timedelta | None:
        """``fetched_at - period_end`` (negative: fetched before the period ended)."""
        return None if self.period_end is None else self.fetched_at - self.period_end

    @property
    def stale(self) -> bool:
        lag = self.lag
        return lag is not None and abs(lag) > self.max_lag

    def to_dict(self) -> dict[str, Any]:
        lag = self.lag
        return {
            "fetched_at": format_instant(self.fetched_at),
            "first_fetched_at": format_instant(self.first_fetched_at),
            "period_end": None if self.period_end is None else format_instant(self.period_end),
            "snapshot_lag_seconds": None if lag is None else int(lag.total_seconds()),
            "snapshot_lag": None
            if lag is None
            else describe(lag) + (" before" if lag.days < 0 else " after"),
            "max_snapshot_lag_seconds": int(self.max_lag.total_seconds()),
            "stale_snapshot": self.stale,
        }

    def refusal(self) -> str:
        """Why a stale snapshot is not published, and what to do about it."""
        lag = self.lag
        assert lag is not None and self.period_end is not None
        when = "after" if lag.days >= 0 else "before"
        return (
            f"The report for {self.date} would publish balances fetched {format_instant(self.fetched_at)}, "
            f"{describe(lag)} {when} its period ended ({format_instant(self.period_end)}); more than "
            f"max_snapshot_lag ({describe(self.max_lag)}). OKX serves only current balances, so this "
            f"would stamp them with a date they do not belong to (a backfill or catch-up run?). "
            f"Pass allow_stale_snapshot=True to publish them labelled as fetched "
            f"{format_instant(self.fetched_at)}, or raise max_snapshot_lag."
        )
