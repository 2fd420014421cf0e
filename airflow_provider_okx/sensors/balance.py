"""``OkxBalanceSensor``: wait until a wallet's balance crosses a threshold."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.chains import validate_address
from airflow_provider_okx.core.inputs import (
    MAX_DURATION,
    MAX_INTERVAL,
    check_condition,
    check_conn_id,
    check_metric,
    parse_amount,
    parse_chains,
    parse_flag,
    parse_seconds,
    parse_token_address,
)
from airflow_provider_okx.core.thresholds import balance_condition
from airflow_provider_okx.glue.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)
from airflow_provider_okx.glue.links import OkxSensorTokenLink, OkxSensorWalletLink
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow_provider_okx.core.thresholds import BalanceCondition
    from airflow_provider_okx.hooks.okx import OkxHook


class OkxBalanceSensor(TextTemplateFields, BaseSensorOperator):
    """Wait until ``<metric> <condition> threshold`` holds for a wallet.

    :param address: the wallet (templated).
    :param chain: the chain (index or name); for ``total_usd`` a list or comma string (templated).
    :param threshold: a string, int or ``Decimal``, never a float (templated).
    :param token_address: the token to watch, ``""`` for the native coin (templated).
    :param condition: one of ``>= > <= < ==``.
    :param metric: ``balance`` (token units), ``usd_value`` (that token's USD value) or
        ``total_usd`` (OKX's valuation of the whole wallet over ``chain``).
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky.
    :param deferrable: hand the wait to the triggerer (no worker slot held); defaults to
        ``[operators] default_deferrable``.
    :param poke_interval: seconds between pokes (Airflow's): more than 0, at most 7 days.
    :param timeout: seconds (or a ``timedelta``) before the wait fails (Airflow's): more than 0,
        at most ten years.
    :param start_from_trigger: with ``deferrable``, start in the triggerer without a worker
        (Airflow 2.10+, 3.3+; only when no argument is templated: see
        :mod:`airflow_provider_okx.sensors.trigger_start`).

    Returns ``{"address", "chain", "token_address", "metric", "condition", "threshold",
    "value", "observed_at"}`` with exact decimal strings, in poke and deferrable mode alike.

    The sensor completes only on a value it read: an answer OKX did not give in its documented
    shape is an error, while a token absent from a well-formed answer is not held (0). Transient
    errors (rate limits, OKX unavailable, timeouts) leave the wait going; permanent ones (a
    refused key or signature, invalid input) fail the task at once, without its retries.
    """

    template_fields = ("address", "chain", "threshold", "token_address", "okx_conn_id")
    ui_color = "#e8f4fd"
    operator_extra_links = (OkxSensorWalletLink(), OkxSensorTokenLink())

    def __init__(
        self,
        *,
        address: str,
        chain: Any,
        threshold: Any,
        token_address: str = "",
        condition: str = ">=",
        metric: str = "balance",
        exclude_risk_tokens: bool = True,
        okx_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        # Bounded before Airflow turns them into timedeltas (10**20 s overflows there) and again
        # after (``default_args`` may have given them).
        for name, most in (("poke_interval", MAX_INTERVAL), ("timeout", MAX_DURATION)):
            if name in kwargs:
                parse_seconds(kwargs[name], name, most)
        super().__init__(**kwargs)
        self.address = address
        self.chain = chain
        self.threshold = threshold
        self.token_address = token_address
        self.condition = check_condition(condition)
        self.metric = check_metric(metric)
        self.exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        self.okx_conn_id = (
            okx_conn_id if unresolved(okx_conn_id) else check_conn_id(okx_conn_id, "okx_conn_id")
        )
        self.deferrable = parse_flag(deferrable, "deferrable")
        start_from_trigger = parse_flag(start_from_trigger, "start_from_trigger")
        parse_seconds(self.poke_interval, "poke_interval", MAX_INTERVAL)
        parse_seconds(self.timeout, "timeout", MAX_DURATION)
        # Fail at DAG parse, not at 3 a.m., on whatever is known now; templates at execute.
        if not unresolved(address):
            validate_address(address)
        if not unresolved(chain):
            parse_chains(chain)
        if not unresolved(threshold):
            parse_amount(threshold, "threshold")
        if not unresolved(token_address):
            parse_token_address(token_address)
        if not any(unresolved(v) for v in (address, chain, threshold, token_address)):
            self._wait()  # everything is known now: fail at DAG parse, not at 3 a.m.
        if start_from_trigger:  # defer at scheduling time, no worker slot (see trigger_start)
            from airflow_provider_okx.sensors.trigger_start import start_trigger_args

            self.start_trigger_args = start_trigger_args(self)
            self.start_from_trigger = self.start_trigger_args is not None

    def _wait(self) -> BalanceCondition:
        return balance_condition(
            address=self.address,
            chain=self.chain,
            threshold=self.threshold,
            token_address=self.token_address,
            condition=self.condition,
            metric=self.metric,
            exclude_risk_tokens=self.exclude_risk_tokens,
        )

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def _read(self, wait: BalanceCondition) -> tuple[Decimal, str]:
        """The watched value as OKX reports it now (one request), and the token's symbol when
        the answer names it (a token the wallet does not hold counts as 0)."""
        if wait.metric == "total_usd":
            value = self.hook.get_total_value(
                wait.address,
                list(wait.chains),
                asset_type="all",
                exclude_risk_tokens=wait.exclude_risk_tokens,
            )
            return value, ""
        # The same question the deferred wait asks the triggerer (shared_reads.read_token_balances):
        # every token of the wallet (``filter=1``), risk rows dropped by their flag when excluded,
        # so poke and deferrable mode read the same value.
        rows = self.hook.get_all_token_balances(
            wait.address, list(wait.chains), exclude_risk_tokens=wait.exclude_risk_tokens, token_filter="1"
        )
        if wait.exclude_risk_tokens:
            rows = [row for row in rows if not row.is_risk_token]
        return wait.value_from_tokens(rows), wait.symbol_in(rows)

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_okx.core.api.retry import RETRYABLE  # not at DAG parse time
        from airflow_provider_okx.core.api.signing import format_timestamp

        with failing_fast_on_permanent_errors():
            wait = self._wait()
            try:
                value, symbol = self._read(wait)
            except RETRYABLE as error:
                # The hook already retried; a wait outlives a bad minute at OKX.
                self.log.warning("OKX unavailable for this poke, waiting on: %s", error)
                return PokeReturnValue(is_done=False)
        self.log.info("%s", wait.describe(value, symbol))
        return PokeReturnValue(
            is_done=wait.is_met(value), xcom_value=wait.result(value, format_timestamp(time.time()))
        )

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        with failing_fast_on_permanent_errors():
            wait = self._wait()
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

        timeout = float(self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else self.timeout)
        self.defer(
            trigger=OkxBalanceTrigger(
                condition=wait.to_kwargs(),
                poke_interval=float(
                    self.poke_interval.total_seconds()
                    if isinstance(self.poke_interval, timedelta)
                    else self.poke_interval
                ),
                end_at=time.time() + timeout,
                okx_conn_id=self.okx_conn_id,
            ),
            method_name="execute_complete",
            # A backstop only: the trigger times out by itself first, with a clear message.
            timeout=timedelta(seconds=timeout + 300),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        status = (event or {}).get("status")
        if status == "success":
            return event["result"]  # type: ignore[index]
        message = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        if status == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if status == "error" and (event or {}).get("permanent") is True:
            # A refused key or invalid request fails the same way on every retry.
            raise AirflowFailException(f"OKX balance wait failed: {message}")
        raise AirflowException(f"OKX balance wait failed: {message}")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the watched wallet as the input (see :mod:`airflow_provider_okx.glue.lineage`)."""
        from airflow_provider_okx.glue.lineage import sensor_lineage

        return sensor_lineage(self)
