"""Reconciliation: each wallet's exact sum of token values against OKX's own total.

OKX's ``total-value-by-address`` (asset type token, same risk filter) is an independent
figure for the same holdings; a wallet is flagged when the two differ by more than
``max(tolerance_usd, tolerance_ratio x |okx total|)``. Our side is the sum over every row of
the wallet, risk tokens included when they were fetched, because OKX's total then includes
them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.models import EXACT
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.snapshot import fold

OK = "ok"
MISMATCH = "mismatch"
MISSING = "missing"
"""OKX totals were given, but not for this wallet: it cannot be reconciled, so it is flagged."""
NOT_CHECKED = "not_checked"
"""No OKX totals were given at all."""


def check_tolerance(value: object, name: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{name}={value!r}: expected a finite, non-negative Decimal")
    return value


def reconcile_wallet(
    our_usd: Decimal,
    okx_total: Decimal | None,
    *,
    checked: bool,
    tolerance_usd: Decimal,
    tolerance_ratio: Decimal,
) -> dict[str, Any]:
    """One wallet's reconciliation: status, difference (ours minus OKX's) and allowance."""
    if okx_total is None:
        return {
            "our_usd": amount(our_usd),
            "okx_total_usd": None,
            "difference": None,
            "allowed_difference": None,
            "status": MISSING if checked else NOT_CHECKED,
            "flagged": checked,
        }
    difference = EXACT.subtract(our_usd, okx_total)
    allowed = max(tolerance_usd, EXACT.multiply(tolerance_ratio, EXACT.abs(okx_total)))
    flagged = EXACT.abs(difference) > allowed
    return {
        "our_usd": amount(our_usd),
        "okx_total_usd": amount(okx_total),
        "difference": amount(difference),
        "allowed_difference": amount(allowed),
        "status": MISMATCH if flagged else OK,
        "flagged": flagged,
    }


def fold_totals(okx_totals: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``okx_totals`` keyed by folded address; refuses non-Decimal values and duplicates."""
    folded: dict[str, Decimal] = {}
    for address, total in okx_totals.items():
        if not isinstance(total, Decimal) or not total.is_finite():
            raise ValueError(f"okx_totals[{address!r}]={total!r}: expected a finite Decimal")
        key = fold(address)
        if key in folded and folded[key] != total:
            raise ValueError(f"okx_totals: address {address!r} is given twice with different totals")
        folded[key] = total
    return folded
