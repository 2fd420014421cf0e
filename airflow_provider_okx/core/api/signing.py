"""OKX request signing: the one place a signature is made.

``signature = base64(hmac_sha256(secret_key, timestamp + METHOD + requestPath + body))`` where
``requestPath`` carries the query string exactly as it goes on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00")
"""The last whole second formatted, and its text (swapped whole: safe across threads)."""


def format_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``: ``2020-12-08T09:08:57.715Z``."""
    global _last_second
    millis = int(epoch_seconds * 1000)
    seconds, ms = divmod(millis, 1000)
    last = _last_second
    if last[0] != seconds:  # strftime once a second, not once a request
        last = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{ms:03d}Z"


def prehash(timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """The string OKX signs. GET: path with ``?query`` and no body; POST: bare path and body."""
    return f"{timestamp}{method.upper()}{request_path}{body}"


@dataclass(frozen=True)
class Credentials:
    """An OKX API key with its secret and passphrase. ``repr`` shows only the key's tail."""

    api_key: str
    secret_key: str = field(repr=False)
    passphrase: str = field(repr=False)
    project_id: str | None = None

    def __post_init__(self) -> None:
        # One HMAC keyed once; each signature copies it (cheaper than re-keying).
        object.__setattr__(self, "_mac", hmac.new(self.secret_key.encode(), digestmod=hashlib.sha256))

    def __repr__(self) -> str:
        tail = self.api_key[-4:] if len(self.api_key) > 8 else ""
        return f"Credentials(api_key='***{tail}', project_id={self.project_id!r})"

    def sign(self, message: str) -> str:
        """``base64(hmac_sha256(secret_key, message))``."""
        mac = self._mac.copy()  # type: ignore[attr-defined]
        mac.update(message.encode())
        return base64.b64encode(mac.digest()).decode()

    def headers(self, timestamp: str, method: str, request_path: str, body: str = "") -> dict[str, str]:
        """The signed headers for one request."""
        headers = {
            "OK-ACCESS-KEY": self.api_key,
            "OK-ACCESS-SIGN": self.sign(prehash(timestamp, method, request_path, body)),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": self.passphrase,
            "Content-Type": "application/json",
        }
        if self.project_id:
            headers["OK-ACCESS-PROJECT"] = self.project_id
        return headers
