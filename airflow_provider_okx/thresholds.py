"""Balance thresholds: what to observe, how to compare it, and the result a wait returns.

Pure (no Airflow, no HTTP): the sensor's poke and the deferrable trigger share every rule
here, so both modes observe the same value and return the same XCom.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_okx.api.errors import OkxInvalidInputError
from airflow_provider_okx.chains import check_family, normalize_chains, validate_address
from airflow_provider_okx.models import TokenBalance, decimal_str, exact_sum

CONDITIONS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
METRICS = ("balance", "usd_value", "total_usd")


def parse_amount(value: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """A non-negative amount from a string, int or ``Decimal``; floats are refused."""
    if isinstance(value, bool) or value is None:
        raise OkxInvalidInputError(field, value, "expected a number as a string, int or Decimal")
    if isinstance(value, float):
        raise OkxInvalidInputError(
            field, value, f"floats lose digits; pass '{value!r}' as a string or a Decimal"
        )
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)  # type: ignore[arg-type]
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise OkxInvalidInputError(field, value, "not a number") from None
    if not amount.is_finite():
        raise OkxInvalidInputError(field, value, "not a finite number")
    if amount < 0 and not allow_negative:
        raise OkxInvalidInputError(field, value, "must not be negative")
    return amount


def check_condition(condition: object) -> str:
    if condition not in CONDITIONS:
        raise OkxInvalidInputError("condition", condition, f"expected one of {' '.join(CONDITIONS)}")
    return str(condition)


def check_metric(metric: object) -> str:
    if metric not in METRICS:
        raise OkxInvalidInputError("metric", metric, f"expected one of {', '.join(METRICS)}")
    return str(metric)


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
    def build(
        cls,
        *,
        address: object,
        chain: object,
        threshold: object,
        token_address: object = "",
        condition: object = ">=",
        metric: object = "balance",
        exclude_risk_tokens: bool = True,
    ) -> BalanceCondition:
        """Validate every field, naming the one that is wrong."""
        metric = check_metric(metric)
        condition = check_condition(condition)
        addr = validate_address(address)
        token = "" if token_address is None else str(token_address).strip()
        chains = normalize_chains(chain)
        if metric == "total_usd":
            if token:
                raise OkxInvalidInputError(
                    "token_address",
                    token,
                    "metric 'total_usd' is the whole wallet; leave token_address empty",
                )
        elif len(chains) != 1:
            raise OkxInvalidInputError("chain", chain, f"metric {metric!r} watches one token on one chain")
        check_family(addr, chains)
        return cls(
            address=addr,
            chains=tuple(chains),
            token_address=token,
            metric=metric,
            condition=condition,
            threshold=parse_amount(threshold, "threshold"),
            exclude_risk_tokens=bool(exclude_risk_tokens),
        )

    @property
    def chain(self) -> str:
        """The chain as the result reports it: one index, or a comma-separated list."""
        return ",".join(self.chains)

    def value_from_tokens(self, balances: list[TokenBalance]) -> Decimal:
        """The watched token's balance or USD value; a token that is absent counts as 0."""
        token = self.token_address.lower()
        rows = [b for b in balances if b.chain_index == self.chains[0] and b.token_address.lower() == token]
        if self.metric == "balance":
            return exact_sum(b.balance for b in rows)
        return exact_sum(b.usd_value for b in rows)

    def is_met(self, value: Decimal) -> bool:
        return CONDITIONS[self.condition](value, self.threshold)

    def describe(self, value: Decimal) -> str:
        """One log line for a poll: what was seen and what is awaited (no secrets in it)."""
        return (
            f"{self.metric} of {self.address} on chain {self.chain} is {decimal_str(value)} "
            f"(waiting for {self.condition} {decimal_str(self.threshold)})"
        )

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
        return cls(
            address=data["address"],
            chains=tuple(data["chains"]),
            token_address=data["token_address"],
            metric=data["metric"],
            condition=data["condition"],
            threshold=Decimal(data["threshold"]),
            exclude_risk_tokens=bool(data["exclude_risk_tokens"]),
        )

    def observe(self, hook: Any) -> Decimal:
        """Read the watched value through an ``OkxHook`` (one request)."""
        if self.metric == "total_usd":
            return hook.get_total_value(
                self.address,
                list(self.chains),
                asset_type="all",
                exclude_risk_tokens=self.exclude_risk_tokens,
            )
        tokens = [(self.chains[0], self.token_address)]
        return self.value_from_tokens(
            hook.get_token_balances(self.address, tokens, exclude_risk_tokens=self.exclude_risk_tokens)
        )

    async def aobserve(self, hook: Any) -> Decimal:
        """:meth:`observe` through the hook's async twins."""
        if self.metric == "total_usd":
            return await hook.aget_total_value(
                self.address,
                list(self.chains),
                asset_type="all",
                exclude_risk_tokens=self.exclude_risk_tokens,
            )
        tokens = [(self.chains[0], self.token_address)]
        return self.value_from_tokens(
            await hook.aget_token_balances(self.address, tokens, exclude_risk_tokens=self.exclude_risk_tokens)
        )
