"""``summary.json``: the summary as canonical JSON.

Keys are sorted and nesting is indented by two spaces, but a record (a dict whose values are
plain, or lists of plain values: a token, a wallet) and a row of plain values (a holding) is
written on one line. ``json.dumps(indent=2)`` would spread a large treasury's 100,000
holdings over 800,000 lines and take seconds; this takes a fraction of that, and a
day-to-day ``diff`` shows one line per changed record. ASCII only; the same summary always
gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_okx.report.gc_pause import paused_gc

_LINE = json.JSONEncoder(sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
_INDENT = "  "


_PLAIN = frozenset({str, int, bool, type(None)})


def _is_plain(values: Any) -> bool:
    """Every value is a string, number, boolean or null (checked in C: runs once per record)."""
    return set(map(type, values)) <= _PLAIN


def _is_record(mapping: dict[str, Any]) -> bool:
    """A dict for one line: its values are plain, or lists of plain values."""
    values = mapping.values()
    return _is_plain(values) or all(
        type(value) in _PLAIN or (type(value) is list and _is_plain(value)) for value in values
    )


def _encode(value: Any, depth: int, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value or _is_record(value):
            out.append(_LINE.encode(value))
            return
        inner = "\n" + _INDENT * (depth + 1)
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError(f"summary keys must be strings, got {key!r}")
            out.append(("," if i else "") + inner + _LINE.encode(key) + ": ")
            _encode(value[key], depth + 1, out)
        out.append("\n" + _INDENT * depth + "}")
    elif isinstance(value, (list, tuple)):
        if _is_plain(value):
            out.append(_LINE.encode(value))
            return
        inner = "\n" + _INDENT * (depth + 1)
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + inner)
            _encode(item, depth + 1, out)
        out.append("\n" + _INDENT * depth + "]")
    else:
        out.append(_LINE.encode(value))


def render_summary_json(summary: Mapping[str, Any]) -> str:
    """``summary`` as JSON text with a trailing newline (amounts are already exact strings)."""
    out: list[str] = []
    with paused_gc():
        _encode(dict(summary), 0, out)
    out.append("\n")
    return "".join(out)
