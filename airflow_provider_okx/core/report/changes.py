"""Day-over-day changes: per token, wallet and chain, each split into a price effect, a quantity
effect and positions that entered or left the total (:mod:`~airflow_provider_okx.core.report.attribution`).

Both days are summaries read by :meth:`~airflow_provider_okx.core.report.positions.Positions.from_summary`,
so the token USD changes add up exactly to the change of the total, and so does each effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.chains import chain_name
from airflow_provider_okx.core.models import EXACT, ZERO
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.attribution import Effects, token_effects, wallet_effects
from airflow_provider_okx.core.report.positions import Positions, TokenPosition, WalletPosition
from airflow_provider_okx.core.report.snapshot import chain_order

NEW = "new"
VANISHED = "vanished"
CHANGED = "changed"
UNCHANGED = "unchanged"

WalletParts = Mapping[str, tuple[Decimal, Decimal]]
"""Wallet key -> (``sum(q_now x P)`` over its rows in tokens that counted before, its value
today in tokens that did not): what a wallet's split needs from today's rows."""


def _status(now: object, before: object) -> str:
    return NEW if before is None else VANISHED if now is None else CHANGED


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else amount(value)


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


def compare(current: Positions, previous: Positions, wallet_parts: WalletParts) -> dict[str, Any]:
    """The ``changes`` section of a summary: ``current`` against ``previous``, both read by
    :meth:`~airflow_provider_okx.core.report.positions.Positions.from_summary` (the previous
    summary's ``date`` and ``generated_at`` are added by the caller)."""
    sub = EXACT.subtract
    absolute = EXACT.abs

    tokens: list[tuple[Decimal, Any, dict[str, Any]]] = []
    new: list[tuple[Decimal, Any, dict[str, Any]]] = []
    vanished: list[tuple[Decimal, Any, dict[str, Any]]] = []
    by_chain: dict[str, Effects] = {}
    total = Effects()
    unchanged = 0
    for key in current.tokens.keys() | previous.tokens.keys():
        now, before = current.tokens.get(key), previous.tokens.get(key)
        status = _status(now, before)
        ref: TokenPosition = now or before  # type: ignore[assignment]  # one of them exists
        effects = token_effects(
            counted_now=now is not None and now.counted,
            usd_now=now.usd if now else ZERO,
            units_now=now.counted_balance if now else ZERO,
            usd_before=before.usd if before else ZERO,
            price_before=before.price if before else None,
        )
        total += effects
        chain = key[0]
        by_chain[chain] = by_chain[chain] + effects if chain in by_chain else effects
        balance_change = sub(now.balance if now else ZERO, before.balance if before else ZERO)
        usd_change = sub(now.usd if now else ZERO, before.usd if before else ZERO)
        if status == CHANGED and balance_change == 0 and usd_change == 0 and effects.is_zero:
            unchanged += 1
            continue
        tie = (chain_order(chain), key[1])
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
                    "previous_price": _optional(before.price if before else None),
                    "price": _optional(now.price if now else None),
                    "previous_usd": amount(before.usd if before else ZERO),
                    "usd": amount(now.usd if now else ZERO),
                    "usd_change": amount(usd_change),
                    "status": status,
                    "attribution": effects.to_json(),
                },
            )
        )

    wallets: list[tuple[Decimal, Any, dict[str, Any]]] = []
    for wallet_key in current.wallets.keys() | previous.wallets.keys():
        w_now, w_before = current.wallets.get(wallet_key), previous.wallets.get(wallet_key)
        w_ref: WalletPosition = w_now or w_before  # type: ignore[assignment]
        usd_now = w_now.usd if w_now else ZERO
        usd_before = w_before.usd if w_before else ZERO
        at_previous_prices, new_usd = wallet_parts.get(wallet_key, (ZERO, ZERO))
        split = wallet_effects(
            usd_now=usd_now, at_previous_prices=at_previous_prices, new=new_usd, usd_before=usd_before
        )
        change = sub(usd_now, usd_before)
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
                    "previous_usd": amount(usd_before),
                    "usd": amount(usd_now),
                    "usd_change": amount(change),
                    "status": status,
                    "attribution": split.to_json(),
                },
            )
        )

    chains: list[tuple[Decimal, Any, dict[str, Any]]] = []
    for chain_index in current.chains.keys() | previous.chains.keys() | by_chain.keys():
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
                    "attribution": by_chain.get(chain_index, Effects()).to_json(),
                },
            )
        )

    return {
        "previous_total_usd": amount(previous.total),
        "total_usd_change": amount(sub(current.total, previous.total)),
        "attribution": total.to_json(),
        "by_token": _by_usd_desc(tokens),
        "unchanged_token_count": unchanged,
        "by_wallet": _by_usd_desc(wallets),
        "by_chain": _by_usd_desc(chains),
        "new_tokens": _by_usd_desc(new),
        "vanished_tokens": _by_usd_desc(vanished),
    }
