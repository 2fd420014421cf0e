"""Figure 5: a treasury report at scale: 100,000 and 1,000,000 balance rows (1,000 and 10,000
wallets x 100 tokens), compared with the previous day's report, with a 30-report trend.

Two measurements per size:

- **The report's own work** (the pure ``airflow_provider_okx.core.report`` functions): read the
  previous ``summary.json`` and the heads of the 28 before it, ``Snapshot`` -> ``build_summary``
  (with OKX's per-wallet totals to reconcile against), ``render_summary_json``,
  ``render_html``; then ``balances.csv`` (the CSV is timed apart: its streaming writer is
  another change). Three fresh interpreters each; the figure is the median time.
- **The whole operator** (1,000,000 rows): ``OkxTreasuryReportOperator.execute`` in a fresh
  interpreter with Airflow imported, its hook replaced by one that hands over the prebuilt
  rows and totals (what the network would have delivered), publishing into a folder that holds
  the previous 29 reports; the figure is the process's peak RSS (``ru_maxrss``), rows included.

- **Through HTTP** (1,000,000 rows: 100 wallets x 10,000 tokens over 20 chains): the same operator
  with a real ``OkxHook``, against the simulator in a process of its own (no rate limit, no
  latency; :meth:`OkxSimulator.set_portfolio` gives each wallet its tokens), so the network path
  (requests, bodies, parsing) is counted. Yesterday's report is made the same way first; then a
  few transactions per wallet land in the simulator's ledger, and today's report runs twice in
  fresh interpreters: without and with ``roll_forward`` (which must reconcile every row). The
  figures are each run's peak RSS and ``execute()`` wall time; the simulator's CPU seconds
  during the run are in the details (it shares the machine's cores).

Rows are synthetic but shaped like a real treasury: 20 chains, 600 tokens shared across
wallets, exact 18-decimal amounts, some unpriced and some risk tokens; the previous day has
other balances of the same wallets. Each child is a fresh interpreter (``--child``,
``--operator``): a child forked from a big process would inherit its peak RSS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from bench.common import REPO, FigureResult, figure_main, median, profile_top, size

TITLE = "5. Report at scale (100,000 and 1,000,000 rows; 1,000,000 through HTTP)"
TOKENS_PER_WALLET = 100
SIZES = (1_000, 10_000)
"""Wallets per size (x 100 tokens: 100,000 and 1,000,000 rows)."""
CHAINS = ("1", "10", "56", "100", "137", "146", "196", "250", "324", "1101")
CHAINS += ("5000", "8453", "34443", "42161", "43114", "59144", "81457", "534352", "7777777", "204")
TOKENS_PER_CHAIN = 30
SAMPLES = 3
DAY_VARIABLE = "OKX_BENCH_REPORT_DAY"
"""The report's date, set by :func:`measure` for its children (so a run across midnight keeps
one date): today in UTC. Never a fixed date, which the report's ``max_snapshot_lag`` would
refuse as soon as the calendar moved on."""


def _days() -> tuple[str, str]:
    today = os.environ.get(DAY_VARIABLE) or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    yesterday = (datetime.date.fromisoformat(today) - datetime.timedelta(days=1)).isoformat()
    return today, yesterday


EARLIER_REPORTS = 29

SMALL_TIME_GOAL = 3.0
"""100,000 rows: the whole report, CSV included (the goal of the first performance issue)."""
SMALL_RSS_GOAL_MB = 400
BIG_TIME_GOAL = 5.0
"""1,000,000 rows: aggregate and render (previous summary read, summary, JSON, HTML)."""
BIG_OPERATOR_RSS_GOAL_MB = 800
HTML_LIMIT = 1_000_000


def _decimal(rng: random.Random, digits: int, scale: int) -> Decimal:
    return Decimal(rng.randrange(1, 10**digits)).scaleb(-scale)


def build_rows(seed: int, wallets: int, per_wallet: int) -> tuple[dict[str, str], list[Any]]:
    """(label -> address, rows): deterministic for a seed."""
    from airflow_provider_okx.core.models import TokenBalance

    rng = random.Random(seed)
    universe = []
    for chain in CHAINS:
        for t in range(TOKENS_PER_CHAIN):
            token = "" if t == 0 else "0x" + f"{CHAINS.index(chain):04x}{t:04x}".rjust(40, "a")
            kind = rng.random()
            price = Decimal(0) if kind < 0.05 else _decimal(rng, 12, rng.randrange(2, 18))
            universe.append((chain, token, f"T{CHAINS.index(chain)}x{t}", price, kind > 0.98))
    labels = {f"wallet-{w:05d}": f"0x{w:040x}" for w in range(wallets)}
    rows = []
    for address in labels.values():
        for chain, token, symbol, price, risk in rng.sample(universe, per_wallet):
            balance = _decimal(rng, 22, 18)
            rows.append(
                TokenBalance(
                    chain_index=chain,
                    token_address=token,
                    address=address,
                    symbol=symbol,
                    balance=balance,
                    raw_balance=int(balance.scaleb(18)),
                    token_price=price,
                    is_risk_token=risk,
                )
            )
    return labels, rows


def okx_totals(rows: list[Any]) -> dict[str, Decimal]:
    """OKX's per-wallet totals: our sums, with a few wallets disagreeing."""
    from airflow_provider_okx.core.models import EXACT

    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.address] = EXACT.add(totals.get(row.address, Decimal(0)), row.usd_value)
    for k, address in enumerate(list(totals)[::97]):
        totals[address] += Decimal(k + 1)
    return totals


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reports(folder: str) -> str:
    return os.path.join(folder, "reports")


def write_previous(folder: str, wallets: int, per_wallet: int) -> None:
    """The previous 29 reports' ``summary.json`` under ``<folder>/reports``, as the operator finds
    them: yesterday's built from other balances of the same wallets, the 28 before it copies
    of it under their own date and total (the trend reads only their heads)."""
    from airflow_provider_okx.core.report import Snapshot, build_summary, render_summary_json

    _, previous_day = _days()
    labels, rows = build_rows(6, wallets, per_wallet)
    yesterday = Snapshot(previous_day, f"{previous_day}T02:00:00.000Z", labels, list(CHAINS), False, rows)
    summary = build_summary(yesterday, okx_totals=okx_totals(rows))
    text = render_summary_json(summary)
    total = summary["total_usd"]
    for back in range(EARLIER_REPORTS):
        day = (datetime.date.fromisoformat(previous_day) - datetime.timedelta(days=back)).isoformat()
        older = text.replace(f'"date": "{previous_day}"', f'"date": "{day}"', 1)
        older = older.replace(f'"total_usd": "{total}"', f'"total_usd": "{Decimal(total) - back}"', 1)
        os.makedirs(os.path.join(_reports(folder), day))
        with open(os.path.join(_reports(folder), day, "summary.json"), "w") as f:
            f.write(older)


def _earlier(folder: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the operator reads before reporting: yesterday's summary whole, older ones' heads."""
    from airflow_provider_okx.core.report.trend import HEAD_BYTES, summary_head

    reports = _reports(folder)
    days = sorted(os.listdir(reports), reverse=True)
    with open(os.path.join(reports, days[0], "summary.json")) as f:
        previous = json.load(f)
    heads = [previous]
    for day in days[1:]:
        with open(os.path.join(reports, day, "summary.json")) as f:
            heads.append(summary_head(f.read(HEAD_BYTES)))
    return previous, heads


def _write_csv(snapshot: Any, path: str) -> str:
    """``balances.csv`` with the streaming writer when there is one, else ``render_csv``."""
    from airflow_provider_okx.core.report import csv_render

    with open(path, "w", encoding="utf-8", newline="") as out:
        write_csv = getattr(csv_render, "write_csv", None)
        if write_csv is not None:
            write_csv(snapshot, out)
            return "write_csv"
        out.write(csv_render.render_csv(snapshot))
        return "render_csv"


def child(wallets: int, per_wallet: int, folder: str, profile: bool) -> dict[str, Any]:
    """One sample of the report's own work, in this (fresh) interpreter."""
    import gc

    from airflow_provider_okx.core.report import Snapshot, build_summary, render_html, render_summary_json

    today, _ = _days()
    rss_start = _maxrss_mb()
    labels, rows = build_rows(7, wallets, per_wallet)
    chains = list(CHAINS)
    totals = okx_totals(rows)
    gc.collect()
    rss_rows = _maxrss_mb()

    phases: dict[str, float] = {}
    out: dict[str, Any] = {}

    def report() -> None:
        cpu = time.process_time()
        t0 = time.perf_counter()
        previous, history = _earlier(folder)
        t1 = time.perf_counter()
        snapshot = Snapshot(today, f"{today}T02:00:00.000Z", labels, chains, False, rows)
        summary = build_summary(snapshot, okx_totals=totals, previous=previous, history=history)
        del previous, history
        t2 = time.perf_counter()
        out["json"] = render_summary_json(summary)
        t3 = time.perf_counter()
        out["html"] = render_html(summary)
        t4 = time.perf_counter()
        phases["report_cpu"] = time.process_time() - cpu
        out["rss_report"] = _maxrss_mb()
        out["trend"] = len(summary["trend"])
        out["attributed"] = summary["changes"] is not None and "attribution" in summary["changes"]
        out["csv_writer"] = _write_csv(snapshot, os.path.join(folder, f"balances-{os.getpid()}.csv"))
        t5 = time.perf_counter()
        phases.update(
            previous=t1 - t0,
            summary=t2 - t1,
            json=t3 - t2,
            html=t4 - t3,
            report=t4 - t0,
            csv=t5 - t4,
            total=t5 - t0,
        )

    profile_text = None
    if profile:
        profile_text = profile_top(report, lines=25, sort="tottime")
        out.clear()
        gc.collect()
    report()
    rss_peak = _maxrss_mb()
    csv_path = os.path.join(folder, f"balances-{os.getpid()}.csv")
    csv_bytes = os.path.getsize(csv_path)
    os.remove(csv_path)

    html = out["html"]
    try:
        import xml.etree.ElementTree as ET

        ET.fromstring(html.split("\n", 1)[1])
        well_formed = True
    except Exception:
        well_formed = False
    return {
        "rows": len(rows),
        "phases": phases,
        "rss_start_mb": rss_start,
        "rss_rows_mb": rss_rows,
        "rss_report_mb": out["rss_report"],
        "rss_peak_mb": rss_peak,
        "sizes": {"json": len(out["json"]), "html": len(html.encode()), "csv": csv_bytes},
        "csv_writer": out["csv_writer"],
        "trend": out["trend"],
        "attributed": out["attributed"],
        "html_tables": html.count("<table>"),
        "html_truncated_tables": html.count(" shown; summary.json lists all "),
        "html_well_formed": well_formed,
        "profile": profile_text,
    }


class PrefetchedHook:
    """Stands in for ``OkxHook`` in the whole-operator run: hands over what the network would
    have delivered (the rows per wallet, OKX's totals), so the figure is the operator's own."""

    def __init__(self, rows: list[Any], totals: dict[str, Decimal]) -> None:
        self.rows: dict[str, list[Any]] = {}
        for row in rows:
            self.rows.setdefault(row.address, []).append(row)
        self.totals = totals

    def get_wallets_token_balances(self, addresses: list[str], chains: list[str], **_: Any) -> dict:
        return {address: self.rows.get(address, []) for address in addresses}

    def get_wallets_total_value(self, addresses: list[str], chains: list[str], **_: Any) -> dict:
        return {address: self.totals[address] for address in addresses if address in self.totals}


def operator(wallets: int, per_wallet: int, folder: str, csv: bool = True) -> dict[str, Any]:
    """The whole operator, once, in this (fresh) interpreter with Airflow imported. Without
    ``csv``, ``balances.csv`` is written empty: what the rest of the report costs in the
    operator (the streaming CSV writer is another change)."""
    import gc

    import pendulum

    from airflow_provider_okx.core import report as report_package
    from airflow_provider_okx.core.report import csv_render
    from airflow_provider_okx.operators.report import OkxTreasuryReportOperator

    if not csv:
        for module in (report_package, csv_render):
            module.render_csv = lambda snapshot: ""  # type: ignore[attr-defined,assignment]
            if hasattr(module, "write_csv"):
                module.write_csv = lambda snapshot, out: None  # type: ignore[attr-defined]

    today, _ = _days()
    rss_start = _maxrss_mb()
    labels, rows = build_rows(7, wallets, per_wallet)
    hook = PrefetchedHook(rows, okx_totals(rows))
    del rows
    gc.collect()
    rss_rows = _maxrss_mb()
    task = OkxTreasuryReportOperator(
        task_id="report",
        wallets=labels,
        chains=list(CHAINS),
        output_uri=_reports(folder),
        exclude_risk_tokens=False,
    )
    task.hook = hook  # type: ignore[assignment]  # documented: OkxTreasuryReportOperator.hook
    start = pendulum.parse(today)
    t0 = time.perf_counter()
    result = task.execute({"ds": today, "logical_date": start, "data_interval_end": start.add(days=1)})
    seconds = time.perf_counter() - t0
    rss_peak = _maxrss_mb()
    with open(os.path.join(_reports(folder), today, "summary.json")) as f:
        summary = json.load(f)
    return {
        "rows": summary["row_count"],
        "seconds": seconds,
        "rss_start_mb": rss_start,
        "rss_rows_mb": rss_rows,
        "rss_peak_mb": rss_peak,
        "previous_date": result["previous_date"],
        "trend": len(summary["trend"]),
        "csv_writer": ("write_csv" if hasattr(csv_render, "write_csv") else "render_csv") if csv else "none",
    }


# --- the whole operator through HTTP: OkxHook against the simulator in its own process ---------

HTTP_WALLETS = 100
HTTP_TOKENS = 10_000
"""Figure 5 through HTTP: 100 wallets x 10,000 tokens = 1,000,000 balance rows."""
HTTP_RSS_GOAL_MB = 800
HTTP_TIME_GOAL = 30.0
LEDGER_CHAIN = "1"
"""The chain whose balances move between the two reports (the roll-forward's transactions)."""
LEDGER_RECORDS = 8
"""Transactions per wallet between the two reports (in and out, fees; native coin and tokens)."""


def http_wallets(count: int) -> dict[str, str]:
    return {f"wallet-{w:05d}": f"0x{0xF5000000 + w:040x}" for w in range(count)}


def _sim_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(conn: Any, wallets: int, per_wallet: int) -> None:
    """Child process: a simulator (no rate limit, no latency) whose wallets hold ``per_wallet``
    generated tokens each over the figure's chains; answers commands on ``conn``."""
    from airflow_provider_okx.testing import OkxSimulator

    sim = OkxSimulator("127.0.0.1", 0, rate_limit_rps=None, max_recorded=1_000)
    started = time.perf_counter()
    for address in http_wallets(wallets).values():
        sim.set_portfolio(address, CHAINS, per_wallet)
    sim.start()
    try:
        conn.send({"connection": sim.connection_json(), "setup_seconds": time.perf_counter() - started})
        while True:
            if not conn.poll(1.0):
                continue
            command, argument = conn.recv()
            if command == "cpu":
                conn.send(_sim_cpu())
            elif command == "transactions":  # argument: the first ms after the previous fetch
                now = sim.now_ms
                added = sum(
                    sim.generate_history(address, LEDGER_CHAIN, LEDGER_RECORDS, begin=argument, end=now)
                    for address in http_wallets(wallets).values()
                )
                conn.send(added)
            else:
                conn.send(None)
                return
    finally:
        sim.stop()


def http_operator(connection: str, wallets: int, day: str, folder: str, roll_forward: bool) -> dict[str, Any]:
    """The whole operator, once, in this (fresh) interpreter: a real ``OkxHook`` over HTTP to
    the simulator (``connection``), ``wallets`` wallets, publishing the report of ``day``."""
    import pendulum

    os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = connection
    from airflow_provider_okx.operators.report import OkxTreasuryReportOperator

    rss_start = _maxrss_mb()
    task = OkxTreasuryReportOperator(
        task_id="report",
        wallets=http_wallets(wallets),
        chains=list(CHAINS),
        output_uri=_reports(folder),
        roll_forward=roll_forward,
        allow_stale_snapshot=True,  # the previous day's report is written today
    )
    start = pendulum.parse(day)
    cpu = time.process_time()
    t0 = time.perf_counter()
    result = task.execute({"ds": day, "logical_date": start, "data_interval_end": start.add(days=1)})
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu
    rss_peak = _maxrss_mb()  # nothing is read back here: summary.json is hundreds of MB
    section = result["roll_forward"] or {}
    return {
        "rows": result["row_count"],
        "seconds": seconds,
        "cpu": cpu,
        "rss_start_mb": rss_start,
        "rss_peak_mb": rss_peak,
        "fetched_at": result["fetched_at"],
        "previous_date": result["previous_date"],
        "flagged": len(result["flagged_wallets"]),
        "roll_forward": {
            "row_count": section.get("row_count"),
            "reconciled_count": (section.get("row_count") or 0)
            - (section.get("unexplained_count") or 0)
            - (section.get("not_reconcilable_count") or 0),
            "unexplained_count": section.get("unexplained_count"),
            "not_reconcilable_count": section.get("not_reconcilable_count"),
        }
        if roll_forward and section.get("available")
        else None,
    }


def _run_http(connection: str, wallets: int, day: str, folder: str, roll_forward: bool) -> dict[str, Any]:
    spec = json.dumps([connection, wallets, day, folder, roll_forward])
    return _last_json(_run_child(["--http", spec], timeout=900))


def _drop_report(folder: str, day: str) -> None:
    link = os.path.join(_reports(folder), day)  # a link to the published version folder
    shutil.rmtree(os.path.realpath(link))
    os.unlink(link)


def measure_http(wallets: int, per_wallet: int) -> dict[str, Any]:
    """Yesterday's report through HTTP (the previous one), transactions in between, then
    today's report twice (without and with ``roll_forward``), each in a fresh interpreter;
    the simulator's CPU seconds during each run beside it."""
    import multiprocessing

    today, yesterday = _days()
    parent, child_end = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(child_end, wallets, per_wallet), daemon=True
    )
    server.start()

    def ask(command: str, argument: Any = None) -> Any:
        parent.send((command, argument))
        if not parent.poll(600):
            raise RuntimeError(f"the simulator did not answer {command!r}")
        return parent.recv()

    runs: dict[str, Any] = {}
    try:
        if not parent.poll(120):
            raise RuntimeError("the simulator did not start")
        info = parent.recv()
        connection = info["connection"]
        with tempfile.TemporaryDirectory(prefix="okx-bench-http-") as folder:
            for name, day, roll in (
                ("previous", yesterday, False),
                ("report", today, False),
                ("roll_forward", today, True),
            ):
                if name == "roll_forward":
                    _drop_report(folder, today)
                cpu = ask("cpu")
                run = _run_http(connection, wallets, day, folder, roll)
                run["sim_cpu"] = ask("cpu") - cpu
                runs[name] = run
                if name == "previous":
                    time.sleep(0.05)  # the records fall strictly after the previous fetch
                    fetched = datetime.datetime.fromisoformat(run["fetched_at"].replace("Z", "+00:00"))
                    runs["transactions"] = ask("transactions", int(fetched.timestamp() * 1000) + 1)
        ask("stop")
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    runs["setup_seconds"] = info["setup_seconds"]
    return runs


def _run_child(arguments: list[str], timeout: float = 600) -> str:
    command = [sys.executable, "-m", "bench.fig5_report", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"report child failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _last_json(text: str) -> dict[str, Any]:
    return json.loads(text.strip().splitlines()[-1])


def _measure_size(
    wallets: int, samples: int, profile: bool, whole_operator: bool
) -> tuple[list[dict], dict | None]:
    size = f"{wallets}x{TOKENS_PER_WALLET}"
    with tempfile.TemporaryDirectory(prefix="okx-bench-") as folder:
        # In a child too: this process stays small, and a sample forked from it starts with a
        # small ru_maxrss (Linux carries the peak across fork and exec).
        _run_child(["--previous", size, folder])
        runs = [
            _last_json(_run_child(["--child", size, folder] + (["--profile"] if profile and i == 0 else [])))
            for i in range(samples)
        ]
        whole = None
        if whole_operator:
            whole = _last_json(_run_child(["--operator", size, folder]))
            day = os.path.join(_reports(folder), _days()[0])  # a link to the published version folder
            shutil.rmtree(os.path.realpath(day))
            os.unlink(day)
            whole["without_csv"] = _last_json(_run_child(["--operator", size, folder, "--no-csv"]))
    return runs, whole


def measure(args: argparse.Namespace) -> FigureResult:
    result = FigureResult(TITLE)
    os.environ[DAY_VARIABLE] = _days()[0]
    samples = size(args, full=SAMPLES, quick=1, smoke=1)
    small_wallets, big_wallets = size(args, full=SIZES, quick=(100, 1_000), smoke=(5, 20))
    scaled = " (scaled)" if args.quick or args.smoke else ""

    small, _ = _measure_size(small_wallets, samples, args.profile, whole_operator=False)
    big, whole = _measure_size(big_wallets, samples, args.profile, whole_operator=True)
    assert whole is not None
    http_wallets_count, http_tokens = size(
        args, full=(HTTP_WALLETS, HTTP_TOKENS), quick=(20, HTTP_TOKENS), smoke=(3, 200)
    )
    http = measure_http(http_wallets_count, http_tokens)

    def phase(runs: list[dict], name: str) -> float:
        return median([s["phases"][name] for s in runs])

    first, big_first = small[0], big[0]
    total = phase(small, "total")
    added = max(s["rss_peak_mb"] - s["rss_rows_mb"] for s in small)
    result.goal(
        f"{first['rows']:,} rows{scaled}: {total:.2f} s, CSV included",
        f"<= {SMALL_TIME_GOAL:g} s",
        total <= SMALL_TIME_GOAL,
    )
    result.goal(
        f"{first['rows']:,} rows: +{added:.0f} MB peak RSS over the rows",
        f"<= {SMALL_RSS_GOAL_MB} MB",
        added <= SMALL_RSS_GOAL_MB,
    )
    html_bytes = big_first["sizes"]["html"]
    readable = html_bytes < HTML_LIMIT and big_first["html_tables"] > 0 and big_first["html_well_formed"]
    result.goal(
        f"HTML {html_bytes / 1e3:.0f} kB at {big_first['rows']:,} rows, {big_first['html_tables']} tables "
        f"({big_first['html_truncated_tables']} cut to top N)",
        "< 1 MB with top-N tables",
        readable,
    )
    report = phase(big, "report")
    result.goal(
        f"{big_first['rows']:,} rows{scaled}: aggregate + render {report:.2f} s "
        f"({phase(big, 'report_cpu'):.2f} s CPU; CSV apart)",
        f"<= {BIG_TIME_GOAL:g} s",
        report <= BIG_TIME_GOAL,
    )
    result.goal(
        f"{whole['rows']:,} rows: whole operator peak RSS {whole['rss_peak_mb']:.0f} MB "
        f"(CSV by {whole['csv_writer']})",
        f"<= {BIG_OPERATOR_RSS_GOAL_MB} MB",
        whole["rss_peak_mb"] <= BIG_OPERATOR_RSS_GOAL_MB,
    )

    for name, case in (("report", ""), ("roll_forward", "[roll_forward] ")):
        run = http[name]
        label = f"{case}{run['rows']:,} rows ({'HTTP, scaled' if scaled else 'HTTP'})"
        result.goal(
            f"{label}: {run['rss_peak_mb']:.0f} MB peak RSS",
            f"<= {HTTP_RSS_GOAL_MB} MB",
            run["rss_peak_mb"] <= HTTP_RSS_GOAL_MB,
        )
        reconciled = True
        if name == "roll_forward":
            section = run["roll_forward"] or {}
            reconciled = bool(section.get("row_count")) and section.get("reconciled_count") == section.get(
                "row_count"
            )
        result.goal(
            f"{label}: {run['seconds']:.1f} s" + ("" if reconciled else " (roll-forward NOT reconciled)"),
            f"<= {HTTP_TIME_GOAL:g} s",
            run["seconds"] <= HTTP_TIME_GOAL and reconciled,
        )

    for runs in (small, big):
        s0 = runs[0]
        totals = ", ".join(f"{s['phases']['total']:.2f}" for s in runs)
        result.detail(
            f"{s0['rows']:,} rows, median of {len(runs)} fresh interpreters: previous summary + "
            f"{EARLIER_REPORTS - 1} heads {phase(runs, 'previous'):.2f} s, Snapshot+build_summary "
            f"{phase(runs, 'summary'):.2f} s, render_summary_json {phase(runs, 'json'):.2f} s, render_html "
            f"{phase(runs, 'html'):.2f} s = {phase(runs, 'report'):.2f} s ({phase(runs, 'report_cpu'):.2f} s "
            f"CPU); balances.csv by "
            f"{s0['csv_writer']} {phase(runs, 'csv'):.2f} s more (totals {totals})"
        )
        result.detail(
            f"    ru_maxrss: {s0['rss_start_mb']:.0f} MB at start, {s0['rss_rows_mb']:.0f} MB with the rows "
            f"built, {s0['rss_report_mb']:.0f} MB after summary + JSON + HTML, {s0['rss_peak_mb']:.0f} MB "
            f"after the CSV; outputs: CSV {s0['sizes']['csv'] / 1e6:.1f} MB, summary.json "
            f"{s0['sizes']['json'] / 1e6:.1f} MB, HTML {s0['sizes']['html'] / 1e3:.0f} kB (well-formed XML: "
            f"{s0['html_well_formed']}); trend of {s0['trend']} reports; attribution: {s0['attributed']}"
        )
    result.detail(
        f"whole operator, {whole['rows']:,} rows: execute() {whole['seconds']:.2f} s; ru_maxrss "
        f"{whole['rss_start_mb']:.0f} MB with Airflow imported, {whole['rss_rows_mb']:.0f} MB with the "
        f"rows, {whole['rss_peak_mb']:.0f} MB peak; compared with {whole['previous_date']}, trend of "
        f"{whole['trend']} reports; balances.csv by {whole['csv_writer']}"
    )
    bare = whole["without_csv"]
    result.detail(
        f"the same with balances.csv left empty (the report's own work in the operator): execute() "
        f"{bare['seconds']:.2f} s, ru_maxrss {bare['rss_rows_mb']:.0f} MB with the rows, "
        f"{bare['rss_peak_mb']:.0f} MB peak"
    )
    result.detail(
        f"through HTTP: OkxTreasuryReportOperator with a real OkxHook in a fresh interpreter, the "
        f"simulator in another process (no rate limit, no latency), {http_wallets_count} wallets x "
        f"{http_tokens:,} tokens over {len(CHAINS)} chains (portfolios set up in "
        f"{http['setup_seconds']:.1f} s); each run: execute() wall time, its CPU, peak RSS, and the "
        f"simulator's CPU meanwhile"
    )
    for name, what in (
        ("previous", "the previous day's report (same path)"),
        ("report", "today's report"),
        ("roll_forward", "today's report with roll_forward=True"),
    ):
        run = http[name]
        line = (
            f"    {what}: {run['seconds']:.1f} s ({run['cpu']:.1f} s CPU), ru_maxrss "
            f"{run['rss_start_mb']:.0f} MB with Airflow imported, {run['rss_peak_mb']:.0f} MB peak; "
            f"simulator {run['sim_cpu']:.1f} s CPU; {run['flagged']} wallets flagged by reconciliation"
        )
        if run["roll_forward"]:
            rf = run["roll_forward"]
            line += (
                f"; roll-forward {rf['row_count']:,} rows, {rf['reconciled_count']:,} reconciled, "
                f"{rf['unexplained_count']} unexplained, {rf['not_reconcilable_count']} not reconcilable "
                f"(from the XCom); {http['transactions']} transaction records in the window "
                f"({LEDGER_RECORDS} a wallet on chain {LEDGER_CHAIN})"
            )
        result.detail(line)
    for runs in (small, big):
        if runs[0].get("profile"):
            result.detail(f"cProfile of one {runs[0]['rows']:,}-row report (top by own time):")
            for line in runs[0]["profile"].splitlines():
                result.detail("    " + line)
    result.data = {
        "samples": {
            str(runs[0]["rows"]): [{k: v for k, v in s.items() if k != "profile"} for s in runs]
            for runs in (small, big)
        },
        "operator": whole,
        "http": http,
    }
    return result


def _child_main() -> None:
    for flag in ("--previous", "--child", "--operator"):
        if flag in sys.argv:
            at = sys.argv.index(flag)
            wallets, per_wallet = (int(n) for n in sys.argv[at + 1].split("x"))
            folder = sys.argv[at + 2]
            break
    if flag == "--previous":
        write_previous(folder, wallets, per_wallet)
    elif flag == "--child":
        print(json.dumps(child(wallets, per_wallet, folder, "--profile" in sys.argv)))
    else:
        print(json.dumps(operator(wallets, per_wallet, folder, csv="--no-csv" not in sys.argv)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        from bench.common import setup_environment

        setup_environment()
        print(json.dumps(http_operator(*json.loads(sys.argv[2]))))
    elif {"--child", "--previous", "--operator"} & set(sys.argv):
        _child_main()
    else:
        figure_main(measure, __doc__ or TITLE)
