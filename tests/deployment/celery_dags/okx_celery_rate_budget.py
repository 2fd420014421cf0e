"""Deployment-test DAG: many task processes and the triggerer share one OKX key's rate.

8 mapped balance tasks of 20 wallets each (one request per wallet: a single chain) in the
``okx_api`` pool, next to 3 deferred balance sensors (two start in the triggerer, one pokes in
a worker first). Run by tests/deployment/test_celery_deployment.py on a CeleryExecutor
deployment with two workers of 4 slots each; the test steers the sensors' wallets through the
simulator's admin API.
"""

from __future__ import annotations

import hashlib

import pendulum

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

if AIRFLOW_V3:
    from airflow.sdk import DAG
else:
    from airflow import DAG

TASKS = 8
WALLETS_PER_TASK = 20
WALLETS = [
    "0x" + hashlib.sha256(f"okx-celery-wallet-{i}".encode()).hexdigest()[:40]
    for i in range(TASKS * WALLETS_PER_TASK)
]
BATCHES = [WALLETS[i : i + WALLETS_PER_TASK] for i in range(0, len(WALLETS), WALLETS_PER_TASK)]
SENSOR_WALLETS = ["0x" + "c1" * 20, "0x" + "c2" * 20, "0x" + "c3" * 20]
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
THRESHOLD = "1000"
POOL = "okx_api"

with DAG(
    dag_id="okx_celery_rate_budget",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=16,
    default_args={"retries": 0},
):
    OkxTokenBalancesOperator.partial(task_id="balances", chains="ethereum", pool=POOL).expand(address=BATCHES)
    for n, wallet in enumerate(SENSOR_WALLETS):
        OkxBalanceSensor(
            task_id=f"wait_for_deposit_{n}",
            address=wallet,
            chain=1,
            token_address=USDT,
            threshold=THRESHOLD,
            deferrable=True,
            # two start in the triggerer without a worker slot; the last pokes in a worker first
            start_from_trigger=n < 2,
            poke_interval=2,
            timeout=600,
            pool=POOL,
            priority_weight=100,
        )
