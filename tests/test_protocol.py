"""The sans-IO core: envelope parsing, the retry table, clock resync and the rate limiter.

No HTTP here: the exchange generator is driven by hand with the outcomes a transport would
report, which is exactly how both transports drive it.
"""

from __future__ import annotations

import json
import random
from email.utils import formatdate

import pytest

from airflow_provider_okx.api import routes
from airflow_provider_okx.api.clock import ClockOffset, parse_http_date
from airflow_provider_okx.api.errors import (
    OkxApiError,
    OkxAuthError,
    OkxClockSkewError,
    OkxInvalidRequestError,
    OkxRateLimitError,
    OkxTransportError,
    OkxUnavailableError,
)
from airflow_provider_okx.api.protocol import OkxProtocol, Received, Send, Wait
from airflow_provider_okx.api.ratelimit import RateLimiter
from airflow_provider_okx.api.responses import parse_envelope
from airflow_provider_okx.api.retry import RetryPolicy
from airflow_provider_okx.api.signing import Credentials
from tests.okx_codes import NOT_RETRYABLE, RETRYABLE

REQUEST = routes.supported_chains(routes.V6)


def envelope(code="0", msg="", data=None) -> bytes:
    return json.dumps({"code": code, "msg": msg, "data": data if data is not None else []}).encode()


def make_protocol(max_retries=5, rate=0.0, now=None):
    clock_now = now or [1_700_000_000.0]
    return OkxProtocol(
        Credentials("k", "s", "p"),
        "https://okx.test",
        retry=RetryPolicy(max_retries=max_retries),
        limiter=RateLimiter(rate),
        clock=ClockOffset(),
        wall_time=lambda: clock_now[0],
        monotonic=lambda: clock_now[0],
        rng=random.Random(7),
    )


def drive(protocol, outcomes):
    """Run one exchange; ``outcomes`` answer each Send. Returns (result or error, sends, waits)."""
    steps = protocol.exchange(REQUEST)
    sends, waits = [], []
    outcomes = list(outcomes)
    answer = None
    try:
        while True:
            step = steps.send(answer)
            if isinstance(step, Wait):
                waits.append(step.seconds)
                answer = None
            else:
                assert isinstance(step, Send)
                sends.append(step)
                answer = outcomes.pop(0)
    except StopIteration as stop:
        return stop.value, sends, waits
    except OkxApiError as error:
        return error, sends, waits
    except OkxTransportError as error:
        return error, sends, waits


def ok(data=None, headers=None):
    return Received(200, headers or {}, envelope(data=data or [{"chainIndex": "1"}]))


@pytest.mark.parametrize(("status", "code", "cls"), [*RETRYABLE, (502, "", OkxUnavailableError)])
def test_retryable_codes_retry_then_succeed(status, code, cls):
    failure = Received(status, {}, envelope(code, "try later"))
    result, sends, waits = drive(make_protocol(), [failure, failure, ok()])
    assert result == [{"chainIndex": "1"}]
    assert len(sends) == 3
    assert len(waits) == 2


@pytest.mark.parametrize(("status", "code", "cls"), NOT_RETRYABLE)
def test_non_retryable_codes_fail_on_first_answer(status, code, cls):
    error, sends, waits = drive(make_protocol(), [Received(status, {}, envelope(code, f"msg {code}"))])
    assert type(error) is cls
    assert error.code == code
    assert error.msg == f"msg {code}"
    assert error.http_status == status
    assert error.endpoint == "GET /api/v6/dex/balance/supported/chain"
    assert f"{code}" in str(error) and f"msg {code}" in str(error)
    assert len(sends) == 1
    assert waits == []


def test_backoff_grows_and_gives_up_after_max_retries():
    failure = Received(429, {}, envelope("50011", "Too Many Requests"))
    error, sends, waits = drive(make_protocol(max_retries=4), [failure] * 5)
    assert isinstance(error, OkxRateLimitError)
    assert len(sends) == 5  # first try + 4 retries
    assert len(waits) == 4
    # full jitter on the upper half of an exponential ceiling: each window is above the last
    ceilings = [0.5 * 2**i for i in range(4)]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert waits == sorted(waits)


def test_retry_after_is_honoured():
    failure = Received(429, {"Retry-After": "3"}, envelope("50011", "Too Many Requests"))
    result, sends, waits = drive(make_protocol(), [failure, ok()])
    assert waits == [3.0]
    assert len(sends) == 2


def test_transport_errors_are_retried():
    drop = OkxTransportError("GET /x", "ConnectionError: reset")
    result, sends, waits = drive(make_protocol(), [drop, drop, ok()])
    assert result == [{"chainIndex": "1"}]
    assert len(sends) == 3


def test_clock_skew_resyncs_once_and_retries_immediately():
    now = [1_700_000_000.0]
    protocol = make_protocol(now=now)
    server_date = formatdate(now[0] + 120, usegmt=True)
    skew = Received(401, {"Date": server_date}, envelope("50112", "Invalid OK-ACCESS-TIMESTAMP"))
    result, sends, waits = drive(protocol, [skew, ok()])
    assert result == [{"chainIndex": "1"}]
    assert waits == []
    first_ts = sends[0].headers["OK-ACCESS-TIMESTAMP"]
    second_ts = sends[1].headers["OK-ACCESS-TIMESTAMP"]
    assert first_ts.startswith("2023-11-14T22:13:20")
    assert second_ts.startswith("2023-11-14T22:15:20")  # 120 s later: the server's clock
    assert 119.5 <= protocol.clock.offset <= 121


def test_clock_skew_twice_fails_with_the_code():
    skew = Received(401, {"Date": formatdate(0, usegmt=True)}, envelope("50102", "Timestamp request expired"))
    error, sends, waits = drive(make_protocol(), [skew, skew])
    assert isinstance(error, OkxClockSkewError)
    assert error.code == "50102"
    assert len(sends) == 2


def test_skew_without_date_header_is_not_retried():
    skew = Received(401, {}, envelope("50112", "Invalid OK-ACCESS-TIMESTAMP"))
    error, sends, _ = drive(make_protocol(), [skew])
    assert isinstance(error, OkxClockSkewError)
    assert len(sends) == 1


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (502, b"<html><body>Bad Gateway</body></html>", OkxUnavailableError),
        (200, b'{"code": "0", "da', OkxUnavailableError),
        (200, b"", OkxUnavailableError),
        (404, b"<html>Not Found</html>", OkxInvalidRequestError),
        (403, b"<html>Forbidden</html>", OkxAuthError),
        (429, b"slow down", OkxRateLimitError),
    ],
)
def test_unreadable_bodies_become_typed_errors(status, body, cls):
    with pytest.raises(cls) as info:
        parse_envelope("GET /x", status, {}, body)
    assert info.value.http_status == status
    assert "GET /x" in str(info.value)


def test_numeric_code_and_http_200_error():
    assert parse_envelope("GET /x", 200, {}, b'{"code": 0, "msg": "", "data": [{"a": 1}]}') == [{"a": 1}]
    with pytest.raises(OkxInvalidRequestError) as info:
        parse_envelope("GET /x", 200, {}, b'{"code": 81104, "msg": "Chain not support", "data": []}')
    assert info.value.code == "81104"
    assert "Chain not support" in str(info.value)


def test_deprecated_v5_says_switch_to_v6():
    with pytest.raises(OkxInvalidRequestError) as info:
        parse_envelope("GET /x", 200, {}, envelope("50050", "V5 API is being deprecated"))
    assert "api_version" in str(info.value) and "v6" in str(info.value)


def test_errors_pickle_round_trip():
    import pickle

    error = OkxRateLimitError("50011", "Too Many Requests", 429, "GET /x", retry_after=2.0)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is OkxRateLimitError
    assert (clone.code, clone.msg, clone.http_status, clone.endpoint, clone.retry_after) == (
        "50011",
        "Too Many Requests",
        429,
        "GET /x",
        2.0,
    )


def test_rate_limiter_spaces_requests():
    limiter = RateLimiter(20)
    waits = [limiter.reserve(100.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])
    # after idling, the next slot is free at once
    assert limiter.reserve(200.0) == 0.0
    assert RateLimiter(0).reserve(1.0) == 0.0


def test_rate_limiter_never_exceeds_rate_in_any_window():
    limiter = RateLimiter(10)
    t, starts = 0.0, []
    for _ in range(100):
        t += limiter.reserve(t)
        starts.append(t)
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s < start + 1.0 - 1e-9]  # float sums of 0.1
        assert len(in_window) <= 10


def test_http_date_parsing():
    assert parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT") == 784887151.0
    assert parse_http_date("garbage") is None
    assert parse_http_date(None) is None
