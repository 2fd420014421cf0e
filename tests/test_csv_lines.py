"""The report's CSV lines are joined by hand (csv_lines): the same bytes as ``csv.writer``."""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal

import pytest

from airflow_provider_okx.core.models import TokenBalance
from airflow_provider_okx.core.report import Snapshot, render_csv
from airflow_provider_okx.core.report.csv_lines import BATCH_LINES, field, records, write_lines
from airflow_provider_okx.core.report.csv_render import COLUMNS
from airflow_provider_okx.core.text import spreadsheet_safe

HOSTILE = ["", " ", ",", '"', '""', "a,b", 'say "hi"', "line\nbreak", "cr\rlf\r\n", "\t", "'", "=1+2", "é"]
HOSTILE += ["\u2028"]
ALPHABET = ",\"\r\n\t =+-@ab'\u00e9\u2028;|\\"


def writer_cell(text: str, quoting: int = csv.QUOTE_MINIMAL) -> str:
    """``text`` as ``csv.writer`` writes it between two other cells."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=quoting).writerow(("x", text, "y"))
    line = out.getvalue()
    if quoting == csv.QUOTE_ALL:
        return line[len('"x",') : -len(',"y"\n')]
    return line[len("x,") : -len(",y\n")]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_field_is_written_as_the_csv_module_writes_it(text: str) -> None:
    """As ``csv.writer`` writes it; a cell with a carriage return quoted (3.11 leaves it bare)."""
    expected = writer_cell(text, csv.QUOTE_ALL if "\r" in text else csv.QUOTE_MINIMAL)
    assert field(text) == expected


def test_random_fields_match_the_csv_module_and_read_back() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))
        expected = writer_cell(text, csv.QUOTE_ALL if "\r" in text else csv.QUOTE_MINIMAL)
        assert field(text) == expected, repr(text)
        line = f"a,{field(text)},b\n"
        assert list(csv.reader(io.StringIO(line, newline=""))) == [["a", text, "b"]], repr(text)


def test_lines_are_written_in_order_in_few_writes() -> None:
    writes: list[str] = []

    class Out:
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    lines = [f"{n}\n" for n in range(BATCH_LINES * 2 + 5)]
    write_lines(Out(), iter(lines))  # type: ignore[arg-type]
    assert "".join(writes) == "".join(lines)
    assert len(writes) == 3
    writes.clear()
    write_lines(Out(), [])  # type: ignore[arg-type]
    assert writes == []  # nothing to write: no empty write


def test_a_text_cache_makes_each_text_once_and_forgets_past_its_bound(monkeypatch) -> None:
    from airflow_provider_okx.core import text

    made: list[str] = []

    def make(value: str) -> str:
        made.append(value)
        return value.upper()

    monkeypatch.setattr(text, "TEXTS_KEPT", 3)
    cache = text.TextCache(make)
    assert [cache[v] for v in ("a", "b", "a", "c", "b")] == ["A", "B", "A", "C", "B"]
    assert made == ["a", "b", "c"]
    assert cache["d"] == "D" and len(cache) == 1  # the fourth distinct text: started again


def test_balances_csv_of_hostile_text_reads_back_cell_for_cell() -> None:
    """Every text cell a user or a token deployer controls, through the hand-joined lines and
    back through ``csv.DictReader``: each reads as ``spreadsheet_safe`` of what went in."""
    rng = random.Random(11)
    wallets: dict[str, str] = {}
    balances = []
    for n in range(40):
        label = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) + f"#{n}"
        address = f"0x{n + 1:040x}"
        wallets[label] = address
        symbol = rng.choice(HOSTILE) + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 5)))
        balances.append(
            TokenBalance(
                chain_index=rng.choice(["1", "56"]),
                token_address=rng.choice(["", f"0x{n + 77:040x}"]),
                address=address,
                symbol=symbol,
                balance=Decimal(rng.choice(["1", "0.000000000000000001", "12345.6789"])),
                raw_balance=rng.choice([None, 10**18]),
                token_price=Decimal(rng.choice(["0", "1.5"])),
                token_type=rng.choice([None, "1", 'a,"b']),
                transfer_amount=None,
                available_amount=None,
                is_risk_token=rng.random() < 0.5,
            )
        )
    snapshot = Snapshot("2026-12-05", "2026-12-05T00:00:00.000Z", wallets, ["1", "56"], False, balances)
    text = render_csv(snapshot)
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(records[0]) == list(COLUMNS)
    labels = {address: label for label, address in wallets.items()}
    by_wallet = {b.address: b for b in balances}
    assert len(records) == len(balances)
    for record in records:
        source = by_wallet[record["address"]]
        assert record["wallet_label"] == spreadsheet_safe(labels[source.address])
        assert record["symbol"] == spreadsheet_safe(source.symbol)
        kind = source.token_type
        assert record["token_type"] == ("" if kind is None else spreadsheet_safe(kind))
        assert Decimal(record["balance"]) == source.balance
        assert record["raw_balance"] == ("" if source.raw_balance is None else str(source.raw_balance))


def _read(reader, lines):
    """What ``reader`` gives for ``lines``: its records, then the error that stopped it."""
    out: list = []
    try:
        for record in reader(lines):
            out.append(record)
    except csv.Error as error:
        out.append(("error", str(error)))
    return out


def _split_at_lf(text: str) -> list[str]:
    """``text``'s lines as ``report_ledger._lines`` gives them: split at LF only, LF kept."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


@pytest.mark.parametrize("seed", range(3))
def test_records_are_what_the_csv_reader_gives_for_any_text(seed: int) -> None:
    """Hand-split lines and the reader's records agree on random text of commas, quotes, CR, LF,
    NUL and blanks (lines as a file opened with ``newline=""`` or split at LF gives them), errors
    included; and on the files the writer makes of hostile cells."""
    rng = random.Random(seed)
    alphabet = ALPHABET + "\0,,,aaa\n\n"  # NUL: Python 3.11's reader takes it as a character
    tried = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for lines in (_split_at_lf(text), io.StringIO(text, newline="").readlines()):
            assert _read(records, lines) == _read(csv.reader, lines), repr(text)
            tried += 1
    for _ in range(300):
        out = io.StringIO()
        rows = [[rng.choice([*HOSTILE, "1.5", "x"]) for _ in range(rng.randint(1, 5))] for _ in range(5)]
        csv.writer(out, lineterminator="\n").writerows(rows)
        lines = _split_at_lf(out.getvalue())
        assert list(records(lines)) == list(csv.reader(lines))
    assert tried == 6000


def test_records_split_plain_lines_without_the_reader(monkeypatch) -> None:
    """A line with nothing to parse is split by hand: the reader sees only the quoted record
    (and the line its cell runs on into)."""
    import airflow_provider_okx.core.report.csv_lines as module

    seen: list[str] = []
    reader = csv.reader

    def watching(lines):
        def pulled():
            for line in lines:
                seen.append(line)
                yield line

        return reader(pulled())

    monkeypatch.setattr(module.csv, "reader", watching)
    lines = ["a,b\n", '"c\n', 'd",e\n', "f,g\n", "\n", "h"]
    assert list(records(lines)) == [["a", "b"], ["c\nd", "e"], ["f", "g"], [], ["h"]]
    assert seen == ['"c\n', 'd",e\n']
