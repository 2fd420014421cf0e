"""``render_template_as_native_obj=True`` must not turn a wallet address into a number."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

if AIRFLOW_V3:
    from airflow.sdk import DAG
else:
    from airflow import DAG

WALLET = "0x00C6c06298d514Db089934071355e5743BF21d60"  # a leading zero, mixed case (EIP-55)


@pytest.fixture
def native_dag():
    with DAG(
        "native_rendering",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        render_template_as_native_obj=True,
    ) as dag:
        yield dag


def test_literal_and_templated_addresses_stay_text(native_dag):
    op = OkxTokenBalancesOperator(task_id="b", address=WALLET, chains="1,56")
    context = {"params": {"address": WALLET, "threshold": "250000"}}
    # What Jinja's native mode does without the guard: the hex text becomes an int.
    env = native_dag.get_template_env()
    assert isinstance(env.from_string(WALLET).render(**context), int)

    assert op.render_template(WALLET, context) == WALLET
    assert op.render_template("{{ params.address }}", context) == WALLET
    assert op.render_template([WALLET, "{{ params.address }}"], context) == [WALLET, WALLET]
    sensor = OkxBalanceSensor(
        task_id="s", address="{{ params.address }}", chain="1", threshold="{{ params.threshold }}"
    )
    assert sensor.render_template("{{ params.address }}", context) == WALLET
    assert sensor.render_template("{{ params.threshold }}", context) == "250000"


def test_lists_and_dicts_still_render_natively(native_dag):
    op = OkxTokenBalancesOperator(task_id="b", address=WALLET, chains="1")
    context = {"params": {"wallets": {"cold": WALLET}}}
    assert op.render_template("{{ params.wallets }}", context) == {"cold": WALLET}
