"""OkxBalanceSensor(start_from_trigger=True): the task begins in the triggerer, no worker."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pendulum
import pytest

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

WALLET = "0x" + "3e" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def sensor(**kwargs):
    defaults = {
        "task_id": "wait",
        "address": WALLET,
        "chain": "ethereum",
        "token_address": USDT,
        "threshold": "1000",
        "deferrable": True,
        "start_from_trigger": True,
        "poke_interval": 0.01,
        "timeout": 600,
    }
    return OkxBalanceSensor(**{**defaults, **kwargs})


def rebuild(args):
    module, name = args.trigger_cls.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**args.trigger_kwargs)


@pytest.mark.asyncio
async def test_the_trigger_airflow_starts_waits_and_the_worker_returns_the_sensors_result(
    okx_simulator_connection,
):
    sim = okx_simulator_connection
    sim.set_balance_sequence(WALLET, "1", USDT, ["5", "999.99", "1000"], price="1", symbol="USDT")
    task = sensor()
    assert task.start_from_trigger is True
    args = task.start_trigger_args
    assert args.trigger_cls == "airflow_provider_okx.triggers.balance.OkxBalanceTrigger"
    assert args.next_method == "execute_complete"
    assert args.timeout == timedelta(seconds=600)
    # What the scheduler does: build the trigger from the stored class path and kwargs.
    event = await rebuild(args).run().asend(None)
    assert event.payload["status"] == "success"
    # What the worker does when the trigger fired.
    result = task.execute_complete({}, event.payload)
    assert (result["value"], result["threshold"], result["chain"]) == ("1000", "1000", "1")
    # Three polls, all by the trigger (the wallet's all-token-balances): no first check in a worker.
    assert sim.count(endpoint="all_token_balances") == 3
    assert sim.count(endpoint="token_balances") == 0


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"address": "{{ params.wallet }}"}, "address is rendered at run time"),
        (
            {"threshold": "{{ params.threshold }}", "chain": "{{ params.chain }}"},
            "chain, threshold are rendered",
        ),
        ({"okx_conn_id": "{{ var.value.okx_conn }}"}, "okx_conn_id is rendered"),
        ({"deferrable": False}, "only applies with deferrable=True"),
    ],
)
def test_falls_back_to_a_worker_start_with_a_warning(kwargs, why):
    with pytest.warns(UserWarning, match=why):
        task = sensor(**kwargs)
    assert task.start_from_trigger is False
    assert task.start_trigger_args is None


def test_off_by_default():
    task = sensor(start_from_trigger=False)
    assert task.start_from_trigger is False and task.start_trigger_args is None


def test_bad_input_still_fails_at_parse_time():
    from airflow_provider_okx.core.api.errors import OkxInvalidInputError

    with pytest.raises(OkxInvalidInputError) as raised:
        sensor(threshold="-5")
    assert raised.value.field == "threshold"


def test_the_serialized_dag_keeps_the_start_arguments():
    """The scheduler reads these from the serialized DAG, not from the DAG file."""
    if AIRFLOW_V3:
        from airflow.sdk import DAG
    else:
        from airflow import DAG
    try:  # Airflow 3.3
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # earlier versions
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer

    with DAG(
        "okx_start_from_trigger", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
    ) as dag:
        sensor()
    served = Serializer.from_dict(Serializer.to_dict(dag)).get_task("wait")
    assert served.start_from_trigger is True
    assert served.start_trigger_args.trigger_cls == "airflow_provider_okx.triggers.balance.OkxBalanceTrigger"
    kwargs = served.start_trigger_args.trigger_kwargs
    if isinstance(kwargs, dict) and "__var" in kwargs:  # 3.3 keeps them encoded for the triggerer
        from airflow.serialization.serialized_objects import BaseSerialization

        kwargs = BaseSerialization.deserialize(kwargs)
    assert kwargs == sensor().start_trigger_args.trigger_kwargs
    assert served.start_trigger_args.timeout == timedelta(seconds=600)


@pytest.mark.skipif(AIRFLOW_V3, reason="Airflow 2's scheduler path (3.0-3.2 ignore the flag)")
def test_airflow2_scheduler_defers_the_task_without_a_worker():
    from airflow import DAG
    from airflow.models.dagrun import DagRun
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType

    start = pendulum.datetime(2026, 1, 1, tz="UTC")
    with DAG("okx_start_from_trigger_af2", schedule=None, start_date=start) as dag:
        sensor()
    dag.sync_to_db()
    run_id = f"test_{pendulum.now('UTC').int_timestamp}"
    with create_session() as session:
        run = dag.create_dagrun(
            run_id=run_id,
            run_type=DagRunType.MANUAL,
            state=DagRunState.RUNNING,
            execution_date=pendulum.now("UTC"),
            data_interval=(start, start),
            session=session,
        )
        ti = run.get_task_instance("wait", session=session)
        ti.task = dag.get_task("wait")
        run.schedule_tis([ti], session=session)
        session.flush()
        ti = run.get_task_instance("wait", session=session)
        assert ti.state == TaskInstanceState.DEFERRED
        assert ti.next_method == "execute_complete"
        trigger = session.get(Trigger, ti.trigger_id)
        assert trigger.classpath == "airflow_provider_okx.triggers.balance.OkxBalanceTrigger"
        assert trigger.kwargs["condition"]["address"] == WALLET
        assert session.query(DagRun).filter(DagRun.run_id == run_id).one().state == DagRunState.RUNNING
