"""Figure 4: 1,000 deferred balance waits in one triggerer event loop.

As a triggerer runs them: one ``asyncio`` task per ``OkxBalanceTrigger`` iterating
``trigger.run()``, all in this process's one loop, every threshold out of reach
(``balance < 0``), polling an ``OkxSimulator`` in another process every 5 s for 60 s. Then
every task is cancelled and every trigger's ``cleanup()`` awaited, as the triggerer does.

``BalanceCondition.aobserve`` is wrapped (in this process only) to time each poll's start and
end. Lateness is the gap between the starts of consecutive polls of one trigger minus the
5 s interval: it counts a slow poll (queued for a connection, retried) as well as a late
wake-up. The first gap of each trigger is left out of the goal (all 1,000 start in the same
instant, so their first polls queue behind the 1,000/s client rate limit by design) and reported
apart, with the wake-up delay alone (start - (previous end + 5 s)). Memory is psutil RSS; CPU is
this process's ``time.process_time()`` over the window, divided by the polls the simulator
answered; file descriptors and TCP connections are counted before, during and after.
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
from typing import Any

from bench.common import FigureResult, SimProcess, figure_main, percentile, profile_top

TITLE = "4. 1,000 triggers waiting"
TRIGGERS = 1000
INTERVAL = 5.0
DURATION = 60.0
RSS_GOAL_MB = 100
CPU_GOAL_MS = 1.0
LATE_GOAL = 0.10  # of the interval
CLIENT_RPS = 1000


def _address(i: int) -> str:
    return "0x" + hashlib.sha256(f"bench-trigger-{i}".encode()).hexdigest()[:40]


class PollClock:
    """Wraps ``BalanceCondition.aobserve``: (start, end) monotonic times per watched address."""

    def __init__(self) -> None:
        from airflow_provider_okx.thresholds import BalanceCondition

        self.polls: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.failed = 0
        original = BalanceCondition.aobserve
        clock = self

        async def aobserve(condition: Any, hook: Any) -> Any:
            started = time.monotonic()
            try:
                return await original(condition, hook)
            except asyncio.CancelledError:  # in flight when the wait was cancelled: not a failure
                raise
            except BaseException:
                clock.failed += 1
                raise
            finally:
                clock.polls[condition.address].append((started, time.monotonic()))

        BalanceCondition.aobserve = aobserve  # type: ignore[method-assign]

    def count(self) -> int:
        return sum(len(p) for p in self.polls.values())

    def lateness(self, interval: float) -> tuple[list[float], list[float], list[float]]:
        """Over consecutive polls of each trigger: (start-to-start gap - interval from the second
        gap on, the same for first gaps, wake-up delay: start - (previous end + interval))."""
        steady, first, wake = [], [], []
        for polls in self.polls.values():
            for k, ((s0, e0), (s1, _)) in enumerate(itertools.pairwise(polls)):
                (first if k == 0 else steady).append(s1 - s0 - interval)
                wake.append(s1 - (e0 + interval))
        return steady, first, wake


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


def _make_triggers(count: int, offset: int = 0) -> list[Any]:
    from airflow_provider_okx.thresholds import BalanceCondition
    from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

    triggers = []
    for i in range(offset, offset + count):
        condition = BalanceCondition.build(address=_address(i), chain=1, threshold="0", condition="<")
        triggers.append(OkxBalanceTrigger(condition=condition.to_kwargs(), poke_interval=INTERVAL))
    return triggers


async def _main(args: argparse.Namespace, sim: SimProcess) -> FigureResult:
    import httpx  # noqa: F401  (the triggerer has it imported already)
    import psutil

    from airflow_provider_okx.hooks.okx import _ASYNC_CLIENTS

    result = FigureResult(TITLE)
    count = 100 if args.quick else TRIGGERS
    duration = 15.0 if args.quick else DURATION
    port = int(sim.base_url.rsplit(":", 1)[1])
    clock = PollClock()
    warnings = _WarningCount()
    logging.getLogger("airflow_provider_okx").addHandler(warnings)
    logging.getLogger("airflow_provider_okx.triggers.balance").addHandler(warnings)

    # Warm-up: one trigger, one poll (imports, connection lookup, the shared client), released.
    warm = _make_triggers(1, offset=10**6)
    await _run_triggers(warm, 1.0, port, 0.5)
    gc.collect()
    await asyncio.sleep(0.5)
    before = _resources(port)
    sim.reset()
    polls_before = clock.count()
    clock.polls.clear()

    cpu0, wall0 = time.process_time(), time.monotonic()
    triggers = _make_triggers(count)
    events, during, lag, ended = await _run_triggers(triggers, duration, port, duration / 2)
    cpu, wall = time.process_time() - cpu0, ended - wall0
    await asyncio.sleep(0.5)  # let the closed sockets go
    gc.collect()
    after = _resources(port)
    stats = sim.stats()

    polls_sim = int(stats["by_endpoint"].get("token_balances", 0))
    polls = clock.count()
    late, first, wake = clock.lateness(INTERVAL)
    p99_late = percentile(late, 99)
    added_mb = (during["rss_peak"] - before["rss"]) / 2**20
    cpu_ms = cpu / max(polls_sim, 1) * 1e3
    leak = (
        after["fds"] > before["fds"]
        or after["tcp_to_sim"] > 0
        or after["tcp"] > before["tcp"]
        or _ASYNC_CLIENTS.open_clients() != 0
    )

    result.goal(f"+{added_mb:.1f} MB RSS", f"<= {RSS_GOAL_MB} MB", added_mb <= RSS_GOAL_MB)
    result.goal(f"{cpu_ms:.2f} ms CPU/poll", f"<= {CPU_GOAL_MS:g} ms", cpu_ms <= CPU_GOAL_MS)
    result.goal(
        f"p99 lateness {p99_late * 1e3:.0f} ms ({p99_late / INTERVAL:.1%})",
        f"<= {LATE_GOAL:.0%} of {INTERVAL:g} s",
        p99_late <= LATE_GOAL * INTERVAL,
    )
    result.goal(
        f"fds {before['fds']}->{during['fds']}->{after['fds']}, "
        f"tcp {before['tcp']}->{during['tcp']}->{after['tcp']}",
        "no fd/conn leak",
        not leak,
    )
    result.detail(
        f"{count} triggers, poll every {INTERVAL:g} s for {duration:g} s; {polls} polls timed here, "
        f"{polls_sim} answered by the simulator (status {stats['by_status']}); "
        f"{clock.failed} polls failed, {warnings.count} warnings, {len(events)} events fired"
    )
    result.detail(
        f"CPU {cpu:.1f} s over {wall:.1f} s ({cpu / wall:.0%} of one core); "
        f"RSS {before['rss'] / 2**20:.0f} MB before, {during['rss'] / 2**20:.0f} MB at "
        f"{duration / 2:g} s, peak {during['rss_peak'] / 2**20:.0f} MB, "
        f"{after['rss'] / 2**20:.0f} MB after cleanup"
    )
    result.detail(
        f"lateness (start-to-start gap - {INTERVAL:g} s) from the 2nd gap on: p50 "
        f"{percentile(late, 50) * 1e3:.0f} ms, p99 {p99_late * 1e3:.0f} ms, max "
        f"{max(late, default=0) * 1e3:.0f} ms over {len(late)} gaps; first gaps: p50 "
        f"{percentile(first, 50) * 1e3:.0f} ms, p99 {percentile(first, 99) * 1e3:.0f} ms; "
        f"wake-up delay alone p99 {percentile(wake, 99) * 1e3:.0f} ms"
    )
    for kind, n in warnings.kinds.most_common(3):
        result.detail(f"  {n} x warning: {kind}")
    durations = [e - s for p in clock.polls.values() for s, e in p]
    result.detail(
        f"poll duration p50 {percentile(durations, 50) * 1e3:.0f} ms, "
        f"p99 {percentile(durations, 99) * 1e3:.0f} ms; event-loop lag p99 "
        f"{percentile(lag, 99) * 1e3:.1f} ms, max {max(lag, default=0) * 1e3:.0f} ms"
    )
    result.detail(
        f"TCP to the simulator {before['tcp_to_sim']}->{during['tcp_to_sim']}->{after['tcp_to_sim']}; "
        f"shared httpx clients left open: {_ASYNC_CLIENTS.open_clients()}"
    )
    result.data = {
        "added_mb": added_mb,
        "cpu_ms_per_poll": cpu_ms,
        "p99_late_s": p99_late,
        "p99_first_gap_s": percentile(first, 99),
        "p99_wake_s": percentile(wake, 99),
        "before": before,
        "during": during,
        "after": after,
        "polls": polls,
        "polls_sim": polls_sim,
        "warmup_polls": polls_before,
    }
    del psutil
    return result


class _WarningCount(logging.Handler):
    """Counts warnings, and keeps how many of each kind (message up to its first colon)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        message = record.getMessage()
        self.kinds[re.sub(r"0x[0-9a-fA-F]+|\d+(\.\d+)?", "#", message)[:90]] += 1


def measure(args: argparse.Namespace) -> FigureResult:
    with SimProcess(rate_limit_rps=None) as sim:
        os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=CLIENT_RPS)
        result = asyncio.run(_main(args, sim))
        if args.profile:
            port = int(sim.base_url.rsplit(":", 1)[1])

            def profiled() -> None:
                triggers = _make_triggers(TRIGGERS, offset=2 * 10**6)
                asyncio.run(_run_triggers(triggers, 12.0, port, 6.0))

            profile = profile_top(profiled, lines=30, sort="tottime")
            result.detail("cProfile of 1,000 triggers for 12 s (top by own time):")
            for line in profile.splitlines():
                result.detail("    " + line)
    return result


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE)
