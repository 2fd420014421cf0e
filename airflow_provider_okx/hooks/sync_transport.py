"""The sync transport: :class:`~airflow_provider_okx.core.api.protocol.OkxProtocol` over ``requests``.

Imported on the first sync request, never at DAG parse time. What it adds to the protocol is
I/O with bounds:

- **A total deadline per attempt** (the connection's ``timeout``): connect, send and every
  read together, not per socket read. ``requests`` has only per-read timeouts, so a server
  trickling one byte at a time could hold a call for ever; here a single watchdog thread
  shuts the attempt's socket down when its deadline passes, which wakes the blocked read,
  and the attempt ends as an :class:`~airflow_provider_okx.core.api.errors.OkxTransportError`
  (retried like any timeout). Name resolution is bounded by the system resolver only.
- **A body cap** (``max_response_bytes``), counted after decompression: bodies are read raw
  in chunks and decoded by :class:`~airflow_provider_okx.core.api.body.BoundedBody`.
- **No redirects**: a 3xx is handed to the protocol as is (it becomes a typed, permanent
  :class:`~airflow_provider_okx.core.api.errors.OkxRedirectError`); its body is not read past the cap
  and the signed headers are never re-sent elsewhere.
- **Many requests at once** on a thread pool, sharing the session and the rate limit, with
  the response bytes in flight bounded (:class:`ByteBudget`, the connection's
  ``max_in_flight_bytes``, default :data:`IN_FLIGHT_BYTES`) as well
  as their count (the workers): a body counts from its first byte read until the protocol has
  parsed it into typed rows and dropped it, so a fan-out over large answers holds at most
  about the budget in bodies (parsing holds a small multiple of a body while it runs),
  whatever the number of workers. A worker that waits for room in the budget with its answer
  open is waiting on the other workers, not on the server: its attempt's deadline is paused
  for that wait (:meth:`Attempt.pause`), so a prompt answer queued behind large ones is not
  timed out and retried.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import cached_property
from http.client import HTTPException
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

from airflow_provider_okx.core.api.body import ACCEPT_ENCODING, BoundedBody
from airflow_provider_okx.core.api.errors import (
    OkxError,
    OkxInvalidInputError,
    OkxTransportError,
    describe_exception,
)
from airflow_provider_okx.core.api.protocol import Outcome, Received, Reserve, Send, Step, Wait
from airflow_provider_okx.hooks.connection import DEFAULT_IN_FLIGHT_BYTES

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow_provider_okx.core.api.calls import Call
    from airflow_provider_okx.core.api.protocol import OkxProtocol
    from airflow_provider_okx.core.api.routes import ApiRequest
    from airflow_provider_okx.core.progress import Progress
    from airflow_provider_okx.hooks.connection import OkxConfig
    from airflow_provider_okx.hooks.rate_store import RateStore

T = TypeVar("T")

CHUNK = 64 * 1024
"""Raw bytes read at a time; the deadline is also checked between chunks."""

IN_FLIGHT_BYTES = DEFAULT_IN_FLIGHT_BYTES
"""Decoded response bytes that :meth:`SyncTransport.run_many` lets its workers hold at once
(read, and not yet parsed into rows) unless the connection's ``max_in_flight_bytes`` says
otherwise: 64 MiB. The oldest reader may go past it, so a body larger than the budget is still
read (the connection's ``max_response_bytes`` bounds a body)."""


class ByteBudget:
    """Response bytes held by the workers of one fan-out, bounded by ``limit``.

    A worker takes bytes (:meth:`take`) as it reads a body (decoded) and releases them (:meth:`release`)
    once the body was parsed. A worker waits while its bytes would not fit, except the one that
    started holding first (the oldest holder), which always proceeds: no two workers can wait
    for each other, and every body is read, however large. ``peak`` is the most ever held;
    ``waiting`` the workers waiting now.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the byte budget must be at least 1 byte")
        self.limit = limit
        self.used = 0
        self.peak = 0
        self.waiting = 0
        self._holders: dict[int, int] = {}  # ticket (order of first take) -> bytes held
        self._tickets = itertools.count()
        self._cond = threading.Condition(threading.Lock())

    def _fits(self, ticket: int | None, size: int) -> bool:
        oldest = ticket is not None and ticket == min(self._holders)
        return oldest or not self._holders or self.used + size <= self.limit

    def take(self, ticket: int | None, size: int, attempt: Attempt | None = None) -> int:
        """Hold ``size`` more bytes (waiting while they do not fit, unless oldest); returns the
        holder's ticket (pass it back, ``None`` the first time).

        :param attempt: the HTTP attempt reading the body: its deadline is paused while this
            waits (the wait is on the other workers, not on the server).
        """
        with self._cond:
            if not self._fits(ticket, size):
                if attempt is not None:
                    attempt.pause()
                self.waiting += 1
                try:
                    while not self._fits(ticket, size):
                        self._cond.wait()
                finally:
                    if attempt is not None:
                        attempt.resume()
                    self.waiting -= 1
            if ticket is None:
                ticket = next(self._tickets)
                self._holders[ticket] = 0
            self._holders[ticket] += size
            self.used += size
            self.peak = max(self.peak, self.used)
            return ticket

    def release(self, ticket: int | None) -> None:
        """Give back everything ``ticket`` holds (nothing for ``None``)."""
        if ticket is None:
            return
        with self._cond:
            self.used -= self._holders.pop(ticket, 0)
            self._cond.notify_all()


# --- the deadline --------------------------------------------------------------------------


class Attempt:
    """One HTTP attempt's deadline, and the connection it runs on (set once it is known).

    The deadline can be paused (:meth:`pause`, :meth:`resume`) while the attempt waits on
    something other than the server (the byte budget): it then moves later by the time waited
    and the watchdog is armed again for it.
    """

    __slots__ = ("_lock", "_paused_at", "_watchdog", "conn", "deadline", "done", "expired")

    def __init__(self, timeout: float, watchdog: Watchdog) -> None:
        self._watchdog = watchdog
        self.deadline = watchdog.clock() + timeout
        self.conn: Any = None
        self.expired = False
        self.done = False
        self._paused_at: float | None = None
        self._lock = threading.Lock()
        watchdog.add(self)

    def watch(self, conn: Any) -> None:
        """Called by the connection as a request starts on it (and after it connects)."""
        with self._lock:
            self.conn = conn
            conn._okx_attempt = self
            expired = self.expired
        if expired:
            _shut(conn)
            raise TimeoutError("the total deadline passed")

    def expire(self, deadline: float) -> None:
        """The deadline ``deadline`` passed: wake whatever read is blocked on this attempt's
        socket, unless the deadline moved later since (or is paused)."""
        with self._lock:
            if self.done or self._paused_at is not None or deadline < self.deadline:
                return
            self.expired = True
            conn = self.conn
        # Only while the connection still serves this attempt (not back in the pool for another).
        if conn is not None and getattr(conn, "_okx_attempt", None) is self:
            _shut(conn)

    def pause(self) -> None:
        """Stop the deadline's clock (the attempt waits on this process, not on the server)."""
        with self._lock:
            if self._paused_at is None:
                self._paused_at = self._watchdog.clock()

    def resume(self) -> None:
        """Start the deadline's clock again: the deadline moves later by the time paused."""
        with self._lock:
            if self._paused_at is None:
                return
            self.deadline += self._watchdog.clock() - self._paused_at
            self._paused_at = None
            rearm = not (self.done or self.expired)
        if rearm:
            self._watchdog.add(self)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            if self.conn is not None and getattr(self.conn, "_okx_attempt", None) is self:
                self.conn._okx_attempt = None


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    try:
        # The plain socket call, also for TLS sockets: shutdown(2) on the descriptor wakes a
        # recv blocked in another thread (close() would not).
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError, ValueError):
        pass


class Watchdog:
    """One daemon thread that expires attempts at their deadlines (a heap, one wake-up each).

    :param clock: the monotonic clock deadlines are read on (tests pass one they move by hand,
        and call :meth:`expire_due` after moving it).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, attempt: Attempt) -> None:
        with self._cond:
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="okx-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is attempt:
                self._cond.notify()

    def expire_due(self) -> None:
        """Expire every attempt whose deadline (as armed) has passed on :attr:`clock`."""
        due: list[tuple[float, Attempt]] = []
        with self._cond:
            now = self.clock()
            while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                deadline, _, attempt = heapq.heappop(self._heap)
                if not attempt.done:
                    due.append((deadline, attempt))
        for deadline, attempt in due:
            attempt.expire(deadline)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    deadline, _, attempt = self._heap[0]
                    if attempt.done:
                        heapq.heappop(self._heap)
                        continue
                    delay = deadline - self.clock()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
            self.expire_due()


_WATCHDOG = Watchdog()
_current = threading.local()


def _reset_after_fork() -> None:  # a forked child has no watchdog thread, maybe a held lock
    global _WATCHDOG
    _WATCHDOG = Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class _Watched:
    """Connection mixin: tells the running attempt which connection (and socket) it uses."""

    def putrequest(self, *args: Any, **kwargs: Any) -> Any:
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.watch(self)
        return super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> Any:
        result = super().connect()  # type: ignore[misc]
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.watch(self)
        return result


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose pools (direct and through an HTTP proxy) use watched connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


class _NoRedirectSession(requests.Session):
    """Never computes a redirect (``requests`` would read a 3xx body whole, unbounded, to
    prepare the next hop, and crash on a hand-prepared request without a cookie jar)."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def build_session(config: OkxConfig) -> requests.Session:
    """One pooled keep-alive session per hook; safe to share across threads.

    Proxies, CA bundle and client certificate come from the connection; without them the
    environment's proxies and CA bundle are read once, here, instead of on every request
    (``trust_env`` rescans ``os.environ`` and ``~/.netrc`` per call: a fifth of a balance
    call's CPU when measured).
    """
    from requests.utils import get_environ_proxies

    session = _NoRedirectSession()
    adapter = _DeadlineAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keep no cookies
    if config.proxies is not None:
        session.proxies.update(config.proxies)
    else:
        session.proxies.update(get_environ_proxies(config.base_url))
    if config.verify is True:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    else:
        session.verify = config.verify
    if config.cert is not None:
        session.cert = config.cert
    session.trust_env = False
    return session


def _reserve(store: RateStore | None, step: Reserve) -> Outcome:
    if store is None:
        from airflow_provider_okx.core.api.ratelimit import StoreFailed

        return StoreFailed("no rate-limit store configured")
    return store.reserve(step)


_NO_ANSWER = (requests.RequestException, Urllib3Error, HTTPException, OSError)


class SyncTransport:
    """Runs planned requests through the protocol with ``requests``.

    :param sleep: how to wait (the hook passes its patchable ``_sleep``).
    :param store: where the key's shared rate budget is reserved (``rate_limit_store``).
    """

    in_flight_bytes: int
    """The byte budget of :meth:`run_many` (see :class:`ByteBudget`): the connection's
    ``max_in_flight_bytes``."""
    last_budget: ByteBudget | None = None
    """The budget of the last :meth:`run_many` (its ``peak``: the most bytes held at once)."""

    def __init__(
        self,
        config: OkxConfig,
        protocol: OkxProtocol,
        sleep: Callable[[float], None],
        store: RateStore | None = None,
    ) -> None:
        self.config = config
        self.protocol = protocol
        self._sleep = sleep
        self.store = store
        self.in_flight_bytes = config.max_in_flight_bytes

    @cached_property
    def session(self) -> requests.Session:
        return build_session(self.config)

    def close(self) -> None:
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    def run(
        self,
        request: ApiRequest,
        interpret: Callable[[list[Any]], Any],
        progress: Progress | None = None,
        budget: ByteBudget | None = None,
    ) -> Any:
        """One request to its interpreted result, or its final typed error.

        :param progress: counts this request's retries, rate-limit waits and its answer.
        :param budget: bounds the bytes of the answer held until it is parsed (shared by the
            workers of one fan-out).
        """
        steps: Generator[Step, Outcome, Any] = self.protocol.exchange(request, interpret)
        outcome: Outcome = None
        sent = 0
        held: list[int | None] = [None]  # the budget's ticket of the body being read/parsed
        try:
            while True:
                try:
                    step = steps.send(outcome)  # parses the answer into typed values
                finally:
                    outcome = None  # the body goes now: the rows hold what was read
                    if budget is not None:
                        budget.release(held[0])
                        held[0] = None
                if isinstance(step, Wait):
                    if progress is not None and step.rate_limit:
                        progress.rate_limited(step.seconds)
                    self._sleep(step.seconds)
                    outcome = None
                    continue
                if isinstance(step, Reserve):
                    outcome = _reserve(self.store, step)
                    continue
                if sent and progress is not None:
                    progress.retried()
                sent += 1
                outcome = self.attempt(request.route, step, budget, held)
        except StopIteration as stop:
            if progress is not None:
                progress.request_done()
            return stop.value
        finally:
            if budget is not None:  # whatever ended the request, its bytes go back
                budget.release(held[0])

    def attempt(
        self,
        route: str,
        step: Send,
        budget: ByteBudget | None = None,
        held: list[int | None] | None = None,
    ) -> Outcome:
        """Send once under the total deadline; the answer, or what went wrong, as an outcome.

        :param budget: the body's decoded bytes are taken from it as they are read; ``held[0]``
            receives the ticket, for the caller to release once the body was parsed.
        """
        timeout = self.config.timeout
        # Prepared by hand: the URL goes out exactly as it was signed (requests' own
        # preparation would re-quote it) and no per-call settings merge runs.
        prepared = requests.PreparedRequest()
        prepared.method = step.method
        prepared.url = step.url
        prepared.headers = requests.structures.CaseInsensitiveDict(step.headers)
        prepared.headers["Accept-Encoding"] = ACCEPT_ENCODING
        prepared.body = step.body
        if step.body is not None:
            prepared.headers["Content-Length"] = str(len(step.body))
        attempt = Attempt(timeout, _WATCHDOG)
        _current.attempt = attempt
        try:
            response = self.session.send(
                prepared, timeout=(timeout, timeout), allow_redirects=False, stream=True
            )
            try:
                body = self._read(route, response, attempt, budget, held)
            finally:
                response.close()
            return Received(response.status_code, response.headers, body)
        except OkxError as error:  # over the cap, or an encoding we cannot read
            return error
        except _NO_ANSWER as exc:
            if attempt.expired:
                return OkxTransportError(
                    route, f"no complete answer within the {timeout:g} s deadline (connection extra timeout)"
                )
            return OkxTransportError(route, describe_exception(exc))
        except (ValueError, UnicodeError) as exc:
            # http.client refuses a header value it cannot send, quoting it: never shown.
            if not (isinstance(exc, UnicodeError) or str(exc).startswith("Invalid header")):
                raise
            return OkxInvalidInputError(
                "headers",
                "<not shown>",
                "a request header could not be sent (a credential holds an invalid character?)",
            )
        finally:
            attempt.finish()
            _current.attempt = None

    def _read(
        self,
        route: str,
        response: requests.Response,
        attempt: Attempt,
        budget: ByteBudget | None = None,
        held: list[int | None] | None = None,
    ) -> bytes:
        headers = response.headers
        body = BoundedBody(
            route, self.config.max_response_bytes, headers.get("Content-Encoding"), response.status_code
        )
        body.check_declared_length(headers.get("Content-Length"))
        raw = response.raw
        counted = 0
        while True:
            if attempt.expired:
                raise TimeoutError("the total deadline passed")
            chunk = raw.read(CHUNK, decode_content=False)
            if not chunk:
                data = body.finish()
                if budget is not None and held is not None and len(data) > counted:  # a flushed tail
                    held[0] = budget.take(held[0], len(data) - counted, attempt)
                return data
            body.feed(chunk)
            if budget is not None and held is not None and body.size > counted:
                # A wait for room here is on the other workers, not the server: the attempt's
                # deadline is paused meanwhile (see ByteBudget.take).
                held[0] = budget.take(held[0], body.size - counted, attempt)
                counted = body.size

    def run_many(
        self,
        calls: list[Call[T]],
        workers: int,
        progress: Progress | None = None,
        say: Callable[[str], None] | None = None,
    ) -> list[T]:
        """Run every request of every call on a thread pool; results in call order.

        The threads share this session and the process's rate limiter, so the pool only keeps
        enough requests in flight to use the rate the key allows. The first failure cancels
        what has not started and is raised: nothing partial comes back.

        :param progress: counts calls done (one unit each), requests, retries and rate-limit
            waits; when a line is due (:meth:`Progress.due`) it goes to ``say``, from this
            thread, even while no request finishes.
        """
        flat = [(request, call.interpret) for call in calls for request in call.requests]
        owner = [k for k, call in enumerate(calls) for _ in call.requests]
        left = [len(call.requests) for call in calls]
        if progress is not None:
            progress.advance(left.count(0))  # a call without requests is done already

        def finished(i: int) -> None:
            k = owner[i]
            left[k] -= 1
            if left[k] == 0 and progress is not None:
                progress.advance()

        def tick() -> None:
            if progress is not None and say is not None and progress.due():
                say(progress.line())

        budget = ByteBudget(self.in_flight_bytes)
        self.last_budget = budget
        results: list[Any]
        if workers <= 1 or len(flat) <= 1:
            results = []
            for i, (request, interpret) in enumerate(flat):
                results.append(self.run(request, interpret, progress, budget))
                finished(i)
                tick()
        else:
            from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

            _ = self.session  # build it once, before threads race to
            pool = ThreadPoolExecutor(max_workers=min(workers, len(flat)), thread_name_prefix="okx")
            try:
                futures = [
                    pool.submit(self.run, request, interpret, progress, budget) for request, interpret in flat
                ]
                index = {future: i for i, future in enumerate(futures)}
                pending = set(futures)
                while pending:
                    timeout = None
                    if progress is not None and say is not None:
                        # At most a second: the progress clock is the caller's, not this wait's.
                        timeout = min(max(progress.seconds_to_next(), 0.01), 1.0)
                    done, pending = wait(pending, timeout=timeout, return_when=FIRST_EXCEPTION)
                    failed = sorted(index[f] for f in done if f.exception() is not None)
                    if failed:
                        error = futures[failed[0]].exception()
                        assert error is not None
                        raise error
                    for future in done:
                        finished(index[future])
                    tick()
                results = [future.result() for future in futures]
                del futures, index, done, pending  # the results list is the one reference left
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        combined, start = [], 0
        for call in calls:
            end = start + len(call.requests)
            combined.append(call.combine(results[start:end]))
            results[start:end] = [None] * (end - start)  # each answer once: in its call's result
            start = end
        return combined
