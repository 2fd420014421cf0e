"""Progress of long work: counts, rate, ETA, and when to say so (pure: the clock is given).

The balances fan-out (hook), the SQL loader and the treasury report log a line at INFO at
least every :data:`EVERY` seconds while they run, and one summary line at the end; nothing per
request. This module only counts and words the lines: the caller owns the logger and the
clock (``time.monotonic`` in production, a list of instants in tests), so no test sleeps.

Thread-safe: the fan-out's worker threads count retries and waits while the calling thread
counts finished requests and asks :meth:`Progress.due`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

EVERY = 10.0
"""Seconds between two progress lines, at most (the caller also logs when nothing finished)."""


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Counts of one piece of long work.

    :param what: what ``total`` counts, plural (``"wallets"``, ``"rows"``).
    :param total: units of work (wallets, rows); the ETA is from the rate of these.
    :param clock: monotonic seconds.
    :param requests: HTTP requests planned, if the work sends any (``None``: it sends none).
    :param every: seconds between two progress lines.
    """

    def __init__(
        self,
        what: str,
        total: int,
        clock: Callable[[], float],
        *,
        requests: int | None = None,
        every: float = EVERY,
    ) -> None:
        if total < 0 or (requests is not None and requests < 0):
            raise ValueError("a negative amount of work")
        if every <= 0:
            raise ValueError("every must be positive")
        self.what = what
        self.total = total
        self.requests_total = requests
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self.done = 0
        self.requests = 0
        self.retries = 0
        self.rate_limited_waits = 0
        self.waited = 0.0
        """Seconds spent waiting for the rate limit."""
        self.started = clock()
        self._last = self.started

    # --- counting (any thread) ---------------------------------------------------------------

    def advance(self, units: int = 1) -> None:
        """``units`` of the total are finished."""
        with self._lock:
            self.done += units

    def request_done(self) -> None:
        """One planned request is answered (after its retries)."""
        with self._lock:
            self.requests += 1

    def retried(self) -> None:
        """A request is sent again (a transient error, a refused timestamp)."""
        with self._lock:
            self.retries += 1

    def rate_limited(self, seconds: float) -> None:
        """A request waits ``seconds`` for the key's rate limit before it is sent."""
        with self._lock:
            self.rate_limited_waits += 1
            self.waited += max(0.0, seconds)

    # --- reporting ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return max(0.0, self._clock() - self.started)

    def took(self) -> str:
        """The time since the start, in words (``3 min 05 s``)."""
        return format_duration(self.elapsed())

    def eta(self) -> float | None:
        """Seconds left at the rate so far; ``None`` before any unit is done (no rate yet)."""
        elapsed = self.elapsed()
        if self.done <= 0 or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / self.done

    def seconds_to_next(self) -> float:
        """How long until the next line is due (0: now); a waiting caller wakes up then."""
        return max(0.0, self._last + self.every - self._clock())

    def due(self) -> bool:
        """Whether a progress line is due (``every`` seconds since the start or the last
        line); if so, the next one is counted from now."""
        now = self._clock()
        if now - self._last < self.every or self.done >= self.total:
            return False
        self._last = now
        return True

    def _counts(self) -> list[str]:
        if self.requests_total is None:  # no HTTP: no requests, retries or waits to tell
            return []
        return [
            f"{self.requests}/{self.requests_total} requests",
            f"{self.retries} {'retry' if self.retries == 1 else 'retries'}",
            f"{self.rate_limited_waits} rate-limited waits ({self.waited:.1f} s)",
        ]

    def line(self) -> str:
        """The progress line: ``12/100 wallets (12%), 36/300 requests, 1 retry, 4 rate-limited
        waits (2.0 s); 1.2 wallets/s, ETA 1 min 13 s``."""
        with self._lock:
            share = f" ({self.done * 100 // self.total}%)" if self.total else ""
            head = f"{self.done}/{self.total} {self.what}{share}"
            elapsed = self.elapsed()
            rate = f"{self.done / elapsed:.3g} {self.what}/s" if elapsed > 0 else f"0 {self.what}/s"
            eta = self.eta()
            tail = f"ETA {format_duration(eta)}" if eta is not None else "ETA unknown (none done yet)"
            return f"{', '.join([head, *self._counts()])}; {rate}, {tail}"

    def summary(self) -> str:
        """The closing line: ``100/100 wallets in 1 min 23 s, 300/300 requests, 2 retries,
        0 rate-limited waits (0.0 s)``."""
        with self._lock:
            head = f"{self.done}/{self.total} {self.what} in {format_duration(self.elapsed())}"
            return ", ".join([head, *self._counts()])
