"""Balance thresholds: what a wait watches, how it compares, and the result it returns.

Pure (no Airflow, no HTTP, no I/O): the sensor's poke and the deferrable trigger each read the
watched value through their hook, then share every rule here, so both modes judge the same
value the same way and return the same XCom. :func:`balance_condition` builds one from what a
user typed, with :mod:`airflow_provider_okx.core.inputs`'s checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import address_key, check_family, shown, validate_address
from airflow_provider_okx.core.conditions import CONDITIONS
from airflow_provider_okx.core.inputs import (
    check_condition,
    check_metric,
    parse_amount,
    parse_chains,
    parse_flag,
    parse_token_address,
)
from airflow_provider_okx.core.money import decimal_str, exact_sum

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import TokenBalance


@dataclass(frozen=True)
class BalanceCondition:
    """A validated wait: ``<metric of address on chains> <condition> <threshold>``."""

    address: str
    chains: tuple[str, ...]
    token_address: str
    metric: str
    condition: str
    threshold: Decimal
    exclude_risk_tokens: bool = True

    @classmethod
    def build(cls, **fields: Any) -> BalanceCondition:
        """Validate what a user gave, naming the field that is wrong: see
        :func:`balance_condition`."""
        return balance_condition(**fields)

    @property
    def chain(self) -> str:
        """The chain as the result reports it: one index, or a comma-separated list."""
        return ",".join(self.chains)

    @property
    def watched_token(self) -> tuple[str, str]:
        """The ``(chain, token_address)`` pair to ask OKX for (``balance`` and ``usd_value``)."""
        return (self.chains[0], self.token_address)

    def rows_of_token(self, balances: list[TokenBalance]) -> list[TokenBalance]:
        """The rows of the watched token (contract addresses matched by identity, not spelling)."""
        chain, token = self.chains[0], address_key(self.token_address)
        return [b for b in balances if b.chain_index == chain and address_key(b.token_address) == token]

    def value_from_tokens(self, balances: list[TokenBalance]) -> Decimal:
        """The watched token's balance or USD value, from a well-formed answer of OKX: a token
        that answer does not list is not held, and counts as 0."""
        rows = self.rows_of_token(balances)
        if self.metric == "balance":
            return exact_sum(b.balance for b in rows)
        return exact_sum(b.usd_value for b in rows)

    def symbol_in(self, balances: list[TokenBalance]) -> str:
        """The watched token's symbol as OKX named it, ``""`` when the answer does not list it."""
        return next((b.symbol for b in self.rows_of_token(balances) if b.symbol), "")

    def is_met(self, value: Decimal) -> bool:
        return CONDITIONS[self.condition](value, self.threshold)

    def describe(self, value: Decimal, symbol: str = "") -> str:
        """One log line for a poll: the token and the wallet, what was seen and what is awaited
        (no secrets in it). ``symbol``: the token's symbol when the answer named it."""
        if self.metric == "total_usd":
            what = f"total_usd of wallet {self.address} on chain {self.chain}"
        else:
            token = self.token_address or "native coin"
            named = f"{_symbol_for_log(symbol)} ({token})" if symbol else token
            what = f"{self.metric} of {named} in wallet {self.address} on chain {self.chain}"
        return f"{what} is {decimal_str(value)} (waiting for {self.condition} {decimal_str(self.threshold)})"

    def result(self, value: Decimal, observed_at: str) -> dict[str, Any]:
        """The XCom a finished wait returns, in poke and deferrable mode alike."""
        return {
            "address": self.address,
            "chain": self.chain,
            "token_address": self.token_address,
            "metric": self.metric,
            "condition": self.condition,
            "threshold": decimal_str(self.threshold),
            "value": decimal_str(value),
            "observed_at": observed_at,
        }

    def to_kwargs(self) -> dict[str, Any]:
        """JSON primitives only (a trigger's kwargs are stored in the database)."""
        data = asdict(self)
        data["chains"] = list(self.chains)
        data["threshold"] = decimal_str(self.threshold)
        return data

    @classmethod
    def from_kwargs(cls, data: Mapping[str, Any]) -> BalanceCondition:
        """The condition :meth:`to_kwargs` stored, checked again field by field (kwargs come
        back from the database, or from a DAG author who built the trigger by hand)."""
        if not isinstance(data, Mapping):
            raise OkxInvalidInputError("condition", shown(data), "expected BalanceCondition.to_kwargs()")
        missing = [name for name in _KWARGS if name not in data]
        if missing:
            raise OkxInvalidInputError("condition", sorted(data), f"missing {', '.join(missing)}")
        chains = data["chains"]
        return balance_condition(
            address=data["address"],
            chain=list(chains) if isinstance(chains, (list, tuple)) else chains,
            threshold=data["threshold"],
            token_address=data["token_address"],
            condition=data["condition"],
            metric=data["metric"],
            exclude_risk_tokens=data["exclude_risk_tokens"],
        )


_KWARGS = ("address", "chains", "token_address", "metric", "condition", "threshold", "exclude_risk_tokens")


def _symbol_for_log(symbol: str) -> str:
    """A token's symbol as a log line shows it: whoever deployed the token chose it, so one
    with line breaks or control characters is quoted (it cannot forge a log line) and a long
    one is cut."""
    shown = symbol if symbol.isprintable() else ascii(symbol)
    return shown if len(shown) <= 40 else shown[:40] + "..."


# --- a balance wait -------------------------------------------------------------------------


def balance_condition(
    *,
    address: object,
    chain: object,
    threshold: object,
    token_address: object = "",
    condition: object = ">=",
    metric: object = "balance",
    exclude_risk_tokens: object = True,
) -> BalanceCondition:
    """A :class:`~airflow_provider_okx.core.thresholds.BalanceCondition` from what a user gave,
    every field checked and named when wrong."""
    metric = check_metric(metric)
    condition = check_condition(condition)
    addr = validate_address(address)
    token = parse_token_address(token_address)
    chains = parse_chains(chain)
    if metric == "total_usd":
        if token:
            raise OkxInvalidInputError(
                "token_address", token, "metric 'total_usd' is the whole wallet; leave token_address empty"
            )
    elif len(chains) != 1:
        raise OkxInvalidInputError("chain", shown(chain), f"metric {metric!r} watches one token on one chain")
    check_family(addr, chains)
    return BalanceCondition(
        address=addr,
        chains=tuple(chains),
        token_address=token,
        metric=metric,
        condition=condition,
        threshold=parse_amount(threshold, "threshold"),
        exclude_risk_tokens=parse_flag(exclude_risk_tokens, "exclude_risk_tokens"),
    )
