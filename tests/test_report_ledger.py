"""The treasury report's accounting over the simulator (real HTTP): a roll-forward that
reconciles to zero, a hidden transaction that shows exactly as unexplained, wallets that cannot
be reconciled, and holdings valued at a cut-off."""

from __future__ import annotations

import csv
import datetime
import json
from decimal import Decimal

import pendulum
import pytest

from airflow_provider_okx.core.report_time import parse_instant
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.operators import report as report_module
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.testing import SEED_ADDRESS

HOT = "0x" + "4c" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
DAY1, DAY2, DAY3 = "2026-11-23", "2026-11-24", "2026-11-25"


class Clock:
    def __init__(self) -> None:
        self.now = parse_instant("2026-11-24T00:05:00.250Z")

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(report_module, "utc_now", frozen)
    return frozen


def context(day: str) -> dict:
    start = pendulum.parse(day)
    return {"ds": day, "logical_date": start, "data_interval_end": start.add(days=1)}


def run(sim, clock: Clock, tmp_path, day: str, **kwargs) -> dict:
    """The report of ``day``, fetched five minutes after it ends (the simulator's "now" too)."""
    clock.now = parse_instant(f"{day}T00:05:00.250Z") + datetime.timedelta(days=1)
    sim.set_now(clock.now)
    kwargs.setdefault("wallets", {"seed": SEED_ADDRESS, "hot": HOT})
    kwargs.setdefault("chains", "1,56")
    operator = OkxTreasuryReportOperator(
        task_id="report", output_uri=str(tmp_path), roll_forward=True, reconcile=False, **kwargs
    )
    result = operator.execute(context(day))
    return {"xcom": result, "summary": json.loads((tmp_path / day / "summary.json").read_text())}


def rows_of(section: dict) -> dict[tuple[str, str, str], dict]:
    return {(r["wallet_label"], r["chain_index"], r["token_address"]): r for r in section["rows"]}


def test_roll_forward_reconciles_to_zero_over_the_simulator(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    first = run(sim, clock, tmp_path, DAY1)
    assert first["summary"]["roll_forward"] is None  # nothing to roll forward from yet
    assert first["xcom"]["roll_forward"] == {"available": False}
    assert (tmp_path / DAY1 / "roll_forward.csv").read_text().startswith("wallet_label,")

    during = clock.now + datetime.timedelta(hours=3)
    sim.add_transaction(HOT, "1", "", "2.000000000000000001", "in", time=during, fee="0.5")  # sender's fee
    sim.add_transaction(
        HOT, "1", "", "0.25", "out", time=during + datetime.timedelta(minutes=1), fee="0.0021"
    )
    sim.add_transaction(HOT, "1", USDT, "1500.5", "in", time=during, symbol="USDT")
    sim.add_transaction(
        HOT, "1", USDT, "1500.5", "out", time=during + datetime.timedelta(hours=1), symbol="USDT"
    )
    sim.add_transaction(
        SEED_ADDRESS, "1", "", "0.3", "out", time=during, fee="0.00042", status="fail"
    )  # moves its fee only
    sim.add_transaction(SEED_ADDRESS, "56", "", "9", "in", time=during, status="pending")  # nothing yet

    second = run(sim, clock, tmp_path, DAY2)
    section = second["summary"]["roll_forward"]
    assert section["unexplained_count"] == 0 and section["not_reconcilable_count"] == 0
    assert section["reconciled_count"] == section["row_count"] > 31
    rows = rows_of(section)
    hot_eth = rows[("hot", "1", "")]
    assert (hot_eth["inflow"], hot_eth["outflow"], hot_eth["fees"]) == (
        "2.000000000000000001",
        "0.25",
        "0.0021",
    )
    assert Decimal(hot_eth["closing"]) - Decimal(hot_eth["opening"]) == Decimal("1.747900000000000001")
    usdt = rows[("hot", "1", USDT)]  # came in and went out between the reports: still a row
    assert (usdt["opening"], usdt["inflow"], usdt["outflow"], usdt["closing"]) == (
        "0",
        "1500.5",
        "1500.5",
        "0",
    )
    seed_eth = rows[("seed", "1", "")]
    assert (seed_eth["outflow"], seed_eth["fees"], seed_eth["unexplained"]) == ("0", "0.00042", "0")
    assert section["failed_records"] == 1 and section["pending_records"] == 1
    assert section["opening_time"] == first["summary"]["snapshot_time"]["fetched_at"]
    with (tmp_path / DAY2 / "roll_forward.csv").open() as f:
        assert len(list(csv.DictReader(f))) == section["row_count"]
    assert second["xcom"]["roll_forward"]["differences"] == []
    assert sim.count(endpoint="transactions") >= 2  # each wallet's history was asked


def test_a_hidden_transaction_shows_exactly_as_unexplained(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    run(sim, clock, tmp_path, DAY1)
    during = clock.now + datetime.timedelta(hours=2)
    hidden = sim.add_transaction(HOT, "1", USDT, "777.000000000000000007", "in", time=during, symbol="USDT")
    sim.add_transaction(HOT, "1", "", "1", "in", time=during)
    assert sim.hide_transaction(HOT, "1", hidden.tx_hash) == 1  # still in the balance, not in the history
    summary = run(sim, clock, tmp_path, DAY2)["summary"]
    section = summary["roll_forward"]
    assert section["unexplained_count"] == 1
    first = section["rows"][0]  # unexplained rows come first
    assert (first["token_address"], first["status"]) == (USDT, "unexplained")
    assert first["unexplained"] == "777.000000000000000007"
    assert all(r["status"] == "reconciled" for r in section["rows"][1:])
    html = (tmp_path / DAY2 / "report.html").read_text()
    body = html[html.index("<body>") :]
    assert body.index("Roll-forward: differences to explain") < body.index("<h2>Trend</h2>")


def test_a_wallet_not_in_the_previous_report_is_not_reconcilable(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    run(sim, clock, tmp_path, DAY1, wallets={"seed": SEED_ADDRESS})
    section = run(sim, clock, tmp_path, DAY2)["summary"]["roll_forward"]
    hot = [r for r in section["rows"] if r["wallet_label"] == "hot"]
    assert hot and {r["status"] for r in hot} == {"not_reconcilable"}
    assert all(r["unexplained"] is None and r["inflow"] is None for r in hot)  # never zero
    assert "not in the previous report" in hot[0]["reason"]


def test_a_window_beyond_okx_history_is_not_reconcilable(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    run(sim, clock, tmp_path, DAY1)
    section = run(sim, clock, tmp_path, DAY2, history_limit=3600)["summary"]["roll_forward"]
    assert section["not_reconcilable_count"] == section["row_count"] > 0
    assert "beyond" in section["rows"][0]["reason"]
    assert sim.count(endpoint="transactions") == 0  # nothing asked that could not be complete


def test_holdings_valued_at_the_cutoff(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    cutoff = parse_instant("2026-11-23T00:00:00Z")
    result = run(
        sim,
        clock,
        tmp_path,
        DAY1,
        wallets={"seed": SEED_ADDRESS},
        chains="1",
        valuation_time=cutoff.isoformat(),
    )
    summary = result["summary"]
    assert summary["valuation"]["mode"] == "cutoff"
    assert summary["valuation"]["valuation_time"] == "2026-11-23T00:00:00.000Z"
    hook = OkxHook()
    checked = 0
    for entry in summary["by_token"][:5]:
        points = hook.get_historical_prices(
            "1", entry["token_address"], begin=cutoff, end=cutoff, period="1m"
        )
        (point,) = points
        assert Decimal(entry["price"]) == point.price  # OKX's index price at the cut-off, exact
        assert entry["price_time"] == "2026-11-23T00:00:00.000Z"
        assert "historical-price" in entry["price_source"]
        checked += 1
    assert checked == 5
    live = {t["tokenAddress"]: Decimal(t["tokenPrice"]) for t in sim_live_prices()}
    assert any(Decimal(e["price"]) != live.get(e["token_address"]) for e in summary["by_token"])
    with (tmp_path / DAY1 / "balances.csv").open() as f:
        rows = list(csv.DictReader(f))
    priced = [r for r in rows if r["is_priced"] == "true"]
    assert priced and all(r["price_time"] == "2026-11-23T00:00:00.000Z" for r in priced)
    assert all(r["price_time"] == "" for r in rows if r["is_priced"] == "false")
    assert "Valued as of the cut-off" in (tmp_path / DAY1 / "report.html").read_text()


def sim_live_prices() -> list[dict]:
    from importlib import resources

    seed = json.loads(
        resources.files("airflow_provider_okx.testing").joinpath("seed_example.json").read_text()
    )
    return seed["response"]["data"][0]["tokenAssets"]


def test_generated_histories_reconcile_to_zero(okx_simulator_connection, tmp_path, clock):
    """The simulator's deterministic histories (coins and tokens, fees, failed and pending
    records, swaps) between two reports, on two chains: every balance explained, exactly."""
    sim = okx_simulator_connection
    wallets = {"a": "0x" + "a7" * 20, "b": "0x" + "b8" * 20, "seed": SEED_ADDRESS}
    run(sim, clock, tmp_path, DAY1, wallets=wallets, chains="1,8453")
    opened = clock.now
    for address in wallets.values():
        for chain in ("1", "8453"):
            added = sim.generate_history(
                address, chain, 60, begin=opened, end=opened + datetime.timedelta(hours=20)
            )
            assert added == 60
    section = run(sim, clock, tmp_path, DAY2, wallets=wallets, chains="1,8453")["summary"]["roll_forward"]
    assert section["records"] == 6 * 60
    assert section["unexplained_count"] == 0 and section["not_reconcilable_count"] == 0
    moved = [r for r in section["rows"] if r["inflow"] != "0" or r["outflow"] != "0" or r["fees"] != "0"]
    assert len(moved) >= 6 and section["fee_transactions"] > 0


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_the_previous_balances_csv_reads_back_whatever_its_symbols_hold(monkeypatch, block):
    """Symbols are chosen by whoever deploys a token: line separators other than LF (U+2028,
    U+2029, NEL), a CR, quotes and commas must come back as written, read in blocks of any
    size, or the next day's roll-forward fails on a broken row."""
    import io

    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.report import Snapshot, render_csv
    from airflow_provider_okx.core.report.roll_forward import holdings_from_csv
    from airflow_provider_okx.core.text import spreadsheet_safe
    from airflow_provider_okx.operators import report_ledger

    symbols = ["SC\u2028AM", "para\u2029graph", "nel\x85x", "cr\rlf", 'q"u,o\nte', "plain", "=1+2"]
    rows = [
        TokenBalance("1", f"0x{n + 1:040x}", SEED_ADDRESS, symbol, Decimal(f"{n}.5"), None, Decimal("1"))
        for n, symbol in enumerate(symbols)
    ]
    snapshot = Snapshot("2026-12-01", "2026-12-01T00:00:00.000Z", {"w": SEED_ADDRESS}, ["1"], False, rows)
    monkeypatch.setattr(report_ledger, "READ_BLOCK", block)
    file = io.StringIO(render_csv(snapshot), newline="")
    holdings = list(holdings_from_csv(report_ledger._lines(file)))
    got = {h.token_address: (h.symbol, h.balance) for h in holdings}
    expected = {r.token_address: (spreadsheet_safe(r.symbol).removeprefix("'"), r.balance) for r in rows}
    assert got == expected
