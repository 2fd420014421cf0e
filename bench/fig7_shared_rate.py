"""Figure 7: one API key shared by 8 processes at K = 20 requests/s, on a local Redis store.

8 worker processes (each a fresh interpreter with its own ``OkxHook``, as Airflow 3 runs each
task) send balance requests back to back for 30 s against one ``OkxSimulator`` that refuses
more than K requests/s per key (the simulator runs in this process; the workers only wait for
their slots and send). Three runs, one after another, each with fresh rate state:

- **store**: ``rate_limit_rps = K`` and ``rate_limit_store`` = a local ``redis-server`` (started
  here on a free port): the key's one budget. Goals: achieved rate >= 0.95 K, no 429, median
  added cost of a reservation <= 0.5 ms, each process's share within 20 % of the mean.
- **pool rule**: no store, ``rate_limit_rps = K / 8`` per process (8 pool slots x R <= K):
  achieved rate / K.
- **no rule**: no store, ``rate_limit_rps = K`` in every process (the old "First steps"): the
  429s OKX would answer.

The achieved rate counts the simulator's successful answers that arrived within the run's
window, over the window. The added cost is the round trip of each reservation to the store
(Lua script included), timed in the workers by ``RateStore.round_trips``. The details also give
how late the workers woke from their slot sleeps (the jitter the headroom absorbs) and the most
requests the simulator saw in any one-second window.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO, FigureResult, figure_main, percentile

try:  # the bench convention's sizes (full / quick / smoke)
    from bench.common import size
except ImportError:  # pragma: no cover - before bench.common.size existed

    def size(args: argparse.Namespace, full: Any, quick: Any, smoke: Any) -> Any:
        if getattr(args, "smoke", False):
            return smoke
        if getattr(args, "quick", False):
            return quick
        return full


TITLE = "7. One key shared by 8 processes (store)"
RATE = 20.0
PROCESSES = 8
DURATION = 30.0
RATE_GOAL = 0.95
COST_GOAL_MS = 0.5
SHARE_GOAL = 0.20
MARK = "fig7>"
"""Prefix of the lines a worker means for the figure on its stdout."""


# --- one worker process ------------------------------------------------------------------


def worker() -> None:
    """Child: for each run (a JSON line on stdin), build a hook, say ``ready``, wait for ``go``,
    send until the deadline, report a JSON line. The same processes serve the three runs, so
    Airflow is imported once per process, not once per run."""
    import airflow_provider_okx.hooks.okx as okx
    from airflow_provider_okx.testing import SEED_ADDRESS

    lateness: list[float] = []

    class TimedHook(okx.OkxHook):
        """The hook, with its documented ``_sleep`` seam timing how late each wake-up is."""

        @staticmethod
        def _sleep(seconds: float) -> None:
            started = time.perf_counter()
            time.sleep(seconds)
            lateness.append(time.perf_counter() - started - seconds)

    for line in sys.stdin:
        if not line.strip():
            break
        config = json.loads(line)
        os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = config["connection"]
        hook = TimedHook()
        hook.get_supported_chains()  # the connection pool and imports, before the clock starts
        store = None
        if config.get("store"):
            from airflow_provider_okx.hooks.rate_store import budget_key, rate_store

            api_key = hook.config.credentials.api_key
            store = rate_store(config["store"], budget_key(hook.config.base_url, api_key))
            store.round_trips.clear()
        lateness.clear()
        print(MARK, "ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + config["duration"]
        sent = failed = 0
        while time.monotonic() < deadline:
            try:
                hook.get_all_token_balances(SEED_ADDRESS, "1")
                sent += 1
            except Exception as error:  # counted: a failure is a result here
                failed += 1
                print(f"error {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        hook.close()
        report = {
            "sent": sent,
            "failed": failed,
            "lateness": list(lateness),
            "round_trips": list(store.round_trips) if store is not None else [],
        }
        print(MARK, json.dumps(report), flush=True)


# --- the figure ----------------------------------------------------------------------------


def max_in_window(times: list[float], width: float = 1.0) -> int:
    ordered = sorted(times)
    most, j = 0, 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + width:
            j += 1
        most = max(most, j - i)
    return most


def start_workers(processes: int) -> list[subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return [
        subprocess.Popen(
            [sys.executable, "-m", "bench.fig7_shared_rate", "--worker"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]


def _tell(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdin is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()


def _hear(child: subprocess.Popen[str]) -> str:
    """The worker's next message (lines it did not mark, such as a library's print, are skipped)."""
    assert child.stdout is not None
    while True:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker exited (code {child.wait()})")
        if line.startswith(MARK + " "):
            return line[len(MARK) + 1 :].strip()


def run(
    sim: Any, children: list[subprocess.Popen[str]], duration: float, connection: str, store: str | None
) -> dict[str, Any]:
    """One run of every worker for ``duration`` s; what the simulator and they saw."""
    config = json.dumps({"connection": connection, "duration": duration, "store": store})
    for child in children:
        _tell(child, config)
    for child in children:
        if _hear(child) != "ready":
            raise RuntimeError("a worker did not get ready")
    sim.reset()  # forget the warm-up requests and refill the key's bucket
    started = time.time()
    for child in children:
        _tell(child, "go")
    reports = [json.loads(_hear(child)) for child in children]
    with sim._log_lock:
        records = list(sim.requests)
    window = [r for r in records if started <= r.time < started + duration]
    ok = [r.time for r in window if r.status == 200]
    return {
        "achieved": len(ok) / duration,
        "too_many": sum(1 for r in records if r.status == 429),
        "max_window": max_in_window([r.time for r in window]),
        "sent": [report["sent"] for report in reports],
        "failed": sum(report["failed"] for report in reports),
        "lateness": [x for report in reports for x in report["lateness"]],
        "round_trips": [x for report in reports for x in report["round_trips"]],
    }


def measure(args: argparse.Namespace) -> FigureResult:
    from airflow_provider_okx.testing import OkxSimulator
    from tests.redis_server import RedisServer, find_binary

    result = FigureResult(TITLE)
    processes = args.processes or size(args, full=PROCESSES, quick=PROCESSES, smoke=2)
    duration = args.duration or size(args, full=DURATION, quick=10.0, smoke=2.0)
    binary = find_binary()
    if binary is None:
        raise RuntimeError("redis-server not found: run scripts/ensure-redis.sh")
    server = RedisServer(binary)
    sim = OkxSimulator("127.0.0.1", 0, rate_limit_rps=RATE)
    server.start()
    sim.start()
    children = start_workers(processes)
    try:
        shared = run(
            sim,
            children,
            duration,
            sim.connection_json(rate_limit_rps=RATE, rate_limit_store=server.url, max_retries=10),
            server.url,
        )
        pooled = run(
            sim,
            children,
            duration,
            sim.connection_json(rate_limit_rps=RATE / processes, max_retries=10),
            None,
        )
        free = run(sim, children, duration, sim.connection_json(rate_limit_rps=RATE, max_retries=10), None)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        sim.stop()
        server.close()

    achieved = shared["achieved"] / RATE
    result.goal(
        f"[store] {shared['achieved']:.2f} requests/s = {achieved:.3f} K "
        f"(K = {RATE:g}, {processes} processes)",
        f">= {RATE_GOAL} K",
        achieved >= RATE_GOAL,
    )
    result.goal(f"[store] {shared['too_many']} x 429", "0 x 429", shared["too_many"] == 0)
    trips = shared["round_trips"]
    cost = statistics.median(trips) * 1e3 if trips else float("nan")
    result.goal(
        f"[store] {cost:.3f} ms median added cost per request",
        f"<= {COST_GOAL_MS} ms",
        bool(trips) and cost <= COST_GOAL_MS,
    )
    sent = shared["sent"]
    mean = statistics.mean(sent)
    worst = max(abs(n - mean) / mean for n in sent) if mean else float("inf")
    result.goal(
        f"[store] shares {min(sent)}..{max(sent)} requests, at most {worst:.1%} from the mean",
        f"within {SHARE_GOAL:.0%} of the mean",
        worst <= SHARE_GOAL,
    )
    result.goal(
        f"[pool rule] {pooled['achieved'] / RATE:.3f} K, {pooled['too_many']} x 429 "
        f"(rate_limit_rps = K / {processes} each, no store)",
        "side by side",
        True,
    )
    result.goal(
        f"[no rule] {free['too_many']} x 429, {free['achieved'] / RATE:.3f} K "
        f"(rate_limit_rps = K in each process, no store)",
        "side by side",
        True,
    )
    late = shared["lateness"]
    if late:
        result.detail(
            f"store: wake-up lateness after a slot sleep p50 {percentile(late, 50) * 1e3:.2f} ms, "
            f"p99 {percentile(late, 99) * 1e3:.2f} ms, max {max(late) * 1e3:.2f} ms over {len(late)} "
            f"sleeps; the 10% headroom absorbs up to {1e3 / (RATE * 0.9) * RATE * 0.1:.0f} ms of "
            "compression per one-second window"
        )
    if trips:
        result.detail(
            f"store: reservation round trip p50 {percentile(trips, 50) * 1e3:.3f} ms, "
            f"p99 {percentile(trips, 99) * 1e3:.3f} ms over {len(trips)} reservations"
        )
    for name, data in (("store", shared), ("pool rule", pooled), ("no rule", free)):
        result.detail(
            f"{name}: most requests in any 1 s window at the simulator {data['max_window']} "
            f"(K = {RATE:g}); per process {data['sent']}; {data['failed']} failed calls"
        )
    result.data = {
        name: {k: v for k, v in data.items() if k not in ("lateness", "round_trips")}
        for name, data in (("store", shared), ("pool", pooled), ("free", free))
    }
    return result


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", type=int, default=None, help=f"worker processes (default {PROCESSES})")
    parser.add_argument(
        "--duration", type=float, default=None, help=f"seconds per run (default {DURATION:g})"
    )
    if "--smoke" not in parser._option_string_actions:  # before the bench convention's --smoke
        parser.add_argument("--smoke", action="store_true", help="2 processes, 2 s: proves the figure runs")


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        figure_main(measure, __doc__ or TITLE, _arguments)
