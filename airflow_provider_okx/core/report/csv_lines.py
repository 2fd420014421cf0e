"""CSV lines joined by hand: the bytes ``csv.writer(out, lineterminator="\\n")`` writes, with
one repair (a carriage return inside a cell is quoted: see :func:`field`); and read back split by
hand where a line needs no parser (:func:`records`).

The report's CSV files have a million lines at scale, and ``csv.writer`` costs about 4.6 us a
line against about 1 us for a join of cells already made: most cells are amounts (digits, a
point, a sign: never quoted) and the text cells repeat (labels, addresses, chains, tokens), so
each distinct text is quoted once and the join does the rest.

Pure: no Airflow, no I/O beyond the stream it is given.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO

SPECIAL = frozenset(',"\r\n')
"""Characters that make a field quoted; a field without any is written as it is."""

BATCH_LINES = 4096
"""Lines joined per write by :func:`write_lines`."""


def field(text: str) -> str:
    """``text`` as a cell of a CSV line: as it is, or between double quotes with its quotes
    doubled when it holds a delimiter, a quote or a line break: what ``csv.writer`` writes,
    except that a carriage return is quoted too (Python 3.11's writer leaves a bare CR
    unquoted under ``lineterminator="\\n"``, and every reader then splits the row there)."""
    if SPECIAL.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def write_lines(out: IO[str], lines: Iterable[str]) -> None:
    """Write ``lines`` to ``out``, :data:`BATCH_LINES` joined per write (no call per line)."""
    pending = iter(lines)
    while chunk := "".join(islice(pending, BATCH_LINES)):
        out.write(chunk)


def records(lines: Iterable[str]) -> Iterator[list[str]]:
    """The records of CSV ``lines`` (each ending in ``\\n``, as a file opened with ``newline=""``
    or split at LF gives them): exactly what ``csv.reader(lines)`` yields, in about half its time
    on the report's files (a million-line ``balances.csv`` read in blocks and split at LF: 1.1 s
    against 2.0-2.2 s).

    A line without a quote or a carriage return is split at its commas (what the reader
    does with it: no cell of it can be quoted, and it is the whole record); any other line, with
    the lines a quoted cell runs on into, goes through ``csv.reader``, which also keeps its
    errors. A million-row ``balances.csv`` is read back for every roll-forward, and the reader
    made all sixteen cells of each line character by character."""
    source = iter(lines)
    first: list[str] = []  # the line handed to the reader, which pulls any continuation itself

    def feed() -> Iterator[str]:
        while True:
            if first:
                yield first.pop()
            else:
                line = next(source, None)
                if line is None:
                    return
                yield line

    reader = csv.reader(feed())
    for line in source:
        if '"' in line or "\r" in line:
            first.append(line)
            yield next(reader)  # a record from this line: the reader has it to read
        elif line.endswith("\n"):
            yield line[:-1].split(",") if len(line) > 1 else []
        else:
            yield line.split(",") if line else []
