"""Act on each treasury report as soon as it is published: scheduled on its asset.

``okx_treasury_report`` updates the ``okx_treasury_report`` asset (a Dataset on Airflow 2) and
its asset event says which report it published: ``date``, ``report_dir``, ``files`` (file name
-> URI), ``total_usd`` (an exact decimal string), ``row_count``, ``flagged_wallets``... This DAG
runs on each such event and reads that report, never guessing a path or a date. Run by hand, it
reads the latest report published. Parsing this file makes no network call.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pendulum

from airflow_provider_okx.glue.asset_events import report_from_context
from airflow_provider_okx.glue.compat import AirflowSkipException, object_storage_path

try:  # Airflow 3
    from airflow.sdk import DAG, get_current_context, task
    from airflow.sdk import Asset as ReportAsset
except ImportError:  # Airflow 2.10 / 2.11
    from airflow import DAG
    from airflow.datasets import Dataset as ReportAsset
    from airflow.decorators import task
    from airflow.operators.python import get_current_context

REPORT = ReportAsset("okx_treasury_report")

with DAG(
    dag_id="okx_report_consumer",
    description="Read each treasury report when it is published (asset-scheduled)",
    schedule=[REPORT],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["okx", "treasury"],
) as dag:

    @task(inlets=[REPORT])
    def read_report() -> dict:
        report = report_from_context(get_current_context(), REPORT)
        if report is None:
            raise AirflowSkipException("no treasury report has been published yet")
        summary = json.loads(object_storage_path(report["files"]["summary.json"]).read_text())
        total = Decimal(report["total_usd"])
        assert Decimal(summary["total_usd"]) == total, "the event and the published summary disagree"
        print(
            f"Treasury report {report['date']}: {total} USD over {report['row_count']} rows "
            f"in {report['report_dir']}; flagged wallets: {report['flagged_wallets'] or 'none'}"
        )
        return {"date": report["date"], "total_usd": report["total_usd"]}

    read_report()
