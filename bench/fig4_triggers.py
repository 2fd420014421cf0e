"""Figure 4: 1,000 deferred balance waits in one triggerer event loop.

As a triggerer runs them: one ``asyncio`` task per ``OkxBalanceTrigger`` iterating
``trigger.run()``, all in this process's one loop, every threshold out of reach, polling an
``OkxSimulator`` in another process every 5 s for 60 s. Then every task is cancelled and every
trigger's ``cleanup()`` awaited, as the triggerer does. Two cases, each in a fresh event loop:

- **shared**: 1,000 triggers on 100 wallets, 10 per wallet (each on another token of the
  wallet, held or not, with its own threshold), the simulator enforcing a 25 requests/s key
  limit and the connection's ``rate_limit_rps`` 25. Triggers on one wallet share their
  requests (``triggers/shared_reads.py``): the goal is one request per wallet per interval.
- **distinct**: 1,000 triggers on 1,000 wallets, no rate limit: nothing to share, so this is
  the async transport's own cost per request (the CPU goal, "at 1,000 concurrent triggers on
  distinct wallets"). In the shared case a request answers ten polls, so its CPU per request
  counts ten trigger wake-ups: reported, not a goal.

Each poll's end is timed from the trigger's own log line (one per poll, in the ``asyncio`` task
that drives the trigger: :class:`PollClock`; no private method is wrapped). Lateness is the
gap between the ends of consecutive polls of one trigger minus the 5 s interval: it counts a
slow poll (waiting on the rate limit, retried) as well as a late wake-up. The first gap of
each trigger is left out of the goal (all 1,000 start in the same instant, so their first
polls queue behind the rate limit by design) and reported apart.
Memory is psutil RSS; CPU is this process's ``time.process_time()`` over the window, divided
by the requests the simulator answered; file descriptors and TCP connections are counted
before, during and after, and the loop's shared client and shared reads must be gone after.

``--transport httpx`` runs the same cases over ``httpx`` (``bench/httpx_transport.py``), the
contender the async transport was chosen against.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import itertools
import logging
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from bench.common import FigureResult, SimProcess, figure_main, percentile, profile_top, size

TITLE = "4. 1,000 triggers waiting"
TRIGGERS = 1000
PER_WALLET = 10
INTERVAL = 5.0
DURATION = 60.0
KEY_RPS = 25
REQUESTS_GOAL = 1.05  # x the wallets, per interval
RSS_GOAL_MB = 100
CPU_GOAL_MS = 1.0
LATE_GOAL = 0.10  # of the interval
UNLIMITED_RPS = 1000


def _address(tag: str, i: int) -> str:
    return "0x" + hashlib.sha256(f"bench-{tag}-{i}".encode()).hexdigest()[:40]


def _absent_token(i: int, k: int) -> str:
    return "0x" + hashlib.sha256(f"bench-absent-{i}-{k}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Case:
    name: str
    wallets: int
    per_wallet: int
    server_rps: float | None
    client_rps: float


SHARED = Case("shared", TRIGGERS // PER_WALLET, PER_WALLET, KEY_RPS, KEY_RPS)
DISTINCT = Case("distinct", TRIGGERS, 1, None, UNLIMITED_RPS)


class PollClock(logging.Handler):
    """Each trigger's poll ends, from the trigger's own log: ``OkxBalanceTrigger`` logs one line
    per poll (the condition against the value read, or the transient error it waits on), in the
    ``asyncio`` task that runs it; the task tells the triggers apart. Public behaviour only: no
    method of the trigger is wrapped."""

    LOGGER = "airflow_provider_okx.triggers.balance"

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.polls: dict[int, list[float]] = defaultdict(list)
        self.failed = 0
        logger = logging.getLogger(self.LOGGER)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # 12,000 lines a minute stay out of the bench's output
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return
        if task is None:
            return
        self.polls[id(task)].append(time.monotonic())
        if record.levelno >= logging.WARNING:
            self.failed += 1

    def clear(self) -> None:
        self.polls.clear()
        self.failed = 0

    def count(self) -> int:
        return sum(len(p) for p in self.polls.values())

    def lateness(self, interval: float) -> tuple[list[float], list[float]]:
        """Over consecutive polls of each trigger: end-to-end gap - interval (a slow poll, a
        late wake-up), from the second gap on, and the same for first gaps."""
        steady: list[float] = []
        first: list[float] = []
        for polls in self.polls.values():
            for k, (e0, e1) in enumerate(itertools.pairwise(polls)):
                (first if k == 0 else steady).append(e1 - e0 - interval)
        return steady, first


def _resources(sim_port: int) -> dict[str, int]:
    import psutil

    process = psutil.Process()
    connections = process.net_connections(kind="tcp")
    to_sim = [c for c in connections if c.raddr and c.raddr.port == sim_port]
    return {
        "rss": process.memory_info().rss,
        "fds": process.num_fds(),
        "tcp": len(connections),
        "tcp_to_sim": len(to_sim),
    }


async def _drive(trigger: Any, events: list[Any]) -> None:
    async for event in trigger.run():
        events.append(event.payload)
        return


async def _lag_monitor(samples: list[float], period: float = 0.05) -> None:
    """How late the loop wakes a sleeper: a triggerer's health in one number."""
    while True:
        started = time.monotonic()
        await asyncio.sleep(period)
        samples.append(time.monotonic() - started - period)


async def _run_triggers(
    triggers: list[Any], duration: float, sim_port: int, sample_at: float
) -> tuple[list[Any], dict[str, int], list[float], float]:
    events: list[Any] = []
    lag: list[float] = []
    monitor = asyncio.create_task(_lag_monitor(lag))
    tasks = [asyncio.create_task(_drive(t, events)) for t in triggers]
    await asyncio.sleep(sample_at)
    during = _resources(sim_port)
    peak = during["rss"]
    deadline = time.monotonic() + duration - sample_at
    while (remaining := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, remaining))
        peak = max(peak, _resources(sim_port)["rss"])
    during["rss_peak"] = peak
    for task in (*tasks, monitor):
        task.cancel()
    await asyncio.gather(*tasks, monitor, return_exceptions=True)
    for trigger in triggers:
        await trigger.cleanup()
    return events, during, lag, time.monotonic()


def _make_triggers(case: Case, tag: str, count: int, interval: float = INTERVAL) -> list[Any]:
    """``count`` triggers over ``count / case.per_wallet`` wallets: each wallet's triggers watch
    its own tokens on one chain (1 or 56), then tokens it does not hold, with thresholds of
    their own, all out of reach."""
    from airflow_provider_okx.core.thresholds import BalanceCondition
    from airflow_provider_okx.testing.wallets import base_assets
    from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

    triggers = []
    for i in range(max(1, count // case.per_wallet)):
        address = _address(tag, i)
        chain = "1" if i % 2 == 0 else "56"
        held = [a.token_address for a in base_assets(address, chain) if not a.is_risk_token]
        tokens = (held + [_absent_token(i, k) for k in range(case.per_wallet)])[: case.per_wallet]
        for k, token in enumerate(tokens):
            condition = BalanceCondition.build(
                address=address,
                chain=chain,
                token_address=token,
                metric="usd_value" if k % 3 == 2 else "balance",
                threshold=str(10**12 + 1000 * i + k),
            )
            triggers.append(OkxBalanceTrigger(condition=condition.to_kwargs(), poke_interval=interval))
    return triggers


async def _measure_case(case: Case, args: argparse.Namespace, sim: SimProcess, result: FigureResult) -> None:
    import psutil

    from airflow_provider_okx.hooks import async_transport
    from airflow_provider_okx.triggers import shared_reads

    count = size(args, full=TRIGGERS, quick=100, smoke=20)
    duration = size(args, full=DURATION, quick=20.0, smoke=3.5)
    interval = size(args, full=INTERVAL, quick=INTERVAL, smoke=1.0)
    port = int(sim.base_url.rsplit(":", 1)[1])
    clock = PollClock()
    warnings = _WarningCount()
    for name in ("airflow_provider_okx", "airflow_provider_okx.triggers.balance"):
        logging.getLogger(name).addHandler(warnings)

    # Warm-up: one trigger, one poll (imports, connection lookup, the shared client), released.
    await _run_triggers(_make_triggers(DISTINCT, f"warm-{case.name}", 1), 1.0, port, 0.5)
    gc.collect()
    await asyncio.sleep(0.5)
    before = _resources(port)
    left_after_warmup = async_transport.open_clients()
    sim.reset()
    clock.clear()
    warnings.reset()

    cpu0, wall0 = time.process_time(), time.monotonic()
    triggers = _make_triggers(case, case.name, count, interval)
    events, during, lag, ended = await _run_triggers(triggers, duration, port, duration / 2)
    cpu, wall = time.process_time() - cpu0, ended - wall0
    reads = shared_reads.loop_reads()
    shared_questions = len(reads) if reads is not None else 0
    shared_started = reads.requests if reads is not None else 0
    del triggers
    await asyncio.sleep(0.5)  # let the closed sockets go
    gc.collect()
    after = _resources(port)
    clients_left = async_transport.open_clients()
    stats = sim.stats()

    balance_requests = sum(
        int(stats["by_endpoint"].get(e, 0)) for e in ("all_token_balances", "token_balances", "total_value")
    )
    refused = int(stats["by_status"].get("429", 0))
    wallets = max(1, count // case.per_wallet)
    intervals = duration / interval
    per_interval = balance_requests / intervals
    polls = clock.count()
    late, first = clock.lateness(interval)
    p99_late = percentile(late, 99)
    added_mb = (during["rss_peak"] - before["rss"]) / 2**20
    cpu_ms = cpu / max(balance_requests, 1) * 1e3
    leak = (
        after["fds"] > before["fds"]
        or after["tcp_to_sim"] > 0
        or after["tcp"] > before["tcp"]
        or clients_left != 0
    )

    label = f"[{case.name}] "
    if case.per_wallet > 1:
        # The sharing goals: one request per wallet per interval, within the key's limit, on time.
        result.goal(
            f"{label}{per_interval:.1f} requests/interval for {wallets} wallets",
            f"<= {wallets} (+{REQUESTS_GOAL - 1:.0%})",
            per_interval <= wallets * REQUESTS_GOAL,
        )
        result.goal(f"{label}{refused} x 429", "0 x 429", refused == 0)
        result.goal(
            f"{label}p99 lateness {p99_late * 1e3:.0f} ms ({p99_late / interval:.1%})",
            f"<= {LATE_GOAL:.0%} of {interval:g} s",
            p99_late <= LATE_GOAL * interval,
        )
    else:
        # The transport's goal: CPU per HTTP request when nothing can be shared.
        result.goal(f"{label}{cpu_ms:.2f} ms CPU/request", f"<= {CPU_GOAL_MS:g} ms", cpu_ms <= CPU_GOAL_MS)
    result.goal(f"{label}+{added_mb:.1f} MB RSS", f"<= {RSS_GOAL_MB} MB", added_mb <= RSS_GOAL_MB)
    result.goal(
        f"{label}fds {before['fds']}->{during['fds']}->{after['fds']}, "
        f"tcp {before['tcp']}->{during['tcp']}->{after['tcp']}, clients left {clients_left}",
        "no fd/conn leak",
        not leak,
    )
    result.detail(
        f"{label}{count} triggers on {wallets} wallets, poll every {interval:g} s for {duration:g} s, "
        f"key limit {case.server_rps or 'none'} req/s (client {case.client_rps:g}); {polls} polls, "
        f"{balance_requests} requests answered (status {stats['by_status']}, endpoints "
        f"{stats['by_endpoint']}); {shared_started} shared requests started for "
        f"{shared_questions} questions; {clock.failed} polls failed, {warnings.count} warnings, "
        f"{len(events)} events fired"
    )
    result.detail(
        f"{label}CPU {cpu:.1f} s over {wall:.1f} s ({cpu / wall:.0%} of one core) = "
        f"{cpu / max(polls, 1) * 1e3:.3f} ms per poll, {cpu_ms:.2f} ms per request; "
        f"RSS {before['rss'] / 2**20:.0f} MB before, "
        f"{during['rss'] / 2**20:.0f} MB at {duration / 2:g} s, peak {during['rss_peak'] / 2**20:.0f} MB, "
        f"{after['rss'] / 2**20:.0f} MB after cleanup"
    )
    result.detail(
        f"{label}lateness (end-to-end gap - {interval:g} s) from the 2nd gap on: p50 "
        f"{percentile(late, 50) * 1e3:.0f} ms, p99 {p99_late * 1e3:.0f} ms, max "
        f"{max(late, default=0) * 1e3:.0f} ms over {len(late)} gaps; first gaps: p50 "
        f"{percentile(first, 50) * 1e3:.0f} ms, p99 {percentile(first, 99) * 1e3:.0f} ms"
    )
    result.detail(
        f"{label}event-loop lag p99 "
        f"{percentile(lag, 99) * 1e3:.1f} ms, max {max(lag, default=0) * 1e3:.0f} ms; TCP to the "
        f"simulator {before['tcp_to_sim']}->{during['tcp_to_sim']}->{after['tcp_to_sim']}; "
        f"clients open after the warm-up {left_after_warmup}, after the run {clients_left}"
    )
    for kind, n in warnings.kinds.most_common(3):
        result.detail(f"{label}  {n} x warning: {kind}")
    result.data[case.name] = {
        "requests_per_interval": per_interval,
        "refused": refused,
        "added_mb": added_mb,
        "cpu_ms_per_request": cpu_ms,
        "p99_late_s": p99_late,
        "p99_first_gap_s": percentile(first, 99),
        "before": before,
        "during": during,
        "after": after,
        "polls": polls,
        "requests": balance_requests,
    }
    logging.getLogger(PollClock.LOGGER).removeHandler(clock)
    for name in ("airflow_provider_okx", "airflow_provider_okx.triggers.balance"):
        logging.getLogger(name).removeHandler(warnings)
    del psutil


class _WarningCount(logging.Handler):
    """Counts warnings, and keeps how many of each kind (numbers and addresses blanked)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        message = record.getMessage()
        self.kinds[re.sub(r"0x[0-9a-fA-F]+|\d+(\.\d+)?", "#", message)[:90]] += 1


def _cases(args: argparse.Namespace) -> list[Case]:
    chosen = getattr(args, "case", None) or "both"
    return [c for c in (SHARED, DISTINCT) if chosen in ("both", c.name)]


def measure(args: argparse.Namespace) -> FigureResult:
    from airflow_provider_okx.triggers import shared_reads

    transport = getattr(args, "transport", None) or "aiohttp"
    if transport == "httpx":
        from bench.httpx_transport import install

        install()
    result = FigureResult(TITLE if transport == "aiohttp" else f"{TITLE} (httpx)")
    result.data["transport"] = transport
    with SimProcess(rate_limit_rps=None) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        for case in _cases(args):
            sim.set(rate_limit_rps=case.server_rps)
            os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=case.client_rps)
            asyncio.run(_measure_case(case, args, sim, result))
            if shared_reads.loops_with_reads():
                result.goal(f"[{case.name}] shared reads outlived their loop", "none left", False)
        if args.profile:
            case = _cases(args)[-1]
            sim.set(rate_limit_rps=case.server_rps)
            os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=case.client_rps)

            def profiled() -> None:
                triggers = _make_triggers(case, f"profile-{case.name}", TRIGGERS)
                asyncio.run(_run_triggers(triggers, 12.0, port, 6.0))

            profile = profile_top(profiled, lines=30, sort="tottime")
            result.detail(f"cProfile of the {case.name} case for 12 s (top by own time):")
            for line in profile.splitlines():
                result.detail("    " + line)
    return result


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", choices=("shared", "distinct", "both"), default="both")
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp")


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE, _arguments)
