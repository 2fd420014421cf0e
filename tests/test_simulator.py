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
from decimal import Decimal
from email.utils import parsedate_to_datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_okx.core.chains import known_chains
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
    # total value takes true/false: "0" is a v6 parameter error (50014), a v5 one (51000)
    assert error(get(sim, base + "&excludeRiskToken=0")) == (400, "50014")
    v5_base = f"{V5_TOTAL}?address={WALLET}&chains=1,56,137"
    assert error(get(sim, v5_base + "&excludeRiskToken=0")) == (400, "51000")


def test_risk_filter_v6_and_v5(sim):
    v6_show_all = "excludeRiskToken=1&filter=1"
    for path, show in ((V6_ALL, v6_show_all), (V5_ALL, "filter=1")):
        hide = "excludeRiskToken=0" if path == V6_ALL else "filter=0"
        for chain in ("1", "56", "8453"):
            base = f"{path}?address={WALLET}&chains={chain}"
            default = assets(get(sim, base))
            filtered = assets(get(sim, f"{base}&{hide}"))
            unfiltered = assets(get(sim, f"{base}&{show}"))
            assert default == filtered
            assert not any(t["isRiskToken"] for t in filtered)
            risky = [t for t in unfiltered if t["isRiskToken"]]
            assert risky, f"generated wallets hold risk tokens on chain {chain}"
            assert [t for t in unfiltered if not t["isRiskToken"]] == filtered
    # no risk tokens where OKX does not flag them
    assert not any(
        t["isRiskToken"] for t in assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=137&{v6_show_all}"))
    )


def test_v6_risk_tokens_need_exclude_risk_token_and_filter(sim):
    """v6: ``filter=0`` (the default) hides risk tokens even with ``excludeRiskToken=1``."""
    base = f"{V6_ALL}?address={WALLET}&chains=1,56,8453"

    def risky(query: str) -> int:
        return sum(t["isRiskToken"] for t in assets(get(sim, f"{base}&{query}")))

    assert risky("excludeRiskToken=1&filter=1") > 0
    assert risky("excludeRiskToken=1") == 0  # what a client that omits filter misses
    assert risky("excludeRiskToken=1&filter=0") == 0
    assert risky("excludeRiskToken=0&filter=1") == 0
    assert error(get(sim, f"{base}&excludeRiskToken=1&filter=2")) == (400, "50014")
    # v5 keeps its own meaning: filter alone decides
    v5 = f"{V5_ALL}?address={WALLET}&chains=1,56,8453"
    assert sum(t["isRiskToken"] for t in assets(get(sim, f"{v5}&filter=1"))) == risky(
        "excludeRiskToken=1&filter=1"
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
        "50014",
    )
    assert error(post(sim, V6_TOKENS, {"address": WALLET, "tokenContractAddresses": []})) == (400, "50014")
    assert error(post(sim, V6_TOKENS, "{not json")) == (200, "81001")
    missing = post(sim, V6_TOKENS, "")
    assert error(missing) == (200, "81001")
    assert missing.json()["msg"] == "Required request body is missing"
    v5_many = [{"chainIndex": "1", "tokenAddress": f"0x{n:040x}"} for n in range(21)]
    assert error(post(sim, V5_TOKENS, {"address": WALLET, "tokenAddresses": v5_many})) == (400, "51000")
    assert error(post(sim, V5_TOKENS, "{not json")) == (400, "51000")
    assert error(post(sim, V5_TOKENS, "")) == (400, "50014")


def test_v5_flat_token_list_option(sim):
    """Older OKX docs show the v5 specific-token answer as a flat list: the simulator can answer either."""
    body = {"address": SEED_ADDRESS, "tokenAddresses": [{"chainIndex": "1", "tokenAddress": ""}]}
    wrapped = post(sim, V5_TOKENS, body).json()
    assert wrapped["data"] == [{"tokenAssets": [t for t in SEED_TOKENS if t["symbol"] == "ETH"]}]
    sim.v5_flat_token_list = True
    flat = post(sim, V5_TOKENS, body).json()
    assert flat["code"] == "0"
    assert flat["data"] == [t for t in SEED_TOKENS if t["symbol"] == "ETH"]
    # v6 keeps its documented shape
    v6 = {
        "address": SEED_ADDRESS,
        "tokenContractAddresses": [{"chainIndex": "1", "tokenContractAddress": ""}],
    }
    assert list(post(sim, V6_TOKENS, v6).json()["data"][0]) == ["tokenAssets"]
    with OkxSimulator(v5_flat_token_list=True) as flat_sim:
        assert post(flat_sim, V5_TOKENS, body).json()["data"] == flat["data"]


def test_supported_chains(sim):
    names = {c.index: c.name for c in known_chains()}
    for path in (f"{V6}/supported/chain", "/api/v5/wallet/chain/supported-chains"):
        data = get(sim, path).json()["data"]
        assert {d["chainIndex"]: d["name"] for d in data} == names
        assert all(set(d) == {"name", "logoUrl", "shortName", "chainIndex"} for d in data)
    sim.unsupported_chains.add("501")
    assert "501" not in {d["chainIndex"] for d in get(sim, f"{V6}/supported/chain").json()["data"]}


# --- parameters ------------------------------------------------------------------------------


FIFTY = ",".join(str(1000 + n) for n in range(50))

# (query after the path, v6 answer, v5 answer): v6 answers from OKX's v6 balance error table
# (50014, 81001, 81104), v5 with the wallet API's codes (51000, 81353, 81157 are v5 only).
PARAMETER_ERRORS = [
    (f"address={WALLET}&chains={FIFTY},1", (400, "50014"), (400, "51000")),
    (f"address={WALLET}&chains=eth", (400, "50014"), (400, "51000")),
    (f"address={WALLET}&chains=1,,56", (400, "50014"), (400, "51000")),
    (f"address={WALLET}", (400, "50014"), (400, "50014")),
    (f"address={WALLET}&chains=", (400, "50014"), (400, "50014")),
    ("address=&chains=1", (400, "50014"), (400, "50014")),
    ("chains=1", (400, "50014"), (400, "50014")),
    ("address=hello&chains=1", (200, "81001"), (200, "81353")),
    (f"address={WALLET}&chains=1,501", (200, "81001"), (200, "81157")),
    (f"address={SOL_WALLET}&chains=1", (200, "81001"), (200, "81157")),
    (f"address={WALLET}&chains=1,56", (200, "81104"), (200, "81104")),  # 56 unsupported below
]


@pytest.mark.parametrize(("query", "v6", "v5"), PARAMETER_ERRORS)
def test_parameter_errors_answer_by_api_version(sim, query, v6, v5):
    sim.unsupported_chains.add("56")
    for path, expected in ((V6_ALL, v6), (V6_TOTAL, v6), (V5_ALL, v5), (V5_TOTAL, v5)):
        response = get(sim, f"{path}?{query}")
        assert error(response) == expected, path
        assert response.json()["data"] == []


def test_parameter_error_messages(sim):
    assert get(sim, f"{V6_ALL}?address={WALLET}&chains=eth").json()["msg"] == "param chains is invalid"
    assert get(sim, f"{V6_ALL}?chains=1").json()["msg"] == "param address is invalid"
    assert get(sim, f"{V5_ALL}?chains=1").json()["msg"] == "Parameter address can not be empty"
    bad_flag = {V6_ALL: "excludeRiskToken=yes", V5_ALL: "filter=yes", V6_TOTAL: "assetType=3"}
    for path, flag in bad_flag.items():
        response = get(sim, f"{path}?address={WALLET}&chains=1&{flag}")
        assert error(response) == (400, "50014" if "/v6/" in path else "51000")
    assert get(sim, f"{V6_ALL}?address={WALLET}&chains=1&excludeRiskToken=yes").json()["msg"] == (
        "param excludeRiskToken is invalid"
    )
    # fifty chains is the limit, not an error (unknown numeric chains are treated as EVM)
    assert get(sim, f"{V6_ALL}?address={WALLET}&chains={FIFTY}").json()["code"] == "0"


def test_every_v6_error_code_is_in_okx_v6_table(sim):
    """Whatever a v6 request gets wrong, the simulator answers a code of OKX's v6 balance table."""
    v6_table = {"50014", "81001", "81104", "50001", "50011"}
    sim.unsupported_chains.add("56")
    bodies = ["", "{not json", "[]", json.dumps({"address": "x"}), json.dumps({"address": WALLET})]
    bodies.append(json.dumps({"address": "hello", "tokenContractAddresses": [{"chainIndex": "1"}]}))
    bodies.append(json.dumps({"address": WALLET, "tokenContractAddresses": [{"chainIndex": "x"}]}))
    bodies.append(json.dumps({"address": WALLET, "tokenContractAddresses": [{"chainIndex": "501"}]}))
    bodies.append(json.dumps({"address": WALLET, "tokenContractAddresses": [{"chainIndex": "56"}]}))
    seen = {post(sim, V6_TOKENS, body).json()["code"] for body in bodies}
    for query, _, _ in PARAMETER_ERRORS:
        seen |= {get(sim, f"{path}?{query}").json()["code"] for path in (V6_ALL, V6_TOTAL)}
    assert seen <= v6_table, seen - v6_table
    assert seen == {"50014", "81001", "81104"}


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


def test_rate_limit_burst_and_recovery(sim, monkeypatch):
    # The bucket reads a clock the test holds: a loaded machine (12 requests over more than a
    # second) would otherwise refill it mid-burst, and a short sleep might not refill it at all.
    clock = [1000.0]
    allow = sim._limiter.allow
    monkeypatch.setattr(sim._limiter, "allow", lambda key, rps, now=None: allow(key, rps, clock[0]))
    sim.rate_limit_rps = 5
    target = f"{V6_ALL}?address={SEED_ADDRESS}&chains=1"
    statuses = [get(sim, target).status_code for _ in range(12)]
    assert statuses == [200] * 5 + [429] * 7
    refused = next(r for r in sim.requests if r.status == 429)
    assert refused.code == "50011"
    response = get(sim, target)
    if response.status_code == 429:
        assert response.json() == {"code": "50011", "msg": "Too Many Requests", "data": []}
        assert "Retry-After" not in response.headers
    clock[0] += 0.45  # 2.25 tokens back
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


def test_fault_status_400_gets_the_code_of_the_route_version(sim):
    sim.inject(Fault(status=400, times=2))
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=1")) == (400, "50014")
    assert error(get(sim, f"{V5_ALL}?address={WALLET}&chains=1")) == (400, "51000")


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


# --- prices: one token, one price, in every wallet --------------------------------------------


def _prices(sim: OkxSimulator, wallets: list[str], chains: str) -> dict[tuple[str, str], set[str]]:
    seen: dict[tuple[str, str], set[str]] = {}
    for wallet in wallets:
        for t in assets(get(sim, f"{V6_ALL}?address={wallet}&chains={chains}&excludeRiskToken=1&filter=1")):
            seen.setdefault((t["chainIndex"], t["tokenContractAddress"].lower()), set()).add(t["tokenPrice"])
    return seen


def test_one_token_has_one_price_across_wallets(sim):
    wallets = [f"0x{n:040x}" for n in range(1, 41)]
    seen = _prices(sim, [SEED_ADDRESS, *wallets], "1,56,8453,42161")
    shared = {token: prices for token, prices in seen.items() if len(prices) > 0}
    assert len(shared) >= 30
    assert all(len(prices) == 1 for prices in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    # the documented example's prices are those tokens' prices: ETH, WBTC and DAI on chain 1
    documented = {t["tokenAddress"]: t["tokenPrice"] for t in SEED_TOKENS}
    for token in (
        "",
        "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599",
        "0x6b175474e89094c44da98b954eedeac495271d0f",
    ):
        assert seen[("1", token)] == {documented[token]}
    holders = [
        w
        for w in wallets
        if any(t["symbol"] == "WBTC" for t in assets(get(sim, f"{V6_ALL}?address={w}&chains=1")))
    ]
    assert holders, "some generated wallets hold the example's WBTC contract on Ethereum"


def test_set_price_and_set_balance_price_apply_to_every_wallet(sim):
    other = "0x" + "22" * 20
    wbtc = SEED_TOKENS[2]["tokenAddress"]
    sim.set_balance(other, 1, wbtc.upper().replace("0X", "0x"), "2", price="100000.5", symbol="WBTC")
    for wallet in (SEED_ADDRESS, other):
        (row,) = [t for t in assets(get(sim, f"{V6_ALL}?address={wallet}&chains=1")) if t["symbol"] == "WBTC"]
        assert row["tokenPrice"] == "100000.5"
    (mine,) = [t for t in assets(get(sim, f"{V6_ALL}?address={other}&chains=1")) if t["symbol"] == "WBTC"]
    assert mine["balance"] == "2"
    (seed_wbtc,) = [
        t for t in assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) if t["symbol"] == "WBTC"
    ]
    assert seed_wbtc["balance"] == SEED_TOKENS[2]["balance"]  # the balance stays the wallet's own
    # set_price alone, the total follows, and 0 means unpriced
    sim.set_price("1", "", "0")
    expected = sum(
        Fraction(t["balance"]) * Fraction(t["tokenPrice"] if t["symbol"] != "WBTC" else "100000.5")
        for t in SEED_TOKENS
        if t["tokenAddress"] != ""
    )
    assert total(get(sim, f"{V6_TOTAL}?address={SEED_ADDRESS}&chains=1")) == expected
    with pytest.raises(TypeError):
        sim.set_price("1", "", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chain_index"):
        sim.set_price("eth", "", "1")
    sim.clear_balances()
    assert assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) == SEED_TOKENS


# --- the request log per wallet ----------------------------------------------------------------


def test_count_by_queried_address(sim):
    get(sim, f"{V6_ALL}?address={WALLET}&chains=1")
    get(sim, f"{V6_TOTAL}?address={WALLET.upper().replace('0X', '0x')}&chains=1")
    get(sim, f"{V6_ALL}?address={SOL_WALLET}&chains=501")
    post(
        sim,
        V6_TOKENS,
        {"address": WALLET, "tokenContractAddresses": [{"chainIndex": "1", "tokenContractAddress": ""}]},
    )
    get(sim, f"{V6}/supported/chain")
    assert sim.count(address=WALLET) == 3
    assert sim.count(address=WALLET, endpoint="all_token_balances") == 1
    assert sim.count(address=SOL_WALLET) == 1
    assert sim.count(address=SOL_WALLET.lower()) == 0  # base58 is case-sensitive
    assert [r.address for r in sim.requests] == [
        WALLET,
        WALLET.upper().replace("0X", "0x"),
        SOL_WALLET,
        WALLET,
        None,
    ]


# --- the admin API ------------------------------------------------------------------------------


def admin(sim: OkxSimulator, method: str, route: str, payload: Any = None, **kw: Any) -> requests.Response:
    body = None if payload is None else (payload if isinstance(payload, str) else json.dumps(payload))
    return requests.request(method, f"{sim.base_url}/_admin/{route}", data=body, timeout=5, **kw)


def test_admin_state_and_request_log(sim):
    assert admin(sim, "GET", "state").json() == {
        "requests": 0,
        "faults": 0,
        "rate_limit_rps": None,
        "latency": 0.0,
    }
    get(sim, f"{V6_ALL}?address={WALLET}&chains=1")
    post(
        sim,
        V6_TOKENS,
        {
            "address": SEED_ADDRESS,
            "tokenContractAddresses": [{"chainIndex": "1", "tokenContractAddress": ""}],
        },
    )
    get(sim, "/api/v6/nope")
    state = admin(sim, "GET", "state").json()
    assert state["requests"] == 3  # admin calls are not logged
    log = admin(sim, "GET", "requests").json()
    assert log["next"] == 3
    first, second, third = log["requests"]
    assert set(first) == {
        "index",
        "method",
        "path",
        "query",
        "status",
        "code",
        "endpoint",
        "address",
        "time",
        "faulted",
    }
    assert (first["index"], first["method"], first["path"], first["query"]) == (
        0,
        "GET",
        V6_ALL,
        f"address={WALLET}&chains=1",
    )
    assert (first["status"], first["code"], first["endpoint"], first["address"], first["faulted"]) == (
        200,
        "0",
        "all_token_balances",
        WALLET,
        False,
    )
    assert abs(first["time"] - time.time()) < 60
    assert (second["index"], second["method"], second["endpoint"], second["address"]) == (
        1,
        "POST",
        "token_balances",
        SEED_ADDRESS,
    )
    assert (third["status"], third["endpoint"], third["address"]) == (404, None, None)
    # never a header: not the passphrase, the key, the signature or the timestamp
    text = admin(sim, "GET", "requests").text
    assert DEFAULT_PASSPHRASE not in text and DEFAULT_API_KEY not in text
    assert "OK-ACCESS" not in text.upper() and "headers" not in text
    assert sim.requests[0].header("OK-ACCESS-SIGN") not in text
    # since=N gives what is new
    get(sim, f"{V6_ALL}?address={SOL_WALLET}&chains=501")
    newer = admin(sim, "GET", "requests?since=3").json()
    assert [r["index"] for r in newer["requests"]] == [3] and newer["next"] == 4
    assert admin(sim, "GET", "requests?since=4").json() == {"requests": [], "next": 4}
    assert admin(sim, "GET", "requests?since=-1").status_code == 400
    assert admin(sim, "DELETE", "requests").json() == {"ok": True}
    assert admin(sim, "GET", "requests").json() == {"requests": [], "next": 0}
    assert sim.requests == []


def test_admin_log_indexes_survive_the_cap():
    with OkxSimulator(max_recorded=3) as sim:
        for _ in range(5):
            get(sim, f"{V6}/supported/chain")
        log = admin(sim, "GET", "requests?since=0").json()
        assert [r["index"] for r in log["requests"]] == [2, 3, 4]
        assert log["next"] == 5
        assert admin(sim, "GET", "state").json()["requests"] == 5


def test_admin_balances_and_prices(sim):
    token = "0x" + "cd" * 20
    other = "0x" + "33" * 20
    answer = admin(
        sim,
        "PUT",
        "balances",
        {
            "address": WALLET,
            "chain_index": "8453",
            "token_address": token,
            "balance": "12.000000000000000001",
            "price": "2.5",
            "symbol": "DEP",
        },
    )
    assert answer.json() == {"ok": True}
    (row,) = [
        t
        for t in assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=8453"))
        if t["tokenContractAddress"] == token
    ]
    assert (row["balance"], row["tokenPrice"], row["symbol"]) == ("12.000000000000000001", "2.5", "DEP")
    # the price is the token's: another wallet given a balance of it without a price sees 2.5
    admin(
        sim,
        "PUT",
        "balances",
        {"address": other, "chain_index": 8453, "token_address": token, "balance": "1"},
    )
    (row,) = [
        t
        for t in assets(get(sim, f"{V6_ALL}?address={other}&chains=8453"))
        if t["tokenContractAddress"] == token
    ]
    assert row["tokenPrice"] == "2.5"
    assert admin(
        sim, "PUT", "prices", {"chain_index": "8453", "token_address": token, "price": "3"}
    ).json() == {"ok": True}
    for wallet in (WALLET, other):
        (row,) = [
            t
            for t in assets(get(sim, f"{V6_ALL}?address={wallet}&chains=8453"))
            if t["tokenContractAddress"] == token
        ]
        assert row["tokenPrice"] == "3"
    # amounts never as floats; bad fields are refused with a message naming them
    refused = [
        ("balances", {"address": WALLET, "chain_index": "1", "token_address": "", "balance": 1.5}, "balance"),
        (
            "balances",
            '{"address": "0x1", "chain_index": "1", "token_address": "", "balance": 1e3}',
            "balance",
        ),
        (
            "balances",
            {"address": WALLET, "chain_index": "1", "token_address": "", "balance": "1", "price": 0.1},
            "price",
        ),
        (
            "balances",
            {"address": WALLET, "chain_index": "1", "token_address": "", "balance": "abc"},
            "balance",
        ),
        (
            "balances",
            {"address": WALLET, "chain_index": "1", "token_address": "", "balance": "NaN"},
            "balance",
        ),
        ("balances", {"address": WALLET, "chain_index": "1", "token_address": ""}, "balance"),
        (
            "balances",
            {"address": WALLET, "chain_index": "eth", "token_address": "", "balance": "1"},
            "chain_index",
        ),
        ("balances", {"address": "", "chain_index": "1", "token_address": "", "balance": "1"}, "address"),
        (
            "balances",
            {"address": WALLET, "chain_index": "1", "token_address": "", "balance": "1", "x": 1},
            "x",
        ),
        ("prices", {"chain_index": "1", "token_address": "", "price": 3638.5}, "price"),
        ("prices", '{"chain_index": "1", "token_address": "", "price": NaN}', "NaN"),
        ("prices", "[1]", "object"),
        ("prices", "{oops", "JSON"),
    ]
    for route, payload, word in refused:
        response = admin(sim, "PUT", route, payload)
        assert response.status_code == 400, (payload, response.text)
        assert word in response.json()["error"], (payload, response.json())
    eth = [t for t in assets(get(sim, f"{V5_ALL}?address={SEED_ADDRESS}&chains=1")) if t["symbol"] == "ETH"]
    assert eth[0]["tokenPrice"] == "3638.63"  # nothing refused changed anything
    assert admin(sim, "DELETE", "balances").json() == {"ok": True}
    assert not [
        t
        for t in assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=8453"))
        if t["tokenContractAddress"] == token
    ]


def test_admin_faults_and_reset(sim):
    target = f"{V6_ALL}?address={WALLET}&chains=1"
    assert admin(
        sim, "POST", "faults", {"status": 503, "times": 2, "endpoint": "all_token_balances"}
    ).json() == {"pending": 1}
    assert admin(
        sim, "POST", "faults", {"code": "50011", "headers": {"Retry-After": "3"}, "endpoint": "total_value"}
    ).json() == {"pending": 2}
    assert admin(sim, "GET", "state").json()["faults"] == 2
    assert [error(get(sim, target)) for _ in range(2)] == [(503, "50001")] * 2
    assert get(sim, target).status_code == 200
    limited = get(sim, f"{V6_TOTAL}?address={WALLET}&chains=1")
    assert error(limited) == (429, "50011") and limited.headers["Retry-After"] == "3"
    log = admin(sim, "GET", "requests").json()["requests"]
    assert [r["faulted"] for r in log] == [True, True, False, True]
    # a raw body, a dropped connection, until cleared
    admin(sim, "POST", "faults", {"body": "<html>502</html>", "status": 502, "times": None})
    assert get(sim, target).text == "<html>502</html>"
    assert get(sim, target).status_code == 502
    assert admin(sim, "DELETE", "faults").json() == {"ok": True}
    admin(sim, "POST", "faults", {"drop": True})
    with pytest.raises(requests.ConnectionError):
        get(sim, target)
    for bad in (
        {"status": "503"},
        {"times": 0},
        {"latency": -1},
        {"drop": "yes"},
        {"headers": {"X": 1}},
        {"headers": {"X": "a\r\nSet-Cookie: 1"}},
        {"nope": 1},
    ):
        response = admin(sim, "POST", "faults", bad)
        assert response.status_code == 400, bad
    assert admin(sim, "GET", "state").json()["faults"] == 0
    admin(sim, "POST", "faults", {"status": 500, "times": None})
    sim.set_balance(WALLET, 1, "", "5")
    assert admin(sim, "POST", "reset").json() == {"ok": True}
    assert admin(sim, "GET", "state").json() == {
        "requests": 0,
        "faults": 0,
        "rate_limit_rps": None,
        "latency": 0.0,
    }
    assert [t["balance"] for t in assets(get(sim, target)) if t["tokenContractAddress"] == ""] != ["5"]


def test_admin_routes_methods_and_switch(sim):
    assert admin(sim, "GET", "nope").status_code == 404
    wrong = admin(sim, "GET", "faults")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "DELETE, POST"
    with OkxSimulator(admin=False) as closed:
        response = admin(closed, "GET", "state")
        assert response.status_code == 404 and response.text.lstrip().startswith("<html>")
        assert closed.count() == 1  # without the admin API it is just an unknown path


def test_admin_refuses_non_loopback_peers():
    from airflow_provider_okx.testing.admin import AdminApi, is_loopback
    from airflow_provider_okx.testing.endpoints import Request

    sim = OkxSimulator()
    state = Request("GET", "/_admin/state", "/_admin/state", "", {}, b"", client="10.1.2.3")
    refused = sim._admin.answer(state)
    assert refused.status == 403 and b"loopback" in refused.body
    for peer in ("127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"):
        local = Request("GET", "/_admin/state", "/_admin/state", "", {}, b"", client=peer)
        assert sim._admin.answer(local).status == 200, peer
    assert AdminApi(sim, allow_remote=True).answer(state).status == 200
    assert OkxSimulator("0.0.0.0")._admin.allow_remote  # bound to a non-loopback host on purpose
    assert not OkxSimulator("localhost")._admin.allow_remote
    assert is_loopback("[::1]") and not is_loopback("192.168.1.2") and not is_loopback("example.com")


def test_admin_client_against_a_running_simulator(sim):
    from airflow_provider_okx.testing import AdminClient
    from airflow_provider_okx.testing.admin_client import AdminCallError

    client = AdminClient(sim.base_url)
    assert client.set_balance(WALLET, 1, "", "7", price="2000") == {"ok": True}
    assert client.inject(status=503, times=1) == {"pending": 1}
    assert error(get(sim, f"{V6_ALL}?address={WALLET}&chains=1")) == (503, "50001")
    (eth,) = [
        t for t in assets(get(sim, f"{V6_ALL}?address={WALLET}&chains=1")) if t["tokenContractAddress"] == ""
    ]
    assert (eth["balance"], eth["tokenPrice"]) == ("7", "2000")
    assert client.requests(since=1)["requests"][0]["status"] == 200
    with pytest.raises(TypeError):
        client.set_price(1, "", 2000.5)  # type: ignore[arg-type]
    with pytest.raises(AdminCallError) as info:
        client.set_price(1, "", "lots")
    assert info.value.status == 400 and "price" in info.value.message
    with pytest.raises(AdminCallError) as info:
        AdminClient("http://127.0.0.1:9", timeout=2).state()
    assert info.value.status == 0


# --- large portfolios through the admin API ------------------------------------------------------

BIG = "0x" + "f5" * 20


def _per_chain(sim: OkxSimulator, address: str, chains: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for token in assets(get(sim, f"{V6_ALL}?address={address}&chains={chains}")):
        counts[token["chainIndex"]] = counts.get(token["chainIndex"], 0) + 1
    return counts


def test_admin_portfolios(sim):
    usual = _per_chain(sim, BIG, "1,10,8453")
    answer = admin(sim, "PUT", "portfolios", {"address": BIG, "chains": ["1", 10, "8453"], "tokens": 1000})
    assert answer.status_code == 200, answer.text
    spread = {"1": 334, "10": 333, "8453": 333}
    assert answer.json() == {"ok": True, "address": BIG, "tokens": 1000, "chains": spread}
    assert _per_chain(sim, BIG, "1,10,8453") == spread
    # the same portfolio OkxSimulator.set_portfolio gives in-process: byte for byte
    with OkxSimulator() as local:
        local.set_portfolio(BIG, "1,10,8453", 1000)
        target = f"{V6_ALL}?address={BIG}&chains=1,10,8453"
        assert get(local, target).json()["data"] == get(sim, target).json()["data"]
    # refused, with a message naming the field, and nothing changed
    refused = [
        ("{oops", "JSON"),
        ("[1]", "object"),
        ({"address": BIG, "chains": ["1"]}, "tokens"),
        ({"address": BIG, "chains": ["1"], "tokens": 5, "per_wallet": 5}, "per_wallet"),
        ({"address": BIG, "chains": ["1"], "tokens": "10"}, "tokens"),
        (f'{{"address": "{BIG}", "chains": ["1"], "tokens": 1.5}}', "tokens"),
        (f'{{"address": "{BIG}", "chains": ["1"], "tokens": 1e3}}', "tokens"),
        ({"address": BIG, "chains": ["1"], "tokens": True}, "tokens"),
        ({"address": BIG, "chains": ["1"], "tokens": -1}, "tokens"),
        ({"address": BIG, "chains": ["1"], "tokens": 100_001}, "100000"),
        ({"address": BIG, "chains": "eth", "tokens": 5}, "chains"),
        ({"address": BIG, "chains": ["1", True], "tokens": 5}, "chains"),
        (f'{{"address": "{BIG}", "chains": [1.5], "tokens": 5}}', "chains"),
        ({"address": BIG, "chains": {"1": 5}, "tokens": 5}, "chains"),
        ({"address": BIG, "chains": [], "tokens": 5}, "chains"),
        ({"address": "", "chains": ["1"], "tokens": 5}, "address"),
        ({"address": 5, "chains": ["1"], "tokens": 5}, "address"),
    ]
    for payload, word in refused:
        response = admin(sim, "PUT", "portfolios", payload)
        assert response.status_code == 400, (payload, response.text)
        assert word in response.json()["error"], (payload, response.json())
    assert _per_chain(sim, BIG, "1,10,8453") == spread
    wrong = admin(sim, "GET", "portfolios")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "DELETE, PUT"
    # set again: replaces the wallet's portfolio; "1,10" as one string too
    again = admin(sim, "PUT", "portfolios", {"address": BIG, "chains": "1, 10", "tokens": 7}).json()
    assert again == {"ok": True, "address": BIG, "tokens": 7, "chains": {"1": 4, "10": 3}}
    assert _per_chain(sim, BIG, "1,10,8453") == {"1": 4, "10": 3, "8453": usual["8453"]}
    # 0 tokens: the usual portfolio again
    gone = admin(sim, "PUT", "portfolios", {"address": BIG, "chains": [], "tokens": 0}).json()
    assert gone == {"ok": True, "address": BIG, "tokens": 0, "chains": {}}
    assert _per_chain(sim, BIG, "1,10,8453") == usual
    # DELETE: every portfolio goes, balance overrides stay; DELETE balances drops both
    admin(sim, "PUT", "portfolios", {"address": BIG, "chains": ["1"], "tokens": 50})
    admin(sim, "PUT", "balances", {"address": BIG, "chain_index": "1", "token_address": "", "balance": "5"})
    (native,) = [
        t for t in assets(get(sim, f"{V6_ALL}?address={BIG}&chains=1")) if not t["tokenContractAddress"]
    ]
    assert native["balance"] == "5" and _per_chain(sim, BIG, "1") == {"1": 50}
    assert admin(sim, "DELETE", "portfolios").json() == {"ok": True}
    assert _per_chain(sim, BIG, "1") == {"1": usual["1"]}
    (native,) = [
        t for t in assets(get(sim, f"{V6_ALL}?address={BIG}&chains=1")) if not t["tokenContractAddress"]
    ]
    assert native["balance"] == "5"
    admin(sim, "PUT", "portfolios", {"address": BIG, "chains": ["1"], "tokens": 50})
    assert admin(sim, "DELETE", "balances").json() == {"ok": True}
    assert _per_chain(sim, BIG, "1") == {"1": usual["1"]}
    assert sim.errors == []


def test_a_portfolio_set_through_the_admin_client_is_what_the_hook_reads(okx_simulator_connection):  # noqa: F811
    from airflow_provider_okx.core.models import total_usd
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.testing import AdminClient
    from airflow_provider_okx.testing.admin_client import AdminCallError
    from airflow_provider_okx.testing.assets import display_address, wallet_key
    from airflow_provider_okx.testing.portfolios import large_assets

    sim = okx_simulator_connection  # AIRFLOW_CONN_OKX_DEFAULT points at it
    client = AdminClient(sim.base_url)
    answer = client.set_portfolio(BIG, ("1", 10), 250)
    assert answer == {"ok": True, "address": BIG, "tokens": 250, "chains": {"1": 125, "10": 125}}
    hook = OkxHook()
    rows = hook.get_all_token_balances(BIG, ["1", "10"])
    expected = {
        (a.chain_index, a.token_address): (a.symbol, Decimal(a.balance), Decimal(a.token_price))
        for chain, count in answer["chains"].items()
        for a in large_assets(wallet_key(BIG), chain, display_address(BIG), count)
    }
    got = {(r.chain_index, r.token_address): (r.symbol, r.balance, r.token_price) for r in rows}
    assert len(rows) == 250 and got == expected  # exactly the portfolio set: every token, every amount
    assert hook.get_total_value(BIG, ["1", "10"], asset_type="token") == total_usd(rows)
    with pytest.raises(TypeError):
        client.set_portfolio(BIG, "1", "10")  # type: ignore[arg-type]
    with pytest.raises(AdminCallError) as info:
        client.set_portfolio(BIG, "1", 100_001)
    assert info.value.status == 400 and "tokens" in info.value.message
    assert client.clear_portfolios() == {"ok": True}
    assert len(hook.get_all_token_balances(BIG, ["1", "10"])) < 250


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
    """pytest loads the plugin in every session of every project: it must load nothing heavy."""
    code = (
        "import sys, threading, airflow_provider_okx.testing.pytest_plugin\n"
        "heavy = ['airflow', 'airflow_provider_okx.testing.simulator', 'http.server', 'socketserver',\n"
        "         'airflow_provider_okx.testing.wallets', 'airflow_provider_okx.core.chains',\n"
        "         'requests', 'httpx']\n"
        "print(','.join(m for m in heavy if m in sys.modules) or '-', threading.active_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=30
    )
    assert result.stdout.split() == ["-", "1"], result.stdout + result.stderr
    # the package's names still import (lazily)
    code = (
        "from airflow_provider_okx.testing import OkxSimulator, Fault, SEED_ADDRESS, AdminClient; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "ok", result.stderr


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


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Serve a simulator in another process (bounded: it exits by itself after 120 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_okx.testing", "--port", "0", "--exit-after", "120", *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.fullmatch(r"OKX simulator listening on (http://127\.0\.0\.1:\d+)\n", first)
    if not match:
        process.kill()
        raise AssertionError(first + (process.stderr.read() if process.stderr else ""))
    return process, match.group(1)


def _admin_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_okx.testing", "admin", "--url", url, *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_admin_cli_steers_a_simulator_in_another_process():
    process, url = _serve()
    try:
        assert process.stdout is not None
        process.stdout.readline()  # AIRFLOW_CONN_OKX_DEFAULT=...
        assert process.stdout.readline().startswith(f"Admin API: {url}/_admin/")
        target = f"{V6_ALL}?address={WALLET}&chains=1"

        def fetch() -> requests.Response:
            return requests.get(url + target, headers=okx_headers("GET", target), timeout=5)

        def cli(*args: str) -> Any:
            result = _admin_cli(url, *args)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)

        assert cli("state") == {"requests": 0, "faults": 0, "rate_limit_rps": None, "latency": 0.0}
        assert cli(
            "set-balance",
            WALLET,
            "1",
            "",
            "1.000000000000000000000000000000000001",
            "--price",
            "3000",
            "--symbol",
            "ETH",
        ) == {"ok": True}
        (eth,) = [t for t in assets(fetch()) if t["tokenContractAddress"] == ""]
        assert (eth["balance"], eth["tokenPrice"]) == ("1.000000000000000000000000000000000001", "3000")
        assert cli("set-price", "1", "", "2999.99") == {"ok": True}
        (eth,) = [t for t in assets(fetch()) if t["tokenContractAddress"] == ""]
        assert eth["tokenPrice"] == "2999.99"
        assert cli(
            "inject",
            "--status",
            "429",
            "--code",
            "50011",
            "--times",
            "2",
            "--endpoint",
            "all_token_balances",
            "--header",
            "Retry-After=4",
        ) == {"pending": 1}
        limited = fetch()
        assert error(limited) == (429, "50011") and limited.headers["Retry-After"] == "4"
        assert cli("inject", "--drop", "--times", "unlimited", "--endpoint", "total_value") == {"pending": 2}
        assert cli("clear-faults") == {"ok": True}
        assert cli("state")["faults"] == 0
        log = cli("requests", "--since", "1")
        assert [(r["index"], r["status"], r["address"]) for r in log["requests"]] == [
            (1, 200, WALLET),
            (2, 429, WALLET),
        ]
        assert log["next"] == 3
        assert cli("clear-requests") == {"ok": True}
        assert cli("requests") == {"requests": [], "next": 0}
        assert cli("clear-balances") == {"ok": True}
        (eth,) = [t for t in assets(fetch()) if t["tokenContractAddress"] == ""]
        assert eth["balance"] != "1.000000000000000000000000000000000001"
        assert cli("set-portfolio", WALLET, "1,56", "300") == {
            "ok": True,
            "address": WALLET,
            "tokens": 300,
            "chains": {"1": 150, "56": 150},
        }
        assert len(assets(fetch())) == 150  # chain 1
        assert cli("clear-portfolios") == {"ok": True}
        assert len(assets(fetch())) < 150
        too_many = _admin_cli(url, "set-portfolio", WALLET, "1", "100001")
        assert too_many.returncode == 1 and "tokens" in too_many.stderr and too_many.stdout == ""
        not_a_count = _admin_cli(url, "set-portfolio", WALLET, "1", "lots")
        assert not_a_count.returncode == 2 and "TOKENS" in not_a_count.stderr
        assert cli("reset") == {"ok": True}
        # refused calls exit 1 with the simulator's message
        refused = _admin_cli(url, "set-price", "1", "", "cheap")
        assert refused.returncode == 1 and "price" in refused.stderr and refused.stdout == ""
        bad_times = _admin_cli(url, "inject", "--times", "0")
        assert bad_times.returncode == 2 and "--times" in bad_times.stderr
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_cli_serve_subcommand_and_no_admin():
    process, url = _serve("--no-admin")
    try:
        assert process.stdout is not None
        process.stdout.readline()
        assert requests.get(url + "/_admin/state", timeout=5).status_code == 404
        result = _admin_cli(url, "state")
        assert result.returncode == 1 and "404" in result.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)
    # the explicit form serves too, and --exit-after ends it by itself
    explicit = subprocess.run(
        [sys.executable, "-m", "airflow_provider_okx.testing", "serve", "--port", "0", "--exit-after", "0.1"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert explicit.returncode == 0 and explicit.stdout.startswith(
        "OKX simulator listening on http://127.0.0.1:"
    )
