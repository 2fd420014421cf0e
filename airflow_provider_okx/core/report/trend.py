"""The trend: total USD over the last reports, from the first bytes of each ``summary.json``.

A summary lists its scalar fields (``schema_version``, ``date``, ``total_usd``...) before its
lists, so :func:`summary_head` finds them in the first :data:`HEAD_BYTES` of the file: a
trend over 30 reports reads 30 small heads, whatever the size of the treasury. Summaries
written before schema 2 sort their keys (``total_usd`` comes after every list); their head
has no total, and such a report is left out of the trend unless its whole file is small.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_okx.core.report.amounts import amount

TREND_REPORTS = 30
"""Reports in the trend, today's included."""

HEAD_BYTES = 8192
"""How much of a summary holds its scalar fields (a schema 2 head is well under 1 kB, more
with a long ``chains`` list)."""

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def summary_head(text: str) -> dict[str, Any]:
    """The top-level members at the start of a summary's JSON ``text``, in order, up to the
    first one that ``text`` does not hold whole (the rest of the file may be cut off)."""
    fields: dict[str, Any] = {}
    pos = _SPACE.match(text).end()  # type: ignore[union-attr]  # matches the empty string
    if not text.startswith("{", pos):
        return fields
    pos += 1
    while True:
        try:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if not isinstance(key, str) or not text.startswith(":", pos):
                return fields
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            value, pos = _DECODER.raw_decode(text, pos)
        except ValueError:  # cut off inside this member (or not JSON)
            return fields
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        end = text[pos : pos + 1]
        if end not in (",", "}"):  # a number cut off after some digits also decodes: not whole
            return fields
        fields[key] = value
        if end == "}":
            return fields
        pos += 1


def trend_point(summary: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(date, total_usd)`` of a summary or summary head; ``None`` when it has no valid date
    and exact total (a file of another kind, or a head cut before its total)."""
    date, total = summary.get("date"), summary.get("total_usd")
    if not isinstance(date, str) or len(date) != 10 or not isinstance(total, str):
        return None
    try:
        value = Decimal(total)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return date, amount(value)


def trend_points(summary: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """``summary``'s date and total after those of the last earlier reports in ``history``
    (summaries or heads, any order, one per date; entries without a valid date and total are
    left out): at most :data:`TREND_REPORTS` points, oldest first."""
    date = summary["date"]
    points: dict[str, str] = {}
    for entry in history:
        point = trend_point(entry)
        if point is not None and point[0] < date:
            points.setdefault(*point)
    points[date] = summary["total_usd"]
    return [{"date": day, "total_usd": points[day]} for day in sorted(points)[-TREND_REPORTS:]]
