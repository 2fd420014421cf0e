"""One day's positions per token, wallet and chain, read back from a summary.

Day-over-day changes compare two summaries (today's, just built, and the previous
``summary.json``); both are read by :meth:`Positions.from_summary`, so each change is the
difference of two numbers obtained the same way. Every summary version has the fields read
here (schema 1 as well as 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.models import EXACT, ZERO, parse_decimal
from airflow_provider_okx.core.report.attribution import reference_price
from airflow_provider_okx.core.report.snapshot import fold

TokenKey = tuple[str, str]
"""``(chain_index, fold(token_address))``: a token's identity across wallets and days."""


@dataclass(slots=True)
class TokenPosition:
    chain_index: str
    token_address: str
    symbol: str
    balance: Decimal = ZERO
    """Units held by all wallets, priced or not, risk or not."""
    counted: bool = False
    """Whether the token counts in the total (it has priced rows that are not risk tokens)."""
    counted_balance: Decimal = ZERO
    """Units of those rows."""
    usd: Decimal = ZERO
    """USD that counts in the total."""
    price: Decimal | None = None
    """Reference price of the counted rows (see :mod:`~airflow_provider_okx.core.report.attribution`)."""


@dataclass(slots=True)
class WalletPosition:
    label: str
    address: str
    usd: Decimal


@dataclass(frozen=True)
class Positions:
    total: Decimal
    tokens: dict[TokenKey, TokenPosition]
    wallets: dict[str, WalletPosition]
    chains: dict[str, Decimal]

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Positions:
        """Read a summary built by :func:`~airflow_provider_okx.core.report.build_summary`."""

        def section(name: str) -> list[Mapping[str, Any]]:
            value = summary.get(name)
            if not isinstance(value, list):
                raise ValueError(
                    f"summary of {summary.get('date')!r} has no {name!r} list: "
                    "it was not written by this report (or by an incompatible version)"
                )
            return value

        def amount(entry: Mapping[str, Any], name: str) -> Decimal:
            return parse_decimal(entry.get(name), name)

        tokens: dict[TokenKey, TokenPosition] = {}
        for name in ("by_token", "unpriced", "risk_tokens"):
            for entry in section(name):
                address = str(entry.get("token_address") or "")
                key = (str(entry["chain_index"]), fold(address))
                token = tokens.get(key)
                if token is None:
                    token = tokens[key] = TokenPosition(key[0], address, str(entry.get("symbol") or ""))
                balance = amount(entry, "balance")
                token.balance = EXACT.add(token.balance, balance)
                if name == "by_token":
                    price = None if entry.get("price") is None else amount(entry, "price")
                    usd = amount(entry, "usd")
                    token.counted, token.counted_balance, token.usd = True, balance, usd
                    token.price = reference_price(price, usd, balance)
        wallets = {
            fold(str(entry["address"])): WalletPosition(
                str(entry.get("label") or entry["address"]), str(entry["address"]), amount(entry, "usd")
            )
            for entry in section("by_wallet")
        }
        chains = {str(entry["chain_index"]): amount(entry, "usd") for entry in section("by_chain")}
        return cls(amount(summary, "total_usd"), tokens, wallets, chains)
