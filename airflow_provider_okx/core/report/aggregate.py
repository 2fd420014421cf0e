"""The report's summary: exact totals by chain, token, symbol and wallet, reconciliation
against OKX's own totals, changes since the previous report (each split into price and
quantity effects) and the trend of the total over recent reports.

Pure and deterministic: the same snapshot gives the same dict (every list has a total order),
and every amount in it is an exact decimal string.

What counts in the totals: priced rows that are not risk tokens. A ``token_price`` of 0 means
OKX has no price (not that the token is worthless): such rows are listed under ``unpriced``
with their balances. Risk (honeypot) tokens are listed under ``risk_tokens``. Neither adds to
``total_usd`` nor to the USD of ``by_chain``, ``by_token``, ``by_symbol`` or ``by_wallet``.

The summary holds aggregates only (``balances.csv`` has every row), so it stays small at a
million balances, and it is also the next day's ``previous``: changes are computed from its
token, wallet and chain lists. Its scalar fields come first (``schema_version``, ``date``,
``total_usd``...), so a reader of many summaries (the trend) needs only the first bytes of each
(:func:`~airflow_provider_okx.core.report.trend.summary_head`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.chains import chain_name
from airflow_provider_okx.core.models import EXACT, ZERO, TokenBalance
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.changes import compare
from airflow_provider_okx.core.report.positions import Positions, TokenKey
from airflow_provider_okx.core.report.reconcile import check_tolerance, fold_totals, reconcile_wallet
from airflow_provider_okx.core.report.snapshot import Snapshot, chain_order, fold
from airflow_provider_okx.core.report.trend import trend_points

__all__ = ["SCHEMA_VERSION", "Snapshot", "build_summary"]

SCHEMA_VERSION = 2
"""Version of the summary's shape; bumped when a field the next day's comparison reads changes.

2: no ``holdings`` (``balances.csv`` has every row); scalar fields first; ``trend``; changes
carry an ``attribution``. The fields a comparison reads are those of 1, which still compares.
"""

PRICED = "priced"
UNPRICED = "unpriced"
RISK = "risk"


@dataclass(slots=True, eq=False)
class _TokenGroup:
    """One token's rows of one kind (priced, unpriced or risk) across wallets (compared and
    hashed by identity)."""

    key: TokenKey
    token_address: str
    symbol: str
    price: Decimal
    """The first price seen; :attr:`mixed` says whether every row had it."""
    previous_price: Decimal | None = None
    """Reference price in the previous report (priced groups, when there is one)."""
    mixed: bool = False
    balance: Decimal = ZERO
    usd: Decimal = ZERO
    wallet_count: int = 0


@dataclass(slots=True)
class _Wallet:
    key: str
    """:func:`~airflow_provider_okx.core.report.snapshot.fold` of the address."""
    label: str
    address: str
    configured: bool
    usd: Decimal = ZERO
    """USD that counts in the total."""
    usd_all: Decimal = ZERO
    """USD of every row, risk tokens included: what OKX's own total is compared with."""
    at_previous_prices: Decimal = ZERO
    """Its counted rows in tokens that counted in the previous report, at that report's prices."""
    new_usd: Decimal = ZERO
    """Its counted value in tokens that did not count in the previous report."""
    token_count: int = 0


@dataclass(slots=True)
class _Symbol:
    balance: Decimal = ZERO
    usd: Decimal = ZERO
    chains: set[str] = field(default_factory=set)
    tokens: int = 0


def _desc(value: Decimal) -> Decimal:
    """Sort key for "largest first" that cannot round (unary minus would use the 28-digit context)."""
    return EXACT.minus(value)


def _wallet(wallets: dict[str, _Wallet], key: str, address: str, label: str, configured: bool) -> _Wallet:
    """The wallet for ``key``; an unlisted one is labelled with its (smallest seen) spelling."""
    wallet = wallets.get(key)
    if wallet is None:
        wallet = wallets[key] = _Wallet(key, label or address, address, configured)
    elif not wallet.configured and address < wallet.address:
        wallet.label = wallet.address = address
    return wallet


def _token_list(groups: dict[TokenKey, _TokenGroup], *, by_usd: bool) -> list[dict[str, Any]]:
    def order(item: tuple[TokenKey, _TokenGroup]) -> tuple[Any, ...]:
        (chain, token), group = item
        tie = (chain_order(chain), group.symbol, token)
        return (_desc(group.usd), *tie) if by_usd else tie

    return [
        {
            "chain_index": chain,
            "chain_name": chain_name(chain),
            "token_address": group.token_address,
            "symbol": group.symbol,
            "balance": amount(group.balance),
            "price": None if group.mixed else amount(group.price),
            "usd": amount(group.usd),
            "wallet_count": group.wallet_count,
        }
        for (chain, _), group in sorted(groups.items(), key=order)
    ]


def build_summary(
    snapshot: Snapshot,
    *,
    okx_totals: Mapping[str, Decimal] | None = None,
    previous: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    tolerance_usd: Decimal = Decimal("0.01"),
    tolerance_ratio: Decimal = Decimal("0.001"),
) -> dict[str, Any]:
    """The JSON-safe summary of ``snapshot`` (written as ``summary.json``).

    :param snapshot: the day's balances.
    :param okx_totals: address -> OKX's ``total-value-by-address`` (asset type token, same risk
        filter) for reconciliation; ``None`` skips it. A wallet missing from a given mapping is
        flagged (status ``missing``).
    :param previous: the previous report's summary (its ``summary.json`` loaded), for ``changes``.
    :param history: earlier reports' summaries, or just their heads (each with ``date`` and
        ``total_usd``), in any order, for ``trend``; ``previous`` is included by itself.
    :param tolerance_usd: a wallet is flagged when ``|ours - OKX's|`` exceeds the larger of
        this and ``tolerance_ratio x |OKX's total|``.
    :param tolerance_ratio: see ``tolerance_usd``.
    """
    check_tolerance(tolerance_usd, "tolerance_usd")
    check_tolerance(tolerance_ratio, "tolerance_ratio")
    totals = None if okx_totals is None else fold_totals(okx_totals)
    before = None if previous is None else Positions.from_summary(previous)
    previous_prices = {} if before is None else {k: t.price for k, t in before.tokens.items() if t.counted}

    wallets: dict[str, _Wallet] = {}
    for label, address in snapshot.wallets.items():
        _wallet(wallets, fold(address), address, label, True)
    groups: dict[str, dict[TokenKey, _TokenGroup]] = {PRICED: {}, UNPRICED: {}, RISK: {}}

    # The balances, grouped by wallet: each wallet's distinct tokens are then counted with a
    # small set dropped after the wallet (a set kept per wallet and per token cost 150 MB at a
    # million rows). Each distinct spelling of an address, and of a (kind, chain, token,
    # symbol), is looked up once; every other row finds its wallet and group in a dict.
    held: dict[str, tuple[_Wallet, list[TokenBalance]]] = {}
    by_address: dict[str, list[TokenBalance]] = {}
    for balance in snapshot.balances:
        rows = by_address.get(balance.address)
        if rows is None:
            key = fold(balance.address)
            wallet = wallets.get(key)
            if wallet is None or not wallet.configured:
                wallet = _wallet(wallets, key, balance.address, "", False)
            rows = by_address[balance.address] = held.setdefault(key, (wallet, []))[1]
        rows.append(balance)
    del by_address

    by_spelling: dict[tuple[str, str, str, str], _TokenGroup] = {}
    add = EXACT.add
    mul = EXACT.multiply
    comparing = before is not None
    for wallet, rows in held.values():
        counted = risk = new_usd = at_previous_prices = ZERO  # unpriced rows are worth 0 exactly
        seen: set[_TokenGroup] = set()
        for balance in rows:
            units, price = balance.balance, balance.token_price
            usd = mul(units, price)
            kind = RISK if balance.is_risk_token else PRICED if price else UNPRICED
            spelling = (kind, balance.chain_index, balance.token_address, balance.symbol)
            group = by_spelling.get(spelling)
            if group is None:
                token_key = (balance.chain_index, fold(balance.token_address))
                group = groups[kind].get(token_key)
                if group is None:
                    group = _TokenGroup(token_key, balance.token_address, balance.symbol, price)
                    groups[kind][token_key] = group
                    if kind == PRICED:
                        group.previous_price = previous_prices.get(token_key)
                elif (balance.token_address, balance.symbol) < (group.token_address, group.symbol):
                    group.token_address, group.symbol = balance.token_address, balance.symbol
                by_spelling[spelling] = group
            if not group.mixed and price != group.price:
                group.mixed = True
            group.balance = add(group.balance, units)
            group.usd = add(group.usd, usd)
            seen.add(group)
            if kind == PRICED:
                counted = add(counted, usd)
                if comparing:
                    if group.previous_price is None:
                        new_usd = add(new_usd, usd)
                    else:
                        at_previous_prices = add(at_previous_prices, mul(units, group.previous_price))
            elif kind == RISK:
                risk = add(risk, usd)
        for group in seen:
            group.wallet_count += 1
        wallet.token_count = len({group.key for group in seen})
        wallet.usd_all, wallet.usd = add(counted, risk), counted
        wallet.new_usd, wallet.at_previous_prices = new_usd, at_previous_prices
    del held, by_spelling
    if totals is not None:
        for address in sorted(totals):
            _wallet(wallets, address, address, "", False)

    # Chains, symbols and the total, from the per-token groups (thousands, not rows).
    chains: dict[str, tuple[Decimal, set[str]]] = {str(c): (ZERO, set()) for c in snapshot.chains}
    symbols: dict[str, _Symbol] = {}
    total = ZERO
    for kind, kind_groups in groups.items():
        for (chain, token), group in kind_groups.items():
            chain_usd, chain_tokens = chains.get(chain) or (ZERO, set())
            chain_tokens.add(token)
            chains[chain] = (add(chain_usd, group.usd) if kind == PRICED else chain_usd, chain_tokens)
            if kind == PRICED:
                total = add(total, group.usd)
                symbol = symbols.get(group.symbol)
                if symbol is None:
                    symbol = symbols[group.symbol] = _Symbol()
                symbol.balance = add(symbol.balance, group.balance)
                symbol.usd = add(symbol.usd, group.usd)
                symbol.chains.add(chain)
                symbol.tokens += 1
    risk_usd = ZERO
    for group in groups[RISK].values():
        risk_usd = add(risk_usd, group.usd)

    by_wallet: list[tuple[Any, ...]] = []
    checks: list[tuple[Any, ...]] = []
    for wallet_key, wallet in wallets.items():
        check = reconcile_wallet(
            wallet.usd_all,
            None if totals is None else totals.get(wallet_key),
            checked=totals is not None,
            tolerance_usd=tolerance_usd,
            tolerance_ratio=tolerance_ratio,
        )
        ident = {"label": wallet.label, "address": wallet.address}
        by_wallet.append(
            (
                _desc(wallet.usd),
                wallet.label,
                wallet_key,
                {
                    **ident,
                    "usd": amount(wallet.usd),
                    "token_count": wallet.token_count,
                    "okx_total_usd": check["okx_total_usd"],
                    "difference": check["difference"],
                    "reconciled": None if totals is None else not check["flagged"],
                },
            )
        )
        size = EXACT.abs(Decimal(check["difference"] or 0))
        checks.append((not check["flagged"], _desc(size), wallet.label, wallet_key, {**ident, **check}))
    by_wallet.sort(key=lambda entry: entry[:-1])
    checks.sort(key=lambda entry: entry[:-1])
    reconciliation = [entry[-1] for entry in checks]

    summary: dict[str, Any] = {
        # Scalars first: a trend reads only the first bytes of each summary.
        "schema_version": SCHEMA_VERSION,
        "date": snapshot.date,
        "generated_at": snapshot.generated_at,
        "previous_date": None if previous is None else previous.get("date"),
        "total_usd": amount(total),
        "risk_usd": amount(risk_usd),
        "row_count": len(snapshot.balances),
        "wallet_count": len(wallets),
        "chain_count": len(chains),
        "token_count": len(set().union(*groups.values())),
        "priced_token_count": len(groups[PRICED]),
        "unpriced_token_count": len(groups[UNPRICED]),
        "risk_token_count": len(groups[RISK]),
        "exclude_risk_tokens": snapshot.exclude_risk_tokens,
        "chains": [str(chain) for chain in snapshot.chains],
        "trend": [],
        "by_chain": [
            {
                "chain_index": chain,
                "chain_name": chain_name(chain),
                "usd": amount(usd),
                "token_count": len(tokens),
            }
            for chain, (usd, tokens) in sorted(
                chains.items(), key=lambda item: (_desc(item[1][0]), chain_order(item[0]))
            )
        ],
        "by_token": _token_list(groups[PRICED], by_usd=True),
        "by_symbol": [
            {
                "symbol": name,
                "balance": amount(symbol.balance),
                "usd": amount(symbol.usd),
                "chains": sorted(symbol.chains, key=chain_order),
                "token_count": symbol.tokens,
            }
            for name, symbol in sorted(symbols.items(), key=lambda item: (_desc(item[1].usd), item[0]))
        ],
        "by_wallet": [entry[-1] for entry in by_wallet],
        "unpriced": _token_list(groups[UNPRICED], by_usd=False),
        "risk_tokens": _token_list(groups[RISK], by_usd=True),
        "reconciliation": {
            "checked": totals is not None,
            "tolerance_usd": amount(tolerance_usd),
            "tolerance_ratio": amount(tolerance_ratio),
            "wallets": reconciliation,
            "flagged": [check for check in reconciliation if check["flagged"]],
        },
        "changes": None,
    }
    summary["trend"] = trend_points(summary, [*history, *([] if previous is None else [previous])])
    if previous is not None and before is not None:
        parts = {key: (w.at_previous_prices, w.new_usd) for key, w in wallets.items()}
        summary["changes"] = {
            "previous_date": previous.get("date"),
            "previous_generated_at": previous.get("generated_at"),
            **compare(Positions.from_summary(summary), before, parts),
        }
    return summary
