"""Test DAG: balances of an EVM, a Solana and a Bitcoin wallet, a sensor, and a report.

Run by tests/test_links.py and tests/test_lineage.py with ``airflow dags test`` against the
OKX simulator, to check the extra links Airflow stores/serves and the OpenLineage events.
``$OKX_TEST_REPORT_URI`` is where the report is published.
"""

from __future__ import annotations

import os

import pendulum

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

if AIRFLOW_V3:
    from airflow.sdk import DAG
else:
    from airflow import DAG

EVM = "0x28C6c06298d514Db089934071355E5743bf21d60"
SOLANA = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
BITCOIN = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"

with DAG(
    dag_id="okx_test_lineage_links",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"wallet": EVM},
) as dag:
    balances = OkxTokenBalancesOperator.partial(
        task_id="balances", chains="ethereum,base,solana,bitcoin"
    ).expand(address=[EVM, SOLANA, BITCOIN])

    wait = OkxBalanceSensor(
        task_id="wait",
        address="{{ params.wallet }}",
        chain="ethereum",
        token_address=USDT,
        threshold="0",
        deferrable=False,
        poke_interval=1,
        timeout=60,
    )

    report = OkxTreasuryReportOperator(
        task_id="report",
        wallets={"cold": EVM, "sol": SOLANA},
        chains="ethereum,solana",
        output_uri=os.environ.get("OKX_TEST_REPORT_URI", "file:///tmp/okx-test-lineage-links"),
        reconcile=False,
        report_asset="okx_treasury_report",
    )

    balances >> wait >> report
