"""Daily treasury report: every wallet, every chain, valued exactly, compared with yesterday.

- ``wallet_addresses`` reads the ``wallets`` param: a list of addresses, or a mapping of
  label -> address (labels name the wallets in the report; a list labels each by its address).
- ``wallet_balances`` maps :class:`OkxTokenBalancesOperator` over the wallets (one task per
  wallet; each pushes its exact balances to XCom for downstream loaders).
- ``treasury_report`` aggregates those snapshots, reconciles each wallet against OKX's own
  total, compares with the previous day and writes ``balances.csv``, ``summary.json`` and
  ``report.html`` under ``<output_uri>/<YYYY-MM-DD>/``. It updates the
  ``okx_treasury_report`` asset, so downstream DAGs can be scheduled on it.
- ``warehouse_load`` loads the same snapshots into the ``okx_balances`` table of the
  ``okx_warehouse`` connection, replacing that day's rows (exact, idempotent). Without any
  configuration that is an embedded SQLite file, ``warehouse.sqlite`` in the report folder;
  set ``AIRFLOW_CONN_OKX_WAREHOUSE`` (e.g. ``postgres://user:pass@host:5432/analytics``) to
  point it at PostgreSQL, Snowflake, BigQuery... or ``OKX_WAREHOUSE_CONN_ID`` to use a
  connection stored in Airflow under another id.

Every OKX task runs in the ``okx_api`` pool, which you create once (docs: getting started, first steps):
``airflow pools set okx_api 4 "OKX API key"``. Airflow never starts a task whose pool does not
exist, so without it the OKX tasks stay *scheduled*. Parsing this file makes no network call
and needs no connection.
"""

from __future__ import annotations

import json
import os
import tempfile
from urllib.parse import urlparse

import pendulum

from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.transfers.okx_to_sql import OkxBalancesToSqlOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

OKX_API_POOL = "okx_api"
DEFAULT_WALLETS = {
    "treasury-cold": "0xEd0C6079229E2d407672a117c22b62064f4a4312",
    "treasury-hot": "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063",
    "payroll": "0x28c6c06298d514db089934071355e5743bf21d60",
}
DEFAULT_CHAINS = "ethereum,bsc,base,arbitrum,polygon,optimism"
DEFAULT_OUTPUT = os.environ.get("OKX_REPORT_URI", "file:///tmp/okx-treasury-reports")

# The warehouse: the connection named by OKX_WAREHOUSE_CONN_ID, else ``okx_warehouse``, which
# defaults to an embedded SQLite file next to the reports (or in the temp folder when reports go
# to an object store) unless AIRFLOW_CONN_OKX_WAREHOUSE is set.
WAREHOUSE_CONN_ID = os.environ.get("OKX_WAREHOUSE_CONN_ID", "okx_warehouse")
if WAREHOUSE_CONN_ID == "okx_warehouse":
    _local = urlparse(DEFAULT_OUTPUT)
    _folder = _local.path if _local.scheme in ("", "file") else tempfile.gettempdir()
    _sqlite = {"conn_type": "sqlite", "host": os.path.join(_folder, "warehouse.sqlite")}
    os.environ.setdefault("AIRFLOW_CONN_OKX_WAREHOUSE", json.dumps(_sqlite))

with DAG(
    dag_id="okx_treasury_report",
    description=f"Exact daily treasury report from OKX's Web3 balance API (needs pool {OKX_API_POOL})",
    doc_md=f"""
**Before the first run** create the pool this DAG's OKX tasks run in (size it to your key's
rate tier), or they stay *scheduled* for ever:

    airflow pools set {OKX_API_POOL} 4 "OKX API key"

`wallets` takes a list of addresses (`["0x...", "0x..."]`) or labels
(`{{"cold": "0x...", "hot": "0x..."}}`).
""",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args={"pool": OKX_API_POOL, "retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "wallets": Param(
            DEFAULT_WALLETS,
            type=["object", "array"],
            items={"type": "string", "minLength": 1},
            additionalProperties={"type": "string", "minLength": 1},
            minItems=1,
            minProperties=1,
            description='addresses ["0x...", ...] or labels {"cold": "0x...", ...}',
        ),
        "chains": Param(DEFAULT_CHAINS, type="string", description="chain names or OKX chainIndex values"),
        "output_uri": Param(DEFAULT_OUTPUT, type="string", description="file://, s3://, gs://... folder"),
    },
    tags=["okx", "treasury"],
) as dag:

    @task(pool="default_pool")
    def wallet_addresses(params=None) -> list[str]:
        """The addresses to fetch, from a list or a label mapping alike."""
        wallets = params["wallets"]
        labelled = wallets if isinstance(wallets, dict) else {address: address for address in wallets}
        for label, address in labelled.items():
            print(f"Wallet {label}: {address}" if label != address else f"Wallet {address}")
        print(
            f"Fetching {len(labelled)} wallet(s) in pool {OKX_API_POOL!r}: if the next tasks stay "
            f"'scheduled', create the pool: airflow pools set {OKX_API_POOL} 4 \"OKX API key\""
        )
        return list(labelled.values())

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

    # After the report, so the default SQLite file's folder (the report folder) exists.
    warehouse_load = OkxBalancesToSqlOperator(
        task_id="warehouse_load",
        sql_conn_id=WAREHOUSE_CONN_ID,
        table="okx_balances",
        wallets="{{ params.wallets }}",
        chains="{{ params.chains }}",
        balances=wallet_balances.output,
        pool="default_pool",
    )
    treasury_report >> warehouse_load
