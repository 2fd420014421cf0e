"""The sans-IO core: envelope parsing, the retry table, clock resync and the rate limiter.

No HTTP here: the exchange generator is driven by hand with the outcomes a transport would
report, which is exactly how both transports drive it.
"""

from __future__ import annotations

import json
import random
from email.utils import formatdate

import pytest

from airflow_provider_okx.core.api import routes
from airflow_provider_okx.core.api.clock import ClockOffset, parse_http_date
from airflow_provider_okx.core.api.errors import (
    OkxApiError,
    OkxApiVersionRetiredError,
    OkxAuthError,
    OkxClockSkewError,
    OkxInvalidRequestError,
    OkxRateLimitError,
    OkxTransportError,
    OkxUnavailableError,
    is_permanent,
)
from airflow_provider_okx.core.api.protocol import OkxProtocol, Received, Send, Wait
from airflow_provider_okx.core.api.ratelimit import RateLimiter
from airflow_provider_okx.core.api.responses import parse_envelope
from airflow_provider_okx.core.api.retry import RetryPolicy
from airflow_provider_okx.core.api.signing import Credentials
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
    # equal jitter (the upper half) of an exponential ceiling: each window is above the last
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
    route = "GET /api/v5/wallet/asset/all-token-balances-by-address"
    with pytest.raises(OkxApiVersionRetiredError) as info:
        parse_envelope(route, 200, {}, envelope("50050", "V5 API is being deprecated"))
    assert "set the connection's extra api_version to 'v6'" in str(info.value)
    assert info.value.code == "50050" and is_permanent(info.value)


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


# --- every error class travels between processes ---------------------------------------------


def _sample(cls):
    """One instance of each error class, with every field set to something non-default."""
    from airflow_provider_okx.core.api import errors

    if issubclass(cls, errors.OkxConnectionConfigError):
        return cls("okx_treasury", "extra.timeout", "nan", "must be a finite number")
    if issubclass(cls, errors.OkxInvalidInputError):
        return cls("chains", ["1", lambda: None], "unknown chain")  # an unpicklable value too
    if issubclass(cls, errors.OkxTransportError):
        return cls("GET /x", "ReadTimeout: too slow")
    if issubclass(cls, errors.OkxResponseTooLargeError):
        return cls("GET /x", 1024)
    if issubclass(cls, errors.OkxRedirectError):
        return cls("HTTP301", "redirected", 301, "GET /x", location="https://a/b", suggestion="use https://a")
    if issubclass(cls, errors.OkxMalformedResponseError):
        return cls("malformed", "data is missing", 200, "GET /x", field="data", retry_after=1.0)
    if issubclass(cls, errors.OkxApiError):
        return cls("50011", "Too Many Requests", 429, "GET /x", retry_after=2.0, server_time=1e9)
    return cls("something went wrong")


def _fields(error):
    return {k: (repr(v) if callable(v) else v) for k, v in vars(error).items()} | {"str": str(error)}


def test_every_error_class_pickles_with_its_fields():
    import inspect
    import pickle

    from airflow_provider_okx.core.api import errors

    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.OkxError) and obj.__module__ == errors.__name__
    ]
    assert len(classes) >= 14
    for cls in classes:
        error = _sample(cls)
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is cls
        expected = _fields(error)
        if isinstance(error, errors.OkxInvalidInputError) and not isinstance(
            error, errors.OkxConnectionConfigError
        ):
            expected["value"] = repr(error.value)  # an unpicklable value travels as its repr
        assert _fields(clone) == expected, cls.__name__


# --- OKX's codes, as OKX documents them ------------------------------------------------------


def test_50005_and_410_mean_offline_for_good():
    from airflow_provider_okx.core.api.errors import OkxEndpointOfflineError, is_permanent

    for status, code in ((410, "50005"), (200, "50005"), (410, "x")):
        error, sends, waits = drive(make_protocol(), [Received(status, {}, envelope(code, "API is offline"))])
        assert type(error) is OkxEndpointOfflineError
        assert is_permanent(error)
        assert "API is offline" in str(error) and "will not change" in str(error)
        assert len(sends) == 1 and waits == []


def test_50125_quotes_okx_instead_of_asserting_a_region():
    error, _, _ = drive(make_protocol(), [Received(404, {}, envelope("50125", "Invalid Request Access uri"))])
    assert isinstance(error, OkxAuthError)
    assert str(error).endswith("Invalid Request Access uri")
    assert "region" not in str(error)


def test_50030_is_a_permanent_permission_error():
    from airflow_provider_okx.core.api.errors import is_permanent

    error, sends, _ = drive(
        make_protocol(), [Received(403, {}, envelope("50030", "upgrade your payment level"))]
    )
    assert isinstance(error, OkxAuthError) and is_permanent(error)
    assert len(sends) == 1


def test_50050_is_permanent_and_pickles():
    import pickle

    with pytest.raises(OkxApiVersionRetiredError) as info:
        parse_envelope("GET /x", 200, {}, envelope("50050", "V5 API is being deprecated"))
    error, sends, _ = drive(
        make_protocol(), [Received(200, {}, envelope("50050", "V5 API is being deprecated"))]
    )
    assert isinstance(error, OkxApiVersionRetiredError) and len(sends) == 1  # never retried
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is OkxApiVersionRetiredError and str(again) == str(info.value)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (OkxAuthError("50113", "", 401), True),
        (OkxInvalidRequestError("81104", "", 200), True),
        (OkxRateLimitError("50011", "", 429), False),
        (OkxUnavailableError("50001", "", 503), False),
        (OkxTransportError("GET /x", "reset"), False),
    ],
)
def test_is_permanent(error, permanent):
    from airflow_provider_okx.core.api.errors import is_permanent

    assert is_permanent(error) is permanent


# --- Retry-After, one parser ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("1e3", None),
        ("NaN", None),
        ("inf", None),
        ("Infinity", None),
        ("", None),
        (None, None),
        ("\u0663", None),  # an Arabic-Indic digit is not delta-seconds
        ("9" * 65, None),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    from airflow_provider_okx.core.api.retry import parse_retry_after

    assert parse_retry_after(value, now=1_700_000_000.0) == expected


def test_retry_after_date_is_read_against_the_servers_date():
    from airflow_provider_okx.core.api.retry import parse_retry_after

    server = 1_700_000_000.0
    value = formatdate(server + 12, usegmt=True)
    # the local clock is an hour off: the server's Date decides
    assert parse_retry_after(value, server_time=server, now=server + 3600) == 12.0
    assert parse_retry_after(value, now=server) == 12.0
    assert parse_retry_after(value) is None  # no reference at all: absent


def test_retry_after_nan_on_an_error_never_reaches_a_wait():
    failure = Received(429, {"Retry-After": "nan"}, envelope("50011", "Too Many Requests"))
    _, _, waits = drive(make_protocol(), [failure, ok()])
    [wait] = waits
    assert 0.25 <= wait <= 0.5


def test_policy_ignores_a_non_finite_retry_after_set_by_hand():
    error = OkxRateLimitError("50011", "", 429, retry_after=float("nan"))
    delay = RetryPolicy().delay(0, error, random.Random(1))
    assert delay is not None and 0.25 <= delay <= 0.5
    huge = OkxRateLimitError("50011", "", 429, retry_after=float("inf"))
    assert RetryPolicy(max_delay=30).delay(0, huge) is not None


# --- what the protocol sends and says ------------------------------------------------------------


def test_user_agent_is_sent_when_configured():
    protocol = make_protocol()
    protocol.user_agent = "airflow-provider-okx/9.9"
    _, sends, _ = drive(protocol, [ok()])
    assert sends[0].headers["User-Agent"] == "airflow-provider-okx/9.9"


def test_echoed_headers_are_scrubbed_from_okx_msg_and_transport_reasons():
    # The clock is ours: each attempt is signed 1.5 s after the previous one, so the two
    # signatures differ, and the server's later error echoes the *first* attempt's headers.
    clock = iter(1_700_000_000.0 + 1.5 * i for i in range(1000))
    protocol = OkxProtocol(
        Credentials("key-0123456789", "secret-value-xyz", "pass/phrase+1"),
        "https://okx.test",
        retry=RetryPolicy(max_retries=1),
        limiter=RateLimiter(0),
        clock=ClockOffset(),
        wall_time=lambda: next(clock),
        monotonic=lambda: 0.0,
        rng=random.Random(1),
    )
    steps = protocol.exchange(REQUEST)
    send = steps.send(None)
    first_sign = send.headers["OK-ACCESS-SIGN"]
    first_echo = json.dumps(dict(send.headers)).replace("/", "\\/")  # a PHP-style JSON echo
    drop = OkxTransportError(
        REQUEST.route, f"ValueError: Invalid header value b'{send.headers['OK-ACCESS-PASSPHRASE']}\\n'"
    )
    assert isinstance(steps.send(drop), Wait)
    retry = steps.send(None)
    assert retry.headers["OK-ACCESS-SIGN"] != first_sign  # signed at another instant
    assert retry.headers["OK-ACCESS-TIMESTAMP"] != send.headers["OK-ACCESS-TIMESTAMP"]
    with pytest.raises(OkxAuthError) as info:
        steps.send(
            Received(401, {}, envelope("50113", f"bad sign {retry.headers['OK-ACCESS-SIGN']} {first_echo}"))
        )
    text = str(info.value)
    for secret in (
        "key-0123456789",
        "pass/phrase+1",
        "pass\\/phrase+1",
        first_sign,
        send.headers["OK-ACCESS-TIMESTAMP"],
        retry.headers["OK-ACCESS-SIGN"],
    ):
        assert secret not in text
    assert info.value.__suppress_context__  # the unscrubbed original is not chained


def test_redirect_error_unit():
    from airflow_provider_okx.core.api.responses import redirect_error

    error = redirect_error("GET /api/v6/x", 301, "https://web3.okx.com:443/api/v6/x?address=0xabc")
    assert error.location == "https://web3.okx.com:443/api/v6/x"
    assert "set the connection's host (base URL) to https://web3.okx.com:443" in str(error)
    assert "0xabc" not in str(error)
    assert redirect_error("GET /x", 302, "https://[::1]:8/x").location == "https://[::1]:8/x"
    assert "unreadable" in str(redirect_error("GET /x", 302, "https://h:99999/x"))


# --- the body cap, sans-IO --------------------------------------------------------------------


def test_bounded_body_plain_gzip_deflate_and_the_cap():
    import gzip
    import zlib

    from airflow_provider_okx.core.api.body import BoundedBody
    from airflow_provider_okx.core.api.errors import OkxMalformedResponseError, OkxResponseTooLargeError

    def read(data, coding=None, limit=100, step=7):
        body = BoundedBody("GET /x", limit, coding)
        for i in range(0, len(data), step):
            body.feed(data[i : i + step])
        return body.finish()

    text = b'{"code":"0","data":[]}' * 3
    assert read(text) == text
    assert read(gzip.compress(text), "gzip") == text
    assert read(gzip.compress(text) + gzip.compress(text), "gzip", limit=200) == text * 2  # two members
    assert read(zlib.compress(text), "deflate") == text
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert read(raw.compress(text) + raw.flush(), "deflate") == text  # raw deflate, as some servers send
    assert read(b"", "gzip") == b""  # an empty body with an encoding header
    with pytest.raises(OkxResponseTooLargeError):
        read(b"x" * 101)
    assert read(b"x" * 100) == b"x" * 100
    with pytest.raises(OkxResponseTooLargeError):
        read(gzip.compress(b"\0" * 10_000), "gzip")
    with pytest.raises(OkxMalformedResponseError, match="truncated"):
        read(gzip.compress(text)[:-12], "gzip")
    with pytest.raises(OkxMalformedResponseError, match="not supported"):
        BoundedBody("GET /x", 100, "br")
    with pytest.raises(OkxMalformedResponseError, match="not supported"):
        BoundedBody("GET /x", 100, "gzip, gzip")
    body = BoundedBody("GET /x", 100)
    with pytest.raises(OkxResponseTooLargeError):
        body.check_declared_length("101")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0xEd0C6079229E2d407672a117c22b62064f4a4312",
        "1,56,137",
        "a b",
        "a&b=c",
        "ü",
        "+/%?#",
        "~._-:,",
        "\u00b2",
        5,
    ],
)
def test_the_query_is_encoded_exactly_as_urlencode_would(value):
    # What needs no quoting is joined as is; anything else goes through urlencode, pair by pair.
    from urllib.parse import quote, urlencode

    params = [("address", "0xabc"), ("k", value), (str(value), "1")]
    assert routes._query(params) == urlencode(params, safe=",:", quote_via=quote)
