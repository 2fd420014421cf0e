"""Figure 8: loading transactions into SQL, 100 wallets x 2,000 transactions each (200,000 rows)
from the simulator over HTTP, at a 20 requests/s key.

``OkxTransactionsToSqlOperator`` runs in a fresh interpreter of its own (its peak RSS is the
figure's memory, ``ru_maxrss``), loading into a SQLite file; the simulator runs in another
process, its ledger filled with each wallet's deterministic generated history (two chains,
1,000 records each over the last 60 days: native coin and tokens, fees, some failed and pending
records), so a wallet's chains are asked together (OKX's 100 records a page).

Goals: achieved rows/s >= 0.9 x the bound (rate x page size = 20 x 100 = 2,000 rows/s); peak
RSS <= 300 MB while loading 200,000 rows; the second (incremental) run asks at most 2 requests
per wallet and chain.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LOOPBACK, REPO, FigureResult, figure_main

try:  # the smoke-size convention (bench branch); a fallback until it lands
    from bench.common import size
except ImportError:  # pragma: no cover

    def size(args: argparse.Namespace, full: Any, quick: Any, smoke: Any) -> Any:
        if getattr(args, "smoke", False):
            return smoke
        return quick if getattr(args, "quick", False) else full


TITLE = "8. Loading transactions (100 wallets x 2,000 transactions, 20 requests/s)"
CHAINS = ("1", "8453")
RATE = 20.0
PAGE = 100
"""OKX's records per history page when several chains are asked."""
RATE_GOAL = 0.9
RSS_GOAL_MB = 300
INCREMENTAL_GOAL = 2
SPREAD = datetime.timedelta(days=60)


def wallets(count: int) -> list[str]:
    return [f"0x{0xF8000000 + w:040x}" for w in range(count)]


def _serve(conn: Any, count: int, per_wallet: int) -> None:
    """Child process: a simulator whose ledger holds every wallet's history."""
    from airflow_provider_okx.testing import OkxSimulator

    sim = OkxSimulator(LOOPBACK, 0, rate_limit_rps=RATE, max_recorded=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    started = time.perf_counter()
    for address in wallets(count):
        for chain in CHAINS:  # the simulator's deterministic history: coins, tokens, fees, failures
            sim.generate_history(address, chain, per_wallet // len(CHAINS), begin=now - SPREAD, end=now)
    filled = time.perf_counter() - started
    sim.start()
    try:
        conn.send({"connection": sim.connection_json(rate_limit_rps=RATE), "fill_seconds": filled})
        while True:
            if not conn.poll(1.0):
                continue
            command = conn.recv()
            if command == "count":
                conn.send(sim.request_count())
            else:
                conn.send(None)
                return
    finally:
        sim.stop()


def _load(connection: str, database: str, addresses: list[str]) -> dict[str, Any]:
    """Child interpreter: one run of the operator; its time, counts and peak RSS."""
    import resource

    os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = connection
    os.environ["AIRFLOW_CONN_FIG8_DB"] = json.dumps({"conn_type": "sqlite", "host": database})
    from airflow_provider_okx.transfers.okx_to_sql import OkxTransactionsToSqlOperator

    operator = OkxTransactionsToSqlOperator(
        task_id="fig8",
        wallets=addresses,
        chains=",".join(CHAINS),
        table="okx_transactions",
        sql_conn_id="fig8_db",
    )
    execute = getattr(type(operator).execute, "__wrapped__", type(operator).execute)
    started = time.perf_counter()
    result = execute(operator, {})
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "records": result["records"],
        "inserted": result["inserted"],
        "windows": len(result["windows"]),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_loader(connection: str, database: str, addresses: list[str]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.fig8_transactions",
        "--load",
        json.dumps([connection, database, addresses]),
    ]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the loader failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> FigureResult:
    result = FigureResult(TITLE)
    count = size(args, full=100, quick=20, smoke=3)
    per_wallet = size(args, full=2000, quick=2000, smoke=60)
    addresses = wallets(count)
    bound = RATE * PAGE
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(child, count, per_wallet), daemon=True
    )
    server.start()
    try:
        if not parent.poll(900):
            raise RuntimeError("the simulator did not start")
        info = parent.recv()
        with tempfile.TemporaryDirectory(prefix="okx-fig8-") as tmp:
            database = str(Path(tmp) / "warehouse.sqlite")
            parent.send("count")
            before = parent.recv()
            first = _run_loader(info["connection"], database, addresses)
            parent.send("count")
            middle = parent.recv()
            second = _run_loader(info["connection"], database, addresses)
            parent.send("count")
            after = parent.recv()
        parent.send("stop")
        parent.recv()
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    rows = count * per_wallet
    rate = first["records"] / first["seconds"]
    pairs = count * len(CHAINS)
    incremental = (after - middle) / pairs
    result.goal(
        f"{rate:,.0f} rows/s", f">= {RATE_GOAL} x {bound:,.0f} (rate x page)", rate >= RATE_GOAL * bound
    )
    result.goal(
        f"{first['rss_mb']:.0f} MB peak",
        f"<= {RSS_GOAL_MB} MB for {rows:,} rows",
        first["rss_mb"] <= RSS_GOAL_MB,
    )
    result.goal(
        f"{incremental:.2f} requests per wallet and chain",
        f"<= {INCREMENTAL_GOAL} on the incremental run",
        incremental <= INCREMENTAL_GOAL,
    )
    result.detail(
        f"first run: {first['records']:,} records ({first['inserted']:,} rows) in {first['seconds']:.1f} s, "
        f"{middle - before} requests, {first['windows']} windows"
    )
    result.detail(
        f"second run: {second['records']:,} records re-read (the overlap), "
        f"{second['inserted']} new rows, "
        f"{after - middle} requests in {second['seconds']:.1f} s, peak {second['rss_mb']:.0f} MB"
    )
    result.detail(f"ledger filled in {info['fill_seconds']:.1f} s ({count} wallets x {per_wallet} records)")
    result.data = {"first": first, "second": second, "requests": [before, middle, after], "rows": rows}
    return result


def _arguments(parser: argparse.ArgumentParser) -> None:
    try:  # figure_main has --smoke once the bench convention lands
        parser.add_argument("--smoke", action="store_true", help="smallest sizes (make test)")
    except argparse.ArgumentError:
        pass


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--load":
        from bench.common import setup_environment

        setup_environment()
        print(json.dumps(_load(*json.loads(sys.argv[2]))))
    else:
        figure_main(measure, __doc__ or TITLE, _arguments)
