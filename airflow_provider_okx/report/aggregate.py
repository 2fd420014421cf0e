"""The report's summary: exact totals by chain, token, symbol and wallet, reconciliation
against OKX's own totals, and changes since the previous report.

Pure and deterministic: the same snapshot gives the same dict (every list has a total order),
and every amount in it is an exact decimal string.

What counts in the totals: priced rows that are not risk tokens. A ``token_price`` of 0 means
OKX has no price (not that the token is worthless): such rows are listed under ``unpriced``
with their balances. Risk (honeypot) tokens are listed under ``risk_tokens``. Neither adds to
``total_usd`` nor to the USD of ``by_chain``, ``by_token``, ``by_symbol`` or ``by_wallet``.

The summary is also the next day's ``previous``: changes are computed from its token, wallet
and chain lists, and its ``holdings`` keep every wallet's tokens (the CSV's amounts) so the
summary alone describes the day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_okx.chains import chain_name
from airflow_provider_okx.models import EXACT, ZERO
from airflow_provider_okx.report.amounts import amount
from airflow_provider_okx.report.changes import compare
from airflow_provider_okx.report.gc_pause import paused_gc
from airflow_provider_okx.report.positions import TokenKey
from airflow_provider_okx.report.reconcile import check_tolerance, fold_totals, reconcile_wallet
from airflow_provider_okx.report.snapshot import Snapshot, chain_order, fold

__all__ = ["HOLDING_COLUMNS", "SCHEMA_VERSION", "Snapshot", "build_summary"]

SCHEMA_VERSION = 1
"""Version of the summary's shape; bumped when a field the next day's comparison reads changes."""

HOLDING_COLUMNS = (
    "chain_index",
    "token_address",
    "symbol",
    "balance",
    "token_price",
    "usd_value",
    "is_risk_token",
)
"""The fields of each ``holdings`` row (one row per wallet, chain and token, in CSV order)."""

PRICED = "priced"
UNPRICED = "unpriced"
RISK = "risk"


@dataclass(slots=True)
class _TokenGroup:
    """One token's rows of one kind (priced, unpriced or risk) across wallets."""

    chain_index: str
    token_address: str
    symbol: str
    balance: Decimal = ZERO
    usd: Decimal = ZERO
    prices: set[Decimal] = field(default_factory=set)
    wallets: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Wallet:
    label: str
    address: str
    configured: bool
    usd: Decimal = ZERO
    """USD that counts in the total."""
    usd_all: Decimal = ZERO
    """USD of every row, risk tokens included: what OKX's own total is compared with."""
    tokens: set[TokenKey] = field(default_factory=set)
    holdings: list[list[Any]] = field(default_factory=list)


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
        wallet = wallets[key] = _Wallet(label or address, address, configured)
    elif not wallet.configured and address < wallet.address:
        wallet.label = wallet.address = address
    return wallet


def _token_list(groups: dict[TokenKey, _TokenGroup], *, by_usd: bool) -> list[dict[str, Any]]:
    def order(item: tuple[TokenKey, _TokenGroup]) -> tuple[Any, ...]:
        (chain, token), group = item
        tie = (chain_order(chain), group.symbol, token)
        return (_desc(group.usd), *tie) if by_usd else tie

    result = []
    for _, group in sorted(groups.items(), key=order):
        price = next(iter(group.prices)) if len(group.prices) == 1 else None
        result.append(
            {
                "chain_index": group.chain_index,
                "chain_name": chain_name(group.chain_index),
                "token_address": group.token_address,
                "symbol": group.symbol,
                "balance": amount(group.balance),
                "price": None if price is None else amount(price),
                "usd": amount(group.usd),
                "wallet_count": len(group.wallets),
            }
        )
    return result


def build_summary(
    snapshot: Snapshot,
    *,
    okx_totals: Mapping[str, Decimal] | None = None,
    previous: Mapping[str, Any] | None = None,
    tolerance_usd: Decimal = Decimal("0.01"),
    tolerance_ratio: Decimal = Decimal("0.001"),
) -> dict[str, Any]:
    """The JSON-safe summary of ``snapshot`` (written as ``summary.json``).

    :param snapshot: the day's balances.
    :param okx_totals: address -> OKX's ``total-value-by-address`` (asset type token, same risk
        filter) for reconciliation; ``None`` skips it. A wallet missing from a given mapping is
        flagged (status ``missing``).
    :param previous: the previous report's summary (its ``summary.json`` loaded), for ``changes``.
    :param tolerance_usd: a wallet is flagged when ``|ours - OKX's|`` exceeds the larger of
        this and ``tolerance_ratio x |OKX's total|``.
    :param tolerance_ratio: see ``tolerance_usd``.
    """
    check_tolerance(tolerance_usd, "tolerance_usd")
    check_tolerance(tolerance_ratio, "tolerance_ratio")
    totals = None if okx_totals is None else fold_totals(okx_totals)
    with paused_gc():
        wallets: dict[str, _Wallet] = {}
        for label, address in snapshot.wallets.items():
            _wallet(wallets, fold(address), address, label, True)
        groups: dict[str, dict[TokenKey, _TokenGroup]] = {PRICED: {}, UNPRICED: {}, RISK: {}}
        add = EXACT.add
        rows = snapshot.rows
        for row in rows:
            balance, usd = row.balance, row.usd
            wallet = wallets.get(row.wallet_key)
            if wallet is None or not wallet.configured:
                wallet = _wallet(wallets, row.wallet_key, balance.address, "", False)
            kind = RISK if balance.is_risk_token else PRICED if balance.token_price != 0 else UNPRICED
            key = (balance.chain_index, row.token_key)
            group = groups[kind].get(key)
            if group is None:
                group = groups[kind][key] = _TokenGroup(
                    balance.chain_index, balance.token_address, balance.symbol
                )
            elif balance.token_address < group.token_address:
                group.token_address = balance.token_address
            group.balance = add(group.balance, balance.balance)
            group.usd = add(group.usd, usd)
            group.prices.add(balance.token_price)
            group.wallets.add(row.wallet_key)
            wallet.usd_all = add(wallet.usd_all, usd)
            if kind == PRICED:
                wallet.usd = add(wallet.usd, usd)
            wallet.tokens.add(key)
            wallet.holdings.append(
                [
                    balance.chain_index,
                    balance.token_address,
                    balance.symbol,
                    row.balance_str,
                    row.price_str,
                    row.usd_str,
                    balance.is_risk_token,
                ]
            )
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
                        "token_count": len(wallet.tokens),
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
            "schema_version": SCHEMA_VERSION,
            "date": snapshot.date,
            "generated_at": snapshot.generated_at,
            "previous_date": None if previous is None else previous.get("date"),
            "chains": [str(chain) for chain in snapshot.chains],
            "exclude_risk_tokens": snapshot.exclude_risk_tokens,
            "total_usd": amount(total),
            "risk_usd": amount(risk_usd),
            "row_count": len(rows),
            "wallet_count": len(wallets),
            "chain_count": len(chains),
            "token_count": len(set().union(*groups.values())),
            "priced_token_count": len(groups[PRICED]),
            "unpriced_token_count": len(groups[UNPRICED]),
            "risk_token_count": len(groups[RISK]),
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
            "holdings": {
                "columns": list(HOLDING_COLUMNS),
                "wallets": [
                    {
                        "label": wallets[key].label,
                        "address": wallets[key].address,
                        "rows": wallets[key].holdings,
                    }
                    for key in sorted(wallets)
                ],
            },
        }
        if previous is not None:
            summary["changes"] = compare(summary, previous)
        return summary
