"""The async transport (``hooks/async_transport.py``): deadline, body cap, redirects, proxies,
the signed URL on the wire, and one client per event loop that ends with its loop.

Hostile servers are small raw sockets on loopback, each bounded in what it sends."""

# ruff: noqa: F811  (the ``hostile`` fixture is imported from tests.hostile_server)

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gc
import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from airflow_provider_okx.core.api.errors import OkxApiError, OkxError, OkxTransportError
from airflow_provider_okx.hooks import async_transport
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.testing import SEED_ADDRESS, Fault
from airflow_provider_okx.triggers import shared_reads
from tests.conftest import conn_json
from tests.hostile_server import hostile  # noqa: F401  (fixture)

WALLET = "0x" + "5a" * 20
OK_BODY = json.dumps({"code": "0", "msg": "", "data": [{"tokenAssets": []}]}).encode()


class RawServer:
    """A loopback TCP server: each connection's request is read and recorded, then
    ``respond(connection, request_head)`` writes whatever it likes."""

    def __init__(self, respond: Callable[[socket.socket, bytes], None]) -> None:
        self.respond = respond
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="raw-server")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                try:
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    self.requests.append(head)
                    self.respond(conn, head)
                except OSError:
                    pass

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sock.close()


def _head_lines(head: bytes) -> list[str]:
    return head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")


def _header(head: bytes, name: str) -> str | None:
    for line in _head_lines(head)[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@contextmanager
def raw_server(respond: Callable[[socket.socket, bytes], None]) -> Iterator[RawServer]:
    with RawServer(respond) as server:
        yield server


def _hook(monkeypatch: pytest.MonkeyPatch, host: str, **config: object) -> OkxHook:
    """A hook on ``host``, its config replaced by ``config`` (timeout, cap, proxies...)."""
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", conn_json(host=host))
    hook = OkxHook()
    hook.__dict__["config"] = dataclasses.replace(hook.config, **config)
    return hook


async def _balances(hook: OkxHook, chains: object = 1) -> list:
    try:
        return await hook.aget_all_token_balances(WALLET, chains)
    finally:
        await hook.aclose()


# --- bounds --------------------------------------------------------------------------------


def test_a_trickling_server_meets_the_total_deadline(monkeypatch):
    def trickle(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n")
        for _ in range(600):  # one byte every 0.1 s: a minute in all, unless the client leaves
            conn.sendall(b" ")
            time.sleep(0.1)

    with raw_server(trickle) as server:
        hook = _hook(monkeypatch, server.url, timeout=1.0, max_retries=0)
        with pytest.raises(OkxTransportError) as info:
            # The bound of this test, not of the transport: without a total deadline the
            # trickle would outlast it and fail the test with TimeoutError instead.
            asyncio.run(asyncio.wait_for(_balances(hook), timeout=20))
    assert info.value.endpoint == "GET /api/v6/dex/balance/all-token-balances-by-address"
    assert "1 s deadline" in info.value.reason
    assert len(server.requests) == 1


def test_a_gzip_bomb_stops_at_the_body_cap(monkeypatch):
    import tracemalloc

    from airflow_provider_okx.core.api.errors import OkxResponseTooLargeError

    bomb = gzip.compress(b"0" * (256 * 2**20), compresslevel=9)  # 256 MiB in about 250 kB
    assert len(bomb) < 2**20

    def send_bomb(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: " + str(len(bomb)).encode() + b"\r\n\r\n"
        )
        conn.sendall(bomb)

    cap = 2**20
    with raw_server(send_bomb) as server:
        hook = _hook(monkeypatch, server.url, max_response_bytes=cap, max_retries=0)
        tracemalloc.start()
        try:
            with pytest.raises(OkxResponseTooLargeError) as info:
                asyncio.run(asyncio.wait_for(_balances(hook), timeout=30))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.limit == cap
    assert peak < 16 * cap  # the 256 MiB were never inflated in memory
    assert len(server.requests) == 1  # too large is not retried


def test_a_redirect_is_a_typed_error_and_is_not_followed(monkeypatch):
    hits: list[str] = []

    def redirect(conn: socket.socket, head: bytes) -> None:
        hits.append(_head_lines(head)[0])
        location = f"http://127.0.0.1:{conn.getsockname()[1]}/elsewhere"
        conn.sendall(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: " + location.encode() + b"\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    with raw_server(redirect) as server:
        hook = _hook(monkeypatch, server.url, max_retries=0)
        with pytest.raises(OkxApiError) as info:
            asyncio.run(asyncio.wait_for(_balances(hook), timeout=20))
    assert info.value.http_status == 301
    assert len(hits) == 1
    assert "/elsewhere" not in hits[0]  # never followed


def test_a_header_value_that_cannot_be_sent_is_refused_unquoted(okx_simulator_connection):
    from airflow_provider_okx.core.api.errors import OkxInvalidInputError

    hook = OkxHook()
    config = hook.config  # the connection check strips whitespace; force a line break past it
    passphrase = "file-mounted-passphrase\nX-Injected: 1"
    credentials = dataclasses.replace(config.credentials, passphrase=passphrase)
    hook.__dict__["config"] = dataclasses.replace(config, credentials=credentials)
    with pytest.raises(OkxInvalidInputError) as info:
        asyncio.run(asyncio.wait_for(_balances(hook), timeout=20))
    assert info.value.field == "headers"
    assert "file-mounted-passphrase" not in str(info.value)
    assert okx_simulator_connection.count() == 0


# --- what goes on the wire -----------------------------------------------------------------


def test_the_signed_url_goes_out_verbatim_with_our_user_agent(okx_simulator_connection):
    async def go() -> list:
        hook = OkxHook()
        try:
            return await hook.aget_all_token_balances(SEED_ADDRESS, "1,56")
        finally:
            await hook.aclose()

    rows = asyncio.run(go())
    assert rows  # the simulator verified the signature of exactly what arrived
    record = okx_simulator_connection.requests[-1]
    assert record.status == 200
    assert "chains=1,56" in record.target  # the comma as signed, not re-quoted to %2C
    user_agent = record.header("User-Agent") or ""
    assert user_agent.startswith("airflow-provider-okx/")


def test_proxy_and_its_credentials_come_from_the_connection(monkeypatch):
    def proxy(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(OK_BODY)).encode()
            + b"\r\n\r\n"
            + OK_BODY
        )

    with raw_server(proxy) as server:
        # okx.invalid never resolves: only a proxy can answer for it.
        hook = _hook(
            monkeypatch,
            "http://okx.invalid",
            proxies={"http": f"http://treasury:p%40ss@127.0.0.1:{server.port}"},
            max_retries=0,
        )
        assert asyncio.run(asyncio.wait_for(_balances(hook, "1,56"), timeout=20)) == []
    head = server.requests[0]
    method, target, _ = _head_lines(head)[0].split(" ")
    assert method == "GET"
    assert target.startswith("http://okx.invalid/api/v6/dex/balance/all-token-balances-by-address?")
    assert "chains=1,56" in target
    expected = base64.b64encode(b"treasury:p@ss").decode()
    assert _header(head, "Proxy-Authorization") == f"Basic {expected}"


def test_retry_after_paces_the_async_retry(okx_simulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=2)
    )
    okx_simulator.inject(Fault(status=429, headers={"Retry-After": "3"}))
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(OkxHook, "_asleep", staticmethod(record))
    rows = asyncio.run(_balances(OkxHook(), 1))
    assert len(rows) > 0
    assert waits == [3.0]
    assert okx_simulator.count(status=429) == 1


def test_no_header_value_is_logged_or_quoted(okx_simulator, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp", "asyncio", "airflow_provider_okx"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    # aiohttp re-sends a GET once when the connection closes unanswered; the second drop
    # reaches the protocol, which logs and retries it.
    okx_simulator.inject(Fault(drop=True, times=2))
    okx_simulator.inject(Fault(status=401, code="50113"))

    async def go() -> OkxError:
        hook = OkxHook()
        hook._asleep = _instant  # type: ignore[method-assign]
        try:
            await hook.aget_all_token_balances(SEED_ADDRESS, 1)
        except OkxError as error:
            return error
        finally:
            await hook.aclose()
        raise AssertionError("the 401 was not raised")

    error = asyncio.run(go())
    signatures = sorted({r.header("OK-ACCESS-SIGN") or "" for r in okx_simulator.requests})
    assert len(okx_simulator.requests) == 3
    assert len(signatures) == 2
    haystack = caplog.text + str(error) + repr(error)
    assert "retry 1" in caplog.text  # the dropped connection was logged and retried
    for secret in [okx_simulator.secret_key, okx_simulator.passphrase, okx_simulator.api_key, *signatures]:
        assert secret not in haystack


async def _instant(_seconds: float) -> None:
    return None


# --- one client per event loop -------------------------------------------------------------


def _established_to(port: int) -> int:
    """Client-side TCP connections of this machine to ``port`` that are still open."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                lines = file.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # ESTABLISHED
                count += 1
    return count


def _open_sessions() -> int:
    import aiohttp

    gc.collect()
    # type(), not isinstance(): isinstance reads __class__, which on Airflow 3.1's lazy module
    # proxies imports optional packages (cloudpickle).
    return sum(1 for o in gc.get_objects() if type(o) is aiohttp.ClientSession and not o.closed)


def test_one_hook_over_40_event_loops_leaves_no_client_open(okx_simulator_connection):
    port = int(okx_simulator_connection.base_url.rsplit(":", 1)[1])
    hook = OkxHook()  # reused by every loop, never closed: the loop's end must do it
    sessions_before = _open_sessions()
    for _ in range(40):
        rows = asyncio.run(hook.aget_all_token_balances(SEED_ADDRESS, 1))
        assert len(rows) > 0
        assert async_transport.open_clients() == 0
    assert okx_simulator_connection.count(status=200) == 40
    assert _open_sessions() == sessions_before
    assert _established_to(port) == 0
    assert shared_reads.loops_with_reads() == 0


def test_the_loop_client_is_shared_and_closed_by_its_last_user(okx_simulator_connection):
    async def go() -> list[int]:
        first, second = OkxHook(), OkxHook()
        await first.aget_all_token_balances(SEED_ADDRESS, 1)
        await second.aget_all_token_balances(SEED_ADDRESS, 1)
        seen = [async_transport.open_clients()]
        await first.aclose()
        seen.append(async_transport.open_clients())
        await second.aclose()
        seen.append(async_transport.open_clients())
        return seen

    assert asyncio.run(go()) == [1, 1, 0]
    port = int(okx_simulator_connection.base_url.rsplit(":", 1)[1])
    assert _established_to(port) == 0


def test_triggers_share_one_client_and_release_it(okx_simulator_connection):
    from airflow_provider_okx.core.thresholds import BalanceCondition
    from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    okx_simulator_connection.set_balance(WALLET, "1", usdt, "9", price="1")

    async def go() -> tuple[list[str], int, int]:
        triggers = [
            OkxBalanceTrigger(
                condition=BalanceCondition.build(
                    address=WALLET, chain=1, token_address=usdt, threshold=str(k % 10)
                ).to_kwargs(),
                poke_interval=0.05,
            )
            for k in range(20)
        ]
        runs = [t.run() for t in triggers]
        events = await asyncio.gather(*(run.__anext__() for run in runs))
        during = async_transport.open_clients()
        for trigger, run in zip(triggers, runs, strict=True):  # what the triggerer does
            await run.aclose()
            await trigger.cleanup()
        return [e.payload["status"] for e in events], during, async_transport.open_clients()

    statuses, during, after = asyncio.run(go())
    assert statuses == ["success"] * 20
    assert (during, after) == (1, 0)


# --- TLS from the connection ---------------------------------------------------------------


def _chains_ok(ex) -> None:
    from tests.hostile_server import CHAINS

    ex.respond(200, json.dumps(CHAINS).encode())


async def _chains(hook: OkxHook) -> int:
    try:
        return len(await hook.aget_supported_chains())
    finally:
        await hook.aclose()


def test_async_tls_with_a_private_ca_and_a_client_certificate(hostile, tmp_path):
    from tests.hostile_server import server_tls, tls_files

    files = tls_files(tmp_path)
    tls = server_tls(files, require_client_cert=True)
    hostile(_chains_ok, tls=tls, verify=files["ca"], cert=files["client_cert"], cert_key=files["client_key"])
    assert asyncio.run(_chains(OkxHook())) == 1


def test_async_tls_refuses_an_untrusted_certificate_unless_verify_is_off(hostile, tmp_path, monkeypatch):
    from tests.hostile_server import server_tls, tls_files

    files = tls_files(tmp_path)
    server = hostile(_chains_ok, tls=server_tls(files), max_retries=0)
    with pytest.raises(OkxTransportError, match=r"SSL|certificate"):
        asyncio.run(_chains(OkxHook()))
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", conn_json(host=server.base_url, verify=False))
    assert asyncio.run(_chains(OkxHook())) == 1


def test_the_triggers_and_the_async_transport_import_no_http_library():
    """The triggerer imports trigger modules to deserialise them; aiohttp waits for a request."""
    import subprocess
    import sys

    script = (
        "import sys, json\n"
        "import airflow.triggers.base\n"  # what a triggerer has imported already
        "before = set(sys.modules)\n"
        "import airflow_provider_okx.triggers.balance, airflow_provider_okx.triggers.shared_reads\n"
        "import airflow_provider_okx.hooks.async_transport\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    new = json.loads(out.stdout.strip().splitlines()[-1])
    assert [m for m in new if m.split(".")[0] in ("aiohttp", "yarl", "multidict", "requests")] == []
