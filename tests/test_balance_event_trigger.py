"""OkxBalanceEventTrigger: one event per threshold crossing, against the simulator."""

from __future__ import annotations

import asyncio
import importlib
import json
from decimal import Decimal

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.testing import Fault
from airflow_provider_okx.triggers import balance_event
from airflow_provider_okx.triggers.balance_event import (
    OkxBalanceEventTrigger,
    OkxEventTriggerUnavailableError,
)

WALLET = "0x" + "7c" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
BELOW, ABOVE = "999.999999", "250000.5"

needs_airflow3 = pytest.mark.skipif(not AIRFLOW_V3, reason="BaseEventTrigger is Airflow 3 only")


def trigger(**kwargs):
    defaults = {
        "address": WALLET,
        "chain": "ethereum",
        "token_address": USDT,
        "threshold": "1000",
        "poll_interval": 0.01,
    }
    return OkxBalanceEventTrigger(**{**defaults, **kwargs})


class StateStore:
    """Stands in for Airflow 3.3's per-asset ``asset_state_store`` (its ``aget``/``aset`` API),
    surviving trigger restarts the way the metadata database does."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    async def aget(self, key, default=None):
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    async def aset(self, key, value):
        self.values[key] = json.loads(json.dumps(value))


async def watch(trig, *, reads: int, deadline: float = 30.0) -> list[dict]:
    """Run ``trig`` for exactly ``reads`` polls (real requests to the simulator), then stop it
    as a triggerer would (cancel); the events it fired. Bounded by ``deadline`` seconds."""
    real = balance_event.read_value
    done_reading = asyncio.Event()
    calls = 0

    async def counted(hook, wait, max_age=0.0):
        nonlocal calls
        if calls == reads:  # every poll asked for was made and its verdict handled
            done_reading.set()
            await asyncio.Event().wait()
        calls += 1
        return await real(hook, wait, max_age)

    events: list[dict] = []

    async def consume():
        async for event in trig.run():
            events.append(event.payload)

    balance_event.read_value = counted
    task = asyncio.create_task(consume())
    try:
        finished = asyncio.ensure_future(done_reading.wait())
        await asyncio.wait({finished, task}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        if task.done():
            task.result()  # the trigger ended by itself: raise what it raised
            pytest.fail("the trigger stopped watching")
        assert done_reading.is_set(), f"only {calls} of {reads} polls within {deadline}s"
    finally:
        balance_event.read_value = real
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events


@needs_airflow3
@pytest.mark.asyncio
async def test_fires_once_per_crossing_below_above_above_below_above(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, [BELOW, ABOVE, ABOVE, BELOW, ABOVE], price="1", symbol="USDT")
    # Three more reads past the sequence: it stays above, nothing more fires.
    events = await watch(trigger(), reads=8)
    assert [e["value"] for e in events] == [ABOVE, ABOVE]
    assert [e["crossing"] for e in events] == ["crossed", "crossed"]
    assert [e["previous"]["value"] for e in events] == [BELOW, BELOW]
    first = events[0]
    assert {
        k: first[k] for k in ("address", "chain", "token_address", "metric", "condition", "threshold")
    } == {
        "address": WALLET,
        "chain": "1",
        "token_address": USDT,
        "metric": "balance",
        "condition": ">=",
        "threshold": "1000",
    }
    assert first["observed_at"].endswith("Z") and first["observed_at"] > first["previous"]["observed_at"]


@needs_airflow3
@pytest.mark.asyncio
async def test_usd_value_metric_crossing(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, ["10", "10", "20"], price="0.5", symbol="USDT")
    events = await watch(trigger(metric="usd_value", threshold="10"), reads=5)
    assert [(e["value"], e["crossing"]) for e in events] == [("10.0", "crossed")]


@needs_airflow3
@pytest.mark.asyncio
async def test_restart_with_stored_state_does_not_repeat_the_event(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, [BELOW, ABOVE, ABOVE, ABOVE, BELOW, ABOVE], price="1")
    store = StateStore()
    first = trigger()
    first.asset_state_store = store
    assert [e["value"] for e in await watch(first, reads=2)] == [ABOVE]
    # The triggerer restarts: a new instance from the stored kwargs, same asset state.
    classpath, kwargs = first.serialize()
    second = getattr(importlib.import_module(classpath.rsplit(".", 1)[0]), classpath.rsplit(".", 1)[1])(
        **kwargs
    )
    second.asset_state_store = store
    events = await watch(second, reads=6)
    # Reads 3 and 4 were still above: nothing. Read 5 below, read 6 above: the next crossing.
    assert [(e["value"], e["crossing"]) for e in events] == [(ABOVE, "crossed")]
    assert list(store.values) == [first.state_key]


@needs_airflow3
@pytest.mark.asyncio
async def test_crossing_while_no_triggerer_watched_fires_once_on_restart(okx_simulator_connection):
    sim = okx_simulator_connection
    store = StateStore()
    sim.set_balance(WALLET, "1", USDT, BELOW, price="1")
    assert await watch(_with(trigger(), store), reads=2) == []
    sim.set_balance(WALLET, "1", USDT, ABOVE, price="1")  # the deposit lands during the downtime
    events = await watch(_with(trigger(), store), reads=3)
    assert [(e["value"], e["crossing"], e["previous"]["value"]) for e in events] == [
        (ABOVE, "crossed", BELOW)
    ]


@needs_airflow3
@pytest.mark.asyncio
async def test_without_stored_state_a_restart_while_met_fires_met_at_start(okx_simulator_connection):
    """Airflow 3.0-3.2: the documented duplicate, marked so consumers can drop it."""
    sim = okx_simulator_connection
    sim.set_balance(WALLET, "1", USDT, ABOVE, price="1")
    events = await watch(trigger(), reads=3)
    assert [(e["crossing"], e["previous"]) for e in events] == [("met_at_start", None)]
    assert events[0]["value"] == ABOVE


@needs_airflow3
@pytest.mark.asyncio
async def test_fire_if_met_at_start_false_takes_the_first_poll_as_baseline(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, [ABOVE, ABOVE, BELOW, ABOVE], price="1")
    events = await watch(trigger(fire_if_met_at_start=False), reads=6)
    assert [(e["value"], e["crossing"]) for e in events] == [(ABOVE, "crossed")]


@needs_airflow3
@pytest.mark.asyncio
async def test_errors_never_fire_and_the_watch_goes_on(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, [BELOW, ABOVE], price="1")
    sim.inject(Fault(endpoint="token_balances", status=503, code="50001", times=1))
    sim.inject(Fault(endpoint="token_balances", status=401, code="50113", times=2))
    events = await watch(trigger(), reads=5)
    assert [(e["value"], e["crossing"]) for e in events] == [(ABOVE, "crossed")]


@needs_airflow3
def test_serialize_round_trip_and_hash_identity():
    from airflow.triggers.base import BaseEventTrigger

    a = trigger(chain="ethereum", threshold=Decimal("1000.0"), address=f"  {WALLET} ")
    b = trigger(chain=1, threshold="1000")
    classpath, kwargs = a.serialize()
    assert classpath == "airflow_provider_okx.triggers.balance_event.OkxBalanceEventTrigger"
    json.dumps(kwargs)  # JSON primitives only: kwargs are stored in the database
    assert kwargs == b.serialize()[1]
    assert kwargs["chain"] == "1" and kwargs["threshold"] == "1000" and kwargs["address"] == WALLET
    assert OkxBalanceEventTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*b.serialize())
    assert BaseEventTrigger.hash(classpath, kwargs) != BaseEventTrigger.hash(
        *trigger(threshold="1001").serialize()
    )
    # The stored state belongs to the condition, not to the polling rhythm.
    assert a.state_key == trigger(poll_interval=300).state_key != trigger(threshold="2").state_key


@needs_airflow3
def test_usable_in_an_asset_watcher():
    from airflow.sdk import Asset, AssetWatcher

    asset = Asset("okx_deposit", watchers=[AssetWatcher(name="okx_deposit", trigger=trigger())])
    assert asset.watchers[0].trigger.wait.threshold == Decimal("1000")


@needs_airflow3
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": "not-an-address"}, "address"),
        ({"chain": "atlantis"}, "chains"),
        ({"chain": "solana"}, "chains"),  # an EVM wallet cannot be read on Solana
        ({"chain": "1,56"}, "chain"),  # one token on one chain
        ({"threshold": 1000.5}, "threshold"),
        ({"threshold": "-1"}, "threshold"),
        ({"condition": "=>"}, "condition"),
        ({"metric": "price"}, "metric"),
        ({"metric": "total_usd"}, "token_address"),  # total_usd is the whole wallet
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -5}, "poll_interval"),
        ({"poll_interval": True}, "poll_interval"),
        ({"poll_interval": "soon"}, "poll_interval"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(OkxInvalidInputError) as raised:
        trigger(**kwargs)
    assert raised.value.field == field


@pytest.mark.skipif(AIRFLOW_V3, reason="the Airflow 2 message")
def test_airflow2_gets_a_clear_error_at_construction_not_at_import():
    with pytest.raises(OkxEventTriggerUnavailableError, match=r"Airflow 3\.0 or later.*OkxBalanceSensor"):
        trigger()


def _with(trig, store):
    trig.asset_state_store = store
    return trig
