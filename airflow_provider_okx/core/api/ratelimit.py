"""Client-side rate limit, sans-IO: when may the next request start?

Every piece here takes the current time as an argument and never reads a clock or sleeps, so
it is tested with a controlled clock. The protocol asks its limiter before every attempt
(:meth:`plan`): the answer is either a number of seconds to wait, or a :class:`Reserve` step
the transport answers by reserving a slot on the shared store (one round trip, see
:mod:`airflow_provider_okx.hooks.rate_store`), handed back through :meth:`settle`.

- :func:`next_slot` is the one scheduling rule, GCRA's "virtual scheduling": a caller gets
  the next free slot, ``max(now, next)``, and moves ``next`` on by one interval. Callers are
  served in arrival order (FIFO, nobody starves) and no one-second window ever holds more
  than ``1 / interval`` starts. The store's Lua script applies the same rule on the server,
  with the server's clock.
- :class:`Aimd` slows a process down when OKX answers 429 / 50011: the pace is halved (one
  decrease per :attr:`Aimd.HOLD` seconds, so one burst of refusals counts once) and recovers
  linearly to the full rate.
- :class:`RateLimiter`: this process alone, spaced at ``rate_limit_rps`` (no store).
- :class:`SharedLimiter`: the key's whole budget on a store, paced at ``(1 - HEADROOM)`` of
  the rate; while the store fails, this process alone at :data:`FALLBACK_SHARE` of the rate,
  trying the store again after a growing back-off.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger("airflow_provider_okx")

HEADROOM = 0.10
"""Share of the key's rate left unused by the shared budget. A reserved slot is the moment a
process may send; the request reaches OKX a little later (the process wakes late on a busy
machine, then signs and sends). Two requests whose senders woke late by different amounts
arrive closer than one interval, so a window at the server can catch one request too many.
At 90 % of the rate, ``K`` slots span 1.11 s: up to 111 ms of difference in lateness within a
second is absorbed. Measured (figure 7 of the benchmark, 8 processes on 2 busy cores): worst
wake-up lateness 28 to 46 ms, p99 5 to 10 ms; 5 % (52 ms) left the busiest second at exactly
``K`` with no margin (docs/rate-limits.md)."""

FALLBACK_SHARE = 0.25
"""While the store does not answer, each process paces itself alone at this share of
``rate_limit_rps`` (at least :data:`MIN_FALLBACK_RPS`): four processes falling back together
stay within the key's rate, more will meet a few 429s, which slow them down further."""

MIN_FALLBACK_RPS = 0.1
"""No process falls back below one request every ten seconds."""

STORE_RETRY_MIN = 1.0
STORE_RETRY_MAX = 30.0
"""Seconds before the store is tried again after a failure: doubling from the first to the
second on every failure in a row."""


def next_slot(next_free: float, now: float, interval: float) -> tuple[float, float]:
    """GCRA's next free slot: ``(seconds to wait, the new next free slot)``.

    The store's Lua script (``hooks/rate_store.py``) is this function in microseconds.
    """
    slot = max(now, next_free)
    return slot - now, slot + interval


@dataclass(frozen=True)
class Reserve:
    """Reserve the next slot on the shared store, ``interval`` seconds after the last one.

    The transport sends back :class:`Reserved` or :class:`StoreFailed`, never raises.
    """

    interval: float


@dataclass(frozen=True)
class Reserved:
    """The store's answer: wait this many seconds (from now) before sending."""

    wait: float


@dataclass(frozen=True)
class StoreFailed:
    """The store did not answer in time, or answered an error. ``reason`` holds no password."""

    reason: str


class Aimd:
    """Additive increase, multiplicative decrease of a process's pace, as a factor of its rate.

    A 429 multiplies the factor by :attr:`DECREASE` (not below :attr:`FLOOR`); it then grows
    back by :attr:`RECOVERY` per second, to 1. Computed from the time of the last decrease, so
    it needs no timer and no call on success.
    """

    DECREASE = 0.5
    FLOOR = 1 / 16
    RECOVERY = 0.05
    """Share of the full rate regained per second: from half the rate back to all of it in
    10 s without another 429."""
    HOLD = 1.0
    """Seconds after a decrease during which further 429s (of the same burst) do not decrease
    again."""

    def __init__(self) -> None:
        self._base = 1.0
        self._at: float | None = None

    def factor(self, now: float) -> float:
        if self._at is None:
            return 1.0
        return min(1.0, self._base + max(0.0, now - self._at) * self.RECOVERY)

    def decrease(self, now: float) -> bool:
        """One 429 seen at ``now``; ``True`` when it slowed the pace (not held)."""
        if self._at is not None and now - self._at < self.HOLD:
            return False
        self._base = max(self.FLOOR, self.factor(now) * self.DECREASE)
        self._at = now
        return True


def _rate_limited_hint(shared: bool) -> str:
    if shared:
        cause = (
            "rate_limit_rps is above the key's tier, or clients of this API key do not use "
            "the same rate_limit_store (another connection, another tool)"
        )
        fix = "set rate_limit_rps to the key's rate and give every client of the key the same store"
    else:
        cause = (
            "rate_limit_rps is above the key's tier, or other processes (tasks, the triggerer, "
            "other workers) send with the same API key"
        )
        fix = (
            "set the connection extra rate_limit_store (a Redis URL) for one budget across every "
            "process, or give the okx_api pool floor(K / R) slots counting the triggerer"
        )
    return (
        f"OKX refused a request as over the key's rate (HTTP 429 / 50011); this process slows "
        f"down and recovers gradually. Likely cause: {cause}. Fix: {fix} (docs/rate-limits.md)."
    )


class RateLimiter:
    """This process's pace for one key: starts spaced ``1 / rate`` apart, slowed by 429s.

    Thread-safe; ``rate`` 0 = unlimited. Spacing (a token bucket of depth one) means no
    one-second window ever holds more than ``rate`` starts.
    """

    shared = False

    def __init__(self, rate: float) -> None:
        if rate < 0:
            raise ValueError(f"rate_limit_rps must be >= 0, got {rate}")
        self.rate = rate
        self.aimd = Aimd()
        self._next = 0.0
        self._lock = threading.Lock()
        self._warned = False

    def interval(self, now: float) -> float:
        """Seconds between two starts of this process now (0: unlimited)."""
        return 1.0 / (self.rate * self.aimd.factor(now)) if self.rate else 0.0

    def reserve(self, now: float) -> float:
        """Claim the next slot; return seconds to wait (0 if it is free now)."""
        if not self.rate:
            return 0.0
        with self._lock:
            wait, self._next = next_slot(self._next, now, self.interval(now))
            return wait

    def plan(self, now: float) -> float | Reserve:
        """What to do before the next attempt: wait this long (or reserve on the store)."""
        return self.reserve(now)

    def settle(self, answer: object, now: float) -> float:
        """Seconds to wait after the transport answered a :class:`Reserve` (never asked here)."""
        raise TypeError("a local rate limiter asks no store")

    def rate_limited(self, now: float) -> str | None:
        """OKX answered 429 / 50011: slow down. The WARNING to log, the first time only."""
        with self._lock:
            self.aimd.decrease(now)
            if self._warned:
                return None
            self._warned = True
        return _rate_limited_hint(self.shared)


class SharedLimiter(RateLimiter):
    """The key's whole budget, reserved on a store by every process that uses the key.

    :param rate: ``rate_limit_rps``: the key's rate, for all processes together.
    :param store: how the store is named in log lines (its URL without the password).
    :param headroom: share of the rate left unused for wake-up jitter (:data:`HEADROOM`).

    While the store answers, :meth:`plan` asks for a :class:`Reserve` at the shared interval
    (this process's 429 slow-down included). When it fails, this process paces itself alone
    at :data:`FALLBACK_SHARE` of the rate, logs one WARNING (per process and key), and asks
    the store again after :data:`STORE_RETRY_MIN` seconds, doubling to :data:`STORE_RETRY_MAX`
    while it keeps failing; the first answer brings the shared budget back.
    """

    shared = True

    def __init__(self, rate: float, store: str, *, headroom: float = HEADROOM) -> None:
        super().__init__(rate)
        if not 0 <= headroom < 1:
            raise ValueError(f"headroom must be in [0, 1), got {headroom}")
        self.store = store
        self.headroom = headroom
        self.fallback_rate = max(rate * FALLBACK_SHARE, min(rate, MIN_FALLBACK_RPS))
        self._failures = 0
        self._retry_at: float | None = None
        self._warned_store = False

    @property
    def degraded(self) -> bool:
        """Whether this process paces itself alone because the store failed."""
        return self._retry_at is not None

    def interval(self, now: float) -> float:
        """Seconds between two starts of the whole key (0: unlimited)."""
        if not self.rate:
            return 0.0
        return 1.0 / (self.rate * (1.0 - self.headroom) * self.aimd.factor(now))

    def _fallback(self, now: float) -> float:
        wait, self._next = next_slot(self._next, now, 1.0 / (self.fallback_rate * self.aimd.factor(now)))
        return wait

    def plan(self, now: float) -> float | Reserve:
        if not self.rate:
            return 0.0
        with self._lock:
            if self._retry_at is not None and now < self._retry_at:
                return self._fallback(now)
            return Reserve(self.interval(now))

    def settle(self, answer: object, now: float) -> float:
        """The store's answer to :class:`Reserve`: seconds to wait before sending."""
        if isinstance(answer, Reserved):
            with self._lock:
                recovered = self._retry_at is not None
                self._failures = 0
                self._retry_at = None
            if recovered:
                log.info("Rate-limit store %s answers again: back on the shared budget", self.store)
            return max(0.0, answer.wait)
        reason = answer.reason if isinstance(answer, StoreFailed) else f"unexpected answer {answer!r}"
        with self._lock:
            self._failures += 1
            backoff = min(STORE_RETRY_MAX, STORE_RETRY_MIN * 2 ** (self._failures - 1))
            self._retry_at = now + backoff
            first = not self._warned_store
            self._warned_store = True
            wait = self._fallback(now)
        if first:
            log.warning(
                "Rate-limit store %s did not answer (%s): this process paces itself alone at "
                "%.3g requests/s (%d%% of rate_limit_rps=%g) until the store answers again; "
                "it is retried after a back-off of %g to %g s. This warning is logged once per process.",
                self.store,
                reason,
                self.fallback_rate,
                round(100 * self.fallback_rate / self.rate),
                self.rate,
                STORE_RETRY_MIN,
                STORE_RETRY_MAX,
            )
        else:
            log.debug("Rate-limit store %s failed again (%s); next try in %g s", self.store, reason, backoff)
        return wait
