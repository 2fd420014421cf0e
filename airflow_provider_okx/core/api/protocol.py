"""The request loop both transports run: rate limit, sign, send, interpret, retry, resync.

Sans-IO, in the spirit of h11: :meth:`OkxProtocol.exchange` is a generator that *yields*
what it needs done (:class:`Wait`, :class:`Send`, or :class:`Reserve` a slot on the shared
rate-limit store) and is *sent* what happened (:class:`Received`, or the
:class:`~airflow_provider_okx.core.api.errors.OkxError` the transport met: an
:class:`~airflow_provider_okx.core.api.errors.OkxTransportError` when no complete answer came, an
:class:`~airflow_provider_okx.core.api.errors.OkxResponseTooLargeError` past the body cap; for a
``Reserve``, :class:`Reserved` or :class:`StoreFailed`). Its return value is the interpreted
``data``. The sync transport answers with ``time.sleep``, ``requests`` and ``redis``, the async
one with ``asyncio.sleep``, ``aiohttp`` and ``redis.asyncio``; every rule lives here once.

Every error leaving the loop is cleaned here, the one place that knows what was sent: the
values of our ``OK-ACCESS-*`` headers (key, passphrase, signature, project, timestamp) are
replaced by ``***`` wherever they appear (a gateway that echoes request headers puts the
signature into its message), and OKX's message is cut to :data:`MAX_MESSAGE` characters.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_provider_okx.core.api.clock import ClockOffset
from airflow_provider_okx.core.api.errors import (
    OkxApiError,
    OkxError,
    OkxRateLimitError,
    OkxTransportError,
    shorten,
)
from airflow_provider_okx.core.api.ratelimit import RateLimiter, Reserve, Reserved, StoreFailed
from airflow_provider_okx.core.api.responses import parse_envelope
from airflow_provider_okx.core.api.retry import RetryPolicy
from airflow_provider_okx.core.api.routes import ApiRequest
from airflow_provider_okx.core.api.signing import Credentials, format_timestamp

log = logging.getLogger("airflow_provider_okx")

MAX_MESSAGE = 300
"""Characters of OKX's ``msg`` (or a transport's reason) quoted in an error."""

T = TypeVar("T")


def _as_is(data: list[Any]) -> Any:
    return data


@dataclass(frozen=True)
class Wait:
    """Sleep this many seconds, then send ``None`` back."""

    seconds: float
    rate_limit: bool = False
    """The wait is for the key's rate limit (before a send), not a retry's backoff."""


@dataclass(frozen=True)
class Send:
    """Send this request; send back :class:`Received`, or the :class:`OkxTransportError`."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None

    def __repr__(self) -> str:  # headers hold the key, passphrase and signature
        return f"Send({self.method} {self.url})"


@dataclass(frozen=True)
class Received:
    status: int
    headers: Mapping[str, str]
    body: bytes


Step = Wait | Send | Reserve
Outcome = Received | OkxError | Reserved | StoreFailed | None

__all__ = [
    "OkxProtocol",
    "Outcome",
    "Received",
    "Reserve",
    "Reserved",
    "Send",
    "Step",
    "StoreFailed",
    "Wait",
]


def _forms(value: str) -> set[str]:
    """``value`` as it may appear in echoed text: raw, repr-escaped, JSON-escaped."""
    escaped = repr(value)[1:-1]
    as_json = json.dumps(value)[1:-1]
    return {value, escaped, as_json, as_json.replace("/", "\\/")}


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every form of every secret replaced by ``***``."""
    for secret in secrets:
        if len(secret) >= 4:
            for form in _forms(secret):
                if form in text:
                    text = text.replace(form, "***")
    return text


def sent_values(headers: Mapping[str, str]) -> list[str]:
    """The values of our ``OK-ACCESS-*`` headers: what must never be quoted back."""
    return [v for k, v in headers.items() if k.upper().startswith("OK-ACCESS-")]


def clean(
    error: OkxError, sent: Mapping[str, str] | set[str], extra_secrets: tuple[str, ...] = ()
) -> OkxError:
    """``error`` without any of our header values in it, its message length-capped.

    :param sent: the headers of one request, or the values sent so far in a whole call (every
        attempt signs anew, and a server may echo an earlier attempt's headers later).
    """
    values = sent_values(sent) if isinstance(sent, Mapping) else list(sent)
    secrets = values + list(extra_secrets)
    # Longest first: a value that contains another is replaced whole.
    secrets.sort(key=len, reverse=True)
    if isinstance(error, OkxApiError):
        msg = shorten(scrub(error.msg, secrets), MAX_MESSAGE)
        return error if msg == error.msg else error.with_msg(msg)
    if isinstance(error, OkxTransportError):
        reason = shorten(scrub(error.reason, secrets), MAX_MESSAGE)
        return error if reason == error.reason else OkxTransportError(error.endpoint, reason)
    return error


class OkxProtocol:
    """Everything about talking to OKX except the I/O.

    :param credentials: key, secret, passphrase and project id.
    :param base_url: scheme and host, e.g. ``https://web3.okx.com``.
    :param limiter: shared by every client of the same key in this process: a
        :class:`~airflow_provider_okx.core.api.ratelimit.RateLimiter` (this process alone) or a
        :class:`~airflow_provider_okx.core.api.ratelimit.SharedLimiter` (the key's budget on a
        store, reserved through :class:`Reserve` steps).
    :param clock: shared offset to OKX's clock.
    """

    def __init__(
        self,
        credentials: Credentials,
        base_url: str,
        *,
        retry: RetryPolicy,
        limiter: RateLimiter,
        clock: ClockOffset,
        wall_time: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.retry = retry
        self.limiter = limiter
        self.clock = clock
        self._wall_time = wall_time
        self._monotonic = monotonic
        self._rng = rng

    def __repr__(self) -> str:
        return f"OkxProtocol({self.base_url!r}, {self.credentials!r})"

    def _pace(self) -> Generator[Step, Outcome, None]:
        """Wait for this attempt's send slot: local, or reserved on the shared store."""
        plan = self.limiter.plan(self._monotonic())
        if isinstance(plan, Reserve):
            answer = yield plan
            plan = self.limiter.settle(answer, self._monotonic())
        if plan > 0:
            yield Wait(plan, rate_limit=True)

    def exchange(
        self, request: ApiRequest, interpret: Callable[[list[Any]], T] = _as_is
    ) -> Generator[Step, Outcome, T]:
        """Drive one request to ``interpret(data)`` or its final error (see the module docstring).

        :param interpret: reads the envelope's ``data`` into typed values. It runs inside the
            retry loop: an :class:`~airflow_provider_okx.core.api.errors.OkxMalformedResponseError`
            it raises (a success whose shape is not OKX's) is retried like any transient error.
        """
        attempt = 0
        resynced = False
        call_started = self._monotonic()
        waited = 0.0  # the waits asked for: elapsed time even when a test's sleep does not sleep
        # Every header value of every attempt: an error may quote any earlier attempt's.
        sent: set[str] = set()
        body = request.body.encode() if request.body else None
        while True:
            yield from self._pace()
            timestamp = format_timestamp(self.clock.now(self._wall_time()))
            headers = self.credentials.headers(timestamp, request.method, request.path, request.body)
            if self.user_agent:
                headers["User-Agent"] = self.user_agent
            sent.update(sent_values(headers))
            started = self._monotonic()
            outcome = yield Send(request.method, self.base_url + request.path, headers, body)
            try:
                if isinstance(outcome, OkxError):
                    raise outcome
                if not isinstance(outcome, Received):
                    raise OkxTransportError(request.route, "the transport returned nothing")
                data = parse_envelope(
                    request.route, outcome.status, outcome.headers, outcome.body, now=self._wall_time()
                )
                result = interpret(data)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s -> HTTP %s in %.0f ms",
                        f"{request.method} {request.path}",
                        outcome.status,
                        (self._monotonic() - started) * 1000,
                    )
                return result
            except OkxError as raw_error:
                error = clean(raw_error, sent, (self.credentials.secret_key,))
                if isinstance(error, OkxRateLimitError):
                    hint = self.limiter.rate_limited(self._monotonic())
                    if hint:
                        log.warning("%s", hint)
                if self.retry.should_resync(error, resynced):
                    offset = self.clock.resync(error.server_time, self._wall_time())  # type: ignore[attr-defined]
                    resynced = True
                    log.warning(
                        "OKX refused our timestamp; clock offset resynced to %+.1f s, retrying", offset
                    )
                    continue
                elapsed = max(self._monotonic() - call_started, waited)
                delay = self.retry.delay(attempt, error, self._rng, elapsed)
                if delay is None:
                    if error is raw_error:
                        raise
                    raise error from None  # the original held a secret: not chained
                attempt += 1
                if attempt <= self.retry.max_retries:
                    log.warning(
                        "%s (retry %d of %d in %.2f s)", error, attempt, self.retry.max_retries, delay
                    )
                else:
                    log.warning(
                        "%s (retry %d, past max_retries=%d: rate limited, retried within the call's "
                        "%g s deadline; in %.2f s)",
                        error,
                        attempt,
                        self.retry.max_retries,
                        self.retry.rate_limit_deadline,
                        delay,
                    )
                waited += delay
                yield Wait(delay)
