"""The input of a treasury report: one day's balances of a set of labelled wallets.

Pure: no Airflow, no HTTP, no I/O.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from airflow_provider_okx.models import EXACT, TokenBalance, decimal_str, sort_key
from airflow_provider_okx.report.gc_pause import paused_gc

_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")


def fold(address: str) -> str:
    """The identity of an address or token contract for matching and grouping.

    A ``0x``-hex string is compared case-insensitively (EVM mixed case is only a checksum:
    OKX answers ``0xed0c...`` to a query for ``0xEd0C...``); anything else (base58, Sui type
    names, inscription ids) is case-sensitive and kept as is.
    """
    return address.lower() if _HEX.match(address) else address


def chain_order(chain_index: str) -> tuple[int, str]:
    """Sort key for chain indices: numerically, non-numeric ones first, then as text."""
    return (int(chain_index) if chain_index.isascii() and chain_index.isdigit() else -1, chain_index)


class Row(NamedTuple):
    """A balance with what every output needs from it, computed once."""

    balance: TokenBalance
    usd: Decimal
    """``balance x token_price``, exact."""
    wallet_key: str
    """:func:`fold` of the wallet address."""
    token_key: str
    """:func:`fold` of the token address."""
    balance_str: str
    price_str: str
    usd_str: str


@dataclass(frozen=True)
class Snapshot:
    """One day's balances of the treasury wallets, as fetched.

    :param date: the report's logical date, ``YYYY-MM-DD``.
    :param generated_at: when the balances were fetched, ISO 8601 UTC (``...Z``).
    :param wallets: label -> address (``{address: address}`` when there are no labels; an empty
        label also reads as the address). A wallet that holds nothing still appears in the
        report; an address seen in ``balances`` but not listed here is labelled with its address.
    :param chains: the chain indices that were queried.
    :param exclude_risk_tokens: whether OKX was asked to leave out risk (honeypot) tokens.
    :param balances: every token balance of every wallet on every chain. Treat a snapshot as a
        value: :attr:`rows` is computed from ``balances`` once, on first use.
    """

    date: str
    generated_at: str
    wallets: dict[str, str]
    chains: list[str]
    exclude_risk_tokens: bool
    balances: list[TokenBalance]

    def __post_init__(self) -> None:
        try:
            valid = len(self.date) == 10 and datetime.date.fromisoformat(self.date) is not None
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ValueError(f"date={self.date!r}: expected YYYY-MM-DD")
        labels: dict[str, str] = {}
        for label, address in self.wallets.items():
            key = fold(address)
            if key in labels:
                raise ValueError(
                    f"wallets: address {address!r} is listed twice (labels {labels[key]!r} and {label!r})"
                )
            labels[key] = label

    @cached_property
    def rows(self) -> list[Row]:
        """The balances in :func:`~airflow_provider_okx.models.sort_key` order, each with its
        USD value and decimal strings computed once, shared by the summary and the CSV."""
        with paused_gc():
            return self._prepare()

    def _prepare(self) -> list[Row]:
        mul = EXACT.multiply
        keys: dict[str, str] = {}
        rows = []
        for balance in sorted(self.balances, key=sort_key):
            wallet_key = keys.get(balance.address)
            if wallet_key is None:
                wallet_key = keys[balance.address] = fold(balance.address)
            token_key = keys.get(balance.token_address)
            if token_key is None:
                token_key = keys[balance.token_address] = fold(balance.token_address)
            usd = mul(balance.balance, balance.token_price)
            rows.append(
                Row(
                    balance,
                    usd,
                    wallet_key,
                    token_key,
                    decimal_str(balance.balance),
                    decimal_str(balance.token_price),
                    decimal_str(usd),
                )
            )
        return rows
