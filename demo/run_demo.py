"""The demo: the daily treasury report, end to end, against the bundled OKX simulator.

1. a throwaway Airflow home under ``.airflow/demo`` (migrated on first use);
2. the OKX simulator in its own process (real HTTP on loopback, signatures verified,
   20 requests/s per key like a start-up tier);
3. ``airflow dags test okx_treasury_report <today>`` with the ``okx_api`` pool and an
   ``okx_default`` connection pointing at the simulator;
4. where the report is, and its headline figures.

Run it with ``make demo``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOME = ROOT / ".airflow" / "demo"
OUTPUT = ROOT / "demo-output"


def airflow(*args: str, env: dict[str, str], quiet: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"airflow {' '.join(args)} failed (exit {proc.returncode})")
    if not quiet:
        print(proc.stdout)
    return proc


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    sim = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_okx.testing", "--port", "0", "--rate-limit", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    url = conn = ""
    deadline = time.monotonic() + 30
    while (not url or not conn) and time.monotonic() < deadline:
        line = sim.stdout.readline()
        if not line:
            break
        if match := re.search(r"listening on (\S+)", line):
            url = match.group(1)
        if line.startswith("AIRFLOW_CONN_OKX_DEFAULT="):
            conn = line.split("=", 1)[1].strip().strip("'")
    if not url or not conn:
        sim.kill()
        raise SystemExit("the OKX simulator did not start")
    return sim, conn


def main() -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "airflow_provider_okx" / "example_dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "OKX_REPORT_URI": OUTPUT.as_uri(),
    }
    HOME.mkdir(parents=True, exist_ok=True)
    if not (HOME / ".migrated").exists():
        print(f"Migrating a throwaway Airflow home in {HOME} ...")
        airflow("db", "migrate", env=env)
        (HOME / ".migrated").touch()
    sim, conn = start_simulator()
    try:
        conn_data = json.loads(conn)
        conn_data["extra"]["rate_limit_rps"] = 20  # the key's tier, enforced client-side
        env["AIRFLOW_CONN_OKX_DEFAULT"] = json.dumps(conn_data)
        print(f"OKX simulator serving on {conn_data['host']} (20 requests/s per key)")
        airflow("pools", "set", "okx_api", "4", "OKX API key: size to its rate tier", env=env)
        day = dt.datetime.now(dt.timezone.utc).date().isoformat()
        print(f"Running okx_treasury_report for {day} with `airflow dags test` ...")
        started = time.monotonic()
        airflow("dags", "test", "okx_treasury_report", day, env=env)
        elapsed = time.monotonic() - started
    finally:
        sim.terminate()
        sim.wait(timeout=10)

    folder = OUTPUT / day
    summary = json.loads((folder / "summary.json").read_text())
    total = Decimal(summary["total_usd"])
    print()
    print(f"Treasury report for {summary['date']} (DAG run took {elapsed:.1f} s)")
    print(f"  total           {total:,.2f} USD   (exact: {summary['total_usd']})")
    print(
        f"  wallets {summary['wallet_count']}, chains {summary['chain_count']}, "
        f"tokens {summary['token_count']} ({summary['unpriced_token_count']} unpriced, "
        f"{summary['risk_token_count']} risk)"
    )
    for chain in summary["by_chain"][:5]:
        print(f"  {chain['chain_name']:<16}{Decimal(chain['usd']):>24,.2f} USD")
    flagged = summary["reconciliation"]["flagged"]
    print(
        f"  reconciliation  {'all wallets match OKX' if not flagged else f'{len(flagged)} wallet(s) flagged'}"
    )
    if summary.get("changes"):
        print(
            f"  since {summary['previous_date']}: {Decimal(summary['changes']['total_usd_change']):+,.2f} USD"
        )
    print()
    for name in ("report.html", "summary.json", "balances.csv"):
        print(f"  {folder / name}")


if __name__ == "__main__":
    main()
