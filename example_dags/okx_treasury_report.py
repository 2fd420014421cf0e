"""Daily treasury report: every wallet, every chain, valued exactly, compared with yesterday.

- ``wallet_balances`` maps :class:`OkxTokenBalancesOperator` over the wallets (one task per
  wallet; each pushes its exact balances to XCom for downstream loaders).
- ``treasury_report`` aggregates those snapshots, reconciles each wallet against OKX's own
  total, compares with the previous day and writes ``balances.csv``, ``summary.json`` and
  ``report.html`` under ``<output_uri>/<YYYY-MM-DD>/``. It updates the
  ``okx_treasury_report`` asset, so downstream DAGs can be scheduled on it.

Every OKX task runs in the ``okx_api`` pool: size it to your key's rate tier so that hundreds
of workers never send more than OKX allows (``airflow pools set okx_api 4 "OKX API key"``).
Parsing this file makes no network call and needs no connection.
"""

from __future__ import annotations

import os

import pendulum

from airflow_provider_okx.compat import AIRFLOW_V3
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator

if AIRFLOW_V3:
    from airflow.sdk import DAG, Param, task
else:
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

DEFAULT_WALLETS = {
    "treasury-cold": "0xEd0C6079229E2d407672a117c22b62064f4a4312",
    "treasury-hot": "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063",
    "payroll": "0x28c6c06298d514db089934071355e5743bf21d60",
}
DEFAULT_CHAINS = "ethereum,bsc,base,arbitrum,polygon,optimism"
DEFAULT_OUTPUT = os.environ.get("OKX_REPORT_URI", "file:///tmp/okx-treasury-reports")

with DAG(
    dag_id="okx_treasury_report",
    description="Exact daily treasury report from OKX's Web3 balance API",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args={"pool": "okx_api", "retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "wallets": Param(DEFAULT_WALLETS, type="object", description="label -> wallet address"),
        "chains": Param(DEFAULT_CHAINS, type="string", description="chain names or OKX chainIndex values"),
        "output_uri": Param(DEFAULT_OUTPUT, type="string", description="file://, s3://, gs://... folder"),
    },
    tags=["okx", "treasury"],
) as dag:

    @task(pool="default_pool")
    def wallet_addresses(params=None) -> list[str]:
        return list(params["wallets"].values())

    wallet_balances = OkxTokenBalancesOperator.partial(
        task_id="wallet_balances",
        chains="{{ params.chains }}",
    ).expand(address=wallet_addresses())

    treasury_report = OkxTreasuryReportOperator(
        task_id="treasury_report",
        wallets="{{ params.wallets }}",
        chains="{{ params.chains }}",
        output_uri="{{ params.output_uri }}",
        balances=wallet_balances.output,
        report_asset="okx_treasury_report",
    )
