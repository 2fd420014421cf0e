"""``balances.csv``: one row per wallet, chain and token, every amount exact.

Decimals are written in plain notation (never ``1E-18``) and never rounded, so
``Decimal(cell)`` gives back the original value.

Text cells a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage
return) get a leading ``'``, as OWASP advises: token symbols are chosen by whoever deployed
the token, and scam airdrops put formulas and links in them. Amount cells are never altered.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from airflow_provider_okx.chains import chain_name
from airflow_provider_okx.report.gc_pause import paused_gc
from airflow_provider_okx.report.snapshot import Snapshot, fold

COLUMNS = (
    "date",
    "wallet_label",
    "address",
    "chain_index",
    "chain_name",
    "token_address",
    "symbol",
    "balance",
    "raw_balance",
    "token_price",
    "usd_value",
    "is_priced",
    "is_risk_token",
    "token_type",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A text cell a spreadsheet shows as text, not runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(snapshot: Snapshot) -> str:
    """``balances.csv``: rows in :func:`~airflow_provider_okx.models.sort_key` order, ``\\n`` endings."""
    # A label is the user's text (guarded); an unlabelled wallet shows its address as is.
    labels = {
        fold(address): _text(label) if label else address for label, address in snapshot.wallets.items()
    }
    names: dict[str, str] = {}
    date = snapshot.date

    def lines() -> Iterator[tuple[str, ...]]:
        for row in snapshot.rows:
            balance = row.balance
            label = labels.get(row.wallet_key)
            if label is None:
                label = labels[row.wallet_key] = balance.address
            chain = balance.chain_index
            name = names.get(chain)
            if name is None:
                name = names[chain] = chain_name(chain)
            yield (
                date,
                label,
                balance.address,
                chain,
                name,
                _text(balance.token_address),
                _text(balance.symbol),
                row.balance_str,
                "" if balance.raw_balance is None else str(balance.raw_balance),
                row.price_str,
                row.usd_str,
                "true" if balance.token_price != 0 else "false",
                "true" if balance.is_risk_token else "false",
                "" if balance.token_type is None else _text(balance.token_type),
            )

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    with paused_gc():
        writer.writerows(lines())
    return out.getvalue()
