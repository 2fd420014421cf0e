"""``OkxBalanceTrigger``: waits for a balance threshold in the triggerer, no worker slot held.

Triggers of one triggerer that watch the same wallet share their requests
(:mod:`airflow_provider_okx.triggers.shared_reads`): a thousand waits on a hundred wallets cost
a hundred requests per interval, not a thousand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.api.errors import OkxError, is_permanent
from airflow_provider_okx.core.api.retry import RETRYABLE
from airflow_provider_okx.core.api.signing import format_timestamp
from airflow_provider_okx.core.inputs import MAX_EPOCH, MAX_INTERVAL, check_conn_id, parse_seconds
from airflow_provider_okx.core.thresholds import BalanceCondition
from airflow_provider_okx.triggers.shared_reads import read_watched_value

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class OkxBalanceTrigger(BaseTrigger):
    """Poll OKX until ``condition`` holds, then fire one event.

    Events: ``{"status": "success", "result": {...}}`` (the sensor's XCom),
    ``{"status": "timeout", ...}`` past ``end_at``, or ``{"status": "error", "code",
    "message", "permanent"}`` for an error the hook did not get over; ``permanent`` (auth,
    parameters, ...: :func:`~airflow_provider_okx.core.api.errors.is_permanent`) tells the sensor
    not to spend task retries on it. Transient errors (rate limits, OKX unavailable, no
    answer) are retried by the hook, then logged, and the wait goes on.

    Each poll reads the wallet's balances on the watched chain through
    :func:`~airflow_provider_okx.triggers.shared_reads.read_token_balances` (``total_usd``:
    :func:`~airflow_provider_okx.triggers.shared_reads.read_total_value`): a request in flight
    for the same question is joined, and an answer younger than the pause just slept is
    reused. The condition and the log line stay this trigger's own.

    :param condition: :meth:`BalanceCondition.to_kwargs` (JSON primitives).
    :param poke_interval: seconds between polls: more than 0, at most 7 days.
    :param end_at: epoch seconds after which the wait times out (``None``: never), up to the
        year 9999.
    """

    def __init__(
        self,
        *,
        condition: dict[str, Any],
        poke_interval: float = 60.0,
        end_at: float | None = None,
        okx_conn_id: str = DEFAULT_CONN_ID,
    ) -> None:
        super().__init__()
        BalanceCondition.from_kwargs(condition)  # every field checked now, naming the wrong one
        self.condition = condition
        self.poke_interval = parse_seconds(poke_interval, "poke_interval", MAX_INTERVAL)
        self.end_at = None if end_at is None else parse_seconds(end_at, "end_at", MAX_EPOCH, zero=True)
        self.okx_conn_id = check_conn_id(okx_conn_id, "okx_conn_id")
        self._hook: Any = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "condition": self.condition,
                "poke_interval": self.poke_interval,
                "end_at": self.end_at,
                "okx_conn_id": self.okx_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_okx.hooks.okx import OkxHook

        wait = BalanceCondition.from_kwargs(self.condition)
        self._hook = hook = OkxHook(okx_conn_id=self.okx_conn_id)
        max_age = 0.0  # the first poll takes no answer from before this trigger existed
        try:
            while True:
                try:
                    value = await read_watched_value(hook, wait, max_age=max_age)
                except RETRYABLE as error:
                    log.warning("OKX unavailable for this poll, waiting on: %s", error)
                except OkxError as error:
                    yield TriggerEvent(
                        {
                            "status": "error",
                            "code": getattr(error, "code", None),
                            "message": str(error),
                            "permanent": is_permanent(error),
                        }
                    )
                    return
                else:
                    log.info("%s", wait.describe(value))
                    if wait.is_met(value):
                        yield TriggerEvent(
                            {"status": "success", "result": wait.result(value, format_timestamp(time.time()))}
                        )
                        return
                remaining = None if self.end_at is None else self.end_at - time.time()
                if remaining is not None and remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "message": self._timeout_message(wait)})
                    return
                # The last sleep is cut short so that one final poll happens at end_at.
                pause = self.poke_interval if remaining is None else min(self.poke_interval, remaining)
                await asyncio.sleep(pause)
                max_age = pause  # an answer younger than this is newer than our last poll
        finally:
            await self._release()

    def _timeout_message(self, wait: BalanceCondition) -> str:
        return (
            f"{wait.metric} of {wait.address} on chain {wait.chain} did not reach "
            f"{wait.condition} {wait.threshold} before the sensor's timeout"
        )

    async def _release(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            await hook.aclose()

    async def cleanup(self) -> None:
        """Release the shared HTTP client even when the triggerer cancels the wait."""
        await self._release()
        await super().cleanup()
