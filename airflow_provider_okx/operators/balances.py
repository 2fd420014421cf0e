"""``OkxTokenBalancesOperator``: every token of one or more wallets, into XCom."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.inputs import (
    check_chains_fit,
    check_conn_id,
    parse_addresses,
    parse_chains,
    parse_flag,
    parse_optional_amount,
    parse_wallets,
)
from airflow_provider_okx.core.money import decimal_str
from airflow_provider_okx.glue.compat import BaseOperator, Context
from airflow_provider_okx.glue.links import wallet_explorer_links
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.hooks.okx import OkxHook

__all__ = ["OkxTokenBalancesOperator", "parse_addresses"]  # parse_addresses: its old home


def is_dust(row: TokenBalance, floor: Decimal | None) -> bool:
    """Whether ``min_usd_value`` drops ``row``: a priced row worth less than ``floor``. A row OKX
    has no price for (``0``) is never dust: its worth is unknown, not small."""
    return floor is not None and row.is_priced and row.usd_value < floor


MAX_WALLET_LOG_LINES = 20
"""Wallets logged one line each; beyond, one line says how many more."""


class OkxTokenBalancesOperator(TextTemplateFields, BaseOperator):
    """Fetch every token balance of ``address`` on ``chains`` and return them exactly.

    :param address: one address, a list, or ``{label: address}`` (labels only name wallets in
        the log) (templated; ``.expand(address=[...])`` maps it). A wallet written twice in any
        case (``0xAbC..``, ``0xabc..``) is fetched and counted once, as first written; base58
        addresses (Solana, Tron, legacy Bitcoin) are case-sensitive. Each address is sent only
        the chains of its own family (EVM, Solana, Bitcoin...).
    :param chains: chain indices or names: ints, strings, ``"1,56"``, ``["ethereum", "base"]``
        (templated).
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky (chains 1, 56, 501, 8453).
    :param min_usd_value: drop rows worth less than this many USD (dust); the total counts only
        the rows returned and ``dropped_count`` says how many were dropped (templated). A token
        OKX has no price for is never dust: it is kept and counted in ``unpriced_count``.
    :param okx_conn_id: the ``okx`` connection (templated).

    Returns ``{"addresses", "chains", "fetched_at", "exclude_risk_tokens", "token_count",
    "total_usd", "min_usd_value", "dropped_count", "unpriced_count", "balances"}``: decimals as exact strings;
    rows ordered by address, chain, then USD value descending, so identical data gives an
    identical XCom. Each row belongs to the address as it was queried. Permanent errors (a
    refused key or signature, invalid input) fail the task at once, without its retries.
    """

    template_fields = ("address", "chains", "min_usd_value", "okx_conn_id")
    ui_color = "#e8f4fd"
    operator_extra_links = wallet_explorer_links()

    def __init__(
        self,
        *,
        address: str | list[str] | dict[str, str],
        chains: Any,
        exclude_risk_tokens: bool = True,
        min_usd_value: Any = None,
        okx_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.address = address
        self.chains = chains
        self.exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        self.min_usd_value = min_usd_value
        self.okx_conn_id = (
            okx_conn_id if unresolved(okx_conn_id) else check_conn_id(okx_conn_id, "okx_conn_id")
        )
        # Fail at parse time what can be known at parse time; templates are checked in execute.
        addresses = None if unresolved(address) else parse_addresses(address)
        chain_list = None if unresolved(chains) else parse_chains(chains)
        if addresses is not None and chain_list is not None:
            check_chains_fit(addresses, chain_list)
        if not unresolved(min_usd_value):
            parse_optional_amount(min_usd_value, "min_usd_value")

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        with failing_fast_on_permanent_errors():
            wallets = parse_wallets(self.address, "address")
            addresses = list(wallets.values())
            chains = parse_chains(self.chains)
            check_chains_fit(addresses, chains)
            floor = parse_optional_amount(self.min_usd_value, "min_usd_value")
            fetched = self.hook.get_wallets_token_balances(
                addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens
            )
        from airflow_provider_okx.core.api.signing import format_timestamp  # not at DAG parse time
        from airflow_provider_okx.core.models import sort_key, total_usd
        from airflow_provider_okx.glue.lineage import OkxRead

        self.okx_read = OkxRead.of(self.hook, fetched, chains)  # the inputs lineage reports
        rows = [row for balances in fetched.values() for row in balances]
        kept = [row for row in rows if not is_dust(row, floor)]
        kept.sort(key=sort_key)
        self._log_wallets(wallets, fetched, floor, len(chains))
        return {
            "addresses": addresses,
            "chains": chains,
            "fetched_at": format_timestamp(time.time()),
            "exclude_risk_tokens": self.exclude_risk_tokens,
            "token_count": len(kept),
            "total_usd": decimal_str(total_usd(kept)),
            "min_usd_value": None if floor is None else decimal_str(floor),
            "dropped_count": len(rows) - len(kept),
            "unpriced_count": sum(1 for row in kept if not row.is_priced),
            "balances": [row.to_dict() for row in kept],
        }

    def _log_wallets(
        self,
        wallets: dict[str, str],
        fetched: dict[str, list[TokenBalance]],
        floor: Decimal | None,
        chain_count: int,
    ) -> None:
        """One line per wallet (label, address, tokens, exact USD total), at most
        :data:`MAX_WALLET_LOG_LINES`, then how many more."""
        from airflow_provider_okx.core.models import total_usd

        below = f" below {decimal_str(floor)} USD" if floor is not None else ""
        kept_all = [row for rows in fetched.values() for row in rows if not is_dust(row, floor)]
        self.log.info(
            "%d token(s) over %d wallet(s) and %d chain(s): %s USD in all",
            len(kept_all),
            len(wallets),
            chain_count,
            decimal_str(total_usd(kept_all)),
        )
        for shown, (label, address) in enumerate(wallets.items()):
            if shown == MAX_WALLET_LOG_LINES:
                self.log.info("... and %d more wallet(s)", len(wallets) - shown)
                break
            rows = fetched.get(address, [])
            kept = [row for row in rows if not is_dust(row, floor)]
            name = address if label == address else f"{label} ({address})"
            dropped = f", {len(rows) - len(kept)} dropped{below}" if len(kept) != len(rows) else ""
            self.log.info(
                "Wallet %s: %d token(s), %s USD%s",
                name,
                len(kept),
                decimal_str(total_usd(kept)),
                dropped,
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one input dataset per wallet read (see :mod:`airflow_provider_okx.glue.lineage`)."""
        from airflow_provider_okx.glue.lineage import balances_lineage

        return balances_lineage(self)
