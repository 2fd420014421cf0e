"""``amount``: the summary's exact text of a decimal, without making a normalized decimal."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from airflow_provider_okx.core.models import EXACT, decimal_str
from airflow_provider_okx.core.report.amounts import amount


def reference(value: Decimal) -> str:
    """What ``amount`` was defined as: the normalized decimal in plain notation."""
    return "0" if not value else decimal_str(value.normalize(EXACT))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0"),
        ("100", "100"),
        ("100.00", "100"),
        ("1E+2", "100"),
        ("-1.50", "-1.5"),
        ("0.10", "0.1"),
        ("1e-18", "0.000000000000000001"),
        ("2655.624900000000000000000000000", "2655.6249"),
    ],
)
def test_amount_text(text: str, expected: str) -> None:
    assert amount(Decimal(text)) == expected == reference(Decimal(text))


def test_amount_is_the_normalized_plain_text_of_any_decimal() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
        for text in (f"{'-' if rng.random() < 0.3 else ''}{digits}E{rng.randint(-60, 30)}", f"{digits}.000"):
            assert amount(Decimal(text)) == reference(Decimal(text)), text


def test_amount_refuses_what_cannot_be_printed_plainly() -> None:
    for text in ("NaN", "Infinity", "1E+2000", "1E-2000"):
        with pytest.raises(ValueError):
            amount(Decimal(text))
