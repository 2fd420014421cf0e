"""The input of a treasury report: one day's balances of a set of labelled wallets.

Pure: no Airflow, no HTTP, no I/O.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from airflow_provider_okx.core.chains import address_key
from airflow_provider_okx.core.models import EXACT, TokenBalance, decimal_str
from airflow_provider_okx.core.report.valuation import Valuation

fold = address_key
"""The identity of an address or token contract for matching and grouping: the one rule of
:func:`airflow_provider_okx.core.chains.address_key` (case folded only where the family ignores it)."""


def chain_order(chain_index: str) -> tuple[int, str]:
    """Sort key for chain indices: numerically, non-numeric ones first, then as text."""
    return (int(chain_index) if chain_index.isascii() and chain_index.isdigit() else -1, chain_index)


class Row(NamedTuple):
    """A balance with what every output needs from it, computed once per pass."""

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
    :param balances: every token balance of every wallet on every chain, in any order.
    :param valuation: how ``token_price`` was chosen (default: OKX's live price at
        ``generated_at``); ``balances.csv`` discloses each row's ``price_time`` and ``price_source``.
    """

    date: str
    generated_at: str
    wallets: dict[str, str]
    chains: list[str]
    exclude_risk_tokens: bool
    balances: list[TokenBalance]
    valuation: Valuation | None = field(default=None)

    @property
    def prices(self) -> Valuation:
        """:attr:`valuation`, or OKX's live price at ``generated_at``."""
        return self.valuation or Valuation.live(self.generated_at)

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

    @property
    def rows(self) -> Iterator[Row]:
        """The balances in :func:`~airflow_provider_okx.core.models.sort_key` order, each with its USD
        value and decimal strings: a fresh pass on every access, one wallet at a time.

        Nothing is kept: at a million balances, keeping every row's strings and USD value
        cost about 450 MB more than the balances themselves, and one sort over all of them
        (a key tuple per balance) 320 MB and 1.9 s. Here the balances are grouped by wallet
        (by address as written, taken in the key's order: lowercased, then as written) and each
        wallet's few rows are sorted on their own: the same order, as the sort is stable.
        """
        wallets: dict[str, list[TokenBalance]] = {}
        for balance in self.balances:
            group = wallets.get(balance.address)
            if group is None:
                wallets[balance.address] = [balance]
            else:
                group.append(balance)
        folded: dict[str, str] = {}
        prices: dict[int, tuple[Decimal, str]] = {}  # id -> (price, its text): one text per object
        chains: dict[str, int] = {}
        mul, minus = EXACT.multiply, EXACT.minus
        for address in sorted(wallets, key=lambda spelling: (spelling.lower(), spelling)):
            wallet_key = fold(address)  # every balance of the group has this address
            keyed = []
            for n, balance in enumerate(wallets[address]):
                token_key = folded.get(balance.token_address)
                if token_key is None:
                    token_key = folded[balance.token_address] = fold(balance.token_address)
                index = balance.chain_index
                chain = chains.get(index)
                if chain is None:
                    chain = chains[index] = chain_order(index)[0]
                usd = mul(balance.balance, balance.token_price)
                # The rest of sort_key after the address: chain (numeric), USD descending,
                # symbol, token; then the position, so the sort never compares two balances.
                keyed.append(
                    (
                        chain,
                        index,
                        minus(usd),
                        balance.symbol,
                        balance.token_address,
                        n,
                        balance,
                        usd,
                        token_key,
                    )
                )
            keyed.sort()
            for *_, balance, usd, token_key in keyed:
                price = balance.token_price
                known = prices.get(id(price))
                if known is None or known[0] is not price:  # a price shared by many rows is printed once
                    known = prices[id(price)] = (price, decimal_str(price))
                strings = (decimal_str(balance.balance), known[1], decimal_str(usd))
                yield new_row(Row, (balance, usd, wallet_key, token_key, *strings))  # Row's fields


new_row = tuple.__new__
"""Builds a :class:`Row` from its fields in order, without the namedtuple's Python-level
``__new__`` (a million rows a pass)."""
