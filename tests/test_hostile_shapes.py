"""A malformed *success* is an error, never "holds nothing": every shape OKX does not document.

Each body below arrives with ``code "0"``. The hook must raise ``OkxMalformedResponseError``
naming the field and the endpoint, after retrying it like a transient error, and never
return no rows, a zero or an empty wallet. requests-mock on the sync transport; the readers
themselves are sans-IO and tested directly too.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_okx.core.api import results
from airflow_provider_okx.core.api.errors import OkxMalformedResponseError, OkxUnavailableError, is_permanent
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import BASE_URL

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
V6_ALL = f"{BASE_URL}/api/v6/dex/balance/all-token-balances-by-address"
V6_TOTAL = f"{BASE_URL}/api/v6/dex/balance/total-value-by-address"
V6_TOKENS = f"{BASE_URL}/api/v6/dex/balance/token-balances-by-address"
V5_TOKENS = f"{BASE_URL}/api/v5/wallet/asset/token-balances-by-address"
V6_CHAINS = f"{BASE_URL}/api/v6/dex/balance/supported/chain"
ALL_ROUTE = "GET /api/v6/dex/balance/all-token-balances-by-address"


def row(**changes):
    base = {
        "chainIndex": "1",
        "tokenContractAddress": "",
        "symbol": "ETH",
        "balance": "1.5",
        "tokenPrice": "3000",
        "rawBalance": "",
        "isRiskToken": False,
        "address": EVM.lower(),
    }
    for key, value in changes.items():
        if value is KeyError:
            base.pop(key)
        else:
            base[key] = value
    return base


MISSING = KeyError  # marker: drop the key


def success(**payload):
    return {"code": "0", "msg": "", **payload}


# (id, the success envelope, the field the error must name)
BALANCE_SHAPES = [
    ("data missing", success(), "data"),
    ("data null", success(data=None), "data"),
    ("data an object", success(data={"tokenAssets": []}), "data"),
    ("data a string", success(data="none"), "data"),
    ("data empty list", success(data=[]), "data"),
    ("data [{}]", success(data=[{}]), "data[0].tokenAssets"),
    ("data [null]", success(data=[None]), "data[0]"),
    ("tokenAssets null", success(data=[{"tokenAssets": None}]), "data[0].tokenAssets"),
    ("tokenAssets a string", success(data=[{"tokenAssets": "x"}]), "data[0].tokenAssets"),
    ("tokenAssets an object", success(data=[{"tokenAssets": {}}]), "data[0].tokenAssets"),
    ("row a string", success(data=[{"tokenAssets": ["ETH"]}]), "data[0].tokenAssets[0]"),
    ("row null", success(data=[{"tokenAssets": [None]}]), "data[0].tokenAssets[0]"),
    ("row a list", success(data=[{"tokenAssets": [[]]}]), "data[0].tokenAssets[0]"),
    ("balance null", success(data=[{"tokenAssets": [row(balance=None)]}]), "data[0].tokenAssets[0].balance"),
    (
        "balance missing",
        success(data=[{"tokenAssets": [row(balance=MISSING)]}]),
        "data[0].tokenAssets[0].balance",
    ),
    ("balance empty", success(data=[{"tokenAssets": [row(balance="")]}]), "data[0].tokenAssets[0].balance"),
    (
        "balance not a number",
        success(data=[{"tokenAssets": [row(balance="lots")]}]),
        "data[0].tokenAssets[0].balance",
    ),
    ("balance NaN", success(data=[{"tokenAssets": [row(balance="NaN")]}]), "data[0].tokenAssets[0].balance"),
    (
        "balance Infinity",
        success(data=[{"tokenAssets": [row(balance="Infinity")]}]),
        "data[0].tokenAssets[0].balance",
    ),
    (
        "balance a JSON float",
        success(data=[{"tokenAssets": [row(balance=1.5)]}]),
        "data[0].tokenAssets[0].balance",
    ),
    (
        "tokenPrice null",
        success(data=[{"tokenAssets": [row(tokenPrice=None)]}]),
        "data[0].tokenAssets[0].tokenPrice",
    ),
    (
        "tokenPrice missing",
        success(data=[{"tokenAssets": [row(tokenPrice=MISSING)]}]),
        "data[0].tokenAssets[0].tokenPrice",
    ),
    (
        "chainIndex missing",
        success(data=[{"tokenAssets": [row(chainIndex=MISSING)]}]),
        "data[0].tokenAssets[0].chainIndex",
    ),
    (
        "token address missing",
        success(data=[{"tokenAssets": [row(tokenContractAddress=MISSING)]}]),
        "data[0].tokenAssets[0].tokenContractAddress",
    ),
    (
        "second wrapper broken",
        success(data=[{"tokenAssets": [row()]}, {"tokenAssets": None}]),
        "data[1].tokenAssets",
    ),
    ("flat rows on v6", success(data=[row()]), "data[0].tokenAssets"),
]


@pytest.mark.parametrize(
    ("payload", "field"), [s[1:] for s in BALANCE_SHAPES], ids=[s[0] for s in BALANCE_SHAPES]
)
def test_malformed_balances_are_retried_then_fail_naming_the_field(
    okx_conn, requests_mock, no_sleep, payload, field
):
    okx_conn(max_retries=2)
    requests_mock.get(V6_ALL, json=payload)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    error = info.value
    assert error.field == field
    assert error.endpoint == ALL_ROUTE
    assert field in str(error) and ALL_ROUTE in str(error)
    assert isinstance(error, OkxUnavailableError) and not is_permanent(error)
    assert requests_mock.call_count == 3  # retried as transient, then failed: never read as empty


@pytest.mark.parametrize(
    ("payload", "field"), [s[1:] for s in BALANCE_SHAPES], ids=[s[0] for s in BALANCE_SHAPES]
)
def test_malformed_specific_token_answers_fail_the_same_way(
    okx_conn, requests_mock, no_sleep, payload, field
):
    # The sensor reads this endpoint: a malformed answer must never become "balance 0".
    okx_conn(max_retries=0)
    requests_mock.post(V6_TOKENS, json=payload)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_token_balances(EVM, [(1, "")])
    assert info.value.field == field
    assert info.value.endpoint == "POST /api/v6/dex/balance/token-balances-by-address"


def test_a_malformed_answer_then_a_good_one_is_read(okx_conn, requests_mock, no_sleep):
    requests_mock.get(
        V6_ALL,
        [{"json": success(data=[{"tokenAssets": None}])}, {"json": success(data=[{"tokenAssets": [row()]}])}],
    )
    [balance] = OkxHook().get_all_token_balances(EVM, 1)
    assert balance.balance == Decimal("1.5")
    assert len(no_sleep.waits) == 1


def test_the_documented_empty_wallet_is_a_read(okx_conn, requests_mock, no_sleep):
    requests_mock.get(V6_ALL, json=success(data=[{"tokenAssets": []}]))
    assert OkxHook().get_all_token_balances(EVM, 1) == []
    assert requests_mock.call_count == 1


def test_balance_out_of_the_models_bounds_is_malformed(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=0)
    requests_mock.get(V6_ALL, json=success(data=[{"tokenAssets": [row(balance="1E+10000000")]}]))
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert info.value.field == "data[0].tokenAssets[0].balance"


def test_unpriced_tokens_stay_unpriced_not_malformed(okx_conn, requests_mock, no_sleep):
    requests_mock.get(
        V6_ALL, json=success(data=[{"tokenAssets": [row(tokenPrice="0"), row(symbol="X", tokenPrice="")]}])
    )
    balances = OkxHook().get_all_token_balances(EVM, 1)
    assert [b.is_priced for b in balances] == [False, False]
    assert [b.balance for b in balances] == [Decimal("1.5"), Decimal("1.5")]


def test_rows_belong_to_the_queried_address_not_the_echo(okx_conn, requests_mock, no_sleep):
    echoed = "0x0000000000000000000000000000000000000001"
    requests_mock.get(
        V6_ALL, json=success(data=[{"tokenAssets": [row(address=echoed), row(address=EVM.upper())]}])
    )
    balances = OkxHook().get_all_token_balances(EVM, 1)
    assert {b.address for b in balances} == {EVM}


def test_v5_specific_tokens_accept_the_older_flat_list(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="p-1")
    flat = [{**row(tokenContractAddress=MISSING), "tokenAddress": ""}]
    requests_mock.post(V5_TOKENS, json=success(data=flat))
    [balance] = OkxHook().get_token_balances(EVM, [(1, "")])
    assert balance.balance == Decimal("1.5") and balance.address == EVM


def test_v5_specific_tokens_accept_the_wrapper_too(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="p-1")
    requests_mock.post(V5_TOKENS, json=success(data=[{"tokenAssets": [{**row(), "tokenAddress": ""}]}]))
    assert len(OkxHook().get_token_balances(EVM, [(1, "")])) == 1


def test_v5_flat_list_with_a_broken_row_is_malformed(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="p-1", max_retries=0)
    requests_mock.post(V5_TOKENS, json=success(data=[row(balance=None)]))
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_token_balances(EVM, [(1, "")])
    assert info.value.field == "data[0].balance"


TOTAL_SHAPES = [
    ("data missing", success(), "data"),
    ("data null", success(data=None), "data"),
    ("data empty list", success(data=[]), "data"),
    ("data [{}]", success(data=[{}]), "data[0].totalValue"),
    ("data [null]", success(data=[None]), "data[0]"),
    ("totalValue null", success(data=[{"totalValue": None}]), "data[0].totalValue"),
    ("totalValue empty", success(data=[{"totalValue": ""}]), "data[0].totalValue"),
    ("totalValue a number", success(data=[{"totalValue": 12.5}]), "data[0].totalValue"),
    ("totalValue garbage", success(data=[{"totalValue": "n/a"}]), "data[0].totalValue"),
    ("totalValue NaN", success(data=[{"totalValue": "NaN"}]), "data[0].totalValue"),
]


@pytest.mark.parametrize(
    ("payload", "field"), [s[1:] for s in TOTAL_SHAPES], ids=[s[0] for s in TOTAL_SHAPES]
)
def test_missing_total_value_is_never_zero(okx_conn, requests_mock, no_sleep, payload, field):
    okx_conn(max_retries=1)
    requests_mock.get(V6_TOTAL, json=payload)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_total_value(EVM, 1)
    assert info.value.field == field
    assert info.value.endpoint == "GET /api/v6/dex/balance/total-value-by-address"
    assert requests_mock.call_count == 2


def test_one_malformed_chunk_fails_the_whole_total(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=0)
    requests_mock.get(
        V6_TOTAL,
        [{"json": success(data=[{"totalValue": "1"}])}, {"json": success(data=[{"totalValue": None}])}],
    )
    with pytest.raises(OkxMalformedResponseError):
        OkxHook().get_total_value(EVM, list(range(1000, 1060)))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (success(data=[]), "data"),
        (success(data=None), "data"),
        (success(data=["Ethereum"]), "data[0]"),
        (success(data=[{"name": "Ethereum"}]), "data[0].chainIndex"),
    ],
    ids=["empty", "null", "not objects", "no chainIndex"],
)
def test_malformed_supported_chains(okx_conn, requests_mock, no_sleep, payload, field):
    okx_conn(max_retries=0)
    requests_mock.get(V6_CHAINS, json=payload)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_supported_chains()
    assert info.value.field == field
    ok, message = OkxHook().test_connection()
    assert not ok and field in message


def test_readers_are_sans_io_and_exact():
    read = results.token_balances("GET /x", EVM)
    rows = read([{"tokenAssets": [row(balance="0.000000000000000001", tokenPrice="3")]}])
    assert rows[0].usd_value == Decimal("0.000000000000000003")
    total = results.total_value("GET /y")([{"totalValue": "1480096701.000000000000000001"}])
    assert total == Decimal("1480096701.000000000000000001")
    with pytest.raises(OkxMalformedResponseError, match=r"data is an empty list"):
        read([])


def test_a_huge_value_in_an_error_message_is_cut(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=0)
    requests_mock.get(V6_ALL, json=success(data=[{"tokenAssets": [row(balance="x" * 100_000)]}]))
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert len(str(info.value)) < 800


def test_the_balance_sensor_never_completes_on_a_malformed_answer(okx_conn, requests_mock, no_sleep):
    """A "native balance <= 0" sensor completed on every malformed shape: a false "hot wallet
    empty" alarm. Now a poke keeps waiting on the typed (transient) error; it never completes
    on a value it did not read."""
    from airflow_provider_okx.sensors.balance import OkxBalanceSensor

    okx_conn(max_retries=0)
    sensor = OkxBalanceSensor(
        task_id="empty_hot_wallet", address=EVM, chain=1, threshold="0", condition="<=", deferrable=False
    )
    for payload in (
        success(data=[{}]),
        success(data=None),
        success(data=[{"tokenAssets": [row(balance=None)]}]),
    ):
        requests_mock.get(V6_ALL, json=payload)
        assert not sensor.poke({})  # a malformed answer is a transient error: the wait goes on
    requests_mock.get(V6_ALL, json=success(data=[{"tokenAssets": [row(balance="0")]}]))
    assert sensor.poke({})  # a zero it really read does complete it


def test_a_body_nested_too_deep_for_json_is_malformed_not_a_crash(okx_conn, requests_mock, no_sleep):
    okx_conn(max_retries=0)
    requests_mock.get(V6_ALL, text="[" * 200_000)
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_all_token_balances(EVM, 1)
    assert info.value.field == "body"
