"""Figure 5: a treasury report at scale, 1,000 wallets x 100 tokens = 100,000 balance rows.

What ``OkxTreasuryReportOperator`` does between fetching and writing, with the pure
``airflow_provider_okx.report`` functions: ``Snapshot`` -> ``build_summary`` (with OKX's
per-wallet totals to reconcile against and the previous day's summary to compare with) ->
``render_csv``, ``render_summary_json``, ``render_html``. Rows are synthetic but shaped like a
real treasury: 20 chains, 600 tokens shared across wallets, exact 18-decimal amounts, some
unpriced and some risk tokens.

Each sample is a fresh interpreter (``--child``): it builds the rows and OKX's totals, notes
``ru_maxrss``, loads the previous ``summary.json`` (written once beforehand by another child, so
building it leaves no freed memory behind to hide the report's own), runs the report, and notes
``ru_maxrss`` again. The time excludes loading the previous summary (reported apart); the
memory includes it, as the operator holds both. The figure is the median time over the samples
and the largest added peak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from bench.common import REPO, FigureResult, figure_main, median, profile_top

TITLE = "5. Report at scale (100,000 rows)"
WALLETS = 1000
TOKENS_PER_WALLET = 100
CHAINS = ("1", "10", "56", "100", "137", "146", "196", "250", "324", "1101")
CHAINS += ("5000", "8453", "34443", "42161", "43114", "59144", "81457", "534352", "7777777", "204")
TOKENS_PER_CHAIN = 30
SAMPLES = 3
TIME_GOAL = 3.0
RSS_GOAL_MB = 400
HTML_LIMIT = 1_000_000


def _decimal(rng: random.Random, digits: int, scale: int) -> Decimal:
    return Decimal(rng.randrange(1, 10**digits)).scaleb(-scale)


def build_rows(seed: int, wallets: int, per_wallet: int) -> tuple[dict[str, str], list[Any]]:
    """(label -> address, rows): deterministic for a seed."""
    from airflow_provider_okx.models import TokenBalance

    rng = random.Random(seed)
    universe = []
    for chain in CHAINS:
        for t in range(TOKENS_PER_CHAIN):
            token = "" if t == 0 else "0x" + f"{CHAINS.index(chain):04x}{t:04x}".rjust(40, "a")
            kind = rng.random()
            price = Decimal(0) if kind < 0.05 else _decimal(rng, 12, rng.randrange(2, 18))
            universe.append((chain, token, f"T{CHAINS.index(chain)}x{t}", price, kind > 0.98))
    labels = {f"wallet-{w:04d}": f"0x{w:040x}" for w in range(wallets)}
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


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_previous(path: str, wallets: int, per_wallet: int) -> None:
    """The previous day's ``summary.json`` (other balances, same wallets), as the operator finds it."""
    from airflow_provider_okx.report import Snapshot, build_summary, render_summary_json

    labels, rows = build_rows(6, wallets, per_wallet)
    yesterday = Snapshot("2026-11-23", "2026-11-23T02:00:00.000Z", labels, list(CHAINS), False, rows)
    with open(path, "w") as f:
        f.write(render_summary_json(build_summary(yesterday)))


def child(wallets: int, per_wallet: int, previous_path: str, profile: bool) -> dict[str, Any]:
    """One sample, in this (fresh) interpreter."""
    import gc

    from airflow_provider_okx.models import EXACT
    from airflow_provider_okx.report import (
        Snapshot,
        build_summary,
        render_csv,
        render_html,
        render_summary_json,
    )

    rss_start = _maxrss_mb()
    labels, rows = build_rows(7, wallets, per_wallet)
    chains = list(CHAINS)
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.address] = EXACT.add(totals.get(row.address, Decimal(0)), row.usd_value)
    for k, address in enumerate(list(totals)[::97]):  # a few wallets disagree with OKX
        totals[address] += Decimal(k + 1)
    gc.collect()
    rss_rows = _maxrss_mb()

    phases: dict[str, float] = {}
    out: dict[str, str] = {}

    def report() -> None:
        t0 = time.perf_counter()
        with open(previous_path) as f:
            previous = json.load(f)
        t1 = time.perf_counter()
        snapshot = Snapshot("2026-11-24", "2026-11-24T02:00:00.000Z", labels, chains, False, rows)
        summary = build_summary(snapshot, okx_totals=totals, previous=previous)
        t2 = time.perf_counter()
        out["csv"] = render_csv(snapshot)
        t3 = time.perf_counter()
        out["json"] = render_summary_json(summary)
        t4 = time.perf_counter()
        out["html"] = render_html(summary)
        t5 = time.perf_counter()
        phases.update(
            previous=t1 - t0, summary=t2 - t1, csv=t3 - t2, json=t4 - t3, html=t5 - t4, total=t5 - t1
        )

    profile_text = None
    if profile:
        profile_text = profile_top(report, lines=25, sort="tottime")
        out.clear()
        gc.collect()
    report()
    rss_peak = _maxrss_mb()

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
        "rss_peak_mb": rss_peak,
        "sizes": {name: len(text.encode()) for name, text in out.items()},
        "html_tables": html.count("<table>"),
        "html_truncated_tables": html.count('<p class="note">Showing '),
        "html_well_formed": well_formed,
        "profile": profile_text,
    }


def _run_child(arguments: list[str]) -> str:
    command = [sys.executable, "-m", "bench.fig5_report", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"report child failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _sample(wallets: int, per_wallet: int, previous: str, profile: bool) -> dict[str, Any]:
    arguments = ["--child", f"{wallets}x{per_wallet}", previous] + (["--profile"] if profile else [])
    return json.loads(_run_child(arguments).strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> FigureResult:
    result = FigureResult(TITLE)
    wallets = 100 if args.quick else WALLETS
    with tempfile.TemporaryDirectory(prefix="okx-bench-") as tmp:
        previous = os.path.join(tmp, "summary.json")
        # In a child too: this process stays small, and a sample forked from it starts with a
        # small ru_maxrss (Linux carries the peak across fork and exec).
        _run_child(["--previous", f"{wallets}x{TOKENS_PER_WALLET}", previous])
        samples = [
            _sample(wallets, TOKENS_PER_WALLET, previous, args.profile and i == 0) for i in range(SAMPLES)
        ]

    total = median([s["phases"]["total"] for s in samples])
    added = max(s["rss_peak_mb"] - s["rss_rows_mb"] for s in samples)
    peak = max(s["rss_peak_mb"] for s in samples)
    first = samples[0]
    html_bytes = first["sizes"]["html"]
    readable = html_bytes < HTML_LIMIT and first["html_tables"] > 0 and first["html_well_formed"]
    scaled = "" if wallets == WALLETS else f" (scaled: {wallets} wallets)"
    result.goal(
        f"{total:.2f} s for {first['rows']:,} rows{scaled}", f"<= {TIME_GOAL:g} s", total <= TIME_GOAL
    )
    result.goal(
        f"+{added:.0f} MB peak RSS over the rows (process peak {peak:.0f} MB)",
        f"<= {RSS_GOAL_MB} MB",
        added <= RSS_GOAL_MB,
    )
    result.goal(
        f"HTML {html_bytes / 1e3:.0f} kB, {first['html_tables']} tables "
        f"({first['html_truncated_tables']} cut to top N)",
        "< 1 MB with top-N tables",
        readable,
    )
    phases = {name: median([s["phases"][name] for s in samples]) for name in first["phases"]}
    totals = ", ".join(f"{s['phases']['total']:.2f}" for s in samples)
    result.detail(
        f"median of {SAMPLES} fresh interpreters: Snapshot+build_summary {phases['summary']:.2f} s, "
        f"render_csv {phases['csv']:.2f} s, render_summary_json {phases['json']:.2f} s, "
        f"render_html {phases['html']:.2f} s (totals {totals})"
    )
    result.detail(
        f"ru_maxrss: {first['rss_start_mb']:.0f} MB at start, {first['rss_rows_mb']:.0f} MB with the rows "
        f"built, {first['rss_peak_mb']:.0f} MB after the report; outputs: CSV "
        f"{first['sizes']['csv'] / 1e6:.1f} MB, summary.json {first['sizes']['json'] / 1e6:.1f} MB, "
        f"HTML {html_bytes / 1e3:.0f} kB (well-formed XML: {first['html_well_formed']})"
    )
    result.detail(
        "with reconciliation against OKX's per-wallet totals and changes since the previous day; "
        f"loading the previous summary.json (json.load, in the peak but not in the time) "
        f"{phases['previous']:.2f} s"
    )
    if first.get("profile"):
        result.detail("cProfile of one report (top by own time):")
        for line in first["profile"].splitlines():
            result.detail("    " + line)
    result.data = {"samples": [{k: v for k, v in s.items() if k != "profile"} for s in samples]}
    return result


def _child_main() -> None:
    if "--previous" in sys.argv:
        at = sys.argv.index("--previous")
        wallets, per_wallet = (int(n) for n in sys.argv[at + 1].split("x"))
        write_previous(sys.argv[at + 2], wallets, per_wallet)
        return
    at = sys.argv.index("--child")
    wallets, per_wallet = (int(n) for n in sys.argv[at + 1].split("x"))
    print(json.dumps(child(wallets, per_wallet, sys.argv[at + 2], "--profile" in sys.argv)))


if __name__ == "__main__":
    if "--child" in sys.argv or "--previous" in sys.argv:
        _child_main()
    else:
        figure_main(measure, __doc__ or TITLE)
