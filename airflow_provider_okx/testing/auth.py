"""Request authentication exactly as OKX checks it, and the per-key rate limit.

Signatures are verified here with :mod:`hmac` on the raw bytes received, independently of
the provider's own signing code, so a signing bug in the client fails the tests instead of
being mirrored by the simulator.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
"""The only timestamp shape OKX accepts: ISO 8601 UTC with milliseconds and ``Z``."""

# Header, OKX code when it is missing or empty, in the order they are checked.
REQUIRED_HEADERS: tuple[tuple[str, str], ...] = (
    ("OK-ACCESS-KEY", "50103"),
    ("OK-ACCESS-SIGN", "50106"),
    ("OK-ACCESS-TIMESTAMP", "50107"),
    ("OK-ACCESS-PASSPHRASE", "50104"),
)


@dataclass(frozen=True)
class ApiKey:
    """One API key the simulator accepts. ``repr`` hides the secret and the passphrase."""

    api_key: str
    secret_key: str
    passphrase: str

    def __repr__(self) -> str:
        return f"ApiKey(api_key={self.api_key!r}, secret_key='***', passphrase='***')"


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: HTTP status, OKX code and message (never a secret)."""

    status: int
    code: str
    msg: str


def sign(secret_key: str, prehash: bytes) -> str:
    """``base64(hmac_sha256(secret_key_utf8, prehash))``: what OKX expects in OK-ACCESS-SIGN."""
    digest = hmac.new(secret_key.encode("utf-8"), prehash, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def prehash(timestamp: str, method: str, target: str, path: str, body: bytes) -> bytes:
    """The bytes OKX signs: ``timestamp + METHOD + requestPath + body``.

    For GET the request path is the request target exactly as received on the wire (path and
    query, byte for byte; ``http.server`` hands it over as latin-1 text, so encoding it back as
    latin-1 restores the original bytes) and the body is empty. For every other method the
    request path is the bare path and the body is the raw body received.
    """
    method = method.upper()
    if method == "GET":
        return timestamp.encode("utf-8") + b"GET" + target.encode("latin-1")
    return timestamp.encode("utf-8") + method.encode("ascii") + path.encode("latin-1") + body


def parse_timestamp(value: str) -> float | None:
    """Seconds since the epoch for a well-formed OKX timestamp, ``None`` otherwise."""
    if not TIMESTAMP_RE.match(value):
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1_000_000


def check_request(
    headers: Mapping[str, str],
    method: str,
    target: str,
    path: str,
    body: bytes,
    keys: Mapping[str, ApiKey],
    server_time: float,
    timestamp_window: float,
) -> AuthFailure | None:
    """Check a request's OK-ACCESS-* headers the way OKX does; ``None`` when it passes.

    Order: every header present, key known, passphrase, timestamp format, timestamp window,
    signature. ``headers`` maps lower-cased header names to their values.
    """
    values: dict[str, str] = {}
    for name, code in REQUIRED_HEADERS:
        value = headers.get(name.lower())
        if not value:
            return AuthFailure(401, code, f"{name} header is required")
        values[name] = value
    key = keys.get(values["OK-ACCESS-KEY"])
    if key is None:
        return AuthFailure(401, "50111", "Invalid OK-ACCESS-KEY")
    if not hmac.compare_digest(
        values["OK-ACCESS-PASSPHRASE"].encode("utf-8", "surrogateescape"),
        key.passphrase.encode("utf-8"),
    ):
        return AuthFailure(401, "50105", "Invalid OK-ACCESS-PASSPHRASE")
    timestamp = values["OK-ACCESS-TIMESTAMP"]
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        return AuthFailure(401, "50112", "Invalid OK-ACCESS-TIMESTAMP")
    if abs(sent_at - server_time) > timestamp_window:
        return AuthFailure(401, "50102", "Timestamp request expired")
    expected = sign(key.secret_key, prehash(timestamp, method, target, path, body))
    if not hmac.compare_digest(
        values["OK-ACCESS-SIGN"].encode("utf-8", "surrogateescape"), expected.encode("ascii")
    ):
        return AuthFailure(401, "50113", "Invalid Sign")
    return None


class RateLimiter:
    """A token bucket per API key: capacity ``rps`` (at least 1), refilled ``rps`` per second.

    A client that spaces its requests ``1/rps`` apart is never refused: arrival jitter of up
    to :attr:`JITTER` seconds is tolerated. The rate is read on every call, so changing it at
    runtime takes effect at once.
    """

    JITTER = 0.01

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def allow(self, api_key: str, rps: float | None, now: float | None = None) -> bool:
        """Take one token from ``api_key``'s bucket; ``False`` when it is empty."""
        if rps is None:
            return True
        if rps <= 0:
            return False
        now = time.monotonic() if now is None else now
        capacity = max(float(rps), 1.0)
        with self._lock:
            tokens, last = self._buckets.get(api_key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rps)
            slack = min(0.5, rps * self.JITTER)
            if tokens + slack >= 1.0:
                self._buckets[api_key] = (tokens - 1.0, now)
                return True
            self._buckets[api_key] = (tokens, now)
            return False

    def reset(self) -> None:
        """Forget every bucket (they start full again)."""
        with self._lock:
            self._buckets.clear()
