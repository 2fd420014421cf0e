"""Wait for a deposit: defer until a wallet holds at least a threshold of USDT, then act.

The sensor checks once in the worker, then hands the wait to the triggerer (no worker slot
held while it waits) and returns the observed value, an exact decimal string, to XCom.
Parsing this file makes no network call and needs no connection.
"""

from __future__ import annotations

from decimal import Decimal

import pendulum

from airflow_provider_okx.compat import AIRFLOW_V3
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

if AIRFLOW_V3:
    from airflow.sdk import DAG, Param, task
else:
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

USDT_ETHEREUM = "0xdac17f958d2ee523a2206206994597c13d831ec7"

with DAG(
    dag_id="okx_balance_threshold",
    description="Wait (deferrable) until a deposit reaches a threshold",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "address": Param("0x28c6c06298d514db089934071355e5743bf21d60", type="string"),
        "threshold": Param("250000", type="string", description="token units, as a decimal string"),
    },
    tags=["okx", "sensor"],
) as dag:
    deposit = OkxBalanceSensor(
        task_id="wait_for_usdt_deposit",
        address="{{ params.address }}",
        chain="ethereum",
        token_address=USDT_ETHEREUM,
        metric="balance",
        condition=">=",
        threshold="{{ params.threshold }}",
        deferrable=True,
        poke_interval=60,
        timeout=6 * 60 * 60,
        pool="okx_api",
    )

    @task
    def release_payout(observed: dict) -> str:
        """Downstream work gets the exact observed value, never a float."""
        value = Decimal(observed["value"])
        print(f"Deposit confirmed: {value} USDT at {observed['observed_at']}")
        return str(value)

    release_payout(deposit.output)
