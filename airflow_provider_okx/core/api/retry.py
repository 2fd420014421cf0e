"""The retry policy, in one screen.

Retried, with exponential backoff and equal jitter (``Retry-After`` wins when OKX sends it):
rate limits (HTTP 429 / 50011), OKX unavailable (5xx, 50001, 50026, 81159, 81451, an
unreadable body, a success whose shape is not OKX's), timeouts and connection errors. Never
retried: authentication, permission and parameter errors, an endpoint OKX reports offline
(50005/410), a redirect, an answer over the size cap. A refused timestamp (50102/50112)
resyncs the clock from the response's ``Date`` header and is retried once, immediately.

A rate-limited answer is a signal to slow down, not a failure: past ``max_retries`` it is still
retried while the call stays within its total deadline (``rate_limit_deadline``: the
connection's ``timeout`` x (``max_retries`` + 1)), so a pace that had to slow down (see
:class:`~airflow_provider_okx.core.api.ratelimit.Aimd`) does not by itself fail the call.
``max_retries = 0`` still means no retry at all.

``Retry-After`` is read in one place, :func:`parse_retry_after`, for both transports: a
number of seconds or an HTTP date, finite, clamped to ``[0, max_delay]``; anything else
(``NaN``, ``inf``, garbage) counts as absent.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from airflow_provider_okx.core.api.errors import (
    OkxClockSkewError,
    OkxError,
    OkxRateLimitError,
    OkxTransportError,
    OkxUnavailableError,
)

RETRYABLE = (OkxRateLimitError, OkxUnavailableError, OkxTransportError)

_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)


def parse_retry_after(
    value: str | None, *, server_time: float | None = None, now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when absent or unreadable.

    Two forms (RFC 9110): delta-seconds (``"3"``; a fraction is tolerated, a negative value
    means "now") and an HTTP date, converted against the response's ``Date`` (``server_time``)
    or, without one, the local clock (``now``). The result is finite and >= 0; the policy caps
    it at :attr:`RetryPolicy.max_delay`. ``NaN``, ``inf``, hex and other garbage are absent.
    """
    if not value:
        return None
    text = value.strip()
    if len(text) > 64:
        return None
    if _SECONDS.fullmatch(text):
        return max(float(text), 0.0)
    try:
        moment = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    reference = server_time if server_time is not None else now
    if reference is None or not math.isfinite(moment):
        return None
    return max(moment - reference, 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying a failed request again."""

    max_retries: int = 5
    base_delay: float = 0.5
    """Backoff before the first retry; doubles each time."""
    max_delay: float = 30.0
    """No wait is longer than this, whatever ``Retry-After`` says."""
    rate_limit_deadline: float | None = None
    """Seconds from a call's start within which rate-limited answers are retried past
    ``max_retries`` (``None``: ``max_retries`` alone)."""

    def delay(
        self, attempt: int, error: OkxError, rng: random.Random | None = None, elapsed: float = 0.0
    ) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

        :param attempt: how many retries were already made for this request (0 for the first
            failure).
        :param elapsed: seconds since the call started (waits included).
        """
        if not isinstance(error, RETRYABLE) or not self.max_retries:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and math.isfinite(retry_after):
            wait = min(max(retry_after, 0.0), self.max_delay)
        else:
            ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt, 32)))
            # "Equal jitter": half the ceiling fixed, half random. Grows with each attempt (never
            # below half the ceiling) and never synchronises workers.
            wait = ceiling / 2 + (rng or random).random() * ceiling / 2
        if attempt < self.max_retries:
            return wait
        if (
            isinstance(error, OkxRateLimitError)
            and self.rate_limit_deadline is not None
            and elapsed + max(wait, self.base_delay) <= self.rate_limit_deadline
        ):
            return max(wait, self.base_delay)  # never a tight loop on "Retry-After: 0"
        return None

    @staticmethod
    def should_resync(error: OkxError, resynced: bool) -> bool:
        """A refused timestamp with a usable ``Date`` earns one resync per request."""
        return isinstance(error, OkxClockSkewError) and error.server_time is not None and not resynced
