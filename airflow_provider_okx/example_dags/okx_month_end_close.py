"""Month-end close: the month's transactions in the warehouse, a roll-forward report valued at
the cut-off, and an alert when a balance changed by more than its transactions explain.

- ``close_report`` publishes the treasury report with ``roll_forward=True`` (per wallet, chain
  and token: opening + inflow - outflow - fees = expected closing, against the closing
  balance, since the previous report under ``output_uri``) and ``valuation_time`` at the cut-off
  (00:00 UTC on the first of the month the run's period ends in): every holding valued at
  OKX's historical index price then, each row saying which price it got.
- ``load_transactions`` (after the report) loads every transaction record of the wallets in
  the month before the cut-off into the ``okx_transactions`` table of the
  ``okx_close_warehouse`` connection: exact, idempotent (a rerun adds no row) and incremental
  (a rerun asks OKX only from what the table already holds, minus an hour). Without
  configuration that is an embedded SQLite file, ``warehouse.sqlite`` next to the reports; set
  ``AIRFLOW_CONN_OKX_CLOSE_WAREHOUSE`` (e.g. ``postgres://user:pass@host:5432/analytics``), or
  ``OKX_WAREHOUSE_CONN_ID=okx_warehouse`` to share the treasury report's warehouse.
- ``check_differences`` fails when any balance's unexplained difference is above
  ``tolerance_usd`` (or cannot be valued), or when a wallet could not be reconciled: the books
  do not close until someone explains it. The report page lists those differences first.

Every OKX task runs in the ``okx_api`` pool, which you create once:
``airflow pools set okx_api 4 "OKX API key"``. Parsing this file makes no network call and
needs no connection.
"""

from __future__ import annotations

import json
import os
import tempfile
from urllib.parse import urlparse

import pendulum

from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.transfers.okx_to_sql import OkxTransactionsToSqlOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

OKX_API_POOL = "okx_api"
# The cut-off: 00:00 UTC on the first day of the month the run's period ends in (a scheduled
# @monthly run: its data_interval_end; a manual run, whose interval is empty: the month before).
CUTOFF = "{{ data_interval_end.in_timezone('UTC').start_of('month') }}"
MONTH_START = "{{ data_interval_end.in_timezone('UTC').start_of('month').subtract(months=1) }}"
DEFAULT_WALLETS = {
    "treasury-cold": "0xEd0C6079229E2d407672a117c22b62064f4a4312",
    "treasury-hot": "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063",
}
DEFAULT_CHAINS = "ethereum,base"
DEFAULT_OUTPUT = os.environ.get("OKX_CLOSE_URI", "file:///tmp/okx-month-end-close")

# The warehouse: the connection named by OKX_WAREHOUSE_CONN_ID (e.g. okx_warehouse, the
# treasury report's), else ``okx_close_warehouse``, which defaults to an embedded SQLite file
# next to the reports unless AIRFLOW_CONN_OKX_CLOSE_WAREHOUSE is set. (A name of its own: the DAG
# processor parses every example in one process, and the treasury report's default must not
# become this one's, or the other way round.)
WAREHOUSE_CONN_ID = os.environ.get("OKX_WAREHOUSE_CONN_ID", "okx_close_warehouse")
if WAREHOUSE_CONN_ID == "okx_close_warehouse":
    _local = urlparse(DEFAULT_OUTPUT)
    _folder = _local.path if _local.scheme in ("", "file") else tempfile.gettempdir()
    _sqlite = {"conn_type": "sqlite", "host": os.path.join(_folder, "warehouse.sqlite")}
    os.environ.setdefault("AIRFLOW_CONN_OKX_CLOSE_WAREHOUSE", json.dumps(_sqlite))

with DAG(
    dag_id="okx_month_end_close",
    description=f"Month-end close: transactions, roll-forward, cut-off valuation (needs pool {OKX_API_POOL})",
    doc_md=f"""
**Before the first run** create the pool this DAG's OKX tasks run in (size it to your key's
rate tier), or they stay *scheduled* for ever:

    airflow pools set {OKX_API_POOL} 4 "OKX API key"

The first close has no previous report to roll forward from; every later one rolls forward
from the report before it. `tolerance_usd` is the largest unexplained difference (in USD, at the
cut-off price) that does not fail `check_differences`.
""",
    schedule="@monthly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args={"pool": OKX_API_POOL, "retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "wallets": Param(
            DEFAULT_WALLETS,
            type=["object", "array", "string"],
            items={"type": "string", "minLength": 1},
            additionalProperties={"type": "string", "minLength": 1},
            minItems=1,
            minProperties=1,
            minLength=1,
            description='addresses ["0x...", ...], labels {"cold": "0x...", ...} or "0x...,0x..."',
        ),
        "chains": Param(
            DEFAULT_CHAINS,
            type=["string", "array", "integer"],
            items={"type": ["string", "integer"]},
            minItems=1,
            minLength=1,
            description='chain names or OKX chainIndex values: "ethereum,base", [1, 56, 8453] or 1',
        ),
        "output_uri": Param(DEFAULT_OUTPUT, type="string", description="file://, s3://, gs://... folder"),
        "tolerance_usd": Param("1", type="string", description="largest unexplained USD that passes"),
    },
    tags=["okx", "treasury", "accounting"],
) as dag:
    load_transactions = OkxTransactionsToSqlOperator(
        task_id="load_transactions",
        wallets="{{ params.wallets }}",
        chains="{{ params.chains }}",
        table="okx_transactions",
        sql_conn_id=WAREHOUSE_CONN_ID,
        begin=MONTH_START,
        end=CUTOFF,
    )

    close_report = OkxTreasuryReportOperator(
        task_id="close_report",
        wallets="{{ params.wallets }}",
        chains="{{ params.chains }}",
        output_uri="{{ params.output_uri }}",
        roll_forward=True,
        valuation_time=CUTOFF,
        report_asset="okx_month_end_close",
    )

    @task(pool="default_pool")
    def check_differences(report: dict, params=None) -> dict:
        """Fail when a difference is above tolerance, cannot be valued, or cannot be computed."""
        from decimal import Decimal

        from airflow_provider_okx.core.inputs import parse_amount
        from airflow_provider_okx.glue.compat import AirflowFailException

        section = report.get("roll_forward") or {}
        if not section.get("available"):
            print("No previous report: nothing to roll forward yet (the next close will).")
            return {"checked": False, "over_tolerance": []}
        tolerance = parse_amount(params["tolerance_usd"], "tolerance_usd")  # exact; words refused
        over = []
        for row in section["differences"]:
            usd = row.get("unexplained_usd")
            if row["status"] == "not_reconcilable" or usd is None or abs(Decimal(usd)) > tolerance:
                over.append(row)
                token = row["symbol"] or row["token_address"]
                print(
                    f"{row['status']}: {row['wallet_label']} {token} on chain {row['chain_index']}: "
                    f"unexplained {row['unexplained']} ({usd} USD) {row['reason'] or ''}"
                )
        print(
            f"Roll-forward {section['opening_time']} -> {section['closing_time']}: "
            f"{section['row_count']} rows, {section['unexplained_count']} unexplained, "
            f"{section['not_reconcilable_count']} not reconcilable, {len(over)} beyond {tolerance} USD"
        )
        if over:
            raise AirflowFailException(
                f"{len(over)} balance(s) changed by more than their transactions explain (tolerance "
                f"{tolerance} USD) or could not be reconciled: see the report's roll-forward"
            )
        return {"checked": True, "over_tolerance": []}

    # After the report, so the default SQLite file's folder (the report folder) exists.
    close_report >> load_transactions
    check_differences(close_report.output)
