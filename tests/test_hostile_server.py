"""The sync transport against a hostile server on loopback, byte by byte.

Trickles, redirects, huge and compressed bodies, ``Retry-After`` in every form, a gateway
echoing our headers, dropped connections, TLS with a private CA and a client certificate.
Each test asserts the typed outcome a user would see; waits are bounded (small timeouts, a
server that stops when the test ends).
"""

# ruff: noqa: F811  (the ``hostile`` fixture is imported from tests.hostile_server)
from __future__ import annotations

import gzip
import json
import logging
import struct
import threading
import time
import tracemalloc
import zlib
from email.utils import formatdate

import pytest

from airflow_provider_okx.core.api.errors import (
    OkxAuthError,
    OkxConnectionConfigError,
    OkxInvalidInputError,
    OkxInvalidRequestError,
    OkxMalformedResponseError,
    OkxRedirectError,
    OkxResponseTooLargeError,
    OkxTransportError,
    OkxUnavailableError,
    is_permanent,
)
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import API_KEY, PASSPHRASE, SECRET_KEY
from tests.hostile_server import CHAINS, Exchange, envelope, hostile, server_tls, tls_files  # noqa: F401

CHAINS_BODY = json.dumps(CHAINS).encode()
CHAINS_PATH = "/api/v6/dex/balance/supported/chain"


def ok(ex: Exchange) -> None:
    ex.respond(200, CHAINS_BODY)


# --- the total deadline --------------------------------------------------------------------


def trickle_everything(ex: Exchange) -> None:
    ex.trickle(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(CHAINS_BODY) + CHAINS_BODY, 0.6)


def trickle_the_body(ex: Exchange) -> None:
    ex.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(CHAINS_BODY)
    )
    ex.trickle(CHAINS_BODY, 0.6)


@pytest.mark.parametrize("handler", [trickle_everything, trickle_the_body], ids=["status line", "body"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(hostile, no_sleep, handler):
    """One byte every 0.6 s never trips a per-read timeout of 1 s; the total deadline does."""
    server = hostile(handler, timeout=1, max_retries=0)
    with pytest.raises(OkxTransportError) as info:
        OkxHook().get_supported_chains()
    assert "deadline" in info.value.reason
    assert info.value.endpoint == f"GET {CHAINS_PATH}"
    assert len(server.requests) == 1
    assert not is_permanent(info.value)


def test_a_trickle_is_retried_like_a_timeout_then_succeeds(hostile, no_sleep):
    def first_trickles(ex: Exchange) -> None:
        (trickle_the_body if ex.index == 0 else ok)(ex)

    server = hostile(first_trickles, timeout=0.5, max_retries=1)
    assert [c.chain_index for c in OkxHook().get_supported_chains()] == ["1"]
    assert len(server.requests) == 2
    assert len(no_sleep.waits) == 1


def test_the_deadline_holds_over_tls(hostile, no_sleep, tmp_path):
    files = tls_files(tmp_path)
    hostile(trickle_the_body, tls=server_tls(files), timeout=1, max_retries=0, verify=files["ca"])
    with pytest.raises(OkxTransportError, match="deadline"):
        OkxHook().get_supported_chains()


def test_keep_alive_survives_the_deadline_machinery(hostile, no_sleep):
    server = hostile(ok, timeout=5)
    hook = OkxHook()
    for _ in range(5):
        hook.get_supported_chains()
    assert len(server.requests) == 5
    assert server.connections == 1  # one pooled connection, reused


# --- the deadline and the byte budget -------------------------------------------------------
# The attempt's clock is a hand-moved one (the watchdog's): nothing here depends on how fast the
# machine runs. The per-read socket timeout (the connection's timeout, 60 s of real time) is
# never reached.


class HandClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hand_clock(monkeypatch):
    """Every attempt's deadline on a hand-moved clock: ``(clock, watchdog)``; after moving the
    clock, ``watchdog.expire_due()`` expires what is due before it returns."""
    from airflow_provider_okx.hooks import sync_transport

    clock = HandClock()
    watchdog = sync_transport.Watchdog(clock)
    monkeypatch.setattr(sync_transport, "_WATCHDOG", watchdog)
    return clock, watchdog


def _until(condition, what: str) -> None:
    backstop = time.monotonic() + 30  # only a bound on a broken test, never on the outcome
    while not condition():
        assert time.monotonic() < backstop, what
        time.sleep(0.002)


def _fetch_chains_in_a_thread(budget) -> tuple[threading.Thread, dict]:
    """``get_supported_chains`` through the sync transport with ``budget`` as its byte budget."""
    hook = OkxHook()
    call = hook._plan_supported_chains()
    (request,) = call.requests
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call.combine([hook.transport.run(request, call.interpret, budget=budget)])
        except Exception as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_waiting_for_the_byte_budget_does_not_count_against_the_deadline(hostile, hand_clock):
    """OKX answered at once; the body waits an hour (on the hand clock) for room in the budget
    held by another worker. The attempt's 60 s deadline is not spent on that wait."""
    from airflow_provider_okx.hooks.sync_transport import ByteBudget

    clock, watchdog = hand_clock
    server = hostile(ok, timeout=60, max_retries=0)
    budget = ByteBudget(1)
    other = budget.take(None, 1)  # the oldest holder, and the budget is full
    thread, outcome = _fetch_chains_in_a_thread(budget)
    _until(lambda: budget.waiting == 1, "the answer never waited for the budget")
    clock.now += 3600
    watchdog.expire_due()  # before the fix: the attempt expired here, its socket shut
    budget.release(other)
    thread.join(30)
    assert "error" not in outcome, outcome
    assert [c.chain_index for c in outcome["value"]] == ["1"]
    assert len(server.requests) == 1  # not a retry: the first answer was read
    assert budget.used == 0 and budget.waiting == 0


@pytest.mark.parametrize("waits_for_budget", [False, True], ids=["no wait", "after a budget wait"])
def test_a_server_stalling_mid_body_still_meets_the_deadline(hostile, hand_clock, waits_for_budget):
    """The first 64 KiB of a longer body, then nothing: the deadline still ends the attempt; a
    budget wait before the stall moves it later by exactly the time waited."""
    from airflow_provider_okx.hooks.sync_transport import CHUNK, ByteBudget

    def stall_mid_body(ex: Exchange) -> None:
        ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (3 * CHUNK) + b" " * (CHUNK + 10))
        ex.stopped.wait()  # the rest never comes

    clock, watchdog = hand_clock
    server = hostile(stall_mid_body, timeout=60, max_retries=0)
    budget = ByteBudget(1)
    other = budget.take(None, 1) if waits_for_budget else None
    thread, outcome = _fetch_chains_in_a_thread(budget)
    deadline = 60.0
    if waits_for_budget:
        _until(lambda: budget.waiting == 1, "the first chunk never waited for the budget")
        clock.now += 3600
        watchdog.expire_due()  # paused: nothing expires
        budget.release(other)
        _until(lambda: budget.waiting == 0, "the wait never ended")
        deadline += 3600
    else:
        _until(lambda: len(server.requests) == 1, "the request never arrived")
    clock.now = deadline - 1
    watchdog.expire_due()
    assert thread.is_alive() and not outcome  # a second before its deadline: still reading
    clock.now = deadline + 1
    watchdog.expire_due()
    thread.join(30)
    assert not thread.is_alive()
    error = outcome.get("error")
    assert isinstance(error, OkxTransportError), outcome
    assert "within the 60 s deadline" in error.reason
    assert len(server.requests) == 1
    assert budget.used == 0


# --- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_typed_permanent_error_not_followed(hostile, no_sleep, status):
    def redirect(ex: Exchange) -> None:
        ex.respond(
            status,
            b"<html>moved</html>" * 1000,
            {"Location": f"https://web3.okx.com{ex.request.target}", "Content-Type": "text/html"},
            reason="Moved",
        )

    server = hostile(redirect)
    with pytest.raises(OkxRedirectError) as info:
        OkxHook().get_all_token_balances("0xEd0C6079229E2d407672a117c22b62064f4a4312", 1)
    error = info.value
    assert error.http_status == status
    assert error.code == f"HTTP{status}"
    assert error.location == "https://web3.okx.com/api/v6/dex/balance/all-token-balances-by-address"
    assert "?" not in str(error) and "0xEd0C" not in str(error)  # never our query
    assert "set the connection's host (base URL) to https://web3.okx.com" in str(error)
    assert is_permanent(error)
    assert len(server.requests) == 1  # neither followed nor retried


def test_test_connection_explains_an_http_base_url_that_redirects(hostile, no_sleep):
    def to_https(ex: Exchange) -> None:
        ex.respond(301, b"", {"Location": f"https://127.0.0.1:8443{ex.request.target}"})

    hostile(to_https)
    ok_, message = OkxHook().test_connection()
    assert not ok_
    assert "redirected to https://127.0.0.1:8443/api/v6/dex/balance/supported/chain" in message
    assert "set the connection's host (base URL) to https://127.0.0.1:8443" in message
    assert "AttributeError" not in message


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("/login?next=%2Fapi", "/login"),
        ("https://user:pw@sso.example.com/auth?token=abc", "https://sso.example.com/auth"),
        ("", None),
    ],
    ids=["relative", "elsewhere with credentials", "no location"],
)
def test_a_redirect_elsewhere_says_where_without_query_or_credentials(hostile, no_sleep, location, shown):
    def redirect(ex: Exchange) -> None:
        ex.respond(302, b"", {"Location": location} if location else {})

    hostile(redirect)
    with pytest.raises(OkxRedirectError) as info:
        OkxHook().get_supported_chains()
    text = str(info.value)
    assert "token=abc" not in text and "pw" not in text and "next=" not in text
    if shown:
        assert info.value.location == shown
        assert "OKX's API does not redirect" in text
    else:
        assert "without a Location" in text


# --- body cap ------------------------------------------------------------------------------


def test_a_declared_huge_body_is_refused_before_reading(hostile, no_sleep):
    def huge(ex: Exchange) -> None:
        ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: 41943040\r\n\r\n" + b"[" * 1000)

    server = hostile(huge, max_retries=3)
    with pytest.raises(OkxResponseTooLargeError) as info:
        OkxHook().get_supported_chains()
    assert info.value.limit == 32 * 1024 * 1024
    assert "max_response_bytes" in str(info.value)
    assert is_permanent(info.value)
    assert len(server.requests) == 1  # not retried: the same request gets the same answer


def test_an_undeclared_body_stops_at_the_cap(hostile, no_sleep):
    def endless_chunks(ex: Exchange) -> None:
        ex.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 65536
        for _ in range(64):  # 4 MiB offered, the cap is 1 MiB
            if not ex.send(b"%x\r\n%s\r\n" % (len(piece), piece)):
                return
        ex.send(b"0\r\n\r\n")

    hostile(endless_chunks, max_response_bytes=1024 * 1024)
    with pytest.raises(OkxResponseTooLargeError) as info:
        OkxHook().get_supported_chains()
    assert info.value.limit == 1024 * 1024


def compression_bomb(coding: str, mebibytes: int) -> bytes:
    """``mebibytes`` MiB of zeros in one gzip member or one zlib stream (about 1 KB per MiB),
    built without deflating them all: one fully-flushed block of 1 MiB, repeated."""
    block = b"\0" * (1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc, adler = 0, 1
    for _ in range(mebibytes):
        crc, adler = zlib.crc32(block, crc), zlib.adler32(block, adler)
    deflated = segment * mebibytes + final
    if coding == "gzip":
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + deflated + struct.pack("<II", crc, (mebibytes * len(block)) & 0xFFFFFFFF)
    return b"\x78\xda" + deflated + struct.pack(">I", adler)


def test_the_bomb_builder_makes_what_it_says():
    for coding in ("gzip", "deflate"):
        bomb = compression_bomb(coding, 3)
        decoder = zlib.decompressobj(31 if coding == "gzip" else 15)
        assert len(decoder.decompress(bomb[: len(bomb) // 3])) > 0
        whole = gzip.decompress(bomb) if coding == "gzip" else zlib.decompress(bomb)
        assert whole == b"\0" * (3 * 1024 * 1024)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compression_bomb_fails_at_the_cap_without_inflating(hostile, no_sleep, coding):
    """0.3 MB of compressed zeros inflate to 300 MiB: the cap is counted after decompression,
    and decompression never runs ahead of the cap."""
    bomb = compression_bomb(coding, 300)
    assert len(bomb) < 400_000

    def send_bomb(ex: Exchange) -> None:
        ex.respond(200, bomb, {"Content-Encoding": coding})

    hostile(send_bomb)
    tracemalloc.start()
    try:
        with pytest.raises(OkxResponseTooLargeError):
            OkxHook().get_supported_chains()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 80 * 1024 * 1024  # the 32 MiB cap and a chunk, not 300 MB


@pytest.mark.parametrize("coding", ["gzip", "deflate", "x-gzip"])
def test_compressed_answers_are_read(hostile, no_sleep, coding):
    def compressed(ex: Exchange) -> None:
        assert "gzip" in ex.request.headers["accept-encoding"]
        body = zlib.compress(CHAINS_BODY) if coding == "deflate" else gzip.compress(CHAINS_BODY)
        ex.respond(200, body, {"Content-Encoding": coding})

    hostile(compressed)
    assert [c.name for c in OkxHook().get_supported_chains()] == ["Ethereum"]


def test_a_corrupt_or_unknown_encoding_is_malformed_and_retried(hostile, no_sleep):
    def corrupt(ex: Exchange) -> None:
        if ex.index == 0:
            ex.respond(200, b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"})
        elif ex.index == 1:
            ex.respond(200, b"\x00\x01", {"Content-Encoding": "br"})
        else:
            ok(ex)

    server = hostile(corrupt)
    assert len(OkxHook().get_supported_chains()) == 1
    assert len(server.requests) == 3


# --- Retry-After ---------------------------------------------------------------------------

NOW = time.time()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "NaN"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "1000000000"}, 30.0),
        ({"Retry-After": "9" * 60}, 30.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "0x10"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        (
            {"Date": formatdate(NOW, usegmt=True), "Retry-After": formatdate(NOW + 7, usegmt=True)},
            7.0,
        ),
    ],
    ids=[
        "seconds",
        "NaN",
        "nan",
        "inf",
        "negative",
        "huge",
        "60 digits",
        "garbage",
        "hex",
        "past date",
        "date",
    ],
)
def test_retry_after_in_every_form_gives_a_finite_bounded_wait(hostile, no_sleep, headers, expected):
    def limited_once(ex: Exchange) -> None:
        if ex.index == 0:
            ex.respond(429, envelope(code="50011", msg="Too Many Requests"), headers)
        else:
            ok(ex)

    hostile(limited_once)
    assert len(OkxHook().get_supported_chains()) == 1
    [wait] = no_sleep.waits
    if expected is None:  # absent: the policy's own backoff (0.25-0.5 s for a first retry)
        assert 0.25 <= wait <= 0.5
    else:
        assert wait == pytest.approx(expected, abs=1.0 if "Date" in headers else 1e-9)


def test_retry_after_nan_cannot_hang_the_async_path(hostile, monkeypatch):
    """``asyncio.sleep(nan)`` never returns: the async transport gets the same finite wait."""
    import asyncio

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(OkxHook, "_asleep", staticmethod(record))

    def limited_once(ex: Exchange) -> None:
        if ex.index == 0:
            ex.respond(429, envelope(code="50011", msg="Too Many Requests"), {"Retry-After": "NaN"})
        else:
            ok(ex)

    hostile(limited_once)

    async def fetch() -> int:
        hook = OkxHook()
        try:
            return len(await hook.aget_supported_chains())
        finally:
            await hook.aclose()

    assert asyncio.run(fetch()) == 1
    [wait] = waits
    assert 0.25 <= wait <= 0.5


# --- secrets -------------------------------------------------------------------------------


def _secrets_in(text: str, server) -> list[str]:
    request = server.requests[0]
    sent = [request.headers["ok-access-sign"], PASSPHRASE, SECRET_KEY, API_KEY]
    return [secret for secret in sent if secret in text]


@pytest.mark.parametrize("status", [401, 403, 502, 200])
def test_a_gateway_echoing_our_headers_never_puts_them_in_the_error(hostile, no_sleep, caplog, status):
    def echo(ex: Exchange) -> None:
        raw = ex.request.raw_headers.decode("latin-1")
        if status == 200:  # an OKX envelope whose msg quotes everything we sent
            ex.respond(200, envelope(code="50113", msg=f"Invalid Sign. You sent: {raw}"))
        elif status == 401:
            ex.respond(401, envelope(code="50113", msg=json.dumps(ex.request.headers)))
        else:
            ex.respond(status, f"<html><pre>{raw}</pre></html>", {"Content-Type": "text/html"})

    caplog.set_level(logging.DEBUG)
    server = hostile(echo, max_retries=1)
    with pytest.raises((OkxAuthError, OkxUnavailableError)) as info:
        OkxHook().get_supported_chains()
    text = str(info.value) + repr(info.value) + caplog.text + repr(info.value.__reduce__())
    assert _secrets_in(text, server) == []
    assert len(info.value.msg) <= 300
    assert "***" in info.value.msg


def test_okx_msg_is_length_capped(hostile, no_sleep):
    hostile(lambda ex: ex.respond(400, envelope(code="50014", msg="param chains is invalid " + "x" * 10_000)))
    with pytest.raises(OkxInvalidRequestError) as info:
        OkxHook().get_supported_chains()
    assert info.value.msg.startswith("param chains is invalid")
    assert len(info.value.msg) == 300 and info.value.msg.endswith("...")


def test_a_file_mounted_passphrase_with_a_newline_is_stripped_and_works(hostile, no_sleep, monkeypatch):
    from tests.conftest import conn_json

    server = hostile(ok)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        json.dumps(
            {
                **json.loads(conn_json(host=server.base_url)),
                "login": f" {API_KEY}\n",
                "password": f"{SECRET_KEY}\n",
                "extra": {"passphrase": f"{PASSPHRASE}\n", "rate_limit_rps": 0},
            }
        ),
    )
    assert len(OkxHook().get_supported_chains()) == 1
    sent = server.requests[0].headers
    assert sent["ok-access-passphrase"] == PASSPHRASE
    assert sent["ok-access-key"] == API_KEY
    # signed with the stripped secret: recompute independently
    import base64
    import hashlib
    import hmac

    message = sent["ok-access-timestamp"] + "GET" + CHAINS_PATH
    expected = base64.b64encode(hmac.new(SECRET_KEY.encode(), message.encode(), hashlib.sha256).digest())
    assert sent["ok-access-sign"] == expected.decode()


@pytest.mark.parametrize(
    "bad", [f"{PASSPHRASE}\nX-Injected: 1", f"{PASSPHRASE}\rX", "pässphrase-ü", "pass\x00word"]
)
def test_a_passphrase_that_cannot_be_a_header_is_refused_without_quoting_it(
    hostile, no_sleep, monkeypatch, caplog, bad
):
    from tests.conftest import conn_json

    server = hostile(ok)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        json.dumps(
            {**json.loads(conn_json(host=server.base_url)), "extra": {"passphrase": bad, "rate_limit_rps": 0}}
        ),
    )
    with pytest.raises(OkxConnectionConfigError) as info:
        OkxHook().get_supported_chains()
    assert info.value.field == "extra.passphrase"
    assert info.value.conn_id == "okx_default"
    text = str(info.value) + repr(info.value) + caplog.text
    assert bad.strip() not in text and repr(bad)[1:-1] not in text
    assert server.requests == []  # refused when the connection is read, nothing sent


# --- what every request carries ----------------------------------------------------------


def test_every_request_carries_a_versioned_user_agent(hostile, no_sleep):
    from airflow_provider_okx import __version__

    server = hostile(ok)
    OkxHook().get_supported_chains()
    assert server.requests[0].headers["user-agent"] == f"airflow-provider-okx/{__version__}"


# --- dropped connections -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset", "half a response"])
def test_dropped_connections_are_retried_then_typed(hostile, no_sleep, how):
    def drop(ex: Exchange) -> None:
        if how == "reset":
            ex.reset()
        elif how == "half a response":
            ex.send(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"code":"0"')
            ex.conn.close()
        else:
            ex.conn.close()

    server = hostile(drop, max_retries=2)
    with pytest.raises(OkxTransportError) as info:
        OkxHook().get_supported_chains()
    assert info.value.endpoint == f"GET {CHAINS_PATH}"
    assert len(server.requests) == 3
    assert len(no_sleep.waits) == 2


def test_a_malformed_success_over_real_http(hostile, no_sleep):
    server = hostile(lambda ex: ex.respond(200, {"code": "0", "msg": "", "data": None}), max_retries=1)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_supported_chains()
    assert info.value.field == "data"
    assert len(server.requests) == 2


# --- transport extras ----------------------------------------------------------------------


def test_verify_with_a_private_ca_and_a_client_certificate(hostile, no_sleep, tmp_path):
    files = tls_files(tmp_path)
    tls = server_tls(files, require_client_cert=True)
    hostile(ok, tls=tls, verify=files["ca"], cert=files["client_cert"], cert_key=files["client_key"])
    ok_, message = OkxHook().test_connection()
    assert ok_, message


def test_without_the_client_certificate_the_tls_server_refuses(hostile, no_sleep, tmp_path):
    files = tls_files(tmp_path)
    hostile(ok, tls=server_tls(files, require_client_cert=True), verify=files["ca"], max_retries=0)
    with pytest.raises(OkxTransportError):
        OkxHook().get_supported_chains()


def test_an_untrusted_certificate_fails_unless_verify_is_off(hostile, no_sleep, tmp_path, monkeypatch):
    files = tls_files(tmp_path)
    server = hostile(ok, tls=server_tls(files), max_retries=0)
    with pytest.raises(OkxTransportError, match=r"SSL|certificate"):
        OkxHook().get_supported_chains()
    from tests.conftest import conn_json

    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", conn_json(host=server.base_url, verify=False))
    assert len(OkxHook().get_supported_chains()) == 1


def test_requests_go_through_the_connections_proxy(hostile, no_sleep, monkeypatch):
    """The hostile server plays an HTTP proxy: it sees the absolute-form request line."""
    from tests.conftest import conn_json

    proxy = hostile(ok)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        conn_json(host="http://okx.invalid", proxies={"http": proxy.base_url}),
    )
    assert len(OkxHook().get_supported_chains()) == 1
    assert proxy.requests[0].target == f"http://okx.invalid{CHAINS_PATH}"


def test_a_header_value_http_client_refuses_is_never_quoted_nor_retried(hostile, no_sleep, caplog):
    """Defence in depth: credentials that bypassed the connection's checks (built by hand)
    make http.client raise ``ValueError: Invalid header value b'...PASSPHRASE...\\n'``."""
    import dataclasses

    from airflow_provider_okx.core.api.signing import Credentials

    caplog.set_level(logging.DEBUG)
    server = hostile(ok)
    hook = OkxHook()
    leaky = Credentials(API_KEY, SECRET_KEY, f"{PASSPHRASE}\nX-Evil: 1")
    hook.__dict__["config"] = dataclasses.replace(hook.config, credentials=leaky)
    with pytest.raises(OkxInvalidInputError) as info:
        hook.get_supported_chains()
    assert info.value.field == "headers"
    text = str(info.value) + repr(info.value) + caplog.text
    assert PASSPHRASE not in text
    assert server.requests == []
    assert no_sleep.waits == []  # not retried


def test_the_async_path_reads_the_same_checked_connection(hostile, monkeypatch, caplog):
    """A file-mounted passphrase used to become a retried transport error on the async path,
    logged at WARNING on every retry: the connection's check strips it for both paths."""
    import asyncio

    from tests.conftest import conn_json

    caplog.set_level(logging.DEBUG)
    server = hostile(ok)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", conn_json(host=server.base_url, passphrase=f"{PASSPHRASE}\n")
    )

    async def fetch() -> int:
        hook = OkxHook()
        try:
            return len(await hook.aget_supported_chains())
        finally:
            await hook.aclose()

    assert asyncio.run(fetch()) == 1
    assert server.requests[0].headers["ok-access-passphrase"] == PASSPHRASE
    assert server.requests[0].headers["user-agent"].startswith("airflow-provider-okx/")
    assert "retry" not in caplog.text
