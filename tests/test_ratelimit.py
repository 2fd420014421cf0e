"""The rate limit's algorithm with a controlled clock: spacing, the shared budget, the store
failing and coming back, and the 429 slow-down. No sleeping, no store: time is a number."""

from __future__ import annotations

import itertools
import logging
import random

import pytest

from airflow_provider_okx.core.api import routes
from airflow_provider_okx.core.api.clock import ClockOffset
from airflow_provider_okx.core.api.errors import OkxRateLimitError
from airflow_provider_okx.core.api.protocol import OkxProtocol, Received, Send, Wait
from airflow_provider_okx.core.api.ratelimit import (
    FALLBACK_SHARE,
    HEADROOM,
    STORE_RETRY_MAX,
    STORE_RETRY_MIN,
    Aimd,
    RateLimiter,
    Reserve,
    Reserved,
    SharedLimiter,
    StoreFailed,
    next_slot,
)
from airflow_provider_okx.core.api.retry import RetryPolicy
from airflow_provider_okx.core.api.signing import Credentials

STORE = "redis://:***@store:6379/0"


def max_in_any_window(starts: list[float], width: float = 1.0) -> int:
    """The most starts in any half-open window ``[t, t + width)`` (t at a start: the worst)."""
    ordered = sorted(starts)
    most, j = 0, 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + width - 1e-9:
            j += 1
        most = max(most, j - i)
    return most


class FakeStore:
    """The store's rule (``next_slot``) on a shared variable: what the Lua script does."""

    def __init__(self) -> None:
        self.next_free = 0.0
        self.up = True

    def answer(self, step: Reserve, now: float) -> Reserved | StoreFailed:
        if not self.up:
            return StoreFailed("ConnectionError: Error 111 connecting")
        wait, self.next_free = next_slot(self.next_free, now, step.interval)
        return Reserved(wait)


def take(limiter: RateLimiter, store: FakeStore, now: float) -> float:
    """One attempt's pacing as the protocol does it: plan, ask the store if told, settle."""
    plan = limiter.plan(now)
    if isinstance(plan, Reserve):
        return limiter.settle(store.answer(plan, now), now)
    return plan


# --- the scheduling rule -------------------------------------------------------------------


def test_next_slot_hands_out_evenly_spaced_slots_in_arrival_order():
    next_free, slots = 0.0, []
    for now in [10.0, 10.0, 10.01, 10.02, 10.02]:
        wait, next_free = next_slot(next_free, now, 0.25)
        slots.append(now + wait)
    assert slots == pytest.approx([10.0, 10.25, 10.5, 10.75, 11.0])
    # an idle key: the next caller is served at once
    assert next_slot(next_free, 20.0, 0.25) == (0.0, 20.25)


def test_shared_budget_holds_for_many_processes_and_is_fair():
    """8 processes asking at random moments for 60 s of simulated time, K = 5: no window
    over K at the send slots, and each process gets its turn in arrival order."""
    rate, store, rng = 5.0, FakeStore(), random.Random(3)
    limiters = [SharedLimiter(rate, STORE) for _ in range(8)]
    ready = [rng.uniform(0, 1) for _ in limiters]  # when each process next wants to send
    sends: list[tuple[float, int]] = []
    while min(ready) < 60:
        who = min(range(len(limiters)), key=ready.__getitem__)
        now = ready[who]
        slot = now + take(limiters[who], store, now)
        sends.append((slot, who))
        ready[who] = slot + rng.uniform(0.0, 0.05)  # the request's latency, then the next
    starts = [slot for slot, _ in sends]
    assert max_in_any_window(starts) <= rate * (1 - HEADROOM) + 1
    assert max_in_any_window(starts) <= rate
    # FIFO: slots are handed out in the order the reservations arrived
    assert starts == sorted(starts)
    per_process = [sum(1 for _, who in sends if who == p) for p in range(8)]
    mean = sum(per_process) / len(per_process)
    assert all(abs(count - mean) <= 0.2 * mean for count in per_process), per_process
    # and the key's budget is used: ~ 0.9 K over the run
    assert len(sends) >= 0.85 * rate * 60


def test_per_process_limiters_without_a_store_exceed_the_key_rate():
    """The problem the store solves: 8 processes each pacing at K send 8 K together."""
    rate = 5.0
    limiters = [RateLimiter(rate) for _ in range(8)]
    starts = []
    for limiter in limiters:
        now = 0.0
        for _ in range(10):
            now += limiter.reserve(now)
            starts.append(now)
    assert max_in_any_window(starts) > rate


def test_shared_interval_leaves_headroom():
    limiter = SharedLimiter(20, STORE)
    plan = limiter.plan(0.0)
    assert isinstance(plan, Reserve)
    assert plan.interval == pytest.approx(1 / (20 * (1 - HEADROOM)))
    assert pytest.approx(0.10) == HEADROOM
    assert limiter.settle(Reserved(0.3), 0.0) == 0.3
    assert limiter.settle(Reserved(-0.001), 0.0) == 0.0  # never a negative wait


def test_unlimited_rate_never_asks_the_store():
    assert SharedLimiter(0, STORE).plan(5.0) == 0.0


# --- the store failing ---------------------------------------------------------------------


def test_store_failure_falls_back_warns_once_and_recovers(caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_okx")
    rate, store = 8.0, FakeStore()
    limiter = SharedLimiter(rate, STORE)
    assert take(limiter, store, 0.0) == 0.0
    store.up = False
    now, starts = 1.0, []
    for _ in range(6):
        wait = take(limiter, store, now)
        now += wait
        starts.append(now)
    assert limiter.degraded
    # alone at a quarter of the rate: spaced 1 / (K / 4) apart, never a burst
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1 / (rate * FALLBACK_SHARE)] * 5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert STORE in text and "2 requests/s" in text and "25%" in text
    # the store comes back: the next plan after the back-off asks it again
    store.up = True
    now += STORE_RETRY_MAX
    assert isinstance(limiter.plan(now), Reserve)
    take(limiter, store, now)
    assert not limiter.degraded
    assert "answers again" in caplog.text
    # a second outage is not warned about again in this process
    store.up = False
    take(limiter, store, now + 1)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_store_is_retried_after_a_growing_back_off():
    store = FakeStore()
    store.up = False
    limiter = SharedLimiter(4.0, STORE)
    now, retries = 0.0, []
    for _ in range(400):
        plan = limiter.plan(now)
        if isinstance(plan, Reserve):
            retries.append(now)
            limiter.settle(store.answer(plan, now), now)
        now += 0.25
    gaps = [b - a for a, b in itertools.pairwise(retries)]
    assert gaps[0] == pytest.approx(STORE_RETRY_MIN)
    assert gaps == sorted(gaps)
    assert max(gaps) == pytest.approx(STORE_RETRY_MAX)


def test_fallback_rate_has_a_floor():
    assert SharedLimiter(0.2, STORE).fallback_rate == pytest.approx(0.1)
    assert SharedLimiter(0.05, STORE).fallback_rate == pytest.approx(0.05)  # never above the rate
    assert SharedLimiter(20, STORE).fallback_rate == pytest.approx(5)


# --- 429: multiplicative decrease, additive increase --------------------------------------


def test_aimd_halves_once_per_burst_and_recovers_linearly():
    aimd = Aimd()
    assert aimd.factor(0.0) == 1.0
    assert aimd.decrease(10.0)
    assert aimd.factor(10.0) == pytest.approx(0.5)
    assert not aimd.decrease(10.5)  # the same burst
    assert aimd.factor(15.0) == pytest.approx(0.5 + 5 * Aimd.RECOVERY)
    assert aimd.factor(100.0) == 1.0
    for k in range(20):
        aimd.decrease(200.0 + 2 * k)
    assert aimd.factor(240.0) >= Aimd.FLOOR


def test_429_slows_a_process_and_the_first_warns_with_cause_and_fix():
    limiter = RateLimiter(10)
    assert limiter.interval(0.0) == pytest.approx(0.1)
    hint = limiter.rate_limited(1.0)
    assert hint is not None
    assert "rate_limit_store" in hint and "floor(K / R)" in hint and "triggerer" in hint
    assert limiter.interval(1.0) == pytest.approx(0.2)
    assert limiter.rate_limited(5.0) is None  # warned once
    shared = SharedLimiter(10, STORE)
    hint = shared.rate_limited(1.0)
    assert hint is not None and "same rate_limit_store" in hint
    plan = shared.plan(1.0)
    assert isinstance(plan, Reserve)
    assert plan.interval == pytest.approx(2 / (10 * (1 - HEADROOM)))


# --- the protocol asks the limiter -----------------------------------------------------------


def make_protocol(limiter: RateLimiter, now: list[float]) -> OkxProtocol:
    return OkxProtocol(
        Credentials("k", "s", "p"),
        "https://okx.test",
        retry=RetryPolicy(max_retries=3),
        limiter=limiter,
        clock=ClockOffset(),
        wall_time=lambda: 1_700_000_000.0 + now[0],
        monotonic=lambda: now[0],
        rng=random.Random(1),
    )


OK = Received(200, {}, b'{"code":"0","msg":"","data":[{"chainIndex":"1"}]}')
LIMITED = Received(429, {}, b'{"code":"50011","msg":"Too Many Requests","data":[]}')


def drive(
    protocol: OkxProtocol, answers: list, store: FakeStore, now: list[float], send_takes: float = 0.0
) -> list:
    """Run one exchange, answering Reserve from ``store`` and Send from ``answers`` (each answer
    taking ``send_takes`` seconds of the controlled clock)."""
    steps = protocol.exchange(routes.supported_chains(routes.V6))
    seen, outcome = [], None
    try:
        while True:
            step = steps.send(outcome)
            seen.append(step)
            if isinstance(step, Reserve):
                outcome = store.answer(step, now[0])
            elif isinstance(step, Wait):
                now[0] += step.seconds
                outcome = None
            else:
                assert isinstance(step, Send)
                now[0] += send_takes
                outcome = answers.pop(0)
    except StopIteration as stop:
        seen.append(stop.value)
    return seen


def test_protocol_reserves_on_the_store_before_every_attempt():
    now, store = [100.0], FakeStore()
    store.next_free = 100.5  # another process holds the next half second
    limiter = SharedLimiter(5, STORE)
    seen = drive(make_protocol(limiter, now), [OK], store, now)
    assert isinstance(seen[0], Reserve)
    assert seen[1] == Wait(pytest.approx(0.5), rate_limit=True)
    assert isinstance(seen[2], Send)
    assert seen[-1] == [{"chainIndex": "1"}]


def test_protocol_retries_a_429_slower_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_okx")
    now, store = [0.0], FakeStore()
    limiter = SharedLimiter(5, STORE)
    protocol = make_protocol(limiter, now)
    seen = drive(protocol, [LIMITED, LIMITED, OK], store, now)
    reserves = [step for step in seen if isinstance(step, Reserve)]
    assert len(reserves) == 3  # every attempt reserves anew
    assert reserves[1].interval > reserves[0].interval  # slowed down
    assert seen[-1] == [{"chainIndex": "1"}]
    hints = [r for r in caplog.records if "Likely cause" in r.getMessage()]
    assert len(hints) == 1
    drive(protocol, [LIMITED, OK], store, now)
    assert len([r for r in caplog.records if "Likely cause" in r.getMessage()]) == 1


def test_protocol_paces_alone_when_the_store_fails():
    now, store = [0.0], FakeStore()
    store.up = False
    limiter = SharedLimiter(4, STORE)
    protocol = make_protocol(limiter, now)
    drive(protocol, [OK], store, now)
    seen = drive(protocol, [OK], store, now)
    # back-off not over: no Reserve, a local wait of 1 / (K / 4) = 1 s
    assert not any(isinstance(step, Reserve) for step in seen)
    assert seen[0] == Wait(pytest.approx(1.0), rate_limit=True)


def test_429_is_rethrown_typed_after_max_retries():
    now, store = [0.0], FakeStore()
    protocol = make_protocol(SharedLimiter(5, STORE), now)
    with pytest.raises(OkxRateLimitError):
        drive(protocol, [LIMITED] * 4, store, now)


def test_rate_limited_answers_are_retried_past_max_retries_within_the_call_deadline():
    now, store = [0.0], FakeStore()
    protocol = OkxProtocol(
        Credentials("k", "s", "p"),
        "https://okx.test",
        retry=RetryPolicy(max_retries=1, rate_limit_deadline=20.0),
        limiter=SharedLimiter(5, STORE),
        clock=ClockOffset(),
        wall_time=lambda: 1_700_000_000.0 + now[0],
        monotonic=lambda: now[0],
        rng=random.Random(2),
    )
    with pytest.raises(OkxRateLimitError):
        drive(protocol, [LIMITED] * 50, store, now, send_takes=2.0)
    # slow answers (2 s each) count against the deadline too: it gave up within it
    assert now[0] <= 20.0 + 2.0


def test_a_rate_limited_call_that_a_slower_pace_completes_succeeds():
    now, store = [0.0], FakeStore()
    protocol = OkxProtocol(
        Credentials("k", "s", "p"),
        "https://okx.test",
        retry=RetryPolicy(max_retries=1, rate_limit_deadline=60.0),
        limiter=SharedLimiter(5, STORE),
        clock=ClockOffset(),
        wall_time=lambda: 1_700_000_000.0 + now[0],
        monotonic=lambda: now[0],
        rng=random.Random(2),
    )
    seen = drive(protocol, [LIMITED, LIMITED, LIMITED, OK], store, now)
    assert seen[-1] == [{"chainIndex": "1"}]  # 3 refusals, max_retries=1: still completed
