"""The benchmark harness's own logic (``bench/__main__.py``): the recorded table read back,
``--compare``'s ratios, the details that never repeat a table row, the sizes per mode. The
figures themselves run in ``make bench-smoke`` (part of ``make test``)."""

from __future__ import annotations

import argparse

import pytest

from bench.__main__ import (
    FIGURES,
    headline,
    recorded_rows,
    render_compare,
    render_details,
    render_table,
)
from bench.common import FigureResult, size

RECORDED = """# Benchmark results

- Machine: nproc 2

| figure | measured | goal | holds? |
|---|---|---|---|
| 1. Client CPU per balance call | 587 us CPU/call = 1.10x requests floor | <= 1.2x requests floor | yes |
| | 1.13x python-okx (522 us) | <= 1.0x python-okx | MISS |
| 4. 1,000 triggers waiting | [shared] 0 x 429 | 0 x 429 | yes |
| | [distinct] 0.59 ms CPU/request | <= 1 ms | yes |

## Details

| not | a | table | row |
"""


def _result(title: str, *rows: tuple[str, str, bool | None], details: tuple[str, ...] = ()) -> FigureResult:
    result = FigureResult(title)
    for measured, goal, holds in rows:
        result.goal(measured, goal, holds)
    result.details.extend(details)
    return result


@pytest.mark.parametrize(
    ("measured", "number"),
    [
        ("587 us CPU/call = 1.10x requests floor (188 us)", 1.10),
        ("30.3 s for 600 requests = 1.010x the 30 s bound", 1.010),
        ("[shared] 0 x 429", 0.0),
        ("96,366 rows identical", 96366.0),
        ("100,000 rows: 1.40 s, CSV included", 1.40),
        ("2,000 rows (scaled): aggregate + render 0.61 s", 0.61),
        ("[shared] p99 lateness 17 ms (0.3%)", 17.0),
        ("[distinct] 0.94 ms CPU/request", 0.94),
        ("python-okx failed", None),
    ],
)
def test_headline_is_the_ratio_else_the_first_number(measured, number):
    assert headline(measured) == number


def test_recorded_rows_reads_only_the_first_table():
    rows = recorded_rows(RECORDED)
    assert sorted(rows) == ["1", "4"]
    assert rows["1"][1] == ("1.13x python-okx (522 us)", "<= 1.0x python-okx", "MISS")
    assert len(rows["4"]) == 2


def test_compare_puts_each_row_beside_the_recorded_one():
    now = [
        _result(
            "1. Client CPU per balance call",
            ("600 us CPU/call = 1.21x requests floor", "<= 1.2x requests floor", False),
            ("0.90x python-okx (600 us)", "<= 1.0x python-okx", True),
        ),
        _result(
            "4. 1,000 triggers waiting",
            ("[distinct] 0.30 ms CPU/request", "<= 1 ms", True),  # matched by case, not position
            ("[shared] 0 x 429", "0 x 429", True),
        ),
        _result("7. A new figure", ("3 things", "<= 4 things", True)),
    ]
    table = render_compare(now, recorded_rows(RECORDED)).splitlines()
    header = [c.strip() for c in table[0].split("|")[1:-1]]
    assert header == ["figure", "goal", "recorded", "now", "now/recorded", "holds? (was)"]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in table[2:]]
    assert cells[0][4] == "1.10" and cells[0][5] == "MISS (yes)"  # 1.21 / 1.10
    assert cells[1][4] == "0.80" and cells[1][5] == "yes (MISS)"  # 0.90 / 1.13
    assert cells[2][2] == "[distinct] 0.59 ms CPU/request" and cells[2][4] == "0.51"
    assert cells[3][4] == "="  # 0 then, 0 now
    assert cells[4][2] == "(not recorded)" and cells[4][4] == "-"


def test_details_never_repeat_a_table_row():
    result = _result(
        "2. Fan-out",
        ("30.3 s for 600 requests", "<= 1.1x bound", True),
        details=("30.3 s for 600 requests", "| 2. Fan-out | 30.3 s | x | yes |", "200 wallets x 120 chains"),
    )
    details = render_details([result], {"2. Fan-out": 40.0})
    assert details.splitlines() == ["2. Fan-out (40 s)", "    200 wallets x 120 chains"]


def test_smoke_table_says_ran_or_error_never_a_verdict():
    results = [_result("6. Signing", ("2 us", "<= 2x", False)), _result("5. Report", ("failed", "-", None))]
    table = render_table(results, smoke=True)
    assert "| ran " in table and "| ERROR " in table and "MISS" not in table


def test_sizes_per_mode():
    full, quick, smoke = (argparse.Namespace(quick=q, smoke=s) for q, s in ((0, 0), (1, 0), (0, 1)))
    assert [size(a, full=300, quick=60, smoke=5) for a in (full, quick, smoke)] == [300, 60, 5]


def test_registry_numbers_titles_and_modules_agree():
    for number, figure in FIGURES.items():
        assert figure.number == number
        assert figure.title.startswith(f"{number}. ")
        assert figure.module.startswith(f"fig{number}_")
        assert figure.smoke_limit <= figure.limit


def test_compare_says_when_the_goal_itself_changed():
    now = [_result("1. Client CPU per balance call", ("1.0x requests floor", "<= 1.1x requests floor", True))]
    table = render_compare(now, recorded_rows(RECORDED)).splitlines()
    cells = [c.strip() for c in table[2].split("|")[1:-1]]
    assert cells[4] == "goal changed"  # a ratio of two different statements would mean nothing
