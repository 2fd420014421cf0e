"""Balance snapshots read back: the XCom results of ``OkxTokenBalancesOperator`` as rows.

The report and the SQL loader both take upstream snapshots (one or many mapped batches) and
need the whole picture, each wallet counted once; the rules for that live here, once.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import address_key, normalize_chains
from airflow_provider_okx.core.inputs import literal
from airflow_provider_okx.core.models import TokenBalance, decimal_str
from airflow_provider_okx.core.report_time import parse_instant
from airflow_provider_okx.core.text import clean_text


def snapshot_list(snapshots: Any) -> list[Any]:
    """Upstream results as a list: one result, a list (or Airflow's lazy sequence) of them, or
    their rendered text (a ``{{ ti.xcom_pull(...) }}`` template renders to the list's text)."""
    if isinstance(snapshots, str):
        try:
            snapshots = literal(snapshots.strip())
        except ValueError:
            raise OkxInvalidInputError(
                "balances", snapshots[:80], "expected OkxTokenBalancesOperator results"
            ) from None
    if isinstance(snapshots, dict):
        return [snapshots]
    try:  # a list, or Airflow's lazy sequence of a mapped task's results
        return list(snapshots)
    except TypeError:
        raise OkxInvalidInputError(
            "balances", type(snapshots).__name__, "expected OkxTokenBalancesOperator results"
        ) from None


def rows_from_snapshots(
    snapshots: Any, addresses: list[str], chains: list[str], exclude_risk_tokens: bool
) -> list[TokenBalance]:
    """The rows of :class:`OkxTokenBalancesOperator` results for ``addresses``, checked to be
    the whole picture, each wallet counted once.

    Wallets are matched with :func:`~airflow_provider_okx.core.chains.address_key` (case folded
    only where the address family ignores case), and every row is attributed to the address
    as ``addresses`` writes it. Batches may overlap (``[A, B]`` and ``[B, C]``): a wallet two
    batches fetched counts once when they agree row for row; when they disagree (a balance,
    a price or a token that differs for the same wallet, chain and token) this fails naming the
    wallet, since nothing says which one is right.
    """
    snapshots = snapshot_list(snapshots)
    wanted = {address_key(address): address for address in addresses}
    by_wallet: dict[str, dict[tuple[str, str], TokenBalance]] = {}
    for snap in snapshots:
        _check_snapshot(snap, chains, exclude_risk_tokens)
        batch: dict[str, dict[tuple[str, str], TokenBalance]] = {
            key: {} for address in snap.get("addresses") or () if (key := address_key(str(address))) in wanted
        }
        for item in snap["balances"]:
            row = TokenBalance.from_dict(item)
            key = address_key(row.address)
            if key not in wanted:
                continue
            address = wanted[key]
            if row.address != address:
                row = dataclasses.replace(row, address=address)
            rows = batch.setdefault(key, {})
            token = (row.chain_index, address_key(row.token_address))
            if token in rows and rows[token] != row:
                raise _disagreement(address, {token: rows[token]}, {token: row})
            rows[token] = row
        for key, rows in batch.items():
            first = by_wallet.setdefault(key, rows)
            if first is not rows and first != rows:
                raise _disagreement(wanted[key], first, rows)
    missing = [address for key, address in wanted.items() if key not in by_wallet]
    if missing:
        raise OkxInvalidInputError(
            "balances", missing, "no snapshot for these wallets: the report would be partial"
        )
    return [row for rows in by_wallet.values() for row in rows.values()]


def _check_snapshot(snap: Any, chains: list[str], exclude_risk_tokens: bool) -> None:
    if not isinstance(snap, dict) or "balances" not in snap:
        raise OkxInvalidInputError(
            "balances", type(snap).__name__, "expected OkxTokenBalancesOperator results"
        )
    if snap.get("dropped_count"):
        raise OkxInvalidInputError(
            "balances", snap.get("addresses"), "dust was dropped (min_usd_value): totals would be short"
        )
    try:  # the same chains in any order (or written as names) are the same chains
        fetched_for = set(normalize_chains(list(snap.get("chains") or [])))
    except OkxInvalidInputError:
        fetched_for = None
    if fetched_for != set(chains):
        raise OkxInvalidInputError("balances", snap.get("chains"), f"fetched for other chains than {chains}")
    if snap.get("exclude_risk_tokens") is not exclude_risk_tokens:
        raise OkxInvalidInputError("balances", snap.get("addresses"), "fetched with another risk filter")


def _disagreement(
    address: str, first: dict[tuple[str, str], TokenBalance], other: dict[tuple[str, str], TokenBalance]
) -> OkxInvalidInputError:
    """The error for two snapshots that give one wallet different rows: the first difference."""
    for token in sorted(first.keys() | other.keys()):
        a, b = first.get(token), other.get(token)
        if a != b:
            chain, contract = token
            name = (a or b).symbol if (a or b) is not None else ""  # type: ignore[union-attr]
            what = f"{clean_text(name) or 'token'} ({contract or 'native'}) on chain {chain}"
            return OkxInvalidInputError(
                "balances",
                address,
                f"two snapshots of this wallet disagree on {what}: {_describe(a)} vs {_describe(b)}; "
                "it cannot be counted once",
            )
    raise AssertionError("no difference")  # pragma: no cover


def _describe(row: TokenBalance | None) -> str:
    if row is None:
        return "absent"
    return f"balance {decimal_str(row.balance)} at {decimal_str(row.token_price)} USD"


def fetch_window(snapshots: Any) -> tuple[datetime.datetime, datetime.datetime]:
    """When the earliest and the latest of ``snapshots`` were fetched (their ``fetched_at``)."""
    snapshots = snapshot_list(snapshots)
    moments = []
    for snap in snapshots:
        raw = snap.get("fetched_at") if isinstance(snap, dict) else None
        try:
            moments.append(parse_instant(raw))
        except (TypeError, ValueError):
            raise OkxInvalidInputError(
                "balances", raw, "a snapshot without a valid fetched_at: when were these balances read?"
            ) from None
    if not moments:
        raise OkxInvalidInputError("balances", snapshots, "no snapshot at all")
    return min(moments), max(moments)
