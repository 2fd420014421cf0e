"""``OkxTokenBalancesOperator``: every token of one or more wallets, into XCom."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.api.errors import OkxInvalidInputError
from airflow_provider_okx.api.signing import format_timestamp
from airflow_provider_okx.chains import normalize_chains, validate_address
from airflow_provider_okx.compat import BaseOperator
from airflow_provider_okx.lineage import OkxRead
from airflow_provider_okx.links import wallet_explorer_links
from airflow_provider_okx.models import decimal_str, sort_key, total_usd
from airflow_provider_okx.templating import literal, unresolved
from airflow_provider_okx.thresholds import parse_amount

if TYPE_CHECKING:
    from airflow_provider_okx.hooks.okx import OkxHook


def parse_addresses(value: object, field: str = "address") -> list[str]:
    """One address, a list, a comma-separated string, or a rendered list (``"['0x..']"``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = literal(text)
            except ValueError:
                raise OkxInvalidInputError(field, value, "not a list of addresses") from None
        else:
            value = [part for part in text.split(",") if part.strip()] or [text]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        raise OkxInvalidInputError(field, value, "expected an address or a list of addresses")
    if not value:
        raise OkxInvalidInputError(field, value, "at least one address is required")
    return list(dict.fromkeys(validate_address(item, field) for item in value))


class OkxTokenBalancesOperator(BaseOperator):
    """Fetch every token balance of ``address`` on ``chains`` and return them exactly.

    :param address: one address or a list (templated; ``.expand(address=[...])`` maps it).
        Each address is sent only the chains of its own family (EVM, Solana, Bitcoin...).
    :param chains: chain indices or names: ints, strings, ``"1,56"``, ``["ethereum", "base"]``
        (templated).
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky (chains 1, 56, 501, 8453).
    :param min_usd_value: drop rows worth less than this many USD (dust); the total counts only
        the rows returned and ``dropped_count`` says how many were dropped (templated).
    :param okx_conn_id: the ``okx`` connection (templated).

    Returns ``{"addresses", "chains", "fetched_at", "exclude_risk_tokens", "token_count",
    "total_usd", "min_usd_value", "dropped_count", "balances"}``: decimals as exact strings;
    rows ordered by address, chain, then USD value descending, so identical data gives an
    identical XCom.
    """

    template_fields = ("address", "chains", "min_usd_value", "okx_conn_id")
    ui_color = "#e8f4fd"
    operator_extra_links = wallet_explorer_links()

    def __init__(
        self,
        *,
        address: str | list[str],
        chains: Any,
        exclude_risk_tokens: bool = True,
        min_usd_value: Any = None,
        okx_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.address = address
        self.chains = chains
        self.exclude_risk_tokens = exclude_risk_tokens
        self.min_usd_value = min_usd_value
        self.okx_conn_id = okx_conn_id
        # Fail at parse time what can be known at parse time; templates are checked in execute.
        if not unresolved(address):
            parse_addresses(address)
        if not unresolved(chains):
            normalize_chains(chains)
        if min_usd_value is not None and not unresolved(min_usd_value):
            parse_amount(min_usd_value, "min_usd_value")

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        addresses = parse_addresses(self.address)
        chains = normalize_chains(self.chains)
        floor = (
            None if self.min_usd_value in (None, "") else parse_amount(self.min_usd_value, "min_usd_value")
        )
        fetched = self.hook.get_wallets_token_balances(
            addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens
        )
        self.okx_read = OkxRead.of(self.hook, fetched, chains)  # the inputs lineage reports
        rows = [row for balances in fetched.values() for row in balances]
        kept = rows if floor is None else [row for row in rows if row.usd_value >= floor]
        kept.sort(key=sort_key)
        self.log.info(
            "%d tokens over %d address(es) and %d chain(s)%s",
            len(kept),
            len(addresses),
            len(chains),
            f"; {len(rows) - len(kept)} below {floor} USD dropped" if floor is not None else "",
        )
        return {
            "addresses": addresses,
            "chains": chains,
            "fetched_at": format_timestamp(time.time()),
            "exclude_risk_tokens": self.exclude_risk_tokens,
            "token_count": len(kept),
            "total_usd": decimal_str(total_usd(kept)),
            "min_usd_value": None if floor is None else decimal_str(floor),
            "dropped_count": len(rows) - len(kept),
            "balances": [row.to_dict() for row in kept],
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one input dataset per wallet read (see :mod:`airflow_provider_okx.lineage`)."""
        from airflow_provider_okx.lineage import balances_lineage

        return balances_lineage(self)
