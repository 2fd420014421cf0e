"""The many-wallet fetch at scale: answers parsed as they are read under a byte budget, rows
sharing what repeats, and the simulator's large portfolios that figure 5 fetches over HTTP."""

from __future__ import annotations

import dataclasses
import threading
from decimal import Decimal

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidRequestError
from airflow_provider_okx.core.models import EXACT, Shared, TokenBalance, total_usd
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.hooks.sync_transport import ByteBudget
from airflow_provider_okx.testing import Fault

CHAINS = ["1", "10", "8453"]
WALLETS = [f"0x{0xFA000000 + w:040x}" for w in range(6)]
TOKENS = 90


@pytest.fixture
def sim(okx_simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    for address in WALLETS:
        okx_simulator.set_portfolio(address, CHAINS, TOKENS)
    return okx_simulator


def _fetch(budget_bytes: int | None, workers: int) -> tuple[dict[str, list[TokenBalance]], OkxHook]:
    hook = OkxHook()
    if budget_bytes is not None:
        hook.transport.in_flight_bytes = budget_bytes
    fetched = hook.get_wallets_token_balances(WALLETS, CHAINS, max_workers=workers)
    return fetched, hook


def test_a_budget_smaller_than_two_answers_still_reads_every_wallet_once_in_order(sim):
    expected, alone = _fetch(None, 1)  # one answer at a time: the reference
    assert alone.transport.last_budget is not None
    body = alone.transport.last_budget.peak  # one at a time: the largest answer's size
    sim.clear_requests()
    fetched, hook = _fetch(body + body // 2, 6)  # room for one answer and a half
    assert list(fetched) == WALLETS  # the order the wallets were given in
    assert fetched == expected  # every row, exact
    for address in WALLETS:
        assert len(fetched[address]) == TOKENS
        assert sim.count(endpoint="all_token_balances", address=address) == 1
    budget = hook.transport.last_budget
    assert budget is not None and budget.used == 0  # all given back
    assert 0 < budget.peak <= budget.limit + body  # only the oldest reader may go past it


def test_a_budget_smaller_than_one_answer_reads_one_at_a_time(sim):
    expected, alone = _fetch(None, 1)
    assert alone.transport.last_budget is not None
    fetched, hook = _fetch(1, 6)
    assert fetched == expected
    budget = hook.transport.last_budget
    assert budget is not None
    # Every answer exceeds a 1-byte budget: only the oldest reader ever holds bytes, so the
    # peak is never more than the largest single answer.
    assert budget.peak <= alone.transport.last_budget.peak


def test_the_connection_sets_the_byte_budget_of_a_fetch(okx_simulator, monkeypatch):
    for address in WALLETS[:3]:
        okx_simulator.set_portfolio(address, CHAINS, TOKENS)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT",
        okx_simulator.connection_json(rate_limit_rps=0, max_in_flight_bytes="3145728"),
    )
    hook = OkxHook()
    assert hook.transport.in_flight_bytes == 3 * 1024 * 1024
    fetched = hook.get_wallets_token_balances(WALLETS[:3], CHAINS, max_workers=3)
    assert [len(rows) for rows in fetched.values()] == [TOKENS] * 3
    budget = hook.transport.last_budget
    assert budget is not None and budget.limit == 3 * 1024 * 1024 and budget.used == 0
    # Without the extra: 64 MiB, as before.
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    default = OkxHook()
    default.get_wallets_token_balances(WALLETS[:2], CHAINS, max_workers=2)
    assert default.transport.last_budget is not None
    assert default.transport.last_budget.limit == 64 * 1024 * 1024


def test_an_error_mid_fetch_raises_and_gives_every_byte_back(sim):
    sim.inject(Fault(status=400, endpoint="all-token-balances", times=1))  # 50014: never retried
    hook = OkxHook()
    hook.transport.in_flight_bytes = 10_000
    with pytest.raises(OkxInvalidRequestError):
        hook.get_wallets_token_balances(WALLETS, CHAINS, max_workers=4)
    budget = hook.transport.last_budget
    assert budget is not None and budget.used == 0


def test_a_malformed_row_is_an_error_never_a_short_wallet(sim, no_sleep):
    bad = b'{"code":"0","msg":"","data":[{"tokenAssets":[{"chainIndex":"1","tokenContractAddress":""}]}]}'
    sim.inject(Fault(body=bad, endpoint="all-token-balances", times=None))
    from airflow_provider_okx.core.api.errors import OkxMalformedResponseError

    hook = OkxHook()
    hook.transport.in_flight_bytes = 64
    with pytest.raises(OkxMalformedResponseError, match="balance"):
        hook.get_wallets_token_balances(WALLETS, CHAINS, max_workers=3)
    assert hook.transport.last_budget is not None and hook.transport.last_budget.used == 0


def test_rows_of_one_fetch_share_repeated_texts_and_prices(sim):
    fetched, _ = _fetch(None, 3)
    first, second = fetched[WALLETS[0]], fetched[WALLETS[1]]
    by_token = {(r.chain_index, r.token_address): r for r in second}
    shared = 0
    for row in first:
        other = by_token[(row.chain_index, row.token_address)]
        assert other.token_price == row.token_price  # one token, one price, in every wallet
        assert other.token_address is row.token_address and other.symbol is row.symbol
        assert other.token_price is row.token_price
        shared += 1
    assert shared == TOKENS
    # Sharing changes no value: the same rows as read one wallet at a time.
    alone = OkxHook().get_all_token_balances(WALLETS[0], CHAINS)
    assert alone == first


def test_token_balance_is_slotted_and_from_okx_builds_an_equal_row():
    item = {
        "chainIndex": "1",
        "tokenContractAddress": "0xabc",
        "symbol": "X",
        "balance": "1.5",
        "rawBalance": "15",
        "tokenPrice": "2.25",
        "isRiskToken": False,
    }
    shared = Shared()
    row = TokenBalance.from_okx(item, address="0x1", shared=shared)
    assert not hasattr(row, "__dict__")
    same = TokenBalance("1", "0xabc", "0x1", "X", Decimal("1.5"), 15, Decimal("2.25"))
    assert row == same and hash(row) == hash(same)
    assert TokenBalance.from_okx(item, address="0x1") == row
    assert dataclasses.replace(row, address="0x2").address == "0x2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.balance = Decimal(0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="tokenPrice"):
        TokenBalance.from_okx({**item, "tokenPrice": "x"}, shared=shared)
    with pytest.raises(ValueError, match="balance"):
        TokenBalance.from_okx({**item, "balance": "1E+999"}, shared=shared)


def test_byte_budget_lets_the_oldest_holder_through_and_others_wait():
    budget = ByteBudget(10)
    first = budget.take(None, 8)
    first = budget.take(first, 8)  # the oldest holder goes past the limit: no deadlock
    assert budget.used == 16
    taken = threading.Event()
    holder: list[int] = []

    def second() -> None:
        holder.append(budget.take(None, 4))  # waits: 16 + 4 > 10 and not the oldest
        taken.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not taken.is_set() or budget.used <= 10  # it cannot have taken while over
    budget.release(first)
    thread.join(timeout=30)
    assert taken.is_set() and budget.used == 4 and budget.peak == 16
    budget.release(holder[0])
    budget.release(None)
    assert budget.used == 0
    with pytest.raises(ValueError):
        ByteBudget(0)


# --- the simulator's large portfolios ---------------------------------------------------------


def test_set_portfolio_spreads_the_tokens_over_the_chains_deterministically(okx_simulator):
    counts = okx_simulator.set_portfolio(WALLETS[0], "1,10,8453", 1000)
    assert counts == {"1": 334, "10": 333, "8453": 333}
    from airflow_provider_okx.testing.portfolios import large_assets

    again = large_assets(WALLETS[0], "1", WALLETS[0], 334)
    assert again == large_assets(WALLETS[0], "1", WALLETS[0], 334)
    assert again[0].token_address == "" and len({a.token_address for a in again}) == 334
    assert okx_simulator.set_portfolio(WALLETS[0], CHAINS, 0) == {}
    with pytest.raises(ValueError):
        okx_simulator.set_portfolio(WALLETS[0], CHAINS, -1)
    with pytest.raises(ValueError):
        okx_simulator.set_portfolio(WALLETS[0], [], 5)


def test_large_portfolios_over_http_with_exact_totals_and_the_ledger_on_top(sim):
    hook = OkxHook()
    before = hook.get_all_token_balances(WALLETS[0], CHAINS)
    assert len(before) == TOKENS
    total = hook.get_total_value(WALLETS[0], CHAINS, asset_type="token")
    assert total == total_usd(before)
    # A record on chain 1 moves that chain's native coin; the other chains answer as before.
    sim.add_transaction(WALLETS[0], "1", "", "2.5", "in")
    after = hook.get_all_token_balances(WALLETS[0], CHAINS)
    moved = {(r.chain_index, r.token_address): r.balance for r in after}
    for row in before:
        delta = Decimal("2.5") if (row.chain_index, row.token_address) == ("1", "") else Decimal(0)
        assert moved[(row.chain_index, row.token_address)] == EXACT.add(row.balance, delta)
    assert hook.get_total_value(WALLETS[0], CHAINS, asset_type="token") == total_usd(after)
    sim.clear_balances()  # the usual handful again
    assert len(hook.get_all_token_balances(WALLETS[0], CHAINS)) < TOKENS


# --- summary.json written piece by piece ------------------------------------------------------


@pytest.mark.parametrize(
    "summary",
    [
        {"date": "d", "roll_forward": {"row_count": 2, "rows": None, "totals": []}},
        {"roll_forward": {"rows": []}, "trend": [1, 2]},
        {"roll_forward": None},
        {"roll_forward": {"rows": [{"amount": "1", "nested": {"a": 1}}]}},  # not flat: the encoder's path
        {
            "total_usd": "12.5",
            "roll_forward": {
                "opening_time": "t",
                "rows": [
                    {"label": 'é "quoted" \\ \n\u2028', "records": 3, "reason": None, "ok": True, "no": False}
                ]
                * 5000,
                "totals": [{"row_count": 1}],
            },
            "after": {"x": []},
        },
    ],
)
def test_summary_json_is_written_piece_by_piece_to_the_same_bytes(summary):
    import io

    from airflow_provider_okx.core.report.json_render import render_summary_json, write_summary_json

    out = io.StringIO()
    write_summary_json(summary, out)
    assert out.getvalue() == render_summary_json(summary)
