"""The simulator's ledger over real HTTP: balances = opening + movements up to "now", the same
movements served as the history (paged like OKX), index prices, the hide fault, the admin API."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from airflow_provider_okx.core.api.errors import OkxApiVersionRetiredError
from airflow_provider_okx.core.models import Transaction
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.testing import AdminClient, Fault
from airflow_provider_okx.testing.__main__ import main as cli

WALLET = "0x3333333333333333333333333333333333333333"
PEER = "0x00000000000000000000000000000000000000bb"
TOKEN = "0x4444444444444444444444444444444444444444"
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=30)


@pytest.fixture
def sim(okx_simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    okx_simulator.set_now(NOW)
    return okx_simulator


def holdings(hook: OkxHook, chain: int = 1) -> dict[str, Decimal]:
    return {b.token_address.lower(): b.balance for b in hook.get_all_token_balances(WALLET, chain)}


def roll_forward(records: list[Transaction], fold=str.lower) -> dict[str, Decimal]:
    """What a treasury computes from the history: net movement per token, fees once per hash."""
    moved: dict[str, Decimal] = defaultdict(Decimal)
    fees: dict[str, Decimal] = {}
    for tx in records:
        if tx.status == "pending":
            continue
        if tx.status == "success" and tx.direction != "self":
            moved[fold(tx.token_address)] += tx.amount if tx.direction == "in" else -tx.amount
        if tx.direction in ("out", "self"):
            fees[tx.tx_hash] = tx.tx_fee
    moved[""] -= sum(fees.values(), Decimal(0))
    return dict(moved)


def test_balances_are_opening_plus_the_history_up_to_now(sim):
    hook = OkxHook()
    opening = holdings(hook)
    held_token = next(t for t in opening if t)
    day = timedelta(days=1)
    add = sim.add_transaction
    add(WALLET, 1, "", "0.5", "in", time=T0 + day, fee="0.0002", counterparty=PEER)
    add(WALLET, 1, "", "0.1", "out", time=T0 + 2 * day, fee="0.000021")
    add(WALLET, 1, "", "0.3", "out", time=T0 + 3 * day, fee="0.00005", status="fail")  # only the fee
    add(WALLET, 1, "", "7", "in", time=T0 + 4 * day, status="pending")  # nothing yet
    add(WALLET, 1, "", "0.2", "self", time=T0 + 5 * day, fee="0.00001")  # only the fee
    add(WALLET, 1, held_token, "0.000001", "out", time=T0 + 6 * day, tx_hash="0xswap", fee="0.0003")
    add(WALLET, 1, TOKEN, "12.5", "in", time=T0 + 6 * day, tx_hash="0xswap", fee="0.0003")  # fee once
    add(WALLET, 1, "", "1", "in", time=NOW + day)  # after now: has not happened
    closing = holdings(hook)
    records = hook.get_transactions(WALLET, 1, begin=T0, end=NOW + timedelta(milliseconds=1))
    assert len(records) == 7  # the future one is not history yet
    moved = roll_forward(records)
    assert moved[""] == Decimal("0.5") - Decimal("0.1") - Decimal("0.000381")
    for token in opening.keys() | closing.keys() | moved.keys():
        assert closing.get(token, Decimal(0)) == opening.get(token, Decimal(0)) + moved.get(
            token, Decimal(0)
        ), token
    assert closing[TOKEN.lower()] == Decimal("12.5")  # a token the wallet did not hold appears

    sim.set_now(T0 + 2 * day - timedelta(milliseconds=1))  # back in time: what happened by then
    assert holdings(hook)[""] == opening[""] + Decimal("0.5")
    assert {t.tx_hash for t in hook.get_transactions(WALLET, 1)} == {records[-1].tx_hash}


def test_a_wallet_without_a_ledger_keeps_its_deterministic_answer(sim):
    hook = OkxHook()
    other = "0x5555555555555555555555555555555555555555"
    before = hook.get_all_token_balances(other, 1)
    sim.add_transaction(WALLET, 1, "", "1", "in", time=T0)
    assert hook.get_all_token_balances(other, 1) == before
    assert hook.get_transactions(other, 1) == []


def test_a_hidden_transaction_shows_exactly_its_amount_unexplained(sim):
    hook = OkxHook()
    opening = holdings(hook)
    sim.add_transaction(WALLET, 1, "", "0.25", "in", time=T0 + timedelta(hours=1))
    hidden = sim.add_transaction(WALLET, 1, "", "0.0123", "out", time=T0 + timedelta(hours=2), fee="0.0001")
    assert sim.hide_transaction(WALLET, 1, hidden.tx_hash) == 1
    closing = holdings(hook)
    moved = roll_forward(hook.get_transactions(WALLET, 1))
    unexplained = closing[""] - (opening[""] + moved[""])
    assert unexplained == -(Decimal("0.0123") + Decimal("0.0001"))


@pytest.mark.parametrize("version", ["v6", "v5"])
@pytest.mark.parametrize(("repeat", "trailing"), [(False, False), (True, False), (False, True)])
def test_long_histories_page_through_every_record_once(okx_simulator, monkeypatch, version, repeat, trailing):
    extra = {"rate_limit_rps": 0, "api_version": version}
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(**extra))
    okx_simulator.set_now(NOW)
    okx_simulator.history_repeat_boundary = repeat
    okx_simulator.history_trailing_empty_page = trailing
    for i in range(45):  # 5 records per millisecond: paging never moves end to the last txTime
        okx_simulator.add_transaction(WALLET, 1, "", "0.001", "in", time=T0 + timedelta(milliseconds=i // 5))
    records = OkxHook().get_transactions(WALLET, 1)
    assert len(records) == 45 and len({r.tx_hash for r in records}) == 45
    assert sum((r.amount for r in records), Decimal(0)) == Decimal("0.045")
    assert okx_simulator.count(endpoint="transactions") == (4 if trailing else 3)  # 20 + 20 + 5


def test_the_window_edges_over_http(sim):
    begin, end = T0 + timedelta(days=1), T0 + timedelta(days=2)
    for name, when in (
        ("before", begin - timedelta(milliseconds=1)),
        ("begin", begin),
        ("last", end - timedelta(milliseconds=1)),
        ("end", end),
    ):
        sim.add_transaction(WALLET, 1, "", "0.01", "in", time=when, tx_hash=f"0x{name}")
    got = OkxHook().get_transactions(WALLET, 1, begin=begin, end=end)
    # The simulator's begin and end are both exclusive: the record at begin is there only
    # because the hook asks one millisecond earlier.
    assert [t.tx_hash for t in got] == ["0xlast", "0xbegin"]


def test_native_only_and_every_asset(sim):
    sim.add_transaction(WALLET, 1, "", "0.01", "in", time=T0)
    sim.add_transaction(WALLET, 1, TOKEN, "5", "in", time=T0 + timedelta(hours=1))
    hook = OkxHook()
    assert {t.token_address for t in hook.get_transactions(WALLET, 1)} == {"", TOKEN}
    assert {t.token_address for t in hook.get_transactions(WALLET, 1, token_address="")} == {""}
    assert {
        t.token_address
        for t in hook.get_transactions(WALLET, 1, token_address=TOKEN.upper().replace("X", "x"))
    } == {TOKEN}


def test_async_pages_match_the_sync_ones(sim):
    for i in range(25):
        sim.add_transaction(WALLET, 1, "", "0.001", "in", time=T0 + timedelta(minutes=i))

    async def run():
        hook = OkxHook()
        try:
            pages = [page async for page in hook.aiter_transaction_pages(WALLET, 1)]
            everything = await hook.aget_transactions(WALLET, 1)
            prices = await hook.aget_current_prices([(1, "")])
        finally:
            await hook.aclose()
        return pages, everything, prices

    pages, everything, prices = asyncio.run(run())
    assert [len(p) for p in pages] == [20, 5]
    assert everything == OkxHook().get_transactions(WALLET, 1)
    assert prices == OkxHook().get_current_prices([(1, "")])


def test_index_prices_agree_with_the_balance_prices(sim):
    hook = OkxHook()
    native = next(b for b in hook.get_all_token_balances(WALLET, 1) if b.token_address == "")
    (current,) = hook.get_current_prices([(1, ""), (1, "0x" + "9" * 40)])  # unknown: left out
    assert current.price == native.token_price
    assert current.time == NOW.replace(second=0)
    points = hook.get_historical_prices(1, "", begin=NOW - timedelta(days=10), end=NOW, period="1d")
    assert len(points) == 11 and points[-1].time == NOW and points[-1].price == native.token_price
    assert all(abs(p.price - native.token_price) <= native.token_price / 100 for p in points)
    hourly = hook.get_historical_prices(1, "", begin=NOW - timedelta(days=20), end=NOW, period="1h")
    assert len(hourly) == 20 * 24 + 1 and len({p.time for p in hourly}) == len(hourly)  # 3 pages of 200
    assert sim.count(endpoint="historical_price") == 1 + 3
    sim.set_price(1, "", "2000.5")
    assert hook.get_current_prices([(1, "")])[0].price == Decimal("2000.5")
    unknown = hook.get_historical_prices(1, "0x" + "9" * 40, begin=NOW - timedelta(days=2), end=NOW)
    assert unknown == []  # no price: no point, never a zero

    async def run():
        try:
            return await hook.aget_historical_prices(1, "", begin=NOW - timedelta(days=2), end=NOW)
        finally:
            await hook.aclose()

    assert asyncio.run(run()) == hook.get_historical_prices(1, "", begin=NOW - timedelta(days=2), end=NOW)


def test_50050_from_the_simulator_fails_a_v5_connection(okx_simulator, monkeypatch, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, api_version="v5")
    )
    okx_simulator.inject(Fault(code="50050", endpoint="/api/v5/", times=None))
    with pytest.raises(OkxApiVersionRetiredError, match="api_version to 'v6'"):
        OkxHook().get_transactions(WALLET, 1)
    assert okx_simulator.count() == 1


# --- admin API, client, CLI ---------------------------------------------------------------------


def post(sim, route, payload):
    return requests.post(f"{sim.base_url}/_admin/{route}", data=json.dumps(payload), timeout=5)


GOOD = {"address": WALLET, "chain_index": "1", "token_address": "", "amount": "0.5", "direction": "in"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0.5}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1E+100000"}, "amount"),
        ({"amount": "1000000", "direction": "out"}, "amount"),  # below zero
        ({"direction": "sideways"}, "direction"),
        ({"time": "2026-11-01T00:00:00"}, "time"),
        ({"time": "yesterday"}, "time"),
        ({"time": 1.5}, "time"),
        ({"chain_index": "eth"}, "chain_index"),
        ({"fee": "x"}, "fee"),
        ({"fee": "-0.1"}, "fee"),
        ({"fee": "1000000", "direction": "self"}, "fee"),  # a fee the wallet cannot pay
        ({"status": "ok"}, "status"),
        ({"address": "not an address"}, "address"),
        ({"address": ""}, "address"),
        ({"token_address": 5}, "token_address"),
        ({"item_type": "7"}, "item_type"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_admin_refuses_a_bad_transaction_naming_the_field(sim, change, field):
    answer = post(sim, "transactions", {**GOOD, **change})
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]
    assert OkxHook().get_transactions(WALLET, 1) == []  # nothing was added


def test_admin_refuses_two_fees_for_one_transaction(sim):
    assert post(sim, "transactions", {**GOOD, "tx_hash": "0x1", "fee": "0.1"}).status_code == 200
    answer = post(sim, "transactions", {**GOOD, "tx_hash": "0x1", "fee": "0.2", "token_address": TOKEN})
    assert answer.status_code == 400 and answer.json()["error"].startswith("fee:")


def test_admin_client_adds_hides_and_moves_now(sim):
    admin = AdminClient(sim.base_url)
    added = admin.add_transaction(WALLET, 1, "", "0.5", "in", time="2026-11-02T00:00:00Z", fee="0.001")
    assert (
        added["transaction"]["amount"] == "0.5" and added["transaction"]["time"] == "2026-11-02T00:00:00.000Z"
    )
    assert admin.now() == {"now": "2026-12-01T00:00:00.000Z", "fixed": True}
    assert admin.set_now("2026-11-01T12:00:00+00:00")["now"] == "2026-11-01T12:00:00.000Z"
    assert OkxHook().get_transactions(WALLET, 1) == []  # added after now
    admin.set_now(None)
    assert admin.now()["fixed"] is False
    assert admin.hide_transaction(WALLET, 1, added["transaction"]["tx_hash"]) == {"hidden": 1}
    assert OkxHook().get_transactions(WALLET, 1) == []
    with pytest.raises(Exception, match="404"):
        admin.hide_transaction(WALLET, 1, "0xnothing")
    with pytest.raises(Exception, match="now"):
        admin.set_now("soon")
    assert admin.generate_history(WALLET, 1, 8, begin="2026-11-03T00:00:00Z") == {"added": 8}
    with pytest.raises(Exception, match="count"):
        admin.generate_history(WALLET, 1, -1, begin="2026-11-03T00:00:00Z")
    admin.clear_transactions()
    admin.add_transaction(WALLET, 1, "", "0.5", "in", time="2026-11-02T00:00:00Z")
    admin.reset()
    assert OkxHook().get_transactions(WALLET, 1) == []


def test_cli_adds_a_transaction_and_sets_now(sim, capsys):
    url = ["admin", "--url", sim.base_url]
    assert cli([*url, "set-now", "2026-12-01T00:00:00Z"]) == 0
    assert (
        cli(
            [
                *url,
                "add-transaction",
                WALLET,
                "1",
                "",
                "1.25",
                "in",
                "--time",
                "2026-11-05T00:00:00Z",
                "--fee",
                "0.001",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '"amount": "1.25"' in out
    (tx,) = OkxHook().get_transactions(WALLET, 1)
    assert tx.amount == Decimal("1.25") and tx.tx_fee == Decimal("0.001")
    assert cli([*url, "hide-transaction", WALLET, "1", tx.tx_hash]) == 0
    assert OkxHook().get_transactions(WALLET, 1) == []
    assert cli([*url, "add-transaction", WALLET, "1", "", "abc", "in"]) == 1
    assert "amount" in capsys.readouterr().err


@pytest.mark.parametrize("chain", [1, 501])
def test_a_generated_history_reconciles_to_zero(okx_simulator, monkeypatch, chain):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    okx_simulator.set_now(NOW)
    wallet = WALLET if chain == 1 else "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
    hook = OkxHook()
    opening = {b.token_address: b.balance for b in hook.get_all_token_balances(wallet, chain)}
    assert okx_simulator.generate_history(wallet, chain, 400, begin=T0) == 400
    records = hook.get_transactions(wallet, chain, begin=T0, end=NOW)
    assert len(records) == 400 and okx_simulator.count(endpoint="transactions") == 20
    fold = str.lower if chain == 1 else str
    moved = roll_forward(records, fold)
    closing = {b.token_address: b.balance for b in hook.get_all_token_balances(wallet, chain)}
    opening, closing = ({fold(k): v for k, v in d.items()} for d in (opening, closing))
    for token in closing.keys() | moved.keys():
        assert closing[token] == opening.get(token, Decimal(0)) + moved.get(token, Decimal(0)), token


def test_bulk_records_are_all_or_none(sim):
    good = {"token_address": "", "amount": "0.1", "direction": "in", "time": "2026-11-02T00:00:00Z"}
    with pytest.raises(ValueError, match=r"records\[1\]\.amount"):
        sim.add_transactions(WALLET, 1, [good, {**good, "amount": "x"}])
    with pytest.raises(ValueError, match="below zero"):
        sim.add_transactions(WALLET, 1, [good, {**good, "amount": "5", "direction": "out"}])
    assert OkxHook().get_transactions(WALLET, 1) == []
    assert sim.add_transactions(WALLET, 1, [good, {**good, "amount": "0.05", "direction": "out"}]) == 2
