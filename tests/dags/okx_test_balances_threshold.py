"""Test DAG: map the balances operator over 3 wallets, then wait (deferrable) on a threshold.

Run by tests/test_dags.py with ``airflow dags test`` against the OKX simulator; the last task
writes the XComs it received to ``$OKX_TEST_XCOM_OUT`` so the test can check their shape.
"""

from __future__ import annotations

import json
import os

import pendulum

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

if AIRFLOW_V3:
    from airflow.sdk import DAG, task
else:
    from airflow import DAG
    from airflow.decorators import task

WALLETS = [
    "0xEd0C6079229E2d407672a117c22b62064f4a4312",
    "0x" + "a1" * 20,
    "0x" + "b2" * 20,
]
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"

with DAG(
    dag_id="okx_test_balances_threshold",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    balances = OkxTokenBalancesOperator.partial(task_id="balances", chains="ethereum,bsc").expand(
        address=WALLETS
    )
    deposit = OkxBalanceSensor(
        task_id="wait_for_deposit",
        address=WALLETS[1],
        chain=1,
        token_address=USDT,
        threshold="1000",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )

    @task
    def record(snapshots, observed):
        with open(os.environ["OKX_TEST_XCOM_OUT"], "w") as out:
            json.dump({"balances": list(snapshots), "deposit": observed}, out)

    balances >> deposit
    record(balances.output, deposit.output)
