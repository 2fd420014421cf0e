"""Exact amounts as the summary writes them."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_okx.core.models import decimal_str


def amount(value: Decimal) -> str:
    """The exact value in plain notation without trailing zeros: ``2655.6249``, not
    ``2655.624900000000000000000000000`` (what an exact sum of mixed-scale terms would carry).

    What ``decimal_str(value.normalize())`` gives, without making the normalized decimal: the
    plain text with the zeros after its point (and a bare point) cut off; a million-row
    roll-forward writes several amounts a row.
    """
    if not value:
        return "0"  # what normalize and decimal_str give any zero (0.000, -0), sooner
    text = decimal_str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
