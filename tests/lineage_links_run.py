"""One ``airflow dags test`` run of ``tests/dags/okx_test_lineage_links.py``, shared by the
lineage and links tests: a simulator, the OpenLineage ``file`` transport, a report folder."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.testing import OkxSimulator
from tests.test_dags import ROOT, airflow_dags_test

DAG_ID = "okx_test_lineage_links"
DAGS = ROOT / "tests" / "dags"


@dataclass(frozen=True)
class LineageLinksRun:
    reports: Path
    """The report root (``file://`` URI target)."""
    events: list[dict[str, Any]]
    """Every OpenLineage event the run emitted, in order."""
    base_url: str
    """The simulator's base URL the connection pointed at."""


@functools.cache
def lineage_links_run() -> LineageLinksRun:
    workdir = Path(tempfile.mkdtemp(prefix="okx-lineage-links-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    events_file = workdir / "openlineage.jsonl"
    with OkxSimulator() as sim:
        env = {
            "AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50),
            "OKX_TEST_REPORT_URI": f"file://{workdir / 'reports'}",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "okx-tests",
            "AIRFLOW__OPENLINEAGE__DISABLED": "false",
        }
        if not AIRFLOW_V3:
            # Airflow 2 records an outlet event only for a dataset the DAG processor has stored;
            # ``dags test`` does not store it, ``dags reserialize`` does (as a deployment would).
            subprocess.run(
                [str(Path(sys.executable).with_name("airflow")), "dags", "reserialize"],
                env={**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS)},
                check=True,
                capture_output=True,
            )
        airflow_dags_test(DAG_ID, DAGS, env)
        base_url = sim.base_url
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return LineageLinksRun(reports=workdir / "reports", events=events, base_url=base_url)
