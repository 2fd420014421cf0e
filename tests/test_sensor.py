"""OkxBalanceSensor (poke and deferrable) and OkxBalanceTrigger, against the simulator."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest

from airflow_provider_okx.core.api.errors import OkxAuthError, OkxInvalidInputError
from airflow_provider_okx.core.thresholds import BalanceCondition
from airflow_provider_okx.glue.compat import AirflowException, AirflowFailException, AirflowSensorTimeout
from airflow_provider_okx.sensors.balance import OkxBalanceSensor
from airflow_provider_okx.testing import SEED_ADDRESS, Fault
from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2
    from airflow.exceptions import TaskDeferred

WALLET = "0x" + "5a" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"

XCOM_KEYS = {"address", "chain", "token_address", "metric", "condition", "threshold", "value", "observed_at"}


def sensor(**kwargs):
    defaults = {"task_id": "wait", "address": WALLET, "chain": 1, "threshold": "100", "deferrable": False}
    return OkxBalanceSensor(**{**defaults, **kwargs})


@pytest.mark.parametrize(
    ("condition", "threshold", "done"),
    [
        (">=", "100", True),
        (">=", "100.000000000000000001", False),
        (">", "99.99", True),
        (">", "100", False),
        ("<=", "100", True),
        ("<=", "99", False),
        ("<", "101", True),
        ("<", "100", False),
        ("==", "100.0", True),
        ("==", "100.1", False),
    ],
)
def test_poke_balance_every_condition(okx_simulator_connection, condition, threshold, done):
    okx_simulator_connection.set_balance(WALLET, "1", USDT, "100", price="0.9998")
    result = sensor(token_address=USDT, condition=condition, threshold=threshold).poke({})
    assert result.is_done is done
    assert set(result.xcom_value) == XCOM_KEYS
    assert result.xcom_value["value"] == "100"
    assert result.xcom_value["threshold"] == threshold


@pytest.mark.parametrize(("threshold", "done"), [("99.98", True), ("99.980000000000000001", False)])
def test_poke_usd_value(okx_simulator_connection, threshold, done):
    okx_simulator_connection.set_balance(WALLET, "1", USDT, "100", price="0.9998")
    result = sensor(token_address=USDT, metric="usd_value", threshold=threshold).poke({})
    assert result.is_done is done
    assert Decimal(result.xcom_value["value"]) == Decimal("99.98")


def test_poke_total_usd_over_several_chains(okx_simulator_connection):
    from airflow_provider_okx.hooks.okx import OkxHook

    expected = OkxHook().get_total_value(SEED_ADDRESS, "1,56", asset_type="all")
    hit = sensor(address=SEED_ADDRESS, chain=[1, 56], metric="total_usd", threshold=str(expected)).poke({})
    miss = sensor(address=SEED_ADDRESS, chain="1,56", metric="total_usd", threshold=str(expected + 1)).poke(
        {}
    )
    assert hit.is_done and not miss.is_done
    assert hit.xcom_value["chain"] == "1,56"
    assert Decimal(hit.xcom_value["value"]) == expected


def test_absent_token_counts_as_zero(okx_simulator_connection):
    result = sensor(token_address="0x" + "00" * 19 + "01", condition="<=", threshold=0).poke({})
    assert result.is_done
    assert result.xcom_value["value"] == "0"


def test_transient_errors_do_not_fail_a_wait(okx_simulator, monkeypatch, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=1)
    )
    okx_simulator.inject(Fault(status=503, code="50001", times=2))
    result = sensor(token_address=USDT).poke({})
    assert result.is_done is False
    assert okx_simulator.count() == 2


@pytest.mark.parametrize("deferrable", [False, True])
def test_auth_errors_fail_the_task_at_once(okx_simulator, monkeypatch, deferrable):
    conn = json.loads(okx_simulator.connection_json(rate_limit_rps=0))
    conn["password"] = "wrong-secret-value"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", json.dumps(conn))
    s = sensor(token_address=USDT, deferrable=deferrable)
    with pytest.raises(AirflowFailException) as info:  # no task retries spent on a bad key
        s.execute({}) if deferrable else s.poke({})
    cause = info.value.__cause__
    assert isinstance(cause, OkxAuthError) and cause.code == "50113"
    assert "50113" in str(info.value)
    assert "wrong-secret-value" not in str(info.value)
    assert okx_simulator.count() == 1


def test_malformed_answer_never_completes_a_wait(okx_simulator_connection, monkeypatch):
    """``native balance <= 0`` must not fire on a success envelope whose row has no balance."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator_connection.connection_json(rate_limit_rps=0, max_retries=1)
    )
    body = json.dumps(
        {
            "code": "0",
            "msg": "success",
            "data": [
                {
                    "tokenAssets": [
                        {
                            "chainIndex": "1",
                            "tokenContractAddress": "",
                            "symbol": "ETH",
                            "balance": None,
                            "tokenPrice": "3000",
                            "address": WALLET,
                        }
                    ]
                }
            ],
        }
    )
    okx_simulator_connection.inject(Fault(body=body, times=None))
    s = sensor(condition="<=", threshold="0")
    # The client reports a malformed answer (a transient error, retried, then logged): the
    # wait goes on; it never completes on a balance it did not read.
    assert s.poke({}).is_done is False


class LogLines:
    """Stands in for the sensor's logger, whatever level the deployment filters at."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: str, *args: object, **_: object) -> None:
        self.lines.append(msg % args if args else msg)

    info = warning = error = debug = exception = _record


def test_poll_log_names_the_token_and_the_wallet(okx_simulator_connection, monkeypatch):
    okx_simulator_connection.set_balance(WALLET, "1", USDT, "100", price="1", symbol="USDT")
    log = LogLines()
    monkeypatch.setattr(OkxBalanceSensor, "log", property(lambda self: log))
    for token in (USDT, "0x" + "00" * 19 + "01"):
        sensor(token_address=token, threshold="5").poke({})
    logged = "\n".join(log.lines)
    assert f"balance of USDT ({USDT}) in wallet {WALLET} on chain 1 is 100 (waiting for >= 5)" in logged
    # a token OKX does not list: named by its address
    assert f"balance of 0x{'00' * 19}01 in wallet {WALLET} on chain 1 is 0" in logged


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metric": "vibes"}, "metric"),
        ({"condition": "!="}, "condition"),
        ({"threshold": "lots"}, "threshold"),
        ({"threshold": "-1"}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"metric": "total_usd", "token_address": USDT}, "token_address"),
        ({"address": ""}, "address"),
        ({"chain": "1,56"}, "chain"),
        ({"chain": "solana"}, "chains"),
    ],
)
def test_bad_input_fails_at_construction(kwargs, field):
    with pytest.raises(OkxInvalidInputError) as info:
        sensor(**kwargs)
    assert info.value.field == field


def test_templated_threshold_is_checked_at_execute(okx_simulator_connection):
    s = sensor(threshold="{{ params.threshold }}")
    s.threshold = "many"
    with pytest.raises(AirflowFailException, match="threshold") as info:
        s.poke({})
    assert isinstance(info.value.__cause__, OkxInvalidInputError)
    assert info.value.__cause__.field == "threshold"
    assert okx_simulator_connection.count() == 0


def test_deferrable_defers_with_trigger_kwargs(okx_simulator_connection):
    s = sensor(token_address=USDT, threshold="1000000", deferrable=True, poke_interval=7, timeout=600)
    with pytest.raises(TaskDeferred) as info:
        s.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, OkxBalanceTrigger)
    assert info.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_okx.triggers.balance.OkxBalanceTrigger"
    assert kwargs["poke_interval"] == 7.0
    assert kwargs["condition"]["threshold"] == "1000000"
    assert kwargs["condition"]["chains"] == ["1"]
    assert time.time() + 590 < kwargs["end_at"] <= time.time() + 600
    json.dumps(kwargs)  # JSON primitives only


def test_deferrable_returns_at_once_when_already_met(okx_simulator_connection):
    okx_simulator_connection.set_balance(WALLET, "1", USDT, "5", price="1")
    result = sensor(token_address=USDT, threshold="5", deferrable=True).execute({})
    assert result["value"] == "5"


def test_execute_complete_events():
    s = sensor()
    payload = {"value": "1"}
    assert s.execute_complete({}, {"status": "success", "result": payload}) is payload
    with pytest.raises(AirflowSensorTimeout, match="did not reach"):
        s.execute_complete({}, {"status": "timeout", "message": "balance did not reach >= 100"})
    with pytest.raises(AirflowException, match="50113") as info:
        s.execute_complete(
            {}, {"status": "error", "code": "50113", "message": "OKX error 50113: Invalid Sign"}
        )
    assert not isinstance(info.value, AirflowFailException)  # no "permanent": the task may retry
    with pytest.raises(AirflowFailException, match="50113"):
        s.execute_complete(
            {},
            {
                "status": "error",
                "code": "50113",
                "message": "OKX error 50113: Invalid Sign",
                "permanent": True,
            },
        )
    with pytest.raises(AirflowException, match="50001") as info:
        s.execute_complete(
            {}, {"status": "error", "code": "50001", "message": "OKX error 50001", "permanent": False}
        )
    assert not isinstance(info.value, AirflowFailException)


def _trigger(threshold="5", poke_interval=0.05, end_at=None, **cond):
    condition = BalanceCondition.build(
        address=WALLET, chain=1, threshold=threshold, token_address=USDT, **cond
    )
    return OkxBalanceTrigger(condition=condition.to_kwargs(), poke_interval=poke_interval, end_at=end_at)


def test_trigger_serialize_round_trip():
    trigger = _trigger(end_at=123.5)
    path, kwargs = trigger.serialize()
    clone = OkxBalanceTrigger(**json.loads(json.dumps(kwargs)))
    assert clone.serialize() == (path, kwargs)


@pytest.mark.asyncio
async def test_trigger_fires_once_the_value_crosses(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, ["1", "2", "4", "5.5"], price="1", symbol="USDT")
    event = await asyncio.wait_for(_trigger().run().__anext__(), timeout=10)
    assert event.payload["status"] == "success"
    assert event.payload["result"]["value"] == "5.5"
    assert set(event.payload["result"]) == XCOM_KEYS
    assert sim.count(endpoint="all_token_balances") == 4


@pytest.mark.asyncio
async def test_trigger_yields_one_event_then_returns(okx_simulator_connection):
    okx_simulator_connection.set_balance(WALLET, "1", USDT, "9", price="1")
    events = [event async for event in _trigger().run()]
    assert len(events) == 1


@pytest.mark.asyncio
async def test_trigger_stays_pending_below_threshold(okx_simulator_connection):
    task = asyncio.ensure_future(_trigger(threshold="1000000000").run().__anext__())
    await asyncio.sleep(0.5)
    assert not task.done()
    task.cancel()


@pytest.mark.asyncio
async def test_trigger_times_out(okx_simulator_connection):
    event = await asyncio.wait_for(
        _trigger(threshold="1000000000", end_at=time.time() + 0.3).run().__anext__(), timeout=10
    )
    assert event.payload["status"] == "timeout"
    assert "did not reach" in event.payload["message"]


@pytest.mark.asyncio
async def test_trigger_error_event_on_auth_failure(okx_simulator, monkeypatch):
    conn = json.loads(okx_simulator.connection_json(rate_limit_rps=0))
    conn["extra"]["passphrase"] = "not-the-passphrase"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", json.dumps(conn))
    event = await asyncio.wait_for(_trigger().run().__anext__(), timeout=10)
    assert event.payload["status"] == "error"
    assert event.payload["code"] == "50105"
    assert "not-the-passphrase" not in json.dumps(event.payload)


@pytest.mark.asyncio
async def test_trigger_rides_out_transient_errors(okx_simulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=0)
    )
    okx_simulator.inject(Fault(status=503, code="50001", times=2))
    okx_simulator.set_balance(WALLET, "1", USDT, "9", price="1")
    event = await asyncio.wait_for(_trigger().run().__anext__(), timeout=10)
    assert event.payload["status"] == "success"
    assert okx_simulator.count() == 3
