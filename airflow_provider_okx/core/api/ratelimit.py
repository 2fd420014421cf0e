"""Client-side rate limit: request starts spaced at least ``1 / rate`` seconds apart.

Sans-IO: :meth:`RateLimiter.reserve` takes the current time and returns how long the caller
must wait before sending; the sync transport sleeps, the async one awaits. Spacing (a token
bucket of depth one) means no one-second window ever holds more than ``rate`` starts, so a
server-side bucket of ``rate`` per second never refuses us.
"""

from __future__ import annotations

import threading


class RateLimiter:
    """Reserves send slots at most ``rate`` per second. Thread-safe; ``rate`` 0 = unlimited."""

    def __init__(self, rate: float) -> None:
        if rate < 0:
            raise ValueError(f"rate_limit_rps must be >= 0, got {rate}")
        self.rate = rate
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        """Claim the next slot; return seconds to wait (0 if it is free now)."""
        if not self._interval:
            return 0.0
        with self._lock:
            slot = max(now, self._next)
            self._next = slot + self._interval
            return slot - now
