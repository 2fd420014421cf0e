"""Clock offset: the difference between OKX's clock and ours, learnt from ``Date`` headers."""

from __future__ import annotations

import threading
from email.utils import parsedate_to_datetime


def parse_http_date(value: str | None) -> float | None:
    """Epoch seconds from an RFC 7231 ``Date`` header, or ``None`` if absent or unreadable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class ClockOffset:
    """Seconds to add to the local clock to get OKX's. Thread-safe; starts at zero.

    ``Date`` has a one-second resolution, so after a resync the offset is right to within a
    second: far inside OKX's timestamp window.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self, local_time: float) -> float:
        return local_time + self._offset

    def resync(self, server_time: float, local_time: float) -> float:
        """Adopt ``server_time`` (seen at ``local_time``) as the truth; return the new offset.

        The ``Date`` header truncates to the second, so half a second is added to centre it.
        """
        with self._lock:
            self._offset = (server_time + 0.5) - local_time
            return self._offset
