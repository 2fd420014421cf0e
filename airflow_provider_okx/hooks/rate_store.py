"""The shared rate budget's store: one Redis key per (host, API key), reserved by a Lua script.

Every process that uses one API key against one host (task processes on any worker, the
triggerer, users' own code; sync and async) reserves its send slots here, so
``rate_limit_rps`` is the whole key's budget. The scheduling rule is
:func:`~airflow_provider_okx.core.api.ratelimit.next_slot` (GCRA's virtual scheduling), run
on the server by :data:`RESERVE_SCRIPT`:

- **atomic, one round trip**: the script reads the key's next free slot, moves it on by the
  caller's interval and answers how long to wait, in one ``EVALSHA`` (Redis runs scripts one
  at a time). ``redis-py``'s ``Script`` re-sends the source once when a restarted server has
  forgotten it.
- **the store's clock**: the script reads Redis ``TIME``; workers' clocks are never compared
  (each only sleeps the answered number of microseconds on its own monotonic clock).
- **FIFO-fair**: each caller gets the next slot in the order its reservation reached the
  server; nobody starves, however many processes ask.
- **expiring**: the key lives one second past its last reserved slot, so an idle key costs
  nothing and a key evicted or lost in a restart simply starts again at "now".

Why a script and not the ``limits`` library: ``limits`` counts requests in windows (fixed or
moving) and answers "allowed or not" (and, for the moving window, when to try again), which
makes callers poll and lets a burst through at a window's edge; the budget here must hand
out evenly spaced slots in arrival order, which is six lines of Lua over one key, with no
dependency beyond ``redis`` itself.

The key's name is a hash of the base URL and the API key: the secret key and passphrase
never reach the store. The store's password (in its URL) is masked by the hook and never
logged: log lines name the store by :func:`redacted`.

``redis`` (and ``redis.asyncio``) are imported on the first reservation, never at DAG parse
time. Failures are answers, never exceptions: :class:`StoreFailed` sends the limiter to its
fallback (see :class:`~airflow_provider_okx.core.api.ratelimit.SharedLimiter`).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import sys
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_okx.core.api.ratelimit import Reserve, Reserved, StoreFailed
from airflow_provider_okx.hooks.loop_local import LoopLocal

SOCKET_TIMEOUT = 0.25
"""Seconds to connect to the store, and to wait for one answer: a slow store sends this
process to its fallback pace instead of holding its requests."""

KEY_PREFIX = "airflow-provider-okx:rate:"
ASYNC_CONNECTIONS = 8
"""Connections to the store per event loop."""
ASYNC_POOL_WAIT = 1.0
"""Seconds a reservation may wait for one of them (then it counts as a store failure)."""
ROUND_TRIPS_KEPT = 100_000

RESERVE_SCRIPT = """
-- KEYS[1]: the key's next free slot (microseconds, store clock); ARGV[1]: interval (us).
-- Returns the microseconds to wait before sending. Mirrors ratelimit.next_slot.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]))
if slot == nil or slot < now then slot = now end
local after = slot + interval
local ttl_ms = math.floor((after - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', string.format('%d', ttl_ms))
return slot - now
"""


def budget_key(base_url: str, api_key: str) -> str:
    """The store key of one API key on one host: a hash, so the key itself is not readable
    there either (never the secret or the passphrase)."""
    digest = hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:32]
    return KEY_PREFIX + digest


def redacted(url: str) -> str:
    """``url`` with its password (and nothing else) replaced by ``***``, for log lines."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<a malformed store URL>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _reason(exc: BaseException, password: str | None) -> str:
    if isinstance(exc, ImportError):
        return "the redis client is not installed here: pip install 'airflow-provider-okx[redis]'"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if password:
        text = text.replace(password, "***")
    return text[:300]


def _client_options() -> dict[str, Any]:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        # One immediate retry: a pooled connection the server dropped (a restart) reconnects
        # at once; a store that is down is not asked over and over.
        "retry": Retry(NoBackoff(), 1),
        "retry_on_timeout": False,
    }


class RateStore:
    """One store URL and one key's budget on it; safe to share across threads and loops.

    :param url: ``redis://`` or ``rediss://`` URL (checked when the connection is read).
    :param key: :func:`budget_key` of the API key and host.
    """

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.name = redacted(url)
        try:
            self._password = urlsplit(url).password
        except ValueError:
            self._password = None
        self._lock = threading.Lock()
        self._sync: Any = None
        self._async: LoopLocal[Any] = LoopLocal(self._make_async, _close_async)
        self.round_trips: deque[float] = deque(maxlen=ROUND_TRIPS_KEPT)
        """Seconds each recent reservation took (the store's round trip and its script): what
        the shared budget adds to a request. Diagnostics; figure 7 of the benchmark reads it."""

    def __repr__(self) -> str:
        return f"RateStore({self.name!r})"

    # --- sync ----------------------------------------------------------------------------

    def _script(self) -> Any:
        """The sync client's script, built once (threads of one hook may race to it)."""
        script = self._sync
        if script is None:
            with self._lock:
                if self._sync is None:
                    import redis

                    client = redis.Redis.from_url(self.url, **_client_options())
                    self._sync = client.register_script(RESERVE_SCRIPT)
                script = self._sync
        return script

    def reserve(self, step: Reserve) -> Reserved | StoreFailed:
        """Reserve the next slot ``step.interval`` after the last; never raises."""
        started = time.perf_counter()
        try:
            micros = self._script()(keys=[self.key], args=[_micros(step.interval)])
        except Exception as exc:  # the store failing must never fail a request
            return StoreFailed(_reason(exc, self._password))
        self.round_trips.append(time.perf_counter() - started)
        return Reserved(int(micros) / 1e6)

    def ping(self) -> tuple[bool, str]:
        """Whether the store answers and runs the script, and how fast (``test_connection``).

        Reserves nothing: ``PING`` and ``SCRIPT LOAD`` (which a user without scripting
        permissions is refused).
        """
        try:
            import redis
        except ImportError as exc:
            return False, f"rate_limit_store {self.name}: {_reason(exc, self._password)}"
        client = redis.Redis.from_url(self.url, **_client_options())
        started = time.perf_counter()
        try:
            client.ping()
            client.script_load(RESERVE_SCRIPT)
        except Exception as exc:
            return False, f"rate_limit_store {self.name} did not answer: {_reason(exc, self._password)}"
        finally:
            client.close()
        took = (time.perf_counter() - started) * 1000
        return True, f"rate_limit_store {self.name} answered in {took:.1f} ms"

    # --- async ---------------------------------------------------------------------------

    def _make_async(self) -> Any:
        import redis.asyncio

        # A few connections for the whole loop: a triggerer's thousand sensors reserve through
        # them in turn (a reservation takes well under a millisecond) instead of opening one
        # connection each.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url, max_connections=ASYNC_CONNECTIONS, timeout=ASYNC_POOL_WAIT, **_client_options()
        )
        return redis.asyncio.Redis(connection_pool=pool).register_script(RESERVE_SCRIPT)

    async def areserve(self, step: Reserve) -> Reserved | StoreFailed:
        """:meth:`reserve` on the running event loop's client; never raises."""
        try:
            if "redis.asyncio" not in sys.modules:
                # A few tens of ms: in a worker thread, not on the triggerer's event loop.
                await asyncio.to_thread(importlib.import_module, "redis.asyncio")
            script = await self._async.get()
            started = time.perf_counter()
            micros = await asyncio.wait_for(
                script(keys=[self.key], args=[_micros(step.interval)]),
                timeout=ASYNC_POOL_WAIT + 2 * SOCKET_TIMEOUT,
            )
        except Exception as exc:
            return StoreFailed(_reason(exc, self._password))
        self.round_trips.append(time.perf_counter() - started)
        return Reserved(int(micros) / 1e6)


def _micros(seconds: float) -> int:
    return max(1, round(seconds * 1e6))


async def _close_async(script: Any) -> None:
    client = script.registered_client
    close = getattr(client, "aclose", None) or client.close
    await close()
    await client.connection_pool.disconnect()  # a pool passed in is not closed with the client


_stores: dict[tuple[str, str], RateStore] = {}
_stores_lock = threading.Lock()


def rate_store(url: str, key: str) -> RateStore:
    """The process-wide :class:`RateStore` for ``url`` and ``key`` (one pool each)."""
    with _stores_lock:
        store = _stores.get((url, key))
        if store is None:
            store = _stores[(url, key)] = RateStore(url, key)
        return store
