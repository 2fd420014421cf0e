"""OkxHook over real HTTP against the simulator: signing, the retry table, clock, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pytest

from airflow_provider_okx.core.api.errors import (
    OkxApiError,
    OkxAuthError,
    OkxClockSkewError,
    OkxRateLimitError,
    OkxTransportError,
)
from airflow_provider_okx.core.models import decimal_str
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.testing import SEED_ADDRESS, Fault
from tests.okx_codes import NOT_RETRYABLE, RETRYABLE

SEED = json.loads(resources.files("airflow_provider_okx.testing").joinpath("seed_example.json").read_text())
SEED_ASSETS = SEED["response"]["data"][0]["tokenAssets"]


@pytest.fixture
def sim(okx_simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    return okx_simulator


@pytest.mark.parametrize("version", ["v6", "v5"])
def test_seed_wallet_is_exactly_the_documented_example(okx_simulator, monkeypatch, version):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, api_version=version)
    )
    hook = OkxHook()
    balances = hook.get_all_token_balances(SEED_ADDRESS, 1, exclude_risk_tokens=False)
    assert len(balances) == 31
    for got, doc in zip(balances, SEED_ASSETS, strict=True):
        assert got.token_address == doc["tokenAddress"]
        assert got.balance == Decimal(doc["balance"])
        assert decimal_str(got.balance) == doc["balance"]
        assert got.token_price == Decimal(doc["tokenPrice"])
        assert got.token_type == (doc["tokenType"] if version == "v5" else None)
    exact = sum(Fraction(d["balance"]) * Fraction(d["tokenPrice"]) for d in SEED_ASSETS)
    from airflow_provider_okx.core.models import total_usd

    assert Fraction(total_usd(balances)) == exact
    okx_total = hook.get_total_value(SEED_ADDRESS, 1, asset_type="token", exclude_risk_tokens=False)
    assert Fraction(okx_total) == exact


def test_requests_are_signed_as_okx_verifies_them(sim):
    hook = OkxHook()
    hook.get_supported_chains()  # GET without query
    hook.get_all_token_balances(SEED_ADDRESS, "1,56")  # GET with query (literal comma)
    hook.get_token_balances(SEED_ADDRESS, [(1, ""), (56, "")])  # POST with body
    assert sim.count() == 3
    assert sim.count(status=200) == 3
    assert {r.method for r in sim.requests} == {"GET", "POST"}


@pytest.mark.parametrize(("status", "code", "cls"), RETRYABLE)
def test_retryable_code_is_retried(sim, no_sleep, status, code, cls):
    sim.inject(Fault(status=status, code=code, times=2))
    assert len(OkxHook().get_all_token_balances(SEED_ADDRESS, 1)) > 0
    assert sim.count() == 3
    assert len(no_sleep.waits) == 2


@pytest.mark.parametrize(("status", "code", "cls"), RETRYABLE)
def test_retryable_code_gives_up_after_max_retries(okx_simulator, monkeypatch, no_sleep, status, code, cls):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=3)
    )
    okx_simulator.inject(Fault(status=status, code=code, times=None))
    with pytest.raises(cls) as info:
        OkxHook().get_all_token_balances(SEED_ADDRESS, 1)
    if cls is OkxRateLimitError:
        # a signal to slow down: retried past max_retries while the waits fit the call's
        # deadline (timeout 10 s x (3 + 1)), then raised as itself
        assert okx_simulator.count() > 4
        assert sum(no_sleep.waits) <= 10 * (3 + 1)
    else:
        assert okx_simulator.count() == 4
    assert info.value.code == code


@pytest.mark.parametrize(("status", "code", "cls"), NOT_RETRYABLE)
def test_non_retryable_code_fails_after_one_request(sim, no_sleep, status, code, cls):
    sim.inject(Fault(status=status, code=code, msg=f"simulated {code}"))
    with pytest.raises(cls) as info:
        OkxHook().get_all_token_balances(SEED_ADDRESS, 1)
    assert sim.count() == 1
    assert info.value.code == code
    assert info.value.http_status == status
    assert f"simulated {code}" in str(info.value)
    assert "/api/v6/dex/balance/all-token-balances-by-address" in str(info.value)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(drop=True),
        Fault(body="<html><body>502 Bad Gateway</body></html>", status=502),
        Fault(body='{"code": "0", "da'),
    ],
    ids=["dropped", "html", "truncated"],
)
def test_broken_answers_are_retried(sim, no_sleep, fault):
    sim.inject(fault)
    assert len(OkxHook().get_all_token_balances(SEED_ADDRESS, 1)) > 0
    assert sim.count() == 2


def test_timeouts_are_retried(okx_simulator, monkeypatch, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, timeout=0.3)
    )
    okx_simulator.inject(Fault(latency=1.0))
    assert len(OkxHook().get_all_token_balances(SEED_ADDRESS, 1)) > 0
    assert len(no_sleep.waits) == 1


def test_retry_after_is_honoured(sim, no_sleep):
    sim.inject(Fault(status=429, code="50011", headers={"Retry-After": "2"}))
    OkxHook().get_all_token_balances(SEED_ADDRESS, 1)
    assert no_sleep.waits == [2.0]


def test_429_burst_is_absorbed_with_growing_delays(okx_simulator, monkeypatch):
    """No client-side limit, a server allowing 4 rps: the hook backs off until all succeed."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=8)
    )
    okx_simulator.rate_limit_rps = 4
    from tests.conftest import SleepRecorder

    waits = SleepRecorder()
    hook = OkxHook()
    import time as _time

    hook._sleep = lambda s: (waits(s), _time.sleep(s))  # type: ignore[method-assign]
    for _ in range(10):
        hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert okx_simulator.count(status=429) > 0
    assert okx_simulator.count(status=200) == 10
    # within one request, consecutive waits grow
    assert max(waits.waits) > min(waits.waits)


def test_client_rate_limit_prevents_429(okx_simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=10))
    okx_simulator.rate_limit_rps = 10
    hook = OkxHook()
    for _ in range(15):
        hook.get_all_token_balances(SEED_ADDRESS, 1)
    assert okx_simulator.count(status=429) == 0
    assert okx_simulator.count() == 15


def test_clock_120s_off_recovers_after_one_resync(okx_simulator, monkeypatch, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, api_key="clock-test")
    )
    okx_simulator.add_key("clock-test", okx_simulator.secret_key, okx_simulator.passphrase)
    okx_simulator.clock_offset = 120
    hook = OkxHook()
    assert len(hook.get_all_token_balances(SEED_ADDRESS, 1)) > 0
    codes = [r.code for r in okx_simulator.requests]
    assert codes[0] in ("50102", "50112") and codes[1:] == ["0"]
    assert no_sleep.waits == []
    hook.get_all_token_balances(SEED_ADDRESS, 1)  # the offset is kept: no more refusals
    assert [r.code for r in okx_simulator.requests][2:] == ["0"]


def test_wrong_secret_fails_once_with_50113(okx_simulator, monkeypatch, caplog):
    conn = json.loads(okx_simulator.connection_json(rate_limit_rps=0))
    conn["password"] = "definitely-the-wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", json.dumps(conn))
    with pytest.raises(OkxAuthError) as info:
        OkxHook().get_all_token_balances(SEED_ADDRESS, 1)
    assert okx_simulator.count() == 1
    assert "50113" in str(info.value)
    assert "definitely-the-wrong-secret" not in str(info.value) + repr(info.value) + caplog.text


def test_120_chains_become_three_requests(sim):
    OkxHook().get_all_token_balances(SEED_ADDRESS, list(range(2000, 2120)))
    assert sim.count(endpoint="all_token_balances") == 3


def test_chunk_failure_fails_the_whole_call(sim, no_sleep):
    sim.inject(Fault(status=200, code="81104", msg="Chain not support", times=1))
    with pytest.raises(OkxApiError):
        OkxHook().get_all_token_balances(SEED_ADDRESS, list(range(2000, 2120)))


def test_nothing_secret_in_debug_logs_errors_or_repr(okx_simulator, monkeypatch, caplog, no_sleep):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "httpx", "httpcore", "airflow_provider_okx"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    hook = OkxHook()
    okx_simulator.inject(Fault(status=503, code="50001"))
    hook.get_all_token_balances(SEED_ADDRESS, "1,56")
    hook.get_token_balances(SEED_ADDRESS, [(1, "")])
    texts = [repr(hook), str(hook.__dict__.get("config")), repr(hook.protocol)]
    okx_simulator.inject(Fault(status=401, code="50113", msg="Invalid Sign"))
    with pytest.raises(OkxAuthError) as info:
        hook.get_supported_chains()
    texts += [str(info.value), repr(info.value)]

    async def async_calls():
        ahook = OkxHook()
        await ahook.aget_all_token_balances(SEED_ADDRESS, 1)
        await ahook.aclose()

    asyncio.run(async_calls())
    signatures = [r.headers["OK-ACCESS-SIGN"] for r in okx_simulator.requests]
    assert len(signatures) >= 5
    haystack = caplog.text + "\n".join(texts)
    assert "GET /api/v6" in caplog.text  # debug logging really was on
    for secret in [okx_simulator.secret_key, okx_simulator.passphrase, *signatures]:
        assert secret not in haystack


def test_async_twins_match_sync(sim):
    async def both():
        hook = OkxHook()
        try:
            return (
                await hook.aget_all_token_balances(SEED_ADDRESS, 1, exclude_risk_tokens=False),
                await hook.aget_total_value(SEED_ADDRESS, 1),
                await hook.aget_supported_chains(),
                await hook.aget_token_balances(SEED_ADDRESS, [(1, "")]),
            )
        finally:
            await hook.aclose()

    rows, total, chains, native = asyncio.run(both())
    hook = OkxHook()
    assert rows == hook.get_all_token_balances(SEED_ADDRESS, 1, exclude_risk_tokens=False)
    assert total == hook.get_total_value(SEED_ADDRESS, 1)
    assert chains == hook.get_supported_chains()
    assert native == hook.get_token_balances(SEED_ADDRESS, [(1, "")])


def test_async_transport_errors_are_retried(okx_simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    okx_simulator.inject(Fault(drop=True))

    async def go():
        hook = OkxHook()
        hook._asleep = _instant  # type: ignore[method-assign]
        try:
            return await hook.aget_all_token_balances(SEED_ADDRESS, 1)
        finally:
            await hook.aclose()

    assert len(asyncio.run(go())) > 0
    assert okx_simulator.count() == 2


async def _instant(_seconds: float) -> None:
    return None


def test_connection_refused_is_a_transport_error(monkeypatch, no_sleep):
    from tests.conftest import conn_json

    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", conn_json(host="http://127.0.0.1:9", max_retries=1))
    with pytest.raises(OkxTransportError, match="no answer from OKX"):
        OkxHook().get_supported_chains()
    assert len(no_sleep.waits) == 1


def test_clock_error_class_is_auth_error():
    assert issubclass(OkxClockSkewError, OkxAuthError)


@pytest.mark.parametrize("version", ["v6", "v5"])
def test_asking_for_risk_tokens_gets_them_on_both_api_versions(okx_simulator, monkeypatch, version):
    """v6 hides risk tokens unless ``filter=1`` is sent too: without it totals silently miss them."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, api_version=version)
    )
    wallet = "0x" + "08" * 20
    hook = OkxHook()
    everything = hook.get_all_token_balances(wallet, "1,56,8453", exclude_risk_tokens=False)
    filtered = hook.get_all_token_balances(wallet, "1,56,8453", exclude_risk_tokens=True)
    assert any(row.is_risk_token for row in everything)
    assert not any(row.is_risk_token for row in filtered)
    assert {(r.chain_index, r.token_address) for r in filtered} < {
        (r.chain_index, r.token_address) for r in everything
    }
