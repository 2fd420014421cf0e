"""Transaction history and index prices through OkxHook's sync transport, with requests-mock:
what is sent (cursor, window, token filter, batches) and what is read (exact, once, typed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_okx.core.api.errors import (
    OkxApiVersionRetiredError,
    OkxInvalidInputError,
    OkxMalformedResponseError,
    is_permanent,
)
from airflow_provider_okx.core.models import PricePoint, Transaction, datetime_to_ms
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import BASE_URL

WALLET = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
PEER = "0x00000000000000000000000000000000000000aa"
V6_TX = f"{BASE_URL}/api/v6/dex/post-transaction/transactions-by-address"
V5_TX = f"{BASE_URL}/api/v5/wallet/post-transaction/transactions-by-address"
V6_HIST = f"{BASE_URL}/api/v6/dex/index/historical-price"
V6_CURRENT = f"{BASE_URL}/api/v6/dex/index/current-price"
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def ms(when: datetime) -> str:
    return str(datetime_to_ms(when))


def record(tx_hash="0xabc", when=T0, amount="1.5", direction="in", token="", fee="0.00021", **more):
    wallet = {"address": WALLET.lower(), "amount": amount}
    other = {"address": PEER, "amount": amount}
    return {
        "chainIndex": "1",
        "txHash": tx_hash,
        "itype": "0" if token == "" else "2",
        "txTime": ms(when),
        "from": [other] if direction == "in" else [wallet],
        "to": [wallet] if direction == "in" else [other],
        "tokenContractAddress": token,
        "amount": amount,
        "symbol": "ETH" if token == "" else "TKN",
        "txFee": fee,
        "txStatus": "success",
        "hitBlacklist": False,
        "tag": "",
        **more,
    }


def page(records, cursor=""):
    return {"json": {"code": "0", "msg": "", "data": [{"cursor": cursor, "transactions": records}]}}


def queries(requests_mock):
    return [parse_qs(urlsplit(r.url).query, keep_blank_values=True) for r in requests_mock.request_history]


# --- pagination ------------------------------------------------------------------------------


def test_every_page_is_followed_and_a_record_repeated_at_the_boundary_counts_once(okx_conn, requests_mock):
    first = [record(f"0x{i}", T0 - timedelta(minutes=i)) for i in range(3)]
    second = [first[-1], *(record(f"0x{i}", T0 - timedelta(minutes=i)) for i in range(3, 5))]
    third = [record("0x5", T0 - timedelta(minutes=5))]
    requests_mock.get(V6_TX, [page(first, "c1"), page(second, "c2"), page(third, "")])
    got = OkxHook().get_transactions(WALLET, 1)
    assert [t.tx_hash for t in got] == [f"0x{i}" for i in range(6)]
    sent = queries(requests_mock)
    assert [q.get("cursor") for q in sent] == [None, ["c1"], ["c2"]]
    assert all(q["limit"] == ["20"] and q["chains"] == ["1"] for q in sent)


def test_an_empty_page_with_a_cursor_ends_the_history(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([record("0x1")], "c1"), page([], "c2"), page([record("0x9")], "")])
    assert [t.tx_hash for t in OkxHook().get_transactions(WALLET, 1)] == ["0x1"]
    assert requests_mock.call_count == 2


def test_a_repeated_cursor_ends_the_history_instead_of_looping(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([record("0x1")], "same"), page([record("0x2")], "same")] * 3)
    assert [t.tx_hash for t in OkxHook().get_transactions(WALLET, 1)] == ["0x1", "0x2"]
    assert requests_mock.call_count == 2


def test_a_short_page_with_a_cursor_is_not_the_end(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([record("0x1")], "c1"), page([record("0x2")], None)])
    assert len(OkxHook().get_transactions(WALLET, 1)) == 2


def test_pages_stream_one_at_a_time(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([record("0x1")], "c1"), page([record("0x2")], "")])
    pages = OkxHook().iter_transaction_pages(WALLET, 1)
    assert [t.tx_hash for t in next(pages)] == ["0x1"]
    assert requests_mock.call_count == 1  # the second page is not asked for before it is wanted
    assert [t.tx_hash for t in next(pages)] == ["0x2"]
    assert next(pages, None) is None


def test_several_chains_ask_pages_of_100_and_more_than_50_are_chunked(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([], "")])
    OkxHook().get_transactions(WALLET, "1,56,137")
    assert queries(requests_mock)[0]["limit"] == ["100"]
    requests_mock.reset_mock()
    OkxHook().get_transactions(WALLET, [str(c) for c in range(1000, 1060)])
    assert [len(q["chains"][0].split(",")) for q in queries(requests_mock)] == [50, 10]


def test_swap_records_sharing_a_hash_are_two_movements(okx_conn, requests_mock):
    out = record("0xswap", direction="out", amount="100", token="0xusdc", fee="0.001")
    back = record("0xswap", direction="in", amount="0.03", token="", fee="0.001")
    requests_mock.get(V6_TX, [page([out, back], "")])
    got = OkxHook().get_transactions(WALLET, 1)
    assert [(t.direction, t.token_address, t.amount) for t in got] == [
        ("out", "0xusdc", Decimal("100")),
        ("in", "", Decimal("0.03")),
    ]
    assert got[0].movement_key != got[1].movement_key


# --- exactness and shape -------------------------------------------------------------------


def test_amounts_and_fees_are_exact_and_the_record_is_typed(okx_conn, requests_mock):
    raw = record(
        "0xfeed",
        amount="172.895057177065864522056725546579939398",
        fee="0.000000000000000001",
        txTime="1764547200123",
    )
    requests_mock.get(V6_TX, [page([raw], "")])
    (tx,) = OkxHook().get_transactions(WALLET, 1)
    assert tx.amount == Decimal("172.895057177065864522056725546579939398")
    assert str(tx.amount) == "172.895057177065864522056725546579939398"
    assert tx.tx_fee == Decimal("1E-18")
    assert tx.tx_time == datetime(2025, 12, 1, 0, 0, 0, 123000, tzinfo=timezone.utc)
    assert tx.address == WALLET  # as the user wrote it, whatever case OKX echoes
    assert (tx.direction, tx.status, tx.item_type) == ("in", "success", "0")
    assert tx.from_addresses == (PEER,) and tx.to_addresses == (WALLET.lower(),)
    assert Transaction.from_dict(json.loads(json.dumps(tx.to_dict()))) == tx
    assert tx.to_dict()["tx_time"] == "2025-12-01T00:00:00.123Z"
    assert tx.to_dict()["amount"] == "172.895057177065864522056725546579939398"


def test_v5_field_names_and_status_spellings(okx_conn, requests_mock):
    okx_conn(api_version="v5", project_id="p")
    raw = record("0x1", direction="out", txStatus="3")
    raw["tokenAddress"] = raw.pop("tokenContractAddress")
    raw["iType"] = raw.pop("itype")
    requests_mock.get(
        V5_TX, json={"code": "0", "msg": "", "data": [{"cursor": "", "transactionList": [raw]}]}
    )
    (tx,) = OkxHook().get_transactions(WALLET, 1, token_address="")
    assert (tx.status, tx.direction, tx.item_type, tx.token_address) == ("fail", "out", "0", "")
    assert queries(requests_mock)[0]["tokenAddress"] == [""]


def test_a_multisig_sender_list_and_a_self_transfer(okx_conn, requests_mock):
    raw = record("0x1")
    raw["from"] = [{"address": f"{WALLET.lower()},{PEER}", "amount": "1.5"}]
    requests_mock.get(V6_TX, [page([raw], "")])
    (tx,) = OkxHook().get_transactions(WALLET, 1)
    assert tx.direction == "self" and tx.from_addresses == (WALLET.lower(), PEER)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": ""}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "1E+100000"}, "amount"),
        ({"txFee": None}, "txFee"),
        ({"txTime": "yesterday"}, "txTime"),
        ({"txTime": 1764547200.5}, "txTime"),
        ({"txStatus": "done"}, "txStatus"),
        ({"txHash": ""}, "txHash"),
        ({"chainIndex": None}, "chainIndex"),
        ({"tokenContractAddress": None}, "tokenContractAddress"),
        ({"to": [{"address": PEER}]}, "from"),
        ({"from": "0xnot-a-list"}, "from"),
    ],
)
def test_a_malformed_record_names_its_field(okx_conn, requests_mock, no_sleep, change, field):
    raw = {**record("0x1"), **change}
    if change.get("tokenContractAddress", "") is None:
        raw.pop("tokenContractAddress")
    requests_mock.get(V6_TX, [page([raw], "")])
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook(okx_conn_id="okx_default").get_transactions(WALLET, 1)
    assert info.value.field.endswith(field), info.value.field


@pytest.mark.parametrize(
    "data",
    [
        [{"cursor": "", "transactions": "nope"}],
        [{"cursor": "", "rows": []}],
        [{"cursor": {"x": 1}, "transactions": []}],
        ["not an object"],
    ],
)
def test_an_undocumented_page_shape_is_malformed(okx_conn, requests_mock, no_sleep, data):
    requests_mock.get(V6_TX, json={"code": "0", "msg": "", "data": data})
    with pytest.raises(OkxMalformedResponseError):
        OkxHook().get_transactions(WALLET, 1)


# --- windows and filters ---------------------------------------------------------------------


def test_the_window_is_begin_inclusive_end_exclusive_and_asked_a_millisecond_wider(okx_conn, requests_mock):
    begin, end = T0, T0 + timedelta(days=1)
    records = [
        record("0xend", end),
        record("0xlast", end - timedelta(milliseconds=1)),
        record("0xbegin", begin),
        record("0xbefore", begin - timedelta(milliseconds=1)),
    ]
    requests_mock.get(V6_TX, [page(records, "")])
    got = OkxHook().get_transactions(WALLET, 1, begin=begin, end=end)
    assert [t.tx_hash for t in got] == ["0xlast", "0xbegin"]
    (sent,) = queries(requests_mock)
    assert sent["begin"] == [str(int(ms(begin)) - 1)] and sent["end"] == [ms(end)]


def test_windows_that_tile_share_no_record(okx_conn, requests_mock):
    edge = T0 + timedelta(hours=12)
    records = [record("0xa", edge + timedelta(hours=1)), record("0xedge", edge), record("0xb", T0)]
    requests_mock.get(V6_TX, [page(records, ""), page(records, "")])
    hook = OkxHook()
    later = hook.get_transactions(WALLET, 1, begin=edge, end=T0 + timedelta(days=1))
    earlier = hook.get_transactions(WALLET, 1, begin=T0, end=edge)
    assert [t.tx_hash for t in later] == ["0xa", "0xedge"] and [t.tx_hash for t in earlier] == ["0xb"]


def test_a_sub_millisecond_end_is_rounded_up_when_asked(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([], "")])
    end = T0 + timedelta(microseconds=1500)
    OkxHook().get_transactions(WALLET, 1, end=end)
    assert queries(requests_mock)[0]["end"] == [str(int(ms(T0)) + 2)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"begin": datetime(2026, 11, 1)}, "begin"),
        ({"end": datetime(2026, 11, 1)}, "end"),
        ({"begin": "2026-11-01"}, "begin"),
        ({"begin": T0, "end": T0}, "end"),
        ({"begin": T0, "end": T0 - timedelta(seconds=1)}, "end"),
        ({"token_address": 0}, "token_address"),
    ],
)
def test_bad_windows_and_filters_are_refused_before_any_request(okx_conn, requests_mock, kwargs, field):
    with pytest.raises(OkxInvalidInputError) as info:
        OkxHook().get_transactions(WALLET, 1, **kwargs)
    assert info.value.field == field
    assert requests_mock.call_count == 0


def test_token_filter_none_is_absent_empty_is_native_only(okx_conn, requests_mock):
    requests_mock.get(V6_TX, [page([], "")])
    hook = OkxHook()
    hook.get_transactions(WALLET, 1)
    hook.get_transactions(WALLET, 1, token_address="")
    hook.get_transactions(WALLET, 1, token_address=" 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 ")
    sent = queries(requests_mock)
    assert "tokenContractAddress" not in sent[0]
    assert sent[1]["tokenContractAddress"] == [""]
    assert "tokenContractAddress=&" in requests_mock.request_history[1].url
    assert sent[2]["tokenContractAddress"] == ["0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"]


def test_the_async_twin_refuses_a_naive_datetime_before_any_request(okx_conn, requests_mock):
    """(The async path over aiohttp is read against the simulator in test_ledger_simulator.py.)"""
    import asyncio

    async def run():
        with pytest.raises(OkxInvalidInputError):
            await OkxHook().aget_transactions(WALLET, 1, begin=datetime(2026, 1, 1))

    asyncio.run(run())
    assert requests_mock.call_count == 0


# --- index prices -----------------------------------------------------------------------------


def price_page(points, cursor=""):
    return {"json": {"code": "0", "msg": "", "data": [{"cursor": cursor, "prices": points}]}}


def test_historical_prices_every_page_exact_sorted_and_inclusive(okx_conn, requests_mock):
    day = timedelta(days=1)
    begin, end = T0, T0 + 3 * day
    newest = [
        {"time": ms(end + day), "price": "1"},
        {"time": ms(end), "price": "1994.430000000000000000"},
        {"time": ms(end - day), "price": "1990.1"},
    ]
    older = [
        {"time": ms(begin + day), "price": "1980"},
        {"time": ms(begin), "price": "1970.000000000000000001"},
    ]
    requests_mock.get(V6_HIST, [price_page(newest, ms(end - day)), price_page(older, "")])
    got = OkxHook().get_historical_prices(1, "", begin=begin, end=end)
    assert [p.time for p in got] == [begin, begin + day, end - day, end]
    assert got[0] == PricePoint("1", "", begin, Decimal("1970.000000000000000001"))
    assert str(got[-1].price) == "1994.430000000000000000"
    first, second = queries(requests_mock)
    assert first["tokenContractAddress"] == [""] and first["period"] == ["1d"] and first["limit"] == ["200"]
    assert first["begin"] == [str(int(ms(begin)) - 1)] and first["end"] == [str(int(ms(end)) + 1)]
    assert second["cursor"] == [ms(end - day)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"period": "2d"}, "period"),
        ({"begin": None}, "begin"),
        ({"end": datetime(2026, 12, 1)}, "end"),
    ],
)
def test_historical_price_arguments_are_checked(okx_conn, requests_mock, kwargs, field):
    arguments = {"begin": T0, "end": T0 + timedelta(days=1), **kwargs}
    with pytest.raises(OkxInvalidInputError) as info:
        OkxHook().get_historical_prices(1, "", **arguments)
    assert info.value.field == field and requests_mock.call_count == 0


def test_current_prices_are_batched_by_100_and_a_missing_token_is_left_out(okx_conn, requests_mock):
    def answer(request, context):
        body = json.loads(request.body)
        return {
            "code": 0,  # one docs example sends the number
            "msg": "",
            "data": [
                {
                    "chainIndex": e["chainIndex"],
                    "tokenContractAddress": e["tokenContractAddress"],
                    "time": ms(T0),
                    "price": "1.0001",
                }
                for e in body
                if e["tokenContractAddress"] != "0xunpriced"
            ],
        }

    requests_mock.post(V6_CURRENT, json=answer)
    tokens = [(1, f"0x{i:040x}") for i in range(249)] + [(56, "0xunpriced"), (1, "0x" + "0" * 40)]
    got = OkxHook().get_current_prices(tokens)
    sizes = [len(json.loads(r.body)) for r in requests_mock.request_history]
    assert sizes == [100, 100, 50]  # 251 pairs, one a repeat
    assert len(got) == 249 and all(p.price == Decimal("1.0001") for p in got)
    assert ("56", "0xunpriced") not in {(p.chain_index, p.token_address) for p in got}


def test_a_current_price_without_a_price_is_malformed(okx_conn, requests_mock, no_sleep):
    requests_mock.post(
        V6_CURRENT,
        json={
            "code": "0",
            "msg": "",
            "data": [{"chainIndex": "1", "tokenContractAddress": "", "time": ms(T0)}],
        },
    )
    with pytest.raises(OkxMalformedResponseError) as info:
        OkxHook().get_current_prices([(1, "")])
    assert info.value.field == "data[0].price"


# --- v5 retirement -----------------------------------------------------------------------------


def test_50050_on_a_v5_connection_fails_at_once_saying_switch_to_v6(okx_conn, requests_mock, no_sleep):
    okx_conn(api_version="v5", project_id="p")
    requests_mock.get(V5_TX, json={"code": "50050", "msg": "V5 API is being deprecated", "data": []})
    with pytest.raises(OkxApiVersionRetiredError) as info:
        OkxHook().get_transactions(WALLET, 1)
    assert requests_mock.call_count == 1 and not no_sleep.waits  # never retried
    assert is_permanent(info.value)
    assert "set the connection's extra api_version to 'v6'" in str(info.value)


def test_the_connection_test_warns_on_v5(okx_conn, requests_mock):
    chains = {"code": "0", "msg": "", "data": [{"chainIndex": "1", "name": "Ethereum"}]}
    requests_mock.get(f"{BASE_URL}/api/v5/wallet/chain/supported-chains", json=chains)
    requests_mock.get(f"{BASE_URL}/api/v6/dex/balance/supported/chain", json=chains)
    okx_conn(api_version="v5", project_id="p")
    ok, message = OkxHook().test_connection()
    assert ok and "Warning" in message and "api_version to 'v6'" in message
    okx_conn(api_version="v6")
    ok, message = OkxHook().test_connection()
    assert ok and "Warning" not in message
