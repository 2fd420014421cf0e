"""Figure 2: a treasury fetch (many wallets x 120 chains) under a 20 requests/s rate limit.

``OkxHook().get_wallets_token_balances(wallets, chains)`` against an ``OkxSimulator`` in
another process (``SimProcess``: its request log counts the 429s) that answers after 0.3 s and
refuses more than 20 requests/s per key; the connection's ``rate_limit_rps`` is 20 too. 120
chains are three requests per wallet (50 + 50 + 20 chains), so 200 wallets are 600 requests and
the fetch cannot take less than 600 / 20 = 30 s. The same fetch without latency or limit must
give exactly the same rows.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import time
from typing import Any

from bench.common import FigureResult, SimProcess, figure_main, size

TITLE = "2. Fan-out under a rate limit"
WALLETS = 200
CHAINS = 120
RATE = 20
LATENCY = 0.3
WALL_GOAL = 1.1


def wallets(count: int) -> list[str]:
    """Deterministic EVM addresses."""
    return ["0x" + hashlib.sha256(f"bench-wallet-{i}".encode()).hexdigest()[:40] for i in range(count)]


def chains(count: int) -> list[str]:
    """The registry's EVM chains, then synthetic numeric indices from 100001 up to ``count``."""
    from airflow_provider_okx.core.chains import EVM, known_chains

    known = [c.index for c in known_chains() if c.family == EVM][:count]
    return known + [str(100001 + i) for i in range(count - len(known))]


class _Retries(logging.Handler):
    """Counts the hook's retry warnings (a second witness for 429s and other retries)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.rate_limited = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retry" in record.getMessage():
            self.count += 1
            if "50011" in record.getMessage() or "429" in record.getMessage():
                self.rate_limited += 1


def _rows(result: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    return {address: [row.to_dict() for row in rows] for address, rows in result.items()}


def measure(args: argparse.Namespace) -> FigureResult:
    from airflow_provider_okx.hooks.okx import OkxHook

    result = FigureResult(TITLE)
    n_wallets = size(args, full=WALLETS, quick=20, smoke=4)
    addresses, chain_list = wallets(n_wallets), chains(size(args, full=CHAINS, quick=CHAINS, smoke=60))
    per_wallet = math.ceil(len(chain_list) / 50)
    n_requests = n_wallets * per_wallet
    bound = n_requests / RATE

    retries = _Retries()
    logging.getLogger("airflow_provider_okx").addHandler(retries)
    with SimProcess(rate_limit_rps=None, latency=0.0) as sim:
        # Reference: no latency, no limit (it also warms the simulator's generated wallets).
        os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=0, max_retries=5)
        hook = OkxHook()
        started = time.perf_counter()
        reference = _rows(hook.get_wallets_token_balances(addresses, chain_list, exclude_risk_tokens=False))
        reference_wall = time.perf_counter() - started
        hook.close()
        reference_stats = sim.stats()

        sim.reset()
        sim.set(latency=LATENCY, rate_limit_rps=RATE)
        retries.count = retries.rate_limited = 0
        os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=RATE, max_retries=5)
        hook = OkxHook()
        cpu0, started = time.process_time(), time.perf_counter()
        limited = hook.get_wallets_token_balances(addresses, chain_list, exclude_risk_tokens=False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
        workers = hook.default_concurrency
        hook.close()
        stats = sim.stats()

    rows = _rows(limited)
    same = rows == reference
    n_rows = sum(len(r) for r in rows.values())
    too_many = int(stats["by_status"].get("429", 0))
    ratio = wall / bound
    scaled = "" if n_wallets == WALLETS else f" (scaled: {n_wallets} wallets)"
    result.goal(
        f"{wall:.1f} s for {n_requests} requests = {ratio:.3f}x the {bound:.0f} s bound{scaled}",
        f"<= {WALL_GOAL}x bound",
        ratio <= WALL_GOAL,
    )
    result.goal(f"{too_many} x 429", "0 x 429", too_many == 0)
    result.goal(
        f"{n_rows} rows {'identical' if same else 'DIFFER'} to the no-latency run",
        "identical rows",
        same,
    )
    result.detail(
        f"{n_wallets} wallets x {len(chain_list)} chains ({per_wallet} requests each) = {n_requests} "
        f"requests; simulator latency {LATENCY} s, limit {RATE}/s; {workers} threads"
    )
    result.detail(
        f"simulator saw {stats['total']} requests, by status {stats['by_status']}; the hook logged "
        f"{retries.count} retries ({retries.rate_limited} for rate limits)"
    )
    result.detail(
        f"client CPU {cpu:.2f} s ({cpu / n_requests * 1e3:.2f} ms per request, "
        f"{cpu / max(n_rows, 1) * 1e6:.0f} us per row); "
        f"reference run without latency or limit: {reference_wall:.2f} s, "
        f"{reference_stats['total']} requests"
    )
    result.data = {
        "wall": wall,
        "bound": bound,
        "cpu": cpu,
        "requests": n_requests,
        "rows": n_rows,
        "status": stats["by_status"],
        "reference_wall": reference_wall,
    }
    return result


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE)
