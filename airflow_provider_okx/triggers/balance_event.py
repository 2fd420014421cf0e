"""``OkxBalanceEventTrigger``: schedule a DAG when a wallet's balance crosses a threshold.

For Airflow 3's event-driven scheduling (``AssetWatcher``)::

    Asset("usdt_deposit", watchers=[AssetWatcher(name="usdt_deposit",
          trigger=OkxBalanceEventTrigger(address=..., chain="ethereum", token_address=USDT,
                                         threshold="250000", poll_interval=60))])

It polls OKX every ``poll_interval`` seconds and fires one event per *crossing*: when
``<metric> <condition> threshold`` becomes true after an observation where it was false. It
does not fire again on later polls while the condition holds; the condition has to stop holding
and hold again for the next event.

Across triggerer restarts (a deploy, a crash, the trigger moving to another triggerer) the
trigger is re-created from its kwargs and has forgotten what it saw:

- Airflow 3.3+: it keeps its last side of the threshold in the watched asset's state store
  (``asset_state_store``), so a restart while the condition holds fires nothing, and a crossing
  that happened while no triggerer watched fires once when it is seen. The side is saved right
  after an event is handed to the triggerer: a crash in between can repeat that one event
  (at least once, never lost).
- Airflow 3.0-3.2 (no state store): ``fire_if_met_at_start`` decides the first poll after a
  (re)start. ``True`` (default) fires if the condition holds then: nothing is ever missed, but
  a restart while it holds repeats the event. ``False`` takes the first poll as the baseline: no
  repeat, but a crossing during the downtime is not reported.

Every event's payload says what was seen, so consumers can de-duplicate: the sensor's result
fields (``address``, ``chain``, ``token_address``, ``metric``, ``condition``, ``threshold``,
``value``, ``observed_at``), ``crossing`` (``"crossed"``: seen below then above by this trigger;
``"met_at_start"``: it already held at the first poll after a start without stored state) and
``previous`` (the earlier observation on the other side of the threshold, ``None`` for
``met_at_start``). Airflow stores it as the asset event's ``extra["payload"]``.

On Airflow 2 (no ``BaseEventTrigger``) the module imports, and constructing the trigger raises
:class:`OkxEventTriggerUnavailableError` with what to use instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.api.errors import OkxError
from airflow_provider_okx.core.api.retry import RETRYABLE
from airflow_provider_okx.core.api.signing import format_timestamp
from airflow_provider_okx.core.inputs import MAX_INTERVAL, check_conn_id, parse_flag, parse_seconds
from airflow_provider_okx.core.models import EXACT, decimal_str
from airflow_provider_okx.core.thresholds import BalanceCondition
from airflow_provider_okx.glue.compat import AirflowException

try:  # Airflow 3.0+
    from airflow.triggers.base import BaseEventTrigger
except ImportError:  # Airflow 2.10 / 2.11
    BaseEventTrigger = None  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)


class OkxEventTriggerUnavailableError(RuntimeError):
    """Event-driven scheduling (``AssetWatcher``) needs Airflow 3."""


async def read_value(hook: Any, wait: BalanceCondition, max_age: float = 0.0) -> Decimal:
    """One observation of the watched value, through the requests this event loop's triggers
    share (:mod:`~airflow_provider_okx.triggers.shared_reads`): watchers and sensors of one
    wallet cost one request per poll round between them."""
    from airflow_provider_okx.triggers.shared_reads import read_watched_value

    return await read_watched_value(hook, wait, max_age=max_age)


def _poll_interval(value: object) -> float:
    return parse_seconds(value, "poll_interval", MAX_INTERVAL)


class OkxBalanceEventTrigger(BaseEventTrigger or BaseTrigger):  # type: ignore[misc]
    """Fire once each time ``<metric> <condition> threshold`` starts to hold for a wallet.

    The arguments mean what they mean for :class:`~airflow_provider_okx.sensors.balance.OkxBalanceSensor`
    and are validated the same way (at construction, so a bad DAG fails at parse time):

    :param address: the wallet.
    :param chain: the chain (index or name); for ``total_usd`` a list or comma string.
    :param threshold: a string, int or ``Decimal``, never a float.
    :param token_address: the token to watch, ``""`` for the native coin.
    :param condition: one of ``>= > <= < ==``.
    :param metric: ``balance``, ``usd_value`` or ``total_usd``.
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky.
    :param poll_interval: seconds between polls, more than 0 and at most 7 days (each poll is
        one request; mind the key's rate).
    :param fire_if_met_at_start: without stored state (first start; any restart before Airflow
        3.3), fire if the condition already holds at the first poll (see the module docstring).
    :param okx_conn_id: the ``okx`` connection.
    """

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
        poll_interval: float = 60.0,
        fire_if_met_at_start: bool = True,
        okx_conn_id: str = DEFAULT_CONN_ID,
    ) -> None:
        if BaseEventTrigger is None:
            raise OkxEventTriggerUnavailableError(
                "OkxBalanceEventTrigger schedules DAGs through AssetWatcher, which needs Airflow 3.0 "
                "or later. On Airflow 2, wait inside a scheduled DAG with OkxBalanceSensor("
                "deferrable=True) instead."
            )
        super().__init__()
        self.wait = BalanceCondition.build(
            address=address,
            chain=chain,
            threshold=threshold,
            token_address=token_address,
            condition=condition,
            metric=metric,
            exclude_risk_tokens=exclude_risk_tokens,
        )
        self.poll_interval = _poll_interval(poll_interval)
        self.fire_if_met_at_start = parse_flag(fire_if_met_at_start, "fire_if_met_at_start")
        self.okx_conn_id = check_conn_id(okx_conn_id, "okx_conn_id")
        self._hook: Any = None
        self._max_age = 0.0
        """How old a shared answer this poll may take: none on the first poll, then one pause."""

    def _condition_kwargs(self) -> dict[str, Any]:
        """What is watched, normalised: equal conditions give equal kwargs (and trigger hash)."""
        wait = self.wait
        return {
            "address": wait.address,
            "chain": wait.chain,
            # Every digit kept: the default 28-digit context would round a 40-digit threshold,
            # and two near-equal thresholds would then share one state key.
            "threshold": decimal_str(wait.threshold.normalize(EXACT)),
            "token_address": wait.token_address,
            "condition": wait.condition,
            "metric": wait.metric,
            "exclude_risk_tokens": wait.exclude_risk_tokens,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self._condition_kwargs(),
                "poll_interval": self.poll_interval,
                "fire_if_met_at_start": self.fire_if_met_at_start,
                "okx_conn_id": self.okx_conn_id,
            },
        )

    @property
    def state_key(self) -> str:
        """The asset-state-store key of this condition (the same whatever the poll interval)."""
        text = json.dumps(self._condition_kwargs(), sort_keys=True)
        return f"okx_balance_event/{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        side = await self._load_side()
        try:
            while True:
                observed = await self._observe()
                if observed is not None:
                    value, observed_at = observed
                    met = self.wait.is_met(value)
                    log.info("%s", self.wait.describe(value))
                    if met and (not side["met"] if side else self.fire_if_met_at_start):
                        yield TriggerEvent(self._payload(value, observed_at, side))
                    if side is None or side["met"] != met:
                        side = {"met": met, "value": decimal_str(value), "observed_at": observed_at}
                        await self._save_side(side)
                await asyncio.sleep(self.poll_interval)
                self._max_age = self.poll_interval  # an answer younger than this is news to us
        finally:
            await self._release()

    async def _observe(self) -> tuple[Decimal, str] | None:
        """The watched value and when it was read; ``None`` when this poll could not read it."""
        from airflow_provider_okx.hooks.okx import OkxHook

        if self._hook is None:
            self._hook = OkxHook(okx_conn_id=self.okx_conn_id)
        try:
            value = await read_value(self._hook, self.wait, self._max_age)
        except RETRYABLE as error:
            log.warning("OKX unavailable for this poll, watching on: %s", error)
            return None
        except (OkxError, AirflowException) as error:
            # Bad credentials, a missing connection...: no event (an event would start a DAG run).
            # The connection is read again on the next poll, so fixing it resumes the watch.
            log.error("Cannot read %s of %s: %s", self.wait.metric, self.wait.address, error)
            await self._release()
            return None
        return value, format_timestamp(time.time())

    def _payload(self, value: Decimal, observed_at: str, side: dict[str, Any] | None) -> dict[str, Any]:
        previous = None if side is None else {"value": side["value"], "observed_at": side["observed_at"]}
        return {
            **self.wait.result(value, observed_at),
            "crossing": "crossed" if side is not None else "met_at_start",
            "previous": previous,
        }

    # --- state across restarts (Airflow 3.3+) ---------------------------------------------------

    def _store(self) -> Any:
        return getattr(self, "asset_state_store", None)

    async def _load_side(self) -> dict[str, Any] | None:
        store = self._store()
        if store is None:
            return None
        try:
            side = await store.aget(self.state_key)
        except Exception as error:  # no store, several watched assets, API unavailable
            log.warning("No stored threshold state (%s); starting without it", error)
            return None
        if isinstance(side, dict) and isinstance(side.get("met"), bool):
            log.info("Resuming from the stored observation: %s", side)
            return side
        return None

    async def _save_side(self, side: dict[str, Any]) -> None:
        store = self._store()
        if store is None:
            return
        try:
            await store.aset(self.state_key, side)
        except Exception as error:
            log.warning("Could not store the threshold state (%s); a restart may repeat an event", error)

    async def _release(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            await hook.aclose()

    async def cleanup(self) -> None:
        """Release the HTTP client when the triggerer cancels the watch."""
        await self._release()
        await super().cleanup()
