"""The report's asset event carries which report it published; a consumer DAG reads it."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

from airflow_provider_okx.glue.asset_events import (
    REPORT_EVENT_KEYS,
    announce_report,
    latest_report,
    report_event_extra,
)
from airflow_provider_okx.glue.compat import AIRFLOW_V3, ReportAsset
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from tests.lineage_links_run import DAG_ID, lineage_links_run
from tests.test_dags import ROOT, airflow_dags_test

EVM = "0x28C6c06298d514Db089934071355E5743bf21d60"
RESULT = {
    "date": "2026-11-23",
    "total_usd": "1234.5600000001",
    "wallet_count": 1,
    "chain_count": 1,
    "token_count": 3,
    "row_count": 3,
    "previous_date": None,
    "flagged_wallets": [EVM],
    "report_dir": "s3://bucket/okx/2026-11-23",
    "files": {"report.html": "s3://bucket/okx/2026-11-23/report.html"},
}


def outlet_events():
    """Airflow's own accessor, as the task context gives it."""
    if AIRFLOW_V3:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    else:
        from airflow.utils.context import OutletEventAccessors
    return OutletEventAccessors()


def latest_event_extra(asset_name: str, source_dag_id: str) -> dict:
    """The extra of the newest event of ``asset_name`` that ``source_dag_id``'s last run emitted,
    read from the metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if AIRFLOW_V3:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        id_column, key_column = Event.asset_id, Model.name
    else:
        from airflow.models.dataset import DatasetEvent as Event
        from airflow.models.dataset import DatasetModel as Model

        id_column, key_column = Event.dataset_id, Model.uri
    with create_session() as session:
        run_id = session.scalar(
            select(DagRun.run_id).where(DagRun.dag_id == source_dag_id).order_by(DagRun.id.desc()).limit(1)
        )
        extra = session.scalar(
            select(Event.extra)
            .join(Model, id_column == Model.id)
            .where(
                key_column == asset_name, Event.source_dag_id == source_dag_id, Event.source_run_id == run_id
            )
            .order_by(Event.id.desc())
            .limit(1)
        )
    assert extra is not None, f"no event of {asset_name} from {source_dag_id} run {run_id}"
    return extra


def test_report_event_extra_read_back_from_the_metadata_db_after_a_run():
    run = lineage_links_run()
    extra = latest_event_extra("okx_treasury_report", DAG_ID)
    assert set(REPORT_EVENT_KEYS) <= set(extra)
    [day] = [p for p in run.reports.iterdir() if not p.name.startswith(".")]
    assert extra["date"] == day.name
    assert extra["report_dir"] == f"file://{day}"
    assert extra["files"] == {
        name: f"file://{day / name}" for name in ("balances.csv", "summary.json", "report.html")
    }
    summary = json.loads((day / "summary.json").read_text())
    assert extra["total_usd"] == summary["total_usd"]  # the exact decimal string, not a float
    assert isinstance(extra["total_usd"], str) and Decimal(extra["total_usd"]) > 0
    assert extra["row_count"] == summary["row_count"]
    assert extra["wallet_count"] == 2
    assert extra["flagged_wallets"] == []


def test_consumer_dag_reads_the_report_the_event_names():
    run = lineage_links_run()
    extra = latest_event_extra("okx_treasury_report", DAG_ID)
    output = airflow_dags_test("okx_report_consumer", ROOT / "airflow_provider_okx" / "example_dags", {})
    assert (
        f"Treasury report {extra['date']}: {Decimal(extra['total_usd'])} USD over {extra['row_count']} rows "
        f"in {extra['report_dir']}"
    ) in output
    assert str(run.reports) in extra["report_dir"]


def test_announce_report_puts_the_summary_on_every_asset_outlet():
    report_asset = ReportAsset("okx_treasury_report")
    other = ReportAsset("s3://bucket/okx")
    op = OkxTreasuryReportOperator(
        task_id="r", wallets=[EVM], chains="1", output_uri="s3://bucket/okx", outlets=[report_asset, other]
    )
    events = outlet_events()
    events[report_asset].extra = {"kept": "yes"}
    announce_report(op, {"outlet_events": events}, RESULT)
    assert events[report_asset].extra == {"kept": "yes", **report_event_extra(RESULT)}
    assert events[other].extra == report_event_extra(RESULT)
    assert op.okx_report == RESULT  # read by the report link and the lineage facets
    json.dumps(events[report_asset].extra)  # the metadata database stores it as JSON


def test_announce_report_without_outlet_events_still_records_the_report():
    op = OkxTreasuryReportOperator(task_id="r", wallets=[EVM], chains="1", output_uri="s3://bucket/okx")
    announce_report(op, {}, RESULT)
    assert op.okx_report["report_dir"] == "s3://bucket/okx/2026-11-23"


def test_latest_report_skips_events_that_carry_no_report():
    newest = SimpleNamespace(extra={"from_a_human": True})
    report = SimpleNamespace(extra=report_event_extra(RESULT))
    older = SimpleNamespace(extra={**report_event_extra(RESULT), "date": "2026-11-22"})
    assert latest_report([older, report, newest])["date"] == "2026-11-23"
    assert latest_report([newest]) is None
    assert latest_report([]) is None
    assert latest_report(None) is None
