"""OkxHook over the sync transport, with requests-mock: what goes on the wire and back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from decimal import Decimal

import pytest

from airflow_provider_okx.core.api.errors import (
    OkxAuthError,
    OkxInvalidInputError,
    OkxRateLimitError,
    OkxTransportError,
    OkxUnavailableError,
)
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import API_KEY, BASE_URL, PASSPHRASE, SECRET_KEY

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
V6_ALL = f"{BASE_URL}/api/v6/dex/balance/all-token-balances-by-address"
V6_TOTAL = f"{BASE_URL}/api/v6/dex/balance/total-value-by-address"
V6_TOKENS = f"{BASE_URL}/api/v6/dex/balance/token-balances-by-address"
V5_ALL = f"{BASE_URL}/api/v5/wallet/asset/all-token-balances-by-address"


def assets(*items):
    return {"code": "0", "msg": "success", "data": [{"tokenAssets": list(items)}]}


def asset(chain="1", token="", symbol="ETH", balance="1.5", price="3000.25", **more):
    return {
        "chainIndex": chain,
        "tokenContractAddress": token,
        "symbol": symbol,
        "balance": balance,
        "tokenPrice": price,
        "rawBalance": "",
        "isRiskToken": False,
        "address": EVM.lower(),
        **more,
    }


def signed_ok(request) -> bool:
    """Recompute the signature independently from what was actually sent."""
    path = request.path_url  # path + ?query exactly as sent
    body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
    message = request.headers["OK-ACCESS-TIMESTAMP"] + request.method + path + body
    expected = base64.b64encode(hmac.new(SECRET_KEY.encode(), message.encode(), hashlib.sha256).digest())
    return request.headers["OK-ACCESS-SIGN"] == expected.decode()


def test_init_touches_nothing(requests_mock):
    hook = OkxHook()
    assert hook.okx_conn_id == "okx_default"
    assert requests_mock.call_count == 0
    assert repr(hook) == "OkxHook(okx_conn_id='okx_default')"


def test_all_token_balances_v6(okx_conn, requests_mock, no_sleep):
    requests_mock.get(
        V6_ALL, json=assets(asset(), asset(token="0xdac1", symbol="USDT", balance="10", price="1"))
    )
    balances = OkxHook().get_all_token_balances(EVM, "ethereum")
    assert [b.symbol for b in balances] == ["ETH", "USDT"]
    assert balances[0].balance == Decimal("1.5")
    assert balances[0].usd_value == Decimal("4500.375")
    request = requests_mock.request_history[0]
    assert request.path_url == (
        f"/api/v6/dex/balance/all-token-balances-by-address?address={EVM}&chains=1&excludeRiskToken=0"
    )
    assert signed_ok(request)
    assert request.headers["OK-ACCESS-KEY"] == API_KEY
    assert request.headers["OK-ACCESS-PASSPHRASE"] == PASSPHRASE


def test_v5_names_and_risk_flag(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="proj-1")
    item = {
        "chainIndex": "0",
        "tokenAddress": "btc-brc20-ordi",
        "symbol": "ordi",
        "balance": "2",
        "tokenPrice": "30",
        "tokenType": "2",
        "transferAmount": "1",
        "availableAmount": "1",
        "rawBalance": "",
        "isRiskToken": False,
    }
    requests_mock.get(V5_ALL, json=assets(item))
    btc = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    [balance] = OkxHook().get_all_token_balances(btc, 0, exclude_risk_tokens=False)
    assert balance.token_address == "btc-brc20-ordi"
    assert balance.token_type == "2"
    assert balance.available_amount == Decimal(1)
    request = requests_mock.request_history[0]
    assert request.qs["filter"] == ["1"]
    assert request.headers["OK-ACCESS-PROJECT"] == "proj-1"
    assert signed_ok(request)


def test_total_value_sums_chunks_exactly(okx_conn, requests_mock, no_sleep):
    requests_mock.get(
        V6_TOTAL,
        [
            {"json": {"code": "0", "data": [{"totalValue": "0.1"}]}},
            {"json": {"code": "0", "data": [{"totalValue": "0.2"}]}},
            {"json": {"code": "0", "data": [{"totalValue": "1000000000000.000000000000000001"}]}},
        ],
    )
    chains = list(range(1000, 1120))
    total = OkxHook().get_total_value(EVM, chains, asset_type="token", exclude_risk_tokens=False)
    assert total == Decimal("1000000000000.300000000000000001")
    assert requests_mock.call_count == 3
    first = requests_mock.request_history[0]
    assert first.qs["assettype"] == ["1"] or first.qs.get("assetType") == ["1"]
    assert "excludeRiskToken=false" in first.path_url
    assert all(signed_ok(r) for r in requests_mock.request_history)


def test_120_chains_become_three_requests_and_merge(okx_conn, requests_mock, no_sleep):
    requests_mock.get(V6_ALL, [{"json": assets(asset(chain=str(1000 + i)))} for i in range(3)])
    balances = OkxHook().get_all_token_balances(EVM, ",".join(str(c) for c in range(1000, 1120)))
    assert requests_mock.call_count == 3
    sent = [r.qs["chains"][0].split(",") for r in requests_mock.request_history]
    assert [len(c) for c in sent] == [50, 50, 20]
    assert len(balances) == 3


def test_specific_tokens_post_body_is_signed_as_sent(okx_conn, requests_mock, no_sleep):
    requests_mock.post(V6_TOKENS, json=assets(asset(token="0xdac1", symbol="USDT")))
    OkxHook().get_token_balances(EVM, [(1, "0xdac1"), ("base", "")])
    request = requests_mock.request_history[0]
    assert json.loads(request.body) == {
        "address": EVM,
        "tokenContractAddresses": [
            {"chainIndex": "1", "tokenContractAddress": "0xdac1"},
            {"chainIndex": "8453", "tokenContractAddress": ""},
        ],
        "excludeRiskToken": "0",
    }
    assert signed_ok(request)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda h: h.get_all_token_balances("", "1"), "address"),
        (lambda h: h.get_all_token_balances("not-an-address", "1"), "address"),
        (lambda h: h.get_all_token_balances(EVM, "atlantis"), "chains"),
        (lambda h: h.get_all_token_balances(EVM, "1,solana"), "chains"),
        (lambda h: h.get_token_balances(EVM, [(1, f"0x{i:040x}") for i in range(21)]), "tokens"),
        (lambda h: h.get_total_value(EVM, "1", asset_type="nft"), "asset_type"),
    ],
)
def test_bad_input_fails_before_any_request(okx_conn, requests_mock, call, field):
    with pytest.raises(OkxInvalidInputError) as info:
        call(OkxHook())
    assert info.value.field == field
    assert requests_mock.call_count == 0


def test_rate_limited_burst_is_retried_with_growing_delays(okx_conn, requests_mock, no_sleep):
    limited = {"status_code": 429, "json": {"code": "50011", "msg": "Too Many Requests", "data": []}}
    requests_mock.get(V6_ALL, [limited, limited, limited, {"json": assets(asset())}])
    assert len(OkxHook().get_all_token_balances(EVM, 1)) == 1
    assert requests_mock.call_count == 4
    assert len(no_sleep.waits) == 3
    assert no_sleep.waits == sorted(no_sleep.waits)
    assert no_sleep.waits[-1] > no_sleep.waits[0]


def test_gives_up_after_max_retries_with_okx_code(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=2)
    requests_mock.get(
        V6_ALL, status_code=503, json={"code": "50001", "msg": "Service unavailable", "data": []}
    )
    with pytest.raises(OkxUnavailableError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert requests_mock.call_count == 3
    assert "50001" in str(info.value) and "Service unavailable" in str(info.value)


def test_rate_limited_answers_are_retried_within_the_deadline_then_raised(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=2, timeout=5)
    requests_mock.get(V6_ALL, status_code=429, json={"code": "50011", "msg": "Too Many Requests", "data": []})
    with pytest.raises(OkxRateLimitError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert requests_mock.call_count > 3  # past max_retries: a signal to slow down, not a failure
    assert sum(no_sleep.waits) <= 5 * (2 + 1)  # but within timeout x (max_retries + 1)
    assert "50011" in str(info.value) and "Too Many Requests" in str(info.value)


def test_max_retries_zero_never_retries_a_rate_limit(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=0)
    requests_mock.get(V6_ALL, status_code=429, json={"code": "50011", "msg": "Too Many Requests", "data": []})
    with pytest.raises(OkxRateLimitError):
        OkxHook().get_all_token_balances(EVM, 1)
    assert requests_mock.call_count == 1


def test_timeouts_are_retried(okx_conn, requests_mock, no_sleep):
    import requests

    requests_mock.get(V6_ALL, [{"exc": requests.exceptions.ConnectTimeout}, {"json": assets(asset())}])
    assert len(OkxHook().get_all_token_balances(EVM, 1)) == 1
    assert requests_mock.call_count == 2


def test_connection_errors_exhaust_to_transport_error(okx_conn, requests_mock, no_sleep):
    import requests

    okx_conn(max_retries=1)
    requests_mock.get(V6_ALL, exc=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(OkxTransportError, match="refused"):
        OkxHook().get_all_token_balances(EVM, 1)
    assert requests_mock.call_count == 2


def test_auth_error_is_not_retried_and_hides_secrets(okx_conn, requests_mock, no_sleep, caplog):
    requests_mock.get(V6_ALL, status_code=401, json={"code": "50113", "msg": "Invalid Sign", "data": []})
    caplog.set_level(logging.DEBUG)
    hook = OkxHook()
    with pytest.raises(OkxAuthError) as info:
        hook.get_all_token_balances(EVM, 1)
    assert requests_mock.call_count == 1
    signature = requests_mock.request_history[0].headers["OK-ACCESS-SIGN"]
    text = (
        str(info.value)
        + repr(info.value)
        + repr(hook)
        + repr(hook.config)
        + repr(hook.protocol)
        + caplog.text
    )
    assert "50113" in str(info.value) and "Invalid Sign" in str(info.value)
    for secret in (SECRET_KEY, PASSPHRASE, signature):
        assert secret not in text


def test_missing_passphrase_names_the_field(monkeypatch, requests_mock):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        json.dumps({"conn_type": "okx", "login": API_KEY, "password": SECRET_KEY, "extra": {}}),
    )
    with pytest.raises(OkxInvalidInputError, match="passphrase") as info:
        OkxHook().get_supported_chains()
    assert SECRET_KEY not in str(info.value)
    assert requests_mock.call_count == 0


def test_uri_form_connection(monkeypatch, requests_mock, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_URI",
        f"okx://{API_KEY}:{SECRET_KEY}@okx.test?passphrase={PASSPHRASE}&api_version=v5&rate_limit_rps=0",
    )
    requests_mock.get(
        f"{BASE_URL}/api/v5/wallet/chain/supported-chains",
        json={
            "code": "0",
            "data": [{"name": "Ethereum", "shortName": "eth", "chainIndex": "1", "logoUrl": ""}],
        },
    )
    ok, message = OkxHook("okx_uri").test_connection()
    assert ok, message
    assert "v5" in message and "1 chains" in message
    assert signed_ok(requests_mock.request_history[0])


def test_test_connection_reports_okx_message(okx_conn, requests_mock, no_sleep):
    requests_mock.get(
        f"{BASE_URL}/api/v6/dex/balance/supported/chain",
        status_code=401,
        json={"code": "50111", "msg": "Invalid OK-ACCESS-KEY", "data": []},
    )
    ok, message = OkxHook().test_connection()
    assert not ok
    assert "50111" in message and "Invalid OK-ACCESS-KEY" in message


def test_malformed_extra_names_field(okx_conn, requests_mock):
    okx_conn(rate_limit_rps="fast")
    with pytest.raises(OkxInvalidInputError, match=r"extra\.rate_limit_rps"):
        OkxHook().get_supported_chains()


# --- the token filter (v6 all-token-balances `filter`) ----------------------------------------


def query(request) -> dict[str, list[str]]:
    """The query as sent, names in their case (requests-mock's ``qs`` lower-cases them)."""
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(request.path_url).query)


@pytest.mark.parametrize(
    ("kwargs", "excluded", "token_filter"),
    [
        ({}, "0", None),  # OKX's default filter (0) with risk tokens excluded: nothing extra sent
        ({"exclude_risk_tokens": False}, "1", "1"),  # risk tokens asked for: filter=1, or they go missing
        ({"exclude_risk_tokens": False, "token_filter": 0}, "1", "0"),
        ({"token_filter": "1"}, "0", "1"),
    ],
)
def test_v6_sends_filter_so_asking_for_risk_tokens_returns_them(
    okx_conn, requests_mock, no_sleep, kwargs, excluded, token_filter
):
    requests_mock.get(V6_ALL, json=assets(asset()))
    OkxHook().get_all_token_balances(EVM, 1, **kwargs)
    request = requests_mock.request_history[0]
    sent = query(request)
    assert sent["excludeRiskToken"] == [excluded]
    assert sent.get("filter") == ([token_filter] if token_filter else None)
    assert signed_ok(request)


def test_many_wallets_pass_the_filter_too(okx_conn, requests_mock, no_sleep):
    requests_mock.get(V6_ALL, json=assets(asset()))
    other = "0x" + "ab" * 20
    OkxHook().get_wallets_token_balances([EVM, other], 1, exclude_risk_tokens=False, max_workers=1)
    assert [query(r).get("filter") for r in requests_mock.request_history] == [["1"], ["1"]]


def test_v5_filter_is_its_risk_parameter(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="p")
    requests_mock.get(V5_ALL, json=assets(asset()))
    hook = OkxHook()
    hook.get_all_token_balances(EVM, 1, exclude_risk_tokens=False)
    hook.get_all_token_balances(EVM, 1, token_filter=1)
    assert [query(r)["filter"] for r in requests_mock.request_history] == [["1"], ["1"]]
    assert all("excludeRiskToken" not in query(r) for r in requests_mock.request_history)


@pytest.mark.parametrize("bad", [2, "all", True, 0.5, [1]])
def test_a_bad_token_filter_fails_before_any_request(okx_conn, requests_mock, bad):
    with pytest.raises(OkxInvalidInputError) as info:
        OkxHook().get_all_token_balances(EVM, 1, token_filter=bad)
    assert info.value.field == "token_filter"
    assert requests_mock.call_count == 0


# --- the transport's shape ----------------------------------------------------------------------


def test_a_redirect_from_requests_mock_is_typed_not_an_attribute_error(okx_conn, requests_mock, no_sleep):
    """The hand-prepared request has no cookie jar: requests crashed preparing the next hop."""
    from airflow_provider_okx.core.api.errors import OkxRedirectError

    requests_mock.get(V6_ALL, status_code=301, headers={"Location": "https://web3.okx.com/api/v6/x?a=1"})
    with pytest.raises(OkxRedirectError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert info.value.location == "https://web3.okx.com/api/v6/x"
    assert requests_mock.call_count == 1


def test_the_sync_session_is_still_reachable_and_closes(okx_conn, requests_mock, no_sleep):
    requests_mock.get(V6_ALL, json=assets(asset()))
    hook = OkxHook()
    hook.get_all_token_balances(EVM, 1)
    session = hook.session
    assert session is hook.session
    assert session.proxies == {} or isinstance(session.proxies, dict)
    hook.close()
    assert "transport" not in hook.__dict__
    hook.get_all_token_balances(EVM, 1)  # a closed hook builds a new session on demand
    assert hook.session is not session


def test_airflow2_form_offers_api_version_as_a_select():
    pytest.importorskip("flask_appbuilder")
    from flask import Flask
    from werkzeug.datastructures import MultiDict
    from wtforms import Form, StringField

    from airflow_provider_okx import CONN_FIELDS

    widgets = OkxHook.get_connection_form_widgets()
    # Airflow 2 drops the whole hook when a form field is of any other class than these.
    allowed = {"StringField", "IntegerField", "PasswordField", "BooleanField"}
    assert {field.field_class.__name__ for field in widgets.values()} <= allowed
    assert widgets["api_version"].field_class is StringField

    class ConnectionForm(Form):
        api_version = widgets["api_version"]

    with Flask(__name__).test_request_context():
        html = str(ConnectionForm().api_version())
        assert html.startswith("<select") and 'name="api_version"' in html
        assert html.count("<option") == len(CONN_FIELDS["api_version"]["schema"]["enum"])
        assert '<option value="v6" selected>v6</option>' in html
        assert not ConnectionForm(formdata=MultiDict({"api_version": "v7"})).validate()
        assert ConnectionForm(formdata=MultiDict({"api_version": "v5"})).validate()


def test_many_wallet_fetch_asks_for_a_wallet_once_however_it_is_written(okx_conn, requests_mock, no_sleep):
    checksummed = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
    route = requests_mock.get(
        "https://okx.test/api/v6/dex/balance/all-token-balances-by-address",
        json={"code": "0", "msg": "", "data": [{"tokenAssets": []}]},
    )
    result = OkxHook().get_wallets_token_balances([checksummed, checksummed.lower(), f" {checksummed} "], 1)
    assert list(result) == [checksummed]
    assert route.call_count == 1
