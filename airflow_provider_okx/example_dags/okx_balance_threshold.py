"""Wait for a deposit: defer until a wallet holds at least a threshold of USDT, then act.

The sensor checks once in the worker, then hands the wait to the triggerer (no worker slot
held while it waits) and returns the observed value, an exact decimal string, to XCom.

The sensor runs in the ``okx_api`` pool, which you create once (docs: getting started, first steps):
``airflow pools set okx_api 4 "OKX API key"``; without it the sensor stays *scheduled*.
Parsing this file makes no network call and needs no connection.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pendulum

from airflow_provider_okx.sensors.balance import OkxBalanceSensor

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

OKX_API_POOL = "okx_api"
USDT_ETHEREUM = "0xdac17f958d2ee523a2206206994597c13d831ec7"
# Seconds between two looks at the balance (each is one OKX request).
POKE_INTERVAL = int(os.environ.get("OKX_DEPOSIT_POKE_INTERVAL", "60"))

with DAG(
    dag_id="okx_balance_threshold",
    description=f"Wait (deferrable) until a deposit reaches a threshold (needs pool {OKX_API_POOL})",
    doc_md=f"""
**Before the first run** create the pool the sensor runs in, or it stays *scheduled* for ever:

    airflow pools set {OKX_API_POOL} 4 "OKX API key"
""",
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
        poke_interval=POKE_INTERVAL,
        timeout=6 * 60 * 60,
        pool=OKX_API_POOL,
    )

    @task
    def release_payout(observed: dict) -> str:
        """Downstream work gets the exact observed value, never a float."""
        value = Decimal(observed["value"])
        print(
            f"Deposit confirmed: {observed['address']} holds {value} USDT "
            f"(token {observed['token_address']} on chain {observed['chain']}) at {observed['observed_at']}"
        )
        return str(value)

    release_payout(deposit.output)
