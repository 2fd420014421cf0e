"""Day-over-day changes: per token, wallet and chain, and tokens that appeared or vanished.

Both days are summaries read by :meth:`~airflow_provider_okx.report.positions.Positions.from_summary`,
so the token USD changes add up exactly to the change of the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_okx.chains import chain_name
from airflow_provider_okx.models import EXACT, ZERO
from airflow_provider_okx.report.amounts import amount
from airflow_provider_okx.report.positions import Positions, TokenPosition, WalletPosition
from airflow_provider_okx.report.snapshot import chain_order

NEW = "new"
VANISHED = "vanished"
CHANGED = "changed"
UNCHANGED = "unchanged"


def _status(now: object, before: object) -> str:
    return NEW if before is None else VANISHED if now is None else CHANGED


def _token_entry(position: TokenPosition) -> dict[str, Any]:
    return {
        "chain_index": position.chain_index,
        "chain_name": chain_name(position.chain_index),
        "token_address": position.token_address,
        "symbol": position.symbol,
        "balance": amount(position.balance),
        "usd": amount(position.usd),
    }


def _by_usd_desc(entries: list[tuple[Decimal, Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Entries ordered by the decimal descending, then by the (unique) tie-breaker ascending."""
    entries.sort(key=lambda e: (EXACT.minus(e[0]), e[1]))
    return [entry for _, _, entry in entries]


def compare(current_summary: Mapping[str, Any], previous_summary: Mapping[str, Any]) -> dict[str, Any]:
    """The ``changes`` section of a summary: ``current_summary`` against ``previous_summary``."""
    current = Positions.from_summary(current_summary)
    previous = Positions.from_summary(previous_summary)
    sub = EXACT.subtract
    absolute = EXACT.abs

    tokens: list[tuple[Decimal, Any, dict[str, Any]]] = []
    new: list[tuple[Decimal, Any, dict[str, Any]]] = []
    vanished: list[tuple[Decimal, Any, dict[str, Any]]] = []
    unchanged = 0
    for key in current.tokens.keys() | previous.tokens.keys():
        now, before = current.tokens.get(key), previous.tokens.get(key)
        status = _status(now, before)
        ref: TokenPosition = now or before  # type: ignore[assignment]  # one of them exists
        tie = (chain_order(key[0]), key[1])
        balance_change = sub(now.balance if now else ZERO, before.balance if before else ZERO)
        usd_change = sub(now.usd if now else ZERO, before.usd if before else ZERO)
        if status == CHANGED and balance_change == 0 and usd_change == 0:
            unchanged += 1
            continue
        if now is None:
            vanished.append((ref.usd, tie, _token_entry(ref)))
        elif before is None:
            new.append((ref.usd, tie, _token_entry(ref)))
        tokens.append(
            (
                absolute(usd_change),
                tie,
                {
                    "chain_index": ref.chain_index,
                    "chain_name": chain_name(ref.chain_index),
                    "token_address": ref.token_address,
                    "symbol": ref.symbol,
                    "previous_balance": amount(before.balance if before else ZERO),
                    "balance": amount(now.balance if now else ZERO),
                    "balance_change": amount(balance_change),
                    "previous_usd": amount(before.usd if before else ZERO),
                    "usd": amount(now.usd if now else ZERO),
                    "usd_change": amount(usd_change),
                    "status": status,
                },
            )
        )

    wallets: list[tuple[Decimal, Any, dict[str, Any]]] = []
    for wallet_key in current.wallets.keys() | previous.wallets.keys():
        w_now, w_before = current.wallets.get(wallet_key), previous.wallets.get(wallet_key)
        w_ref: WalletPosition = w_now or w_before  # type: ignore[assignment]
        change = sub(w_now.usd if w_now else ZERO, w_before.usd if w_before else ZERO)
        status = _status(w_now, w_before)
        if status == CHANGED and change == 0:
            status = UNCHANGED
        wallets.append(
            (
                absolute(change),
                (w_ref.label, wallet_key),
                {
                    "label": w_ref.label,
                    "address": w_ref.address,
                    "previous_usd": amount(w_before.usd if w_before else ZERO),
                    "usd": amount(w_now.usd if w_now else ZERO),
                    "usd_change": amount(change),
                    "status": status,
                },
            )
        )

    chains: list[tuple[Decimal, Any, dict[str, Any]]] = []
    for chain_index in current.chains.keys() | previous.chains.keys():
        c_now, c_before = current.chains.get(chain_index), previous.chains.get(chain_index)
        change = sub(ZERO if c_now is None else c_now, ZERO if c_before is None else c_before)
        chains.append(
            (
                absolute(change),
                chain_order(chain_index),
                {
                    "chain_index": chain_index,
                    "chain_name": chain_name(chain_index),
                    "previous_usd": amount(ZERO if c_before is None else c_before),
                    "usd": amount(ZERO if c_now is None else c_now),
                    "usd_change": amount(change),
                },
            )
        )

    return {
        "previous_date": previous_summary.get("date"),
        "previous_generated_at": previous_summary.get("generated_at"),
        "previous_total_usd": amount(previous.total),
        "total_usd_change": amount(sub(current.total, previous.total)),
        "by_token": _by_usd_desc(tokens),
        "unchanged_token_count": unchanged,
        "by_wallet": _by_usd_desc(wallets),
        "by_chain": _by_usd_desc(chains),
        "new_tokens": _by_usd_desc(new),
        "vanished_tokens": _by_usd_desc(vanished),
    }
