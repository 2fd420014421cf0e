"""The shared rate budget on a real Redis (Debian's ``redis-server``, started by the test) and
the OKX simulator: the Lua reservation, the connection extra, masking, and the store failing
(unreachable from the start, stopped mid-run, restarted, the key evicted)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from airflow_provider_okx.core.api.errors import OkxConnectionConfigError
from airflow_provider_okx.core.api.ratelimit import Reserve, Reserved, StoreFailed
from airflow_provider_okx.hooks import connection, rate_store
from airflow_provider_okx.hooks.connection import config_from_connection
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.hooks.rate_store import KEY_PREFIX, RateStore, budget_key, redacted
from airflow_provider_okx.testing import SEED_ADDRESS
from tests.conftest import API_KEY, PASSPHRASE, SECRET_KEY
from tests.redis_server import PASSWORD, RedisServer

FAR = 10_000.0  # an interval no test run can outlast: waits then read as exact slot gaps


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test gets its own process-wide limiters and store clients."""
    monkeypatch.setattr(connection, "_shared", {})
    monkeypatch.setattr(rate_store, "_stores", {})


class Conn:
    def __init__(self, host="https://okx.test", **extra):
        self.conn_id = "okx_store"
        self.host, self.schema, self.port = host, None, None
        self.login, self.password = API_KEY, SECRET_KEY
        self.extra = json.dumps({"passphrase": PASSPHRASE, **extra})


def sim_conn(monkeypatch, sim, **extra) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", sim.connection_json(**extra))


# --- the Lua reservation ----------------------------------------------------------------------


def test_reservations_are_spaced_one_interval_apart_on_the_store_clock(redis_server):
    store = RateStore(redis_server.url, budget_key("https://okx.test", "k1"))
    waits = [store.reserve(Reserve(FAR)) for _ in range(3)]
    assert all(isinstance(w, Reserved) for w in waits)
    first, second, third = (w.wait for w in waits)  # type: ignore[union-attr]
    assert first == 0.0
    # the second slot is one interval after the first, less the microseconds between calls
    assert FAR - 60 < second <= FAR
    assert 2 * FAR - 60 < third <= 2 * FAR
    # another key is independent
    other = RateStore(redis_server.url, budget_key("https://okx.test", "k2"))
    assert other.reserve(Reserve(FAR)) == Reserved(0.0)


def test_the_key_is_a_hash_and_expires(redis_server):
    store = RateStore(redis_server.url, budget_key("https://okx.test", API_KEY))
    store.reserve(Reserve(0.5))
    client = redis_server.client()
    [key] = client.keys("*")
    assert key.decode().startswith(KEY_PREFIX)
    assert API_KEY not in key.decode() and SECRET_KEY not in key.decode()
    assert 0 < client.pttl(key) <= 1500  # one interval + one second
    assert budget_key("https://okx.test", API_KEY) != budget_key("https://other.test", API_KEY)


def test_async_reservations_share_the_sync_schedule(redis_server):
    store = RateStore(redis_server.url, budget_key("https://okx.test", "k"))

    async def two() -> list:
        return [await store.areserve(Reserve(FAR)), await store.areserve(Reserve(FAR))]

    first, second = asyncio.run(two())
    third = store.reserve(Reserve(FAR))
    assert first == Reserved(0.0)
    assert isinstance(second, Reserved) and FAR - 60 < second.wait <= FAR
    assert isinstance(third, Reserved) and 2 * FAR - 60 < third.wait <= 2 * FAR


def test_many_concurrent_async_reservations_get_distinct_slots_over_few_connections(redis_server):
    store = RateStore(redis_server.url, budget_key("https://okx.test", "k"))

    async def many() -> tuple[list, int]:
        answers = await asyncio.gather(*(store.areserve(Reserve(FAR)) for _ in range(200)))
        clients = redis_server.client().client_list()
        return answers, len(clients)

    answers, connections = asyncio.run(many())
    assert all(isinstance(a, Reserved) for a in answers)
    slots = sorted(round(a.wait / FAR) for a in answers)  # type: ignore[union-attr]
    assert slots == list(range(200))  # one slot each, none shared, none skipped
    assert connections <= rate_store.ASYNC_CONNECTIONS + 1  # + the test's own client


def test_a_store_that_is_down_is_an_answer_not_an_exception(redis_server):
    store = RateStore(redis_server.url, "k")
    redis_server.stop()
    failed = store.reserve(Reserve(1.0))
    assert isinstance(failed, StoreFailed)
    assert PASSWORD not in failed.reason
    failed_async = asyncio.run(store.areserve(Reserve(1.0)))
    assert isinstance(failed_async, StoreFailed)
    ok, message = store.ping()
    assert not ok and PASSWORD not in message and "***" in message


# --- the connection extra -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://:secretpw@host:6379/0", "expected a Redis URL"),
        ("redis://:secretpw@host:notaport/0", "not a valid URL"),
        ("redis://:secretpw@/0", "no host name"),
        ("redis://:secretpw@host:6379/zero", "database"),
        ("host:6379", "expected a Redis URL"),
    ],
)
def test_a_malformed_store_url_is_refused_naming_the_field(url, reason):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(rate_limit_store=url))
    assert info.value.field == "extra.rate_limit_store"
    assert reason in str(info.value)
    assert "secretpw" not in str(info.value) and "secretpw" not in repr(info.value.value)


def test_a_malformed_store_url_fails_test_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        json.dumps(
            {
                "conn_type": "okx",
                "host": "https://okx.test",
                "login": API_KEY,
                "password": SECRET_KEY,
                "extra": {"passphrase": PASSPHRASE, "rate_limit_store": "mysql://:secretpw@db/1"},
            }
        ),
    )
    ok, message = OkxHook().test_connection()
    assert not ok
    assert "extra.rate_limit_store" in message and "secretpw" not in message


def test_without_the_redis_client_requests_fall_back_and_the_test_says_what_to_install(
    okx_simulator, redis_server, monkeypatch, caplog
):
    import sys

    caplog.set_level(logging.WARNING, logger="airflow_provider_okx")
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=40, rate_limit_store=redis_server.url)
    hook = OkxHook()
    hook.get_all_token_balances(SEED_ADDRESS, 1)  # served, at the fallback pace
    [warning] = warnings_about_the_store(caplog)
    assert "pip install 'airflow-provider-okx[redis]'" in warning.getMessage()
    ok, message = hook.test_connection()
    assert not ok and "airflow-provider-okx[redis]" in message


def test_the_store_password_is_masked_and_never_in_repr():
    url = "rediss://user:s3cret-store-pw@redis.internal:6380/2"
    config = config_from_connection(Conn(rate_limit_store=url))
    assert config.rate_limit_store == url
    assert "s3cret-store-pw" in config.secrets()
    assert "s3cret-store-pw" not in repr(config)
    assert redacted(url) == "rediss://user:***@redis.internal:6380/2"
    assert redacted("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_test_connection_reports_the_store(okx_simulator, redis_server, monkeypatch):
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=50, rate_limit_store=redis_server.url)
    ok, message = OkxHook().test_connection()
    assert ok, message
    assert "rate_limit_store redis://:***@127.0.0.1" in message and "answered" in message
    assert PASSWORD not in message
    redis_server.stop()
    ok, message = OkxHook().test_connection()
    assert not ok
    assert "did not answer" in message and PASSWORD not in message


# --- the hook on the store, and the store failing --------------------------------------------


def budget_keys(server: RedisServer) -> list[bytes]:
    return server.client().keys(KEY_PREFIX + "*")


def test_sync_and_async_requests_reserve_on_the_store(okx_simulator, redis_server, monkeypatch):
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=50, rate_limit_store=redis_server.url)
    hook = OkxHook()
    hook.get_all_token_balances(SEED_ADDRESS, 1)
    [key] = budget_keys(redis_server)
    assert key.decode() == budget_key(okx_simulator.base_url, okx_simulator.api_key)
    redis_server.client().delete(key)

    async def read() -> None:
        await hook.aget_all_token_balances(SEED_ADDRESS, 1)
        await hook.aclose()

    asyncio.run(read())
    assert budget_keys(redis_server) == [key]
    assert okx_simulator.count(status=200) == 2


def warnings_about_the_store(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno == logging.WARNING and "Rate-limit store" in r.getMessage()
    ]


def test_store_unreachable_from_the_start_falls_back_with_one_warning(
    okx_simulator, redis_server, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="airflow_provider_okx")
    url = redis_server.url
    redis_server.stop()
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=40, rate_limit_store=url)
    hook = OkxHook()
    for _ in range(4):
        hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert okx_simulator.count(status=200) == 4
    [warning] = warnings_about_the_store(caplog)
    assert "redis://:***@127.0.0.1" in warning.getMessage()
    assert "10 requests/s" in warning.getMessage()  # a quarter of 40
    assert PASSWORD not in caplog.text
    assert connection.shared_state(hook.config).limiter.degraded  # type: ignore[attr-defined]


def test_store_stopped_mid_run_and_restarted(okx_simulator, redis_server, monkeypatch, caplog):
    from airflow_provider_okx.core.api import ratelimit

    monkeypatch.setattr(ratelimit, "STORE_RETRY_MIN", 0.05)
    monkeypatch.setattr(ratelimit, "STORE_RETRY_MAX", 0.05)
    caplog.set_level(logging.INFO, logger="airflow_provider_okx")
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=40, rate_limit_store=redis_server.url)
    hook = OkxHook()
    limiter = connection.shared_state(hook.config).limiter
    hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert budget_keys(redis_server) and not limiter.degraded  # type: ignore[attr-defined]

    redis_server.stop()
    for _ in range(3):
        hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert limiter.degraded  # type: ignore[attr-defined]

    redis_server.start()  # same port, empty: the script and the key are gone
    for _ in range(200):  # until the back-off lets it try the store again (bounded)
        hook.get_all_token_balances(SEED_ADDRESS, 1)
        if not limiter.degraded:  # type: ignore[attr-defined]
            break
    assert not limiter.degraded  # type: ignore[attr-defined]
    assert budget_keys(redis_server)  # reserving on the restarted store again
    assert len(warnings_about_the_store(caplog)) == 1
    assert "answers again" in caplog.text
    assert okx_simulator.count(status=429) == 0
    assert okx_simulator.count(status=200) == okx_simulator.count()
    assert PASSWORD not in caplog.text


@pytest.fixture
def silent_store():
    """A TCP port that accepts connections (the kernel's backlog) and never answers: a store
    too slow to serve a reservation within its timeout."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"redis://:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


def test_a_store_that_never_answers_times_out_into_the_fallback(
    okx_simulator, silent_store, monkeypatch, caplog
):
    caplog.set_level(logging.WARNING, logger="airflow_provider_okx")
    store = RateStore(silent_store, "k")
    failed = store.reserve(Reserve(1.0))
    assert isinstance(failed, StoreFailed) and "Timeout" in failed.reason
    assert isinstance(asyncio.run(store.areserve(Reserve(1.0))), StoreFailed)
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=40, rate_limit_store=silent_store)
    hook = OkxHook()
    for _ in range(3):
        hook.get_all_token_balances(SEED_ADDRESS, 1)

    async def read() -> None:
        await hook.aget_all_token_balances(SEED_ADDRESS, 1)
        await hook.aclose()

    asyncio.run(read())
    assert okx_simulator.count(status=200) == 4
    assert len(warnings_about_the_store(caplog)) == 1
    assert PASSWORD not in caplog.text


def test_an_evicted_key_starts_again_at_now(okx_simulator, redis_server, monkeypatch):
    sim_conn(monkeypatch, okx_simulator, rate_limit_rps=50, rate_limit_store=redis_server.url)
    hook = OkxHook()
    hook.get_all_token_balances(SEED_ADDRESS, 1)
    client = redis_server.client()
    client.flushall()
    hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert not connection.shared_state(hook.config).limiter.degraded  # type: ignore[attr-defined]
    assert budget_keys(redis_server)
