"""``summary.json``: the summary as JSON, indented by two spaces, ASCII only.

Keys keep the summary's own order (scalar fields first, so a trend reads only a file's head);
the same summary always gives the same bytes. The standard encoder is enough now that the
summary holds aggregates only: at 1,000,000 balance rows (10,000 wallets, an 11.5 MB summary
with changes) it took 0.25 s against 0.21 s for the line-per-record writer it replaced, and
pausing the garbage collector saved nothing measurable (see ``bench/fig5_report.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import IO, Any, Protocol

WRITE_BATCH = 4096
"""Encoder pieces joined per write by :func:`write_summary_json`."""


def render_summary_json(summary: Mapping[str, Any]) -> str:
    """``summary`` as JSON text with a trailing newline (amounts are already exact strings).

    The reference for :func:`write_summary_json`: the standard encoder, whole, with a lazy
    sequence of rows (the roll-forward's) read as a list."""
    return json.dumps(summary, indent=2, ensure_ascii=True, allow_nan=False, default=_as_list) + "\n"


def _as_list(value: object) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class JsonRows(Protocol):
    """A sequence of rows that writes itself: each row's text as the standard encoder writes it
    as an item of a list at ``depth`` (the roll-forward's
    :class:`~airflow_provider_okx.core.report.roll_forward.RollForwardRows`)."""

    def __len__(self) -> int: ...
    def json_objects(self, depth: int) -> Iterator[str]: ...


def write_summary_json(summary: Mapping[str, Any], out: IO[str]) -> None:
    """:func:`render_summary_json` written to ``out`` piece by piece, never whole: the same
    bytes. A summary with a roll-forward of a million rows is hundreds of MB of text, and
    ``json.dumps`` with ``indent`` first collects every piece of it (tens of millions); those
    rows are written by the rows themselves (:class:`JsonRows`) or, as a list of flat objects
    (text, numbers and nulls), by :func:`_flat_objects`: several times faster than the standard
    indenting encoder, to the same bytes."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=True, allow_nan=False, default=_as_list)
    section = summary.get("roll_forward")
    rows = section.get("rows") if isinstance(section, dict) else None
    objects = _objects(rows, 3) if rows else None  # summary > section > rows
    marker = None
    if objects is not None:
        marker = f"\x00rows-{uuid.uuid4().hex}\x00"
        summary = {**summary, "roll_forward": {**section, "rows": marker}}  # type: ignore[dict-item]
        marker = encoder.encode(marker)  # as the encoder writes it
    batch: list[str] = []
    for piece in encoder.iterencode(summary):
        if marker is not None and piece == marker:
            out.write("".join(batch))
            batch.clear()
            _write_list(objects, out, 3)  # type: ignore[arg-type]
            continue
        batch.append(piece)
        if len(batch) >= WRITE_BATCH:
            out.write("".join(batch))
            batch.clear()
    batch.append("\n")
    out.write("".join(batch))


def _objects(rows: Any, depth: int) -> Iterator[str] | None:
    """The texts of ``rows``' items when this module can write them faster than the encoder
    (rows that write themselves, or a list of flat objects); ``None`` otherwise."""
    if callable(getattr(rows, "json_objects", None)):
        return rows.json_objects(depth)  # type: ignore[no-any-return]
    if isinstance(rows, list) and all(_is_flat(row) for row in rows):
        return _flat_objects(rows, depth)
    return None


_SCALARS = (str, int, bool, type(None))


def _is_flat(row: object) -> bool:
    """A non-empty dict of text keys to text, ints, booleans or nulls (no float: no NaN)."""
    return (
        type(row) is dict
        and bool(row)
        and all(type(k) is str and type(v) in _SCALARS for k, v in row.items())
    )


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return encode_basestring_ascii(value)  # type: ignore[arg-type]


def _flat_objects(rows: list[dict[str, Any]], depth: int) -> Iterator[str]:
    """Each flat object of ``rows`` as the standard encoder writes it as an item at ``depth``."""
    item = "\n" + " " * (2 * depth)
    field = item + "  "
    keys: dict[str, str] = {}
    for row in rows:
        parts = []
        for key, value in row.items():
            name = keys.get(key)
            if name is None:
                name = keys[key] = encode_basestring_ascii(key) + ": "
            parts.append(name + _scalar(value))
        yield item + "{" + field + ("," + field).join(parts) + item + "}"


def _write_list(objects: Iterator[str], out: IO[str], depth: int) -> None:
    """A non-empty list, its items' texts given, as the standard encoder writes it at ``depth``."""
    batch: list[str] = ["["]
    first = True
    for text in objects:
        batch.append(text if first else "," + text)
        first = False
        if len(batch) >= WRITE_BATCH:
            out.write("".join(batch))
            batch.clear()
    batch.append("\n" + " " * (2 * depth - 2) + "]")
    out.write("".join(batch))
