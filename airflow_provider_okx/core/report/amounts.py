"""Exact amounts as the summary writes them."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_okx.core.models import EXACT, decimal_str


def amount(value: Decimal) -> str:
    """The exact value in plain notation without trailing zeros: ``2655.6249``, not
    ``2655.624900000000000000000000000`` (what an exact sum of mixed-scale terms would carry).
    """
    if not value:
        return "0"  # what normalize and decimal_str give any zero (0.000, -0), sooner
    return decimal_str(value.normalize(EXACT))
