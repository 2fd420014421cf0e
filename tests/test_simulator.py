"""The OKX simulator speaks OKX's protocol: signatures, clocks, limits, faults and data.

Requests here are signed by a helper written from OKX's documentation (hmac + base64), not by
the provider's signing code, so the simulator is checked independently of the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_okx.chains import known_chains
from airflow_provider_okx.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PASSPHRASE,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SEED_ADDRESS,
    Fault,
    OkxSimulator,
)
from airflow_provider_okx.testing.auth import RateLimiter
from airflow_provider_okx.testing.pytest_plugin import (  # noqa: F401 (fixtures)
    okx_simulator,
    okx_simulator_connection,
)
from airflow_provider_okx.testing.wallets import generated_assets

ROOT = Path(__file__).resolve().parents[1]
SEED = json.loads((ROOT / "airflow_provider_okx" / "testing" / "seed_example.json").read_text())
SEED_TOKENS: list[dict[str, Any]] = SEED["response"]["data"][0]["tokenAssets"]

V6 = "/api/v6/dex/balance"
V5 = "/api/v5/wallet/asset"
V6_ALL = f"{V6}/all-token-balances-by-address"
V5_ALL = f"{V5}/all-token-balances-by-address"
V6_TOTAL = f"{V6}/total-value-by-address"
V5_TOTAL = f"{V5}/total-value-by-address"
V6_TOKENS = f"{V6}/token-balances-by-address"
V5_TOKENS = f"{V5}/token-balances-by-address"
WALLET = "0x1111111111111111111111111111111111111111"
SOL_WALLET = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"


# --- an independent OKX client, straight from the documentation -----------------------------


def okx_timestamp(offset: float = 0.0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def okx_sign(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    prehash = f"{timestamp}{method}{request_path}{body}".encode()
    return base64.b64encode(hmac.new(secret.encode(), prehash, hashlib.sha256).digest()).decode()


def okx_headers(
    method: str,
    request_path: str,
    body: str = "",
    *,
    key: str = DEFAULT_API_KEY,
    secret: str = DEFAULT_SECRET_KEY,
    passphrase: str = DEFAULT_PASSPHRASE,
    timestamp: str | None = None,
) -> dict[str, str]:
    timestamp = okx_timestamp() if timestamp is None else timestamp
    return {
        "OK-ACCESS-KEY": key,
        "OK-ACCESS-SIGN": okx_sign(secret, timestamp, method, request_path, body),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": passphrase,
        "OK-ACCESS-PROJECT": DEFAULT_PROJECT_ID,
        "Content-Type": "application/json",
    }


def get(sim: OkxSimulator, target: str, *, signed: str | None = None, **kw: Any) -> requests.Response:
    """GET ``target`` as-is, signed over ``signed`` (default: the target itself)."""
    headers = kw.pop("headers", None) or okx_headers("GET", target if signed is None else signed, **kw)
    return requests.get(sim.base_url + target, headers=headers, timeout=5)


def post(sim: OkxSimulator, path: str, payload: Any, *, signed: str | None = None) -> requests.Response:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    headers = okx_headers("POST", path, body if signed is None else signed)
    return requests.post(sim.base_url + path, data=body.encode(), headers=headers, timeout=5)


def assets(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["code"] == "0", payload
    return payload["data"][0]["tokenAssets"]


def total(response: requests.Response) -> Fraction:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["code"] == "0", payload
    return Fraction(payload["data"][0]["totalValue"])


def error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


@pytest.fixture
def sim():
    with OkxSimulator() as simulator:
        yield simulator


# --- data ------------------------------------------------------------------------------------


def test_seed_wallet_v5_is_the_documented_example(sim):
    request = SEED["request"]
    target = f"{request['path']}?{request['query']}"
    assert assets(get(sim, target)) == SEED_TOKENS
    assert len(SEED_TOKENS) == 31
    # the address matches case-insensitively
    assert assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS.lower()}&chains=1")) == SEED_TOKENS


def test_seed_wallet_v6_maps_the_fields(sim):
    expected = [
        {
            "chainIndex": t["chainIndex"],
            "tokenContractAddress": t["tokenAddress"],
            "address": t["address"],
            "symbol": t["symbol"],
            "balance": t["balance"],
            "rawBalance": t["rawBalance"],
            "tokenPrice": t["tokenPrice"],
            "isRiskToken": t["isRiskToken"],
        }
        for t in SEED_TOKENS
    ]
    got = assets(get(sim, f"{V6_ALL}?address={SEED_ADDRESS}&chains=1&excludeRiskToken=1"))
    assert got == expected
    assert all(list(item) == list(expected[0]) for item in got)


def test_total_value_is_the_exact_sum(sim):
    expected = sum(Fraction(t["balance"]) * Fraction(t["tokenPrice"]) for t in SEED_TOKENS)
    for path in (V6_TOTAL, V5_TOTAL):
        assert total(get(sim, f"{path}?address={SEED_ADDRESS}&chains=1")) == expected
    # a generated wallet: tokens + DeFi, each exact
    base = f"{V6_TOTAL}?address={WALLET}&chains=1,56,137"
    tokens = assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=1,56,137"))
    token_sum = sum(Fraction(t["balance"]) * Fraction(t["tokenPrice"]) for t in tokens)
    assert total(get(sim, base + "&assetType=1")) == token_sum
    defi = total(get(sim, base + "&assetType=2"))
    assert total(get(sim, base)) == total(get(sim, base + "&assetType=0")) == token_sum + defi
    with_risk = total(get(sim, base + "&assetType=1&excludeRiskToken=false"))
    assert with_risk >= token_sum
    assert error(get(sim, base + "&excludeRiskToken=0")) == (400, "51000")


def test_risk_filter_v6_and_v5(sim):
    for path, param in ((V6_ALL, "excludeRiskToken"), (V5_ALL, "filter")):
        for chain in ("1", "56", "8453"):
            base = f"{path}?address={WALLET}&chains={chain}"
            default = assets(get(sim, base))
            filtered = assets(get(sim, f"{base}&{param}=0"))
            unfiltered = assets(get(sim, f"{base}&{param}=1"))
            assert default == filtered
            assert not any(t["isRiskToken"] for t in filtered)
            risky = [t for t in unfiltered if t["isRiskToken"]]
            assert risky, f"generated wallets hold risk tokens on chain {chain}"
            assert [t for t in unfiltered if not t["isRiskToken"]] == filtered
    # no risk tokens where OKX does not flag them
    assert not any(
        t["isRiskToken"] for t in assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=137&excludeRiskToken=1"))
    )


def test_generated_wallets_look_like_okx(sim):
    v5 = assets(get(sim, f"{V5_ALL}?address={WALLET.upper().replace('0X', '0x')}&chains=1,56,10&filter=1"))
    assert {t["chainIndex"] for t in v5} == {"1", "56", "10"}
    assert all(t["address"] == WALLET for t in v5)  # lower case for EVM
    assert any(t["tokenAddress"] == "" for t in v5)  # native coin
    for t in v5:
        assert set(t) == set(SEED_TOKENS[0])
        for name in ("balance", "tokenPrice", "transferAmount", "availableAmount"):
            assert isinstance(t[name], str)
            Fraction(t[name])
        assert t["rawBalance"] == "" or t["rawBalance"].isdigit()
    v6 = assets(get(sim, f"{V6_ALL}?address={SOL_WALLET}&chains=501&excludeRiskToken=1"))
    assert all(t["address"] == SOL_WALLET and "tokenType" not in t for t in v6)
    # Bitcoin inscriptions: tokenType "2", transfer + available = balance
    inscriptions = [
        a
        for n in range(30)
        for a in generated_assets(f"bc1qtest{n}", "0", f"bc1qtest{n}")
        if a.token_type == "2"
    ]
    assert inscriptions
    assert all(a.token_address.startswith("btc-") for a in inscriptions)
    assert all(
        Fraction(a.transfer_amount) + Fraction(a.available_amount) == Fraction(a.balance)
        for a in inscriptions
    )
    unpriced = [
        a for n in range(30) for a in generated_assets(f"0x{n:040x}", "1", "") if a.token_price == "0"
    ]
    assert unpriced


def test_determinism_across_instances():
    target = f"{V6_ALL}?address={WALLET}&chains=1,56,8453,42161&excludeRiskToken=1"
    with OkxSimulator() as first, OkxSimulator() as second:
        one, two = get(first, target), get(second, target)
        assert one.status_code == two.status_code == 200
        assert one.content == two.content
        other = get(first, target.replace("1111", "2222"))
        assert other.content != one.content


def test_token_balances_post(sim):
    wanted = [
        {"chainIndex": "1", "tokenContractAddress": ""},
        {
            "chainIndex": "1",
            "tokenContractAddress": SEED_TOKENS[2]["tokenAddress"].upper().replace("0X", "0x"),
        },
        {"chainIndex": "1", "tokenContractAddress": "0x" + "9" * 40},  # not held: absent
    ]
    got = assets(post(sim, V6_TOKENS, {"address": SEED_ADDRESS, "tokenContractAddresses": wanted}))
    assert [t["symbol"] for t in got] == ["ETH", "WBTC"]
    v5 = [{"chainIndex": "1", "tokenAddress": SEED_TOKENS[0]["tokenAddress"]}]
    got = assets(post(sim, V5_TOKENS, {"address": SEED_ADDRESS, "tokenAddresses": v5, "filter": "0"}))
    assert got == [SEED_TOKENS[0]]
    twenty = [{"chainIndex": "1", "tokenContractAddress": f"0x{n:040x}"} for n in range(20)]
    assert post(sim, V6_TOKENS, {"address": WALLET, "tokenContractAddresses": twenty}).json()["code"] == "0"
    too_many = [*twenty, {"chainIndex": "1", "tokenContractAddress": ""}]
    assert error(post(sim, V6_TOKENS, {"address": WALLET, "tokenContractAddresses": too_many})) == (
        400,
        "51000",
    )
    assert error(post(sim, V6_TOKENS, {"address": WALLET, "tokenContractAddresses": []})) == (400, "50014")
    assert error(post(sim, V6_TOKENS, "{not json")) == (400, "51000")


def test_supported_chains(sim):
    names = {c.index: c.name for c in known_chains()}
    for path in (f"{V6}/supported/chain", "/api/v5/wallet/chain/supported-chains"):
        data = get(sim, path).json()["data"]
        assert {d["chainIndex"]: d["name"] for d in data} == names
        assert all(set(d) == {"name", "logoUrl", "shortName", "chainIndex"} for d in data)
    sim.unsupported_chains.add("501")
    assert "501" not in {d["chainIndex"] for d in get(sim, f"{V6}/supported/chain").json()["data"]}


# --- parameters ------------------------------------------------------------------------------


def test_parameter_errors(sim):
    fifty = ",".join(str(1000 + n) for n in range(50))
    assert get(sim, f"{V6_ALL}?address={WALLET}&chains={fifty}").json()["code"] == "0"  # unknown = EVM
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains={fifty},1")) == (400, "51000")
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=eth")) == (400, "51000")
    assert error(get(sim, f"{V6_ALL}?address={WALLET}")) == (400, "50014")
    assert error(get(sim, f"{V6_ALL}?address=&chains=1")) == (400, "50014")
    assert error(get(sim, f"{V6_ALL}?chains=1")) == (400, "50014")
    assert error(get(sim, f"{V6_ALL}?address=hello&chains=1")) == (200, "81353")
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=1,501")) == (200, "81157")
    assert error(get(sim, f"{V5_ALL}?address={SOL_WALLET}&chains=1")) == (200, "81157")
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=1&excludeRiskToken=yes")) == (400, "51000")
    sim.unsupported_chains.add("56")
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=1,56")) == (200, "81104")


def test_unknown_path_is_an_html_404(sim):
    response = get(sim, "/api/v6/dex/balance/nope?address=x")
    assert response.status_code == 404
    assert response.text.lstrip().startswith("<html>")
    assert sim.requests[-1].endpoint is None


# --- authentication --------------------------------------------------------------------------


def test_signature_over_the_query_as_sent(sim):
    for chains in ("1,56", "1%2C56"):
        target = f"{V6_ALL}?address={WALLET}&chains={chains}"
        response = get(sim, target)
        assert response.status_code == 200, response.text
        assert sim.requests[-1].target == target  # the client did not re-encode it
    # signed one spelling, sent the other
    sent, signed = f"{V6_ALL}?address={WALLET}&chains=1%2C56", f"{V6_ALL}?address={WALLET}&chains=1,56"
    assert error(get(sim, sent, signed=signed)) == (401, "50113")
    assert error(get(sim, signed, signed=sent)) == (401, "50113")
    # GET with no query: no "?"
    assert get(sim, f"{V6}/supported/chain").status_code == 200
    assert error(get(sim, f"{V6}/supported/chain", signed=f"{V6}/supported/chain?")) == (401, "50113")


def test_post_signature_covers_the_exact_body(sim):
    body = json.dumps(
        {"address": WALLET, "tokenContractAddresses": [{"chainIndex": "1", "tokenContractAddress": ""}]}
    )
    assert post(sim, V6_TOKENS, body).status_code == 200
    assert error(post(sim, V6_TOKENS, body, signed=body.replace(", ", ","))) == (401, "50113")
    headers = okx_headers("POST", V6_TOKENS + "?", body)  # signed with a "?" it must not have
    response = requests.post(sim.base_url + V6_TOKENS, data=body, headers=headers, timeout=5)
    assert error(response) == (401, "50113")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("OK-ACCESS-KEY", "50103"),
        ("OK-ACCESS-SIGN", "50106"),
        ("OK-ACCESS-TIMESTAMP", "50107"),
        ("OK-ACCESS-PASSPHRASE", "50104"),
    ],
)
def test_missing_headers(sim, header, code):
    target = f"{V6_ALL}?address={WALLET}&chains=1"
    headers = okx_headers("GET", target)
    del headers[header]
    response = get(sim, target, headers=headers)
    assert error(response) == (401, code)
    assert header in response.json()["msg"]
    headers[header] = ""
    assert error(get(sim, target, headers=headers)) == (401, code)


def test_auth_errors_never_echo_secrets(sim):
    target = f"{V6_ALL}?address={WALLET}&chains=1"
    cases = [
        ({"key": "nobody"}, "50111"),
        ({"passphrase": "wrong"}, "50105"),
        ({"secret": "wrong-secret"}, "50113"),
        ({"timestamp": "2020-12-08T09:08:57Z"}, "50112"),
        ({"timestamp": "1607418537"}, "50112"),
        ({"timestamp": "2020-12-08 09:08:57.715Z"}, "50112"),
        ({"timestamp": okx_timestamp(-60)}, "50102"),
        ({"timestamp": okx_timestamp(+60)}, "50102"),
    ]
    for kwargs, code in cases:
        response = get(sim, target, **kwargs)
        assert error(response) == (401, code), kwargs
        assert DEFAULT_SECRET_KEY not in response.text
        assert DEFAULT_PASSPHRASE not in response.text
    assert get(sim, target, timestamp=okx_timestamp(-20)).status_code == 200  # inside the window
    assert sim.count(status=401) == len(cases)


def test_clock_offset_moves_date_and_timestamp_window(sim):
    target = f"{V6_ALL}?address={WALLET}&chains=1"
    sim.clock_offset = 3600.0
    response = get(sim, target)
    assert error(response) == (401, "50102")
    server_date = parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert abs(server_date - (time.time() + 3600)) < 3
    assert get(sim, target, timestamp=okx_timestamp(3600)).status_code == 200
    assert abs(parsedate_to_datetime(get(sim, "/nope").headers["Date"]).timestamp() - time.time() - 3600) < 3


def test_more_keys(sim):
    sim.add_key("second-key", "second-secret", "second-pass")
    target = f"{V6_ALL}?address={WALLET}&chains=1"
    assert (
        get(sim, target, key="second-key", secret="second-secret", passphrase="second-pass").status_code
        == 200
    )
    assert error(get(sim, target, key="second-key", passphrase="second-pass")) == (401, "50113")
    assert sim.requests[-1].api_key == "second-key"


# --- rate limit ------------------------------------------------------------------------------


def test_rate_limit_burst_and_recovery(sim):
    sim.rate_limit_rps = 5
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    statuses = [get(sim, target).status_code for _ in range(12)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses
    refused = next(r for r in sim.requests if r.status == 429)
    assert refused.code == "50011"
    response = get(sim, target)
    if response.status_code == 429:
        assert response.json() == {"code": "50011", "msg": "Too Many Requests", "data": []}
        assert "Retry-After" not in response.headers
    time.sleep(0.45)
    assert get(sim, target).status_code == 200
    # the limit is per key
    sim.add_key("other", "other-secret", "other-pass")
    for _ in range(8):
        get(sim, target)
    assert get(sim, target, key="other", secret="other-secret", passphrase="other-pass").status_code == 200
    # Retry-After only when asked for
    sim.send_retry_after = True
    for _ in range(8):
        response = get(sim, target)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    sim.rate_limit_rps = None
    assert get(sim, target).status_code == 200


def test_rate_limiter_never_refuses_a_client_at_the_limit():
    limiter = RateLimiter()
    for rps in (1, 2, 20):
        start = 1000.0 * rps
        assert all(limiter.allow(f"k{rps}", rps, now=start + i / rps) for i in range(50))
        assert all(limiter.allow(f"j{rps}", rps, now=start + i / rps - 0.005 * (i % 2)) for i in range(50))
    # capacity is the rate: one second of requests at once, then refused
    assert [limiter.allow("burst", 3, now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("burst", 3, now=0.34)


# --- faults ----------------------------------------------------------------------------------


def test_fault_status_code_and_times(sim):
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    sim.inject(Fault(status=503))
    response = requests.get(sim.base_url + target, timeout=5)  # faults come before authentication
    assert error(response) == (503, "50001")
    assert response.json()["msg"] == "Service temporarily unavailable"
    assert get(sim, target).status_code == 200
    sim.inject(Fault(code="81159", times=2))
    assert [error(get(sim, target)) for _ in range(2)] == [(200, "81159")] * 2
    assert get(sim, target).json()["code"] == "0"
    sim.inject(Fault(code="50011", headers={"Retry-After": "2"}))
    response = get(sim, target)
    assert error(response) == (429, "50011")
    assert response.headers["Retry-After"] == "2"
    sim.inject(Fault(status=500, code="50026", msg="boom", times=None))
    assert [error(get(sim, target)) for _ in range(3)] == [(500, "50026")] * 3
    assert get(sim, target).json()["msg"] == "boom"
    sim.clear_faults()
    assert get(sim, target).status_code == 200
    assert sim.count(status=503) == 1
    assert sim.count(code="50026") == 4
    assert all(r.faulted for r in sim.requests if r.status >= 500)


def test_fault_raw_bodies(sim):
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    sim.inject(Fault(body=b'{"code": "0", "da'))
    response = get(sim, target)
    assert response.status_code == 200
    assert response.content == b'{"code": "0", "da'
    with pytest.raises(ValueError):
        response.json()
    sim.inject(Fault(status=502, body="<html><body>502 Bad Gateway</body></html>"))
    response = get(sim, target)
    assert response.status_code == 502
    assert "Bad Gateway" in response.text
    assert sim.requests[-1].code == ""


def test_fault_drop_and_latency(sim):
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    sim.inject(Fault(drop=True))
    with pytest.raises(requests.ConnectionError):
        get(sim, target)
    assert sim.requests[-1].status == 0
    sim.inject(Fault(latency=0.3))
    started = time.monotonic()
    response = get(sim, target)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert len(assets(response)) == 31
    sim.latency = 0.1
    started = time.monotonic()
    get(sim, target)
    assert time.monotonic() - started >= 0.1


def test_fault_endpoint_filter(sim):
    sim.inject(Fault(status=500, endpoint="total_value", times=2))
    sim.inject(Fault(code="50050", endpoint="/api/v5/"))
    all_tokens = f"{V6_ALL}?address={WALLET}&chains=1"
    totals = f"{V6_TOTAL}?address={WALLET}&chains=1"
    assert get(sim, all_tokens).status_code == 200
    assert get(sim, totals).status_code == 500
    assert get(sim, f"{V5_ALL}?address={WALLET}&chains=1").json()["code"] == "50050"
    assert get(sim, totals).status_code == 500
    assert get(sim, totals).status_code == 200
    assert sim.faults == []


# --- balances set by tests -------------------------------------------------------------------


def test_set_balance_and_sequence(sim):
    token = "0x" + "ab" * 20
    sim.set_balance_sequence(WALLET, 8453, token, ["0", "5", "10"], price="2", symbol="DEP")
    target = f"{V6_ALL}?address={WALLET}&chains=8453"
    seen = []
    for _ in range(4):
        (match,) = [t for t in assets(get(sim, target)) if t["tokenContractAddress"] == token]
        seen.append(match["balance"])
    assert seen == ["0", "5", "10", "10"]
    assert match["symbol"] == "DEP"
    assert match["tokenPrice"] == "2"
    # an existing token of the seed wallet, and the total follows
    sim.set_balance(SEED_ADDRESS, "1", "", "100", price="3000")
    eth = [t for t in assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) if t["symbol"] == "ETH"]
    assert [(t["balance"], t["tokenPrice"]) for t in eth] == [("100", "3000")]
    expected = sum(
        Fraction(t["balance"]) * Fraction(t["tokenPrice"]) for t in SEED_TOKENS if t["symbol"] != "ETH"
    ) + Fraction(300000)
    assert total(get(sim, f"{V5_TOTAL}?address={SEED_ADDRESS}&chains=1")) == expected
    sim.set_balance(SEED_ADDRESS, 1, "", "0")
    eth = [t for t in assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) if t["symbol"] == "ETH"]
    assert eth[0]["balance"] == "0"
    sim.clear_balances()
    assert assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) == SEED_TOKENS


# --- HTTP behaviour --------------------------------------------------------------------------


def test_keep_alive_under_concurrency(sim):
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    failures: list[object] = []

    def client() -> None:
        with requests.Session() as session:
            for _ in range(5):
                response = session.get(sim.base_url + target, headers=okx_headers("GET", target), timeout=10)
                if response.status_code != 200 or "Content-Length" not in response.headers:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=client) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sim.count(endpoint="all_token_balances", status=200) == 200
    assert sim.errors == []


def test_connection_helpers(sim):
    conn = json.loads(sim.connection_json(api_version="v5"))
    assert conn["conn_type"] == "okx"
    assert conn["host"] == sim.base_url
    assert (conn["login"], conn["password"]) == (DEFAULT_API_KEY, DEFAULT_SECRET_KEY)
    assert conn["extra"]["passphrase"] == DEFAULT_PASSPHRASE
    assert conn["extra"]["project_id"] == DEFAULT_PROJECT_ID
    assert conn["extra"]["api_version"] == "v5"
    assert sim.connection_extra(rate_limit_rps=50)["rate_limit_rps"] == 50


def test_restart_on_the_same_port():
    simulator = OkxSimulator()
    simulator.start()
    url = simulator.base_url
    simulator.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)
    with simulator:
        assert simulator.base_url == url
        assert get(simulator, f"{V6}/supported/chain").status_code == 200


def test_pytest_fixtures(okx_simulator_connection, okx_simulator):  # noqa: F811 (the plugin's fixtures)
    assert okx_simulator_connection is okx_simulator
    conn = json.loads(os.environ["AIRFLOW_CONN_OKX_DEFAULT"])
    assert conn["host"] == okx_simulator.base_url
    assert conn["extra"]["rate_limit_rps"] >= 1000
    assert get(okx_simulator, f"{V6}/supported/chain").status_code == 200


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def test_plugin_import_is_inert():
    code = (
        "import sys, threading, airflow_provider_okx.testing.pytest_plugin\n"
        "print('airflow' in sys.modules, threading.active_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=30
    )
    assert result.stdout.split() == ["False", "1"], result.stderr


def test_cli_serves_until_terminated():
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_okx.testing", "--port", "0", "--rate-limit", "100"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.fullmatch(r"OKX simulator listening on (http://127\.0\.0\.1:(\d+))\n", first)
        assert match, first + (process.stderr.read() if process.poll() is not None else "")
        second = process.stdout.readline()
        assert second.startswith("AIRFLOW_CONN_OKX_DEFAULT='")
        conn = json.loads(second.strip()[len("AIRFLOW_CONN_OKX_DEFAULT='") : -1])
        assert conn["host"] == match.group(1)
        assert conn["extra"]["rate_limit_rps"] == 100
        target = f"{V6_ALL}?address={WALLET}&chains=1,56"
        response = requests.get(match.group(1) + target, headers=okx_headers("GET", target), timeout=5)
        assert response.status_code == 200
        # same wallet, same bytes, in another process
        with OkxSimulator() as local:
            assert get(local, target).content == response.content
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
