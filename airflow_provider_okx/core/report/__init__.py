"""Treasury reports: pure functions from a day's balances to ``balances.csv``, ``summary.json``
and ``report.html``. No Airflow, no HTTP, no I/O: the operator writes what these return.
"""

from __future__ import annotations

from airflow_provider_okx.core.report.aggregate import build_summary
from airflow_provider_okx.core.report.csv_render import render_csv
from airflow_provider_okx.core.report.html_render import render_html
from airflow_provider_okx.core.report.json_render import render_summary_json
from airflow_provider_okx.core.report.snapshot import Snapshot

__all__ = ["Snapshot", "build_summary", "render_csv", "render_html", "render_summary_json"]
