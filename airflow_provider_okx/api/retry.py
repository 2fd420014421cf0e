"""The retry policy, in one screen.

Retried, with exponential backoff and full jitter (``Retry-After`` wins when OKX sends it):
rate limits (HTTP 429 / 50011), OKX unavailable (5xx, 50001, 50026, 81159, 81451, an
unreadable body), timeouts and connection errors. Never retried: authentication and
parameter errors. A refused timestamp (50102/50112) resyncs the clock from the response's
``Date`` header and is retried once, immediately.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from airflow_provider_okx.api.errors import (
    OkxClockSkewError,
    OkxError,
    OkxRateLimitError,
    OkxTransportError,
    OkxUnavailableError,
)

RETRYABLE = (OkxRateLimitError, OkxUnavailableError, OkxTransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying a failed request again."""

    max_retries: int = 5
    base_delay: float = 0.5
    """Backoff before the first retry; doubles each time."""
    max_delay: float = 30.0
    """No wait is longer than this, whatever ``Retry-After`` says."""

    def delay(self, attempt: int, error: OkxError, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

        :param attempt: how many retries were already made for this request (0 for the first
            failure).
        """
        if not isinstance(error, RETRYABLE) or attempt >= self.max_retries:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        # "Full jitter" on the upper half: grows with each attempt, never synchronises workers.
        return ceiling / 2 + (rng or random).random() * ceiling / 2

    @staticmethod
    def should_resync(error: OkxError, resynced: bool) -> bool:
        """A refused timestamp with a usable ``Date`` earns one resync per request."""
        return isinstance(error, OkxClockSkewError) and error.server_time is not None and not resynced
