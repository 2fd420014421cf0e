"""OkxTreasuryReportOperator against the simulator: exact totals, idempotence, atomic publishing,
wallets counted once, honest fetch times, text made safe, permanent errors failing fast."""

from __future__ import annotations

import copy
import csv
import datetime
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pendulum
import pytest

from airflow_provider_okx.core.api.errors import (
    OkxApiError,
    OkxAuthError,
    OkxInvalidInputError,
    OkxUnavailableError,
)
from airflow_provider_okx.core.report_time import parse_instant
from airflow_provider_okx.glue.compat import AirflowFailException, ReportAsset
from airflow_provider_okx.operators import report as report_module
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator, parse_wallets
from airflow_provider_okx.testing import SEED_ADDRESS, Fault

SEED = json.loads(resources.files("airflow_provider_okx.testing").joinpath("seed_example.json").read_text())
HOT = "0x" + "4c" * 20
THIRD = "0x" + "7d" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
FILES = ["balances.csv", "report.html", "summary.json"]


class Clock:
    """Stands in for ``report.utc_now``: the fetch time the report records."""

    def __init__(self) -> None:
        self.now = parse_instant("2026-11-24T00:05:00.250Z")

    def __call__(self) -> datetime.datetime:
        return self.now

    def after(self, day: str, **late: float) -> None:
        """Minutes after the end of ``day`` (a daily run's usual time), or ``late`` after it."""
        end = parse_instant(f"{day}T00:00:00Z") + datetime.timedelta(days=1)
        self.now = end + (datetime.timedelta(**late) if late else datetime.timedelta(minutes=5))


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(report_module, "utc_now", frozen)
    return frozen


def context(day: str) -> dict:
    start = pendulum.parse(day)
    return {"ds": day, "logical_date": start, "data_interval_end": start.add(days=1)}


def report(tmp_path, **kwargs):
    defaults = {
        "task_id": "report",
        "wallets": {"seed": SEED_ADDRESS},
        "chains": "1",
        "output_uri": str(tmp_path),
    }
    return OkxTreasuryReportOperator(**{**defaults, **kwargs})


def files_of(day) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in day.iterdir()}


def debris(root, day: str) -> list[str]:
    """What sits next to ``<day>`` besides its lock and the version it names."""
    link = root / day
    keep = {day, f".{day}.lock", os.readlink(link) if link.is_symlink() else None}
    return sorted(name for name in os.listdir(root) if name not in keep)


def balances_of(sim, wallets: list[str], chains: str = "1,56") -> dict:
    from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator

    snap = OkxTokenBalancesOperator(task_id="b", address=wallets, chains=chains).execute({})
    snap["fetched_at"] = "2026-11-24T00:01:00.000Z"  # as if mapped right after the day ended
    return snap


# --- the report, exact and idempotent ---------------------------------------------------


def test_seed_wallet_total_is_the_exact_sum_of_its_31_rows(okx_simulator_connection, tmp_path):
    result = report(tmp_path, exclude_risk_tokens=False).execute(context("2026-11-23"))
    assets = SEED["response"]["data"][0]["tokenAssets"]
    exact = sum(Fraction(a["balance"]) * Fraction(a["tokenPrice"]) for a in assets if a["tokenPrice"] != "0")
    assert Fraction(result["total_usd"]) == exact
    assert result["row_count"] == 31
    assert result["flagged_wallets"] == []
    day = tmp_path / "2026-11-23"
    with (day / "balances.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 31
    by_token = {r["token_address"]: r for r in rows}
    for asset in assets:  # CSV decimals round-trip exactly
        assert Decimal(by_token[asset["tokenAddress"]]["balance"]) == Decimal(asset["balance"])
        assert Decimal(by_token[asset["tokenAddress"]]["token_price"]) == Decimal(asset["tokenPrice"])
    summary = json.loads((day / "summary.json").read_text())
    assert summary["total_usd"] == result["total_usd"]
    html = (day / "report.html").read_text()
    ET.fromstring(html[html.index("<html") :])
    assert "<svg" in html
    # The XCom names the published files and the exact bytes this run wrote to them.
    assert result["files"] == {name: f"file://{day}/{name}" for name in REPORT_ORDER}
    assert result["report_dir"] == f"file://{day}"
    for name, digest in result["sha256"].items():
        assert hashlib.sha256((day / name).read_bytes()).hexdigest() == digest
        assert result["bytes"][name] == (day / name).stat().st_size
    assert result["version"] == os.readlink(day)


REPORT_ORDER = ["balances.csv", "summary.json", "report.html"]


def test_rerun_of_a_date_leaves_identical_files(okx_simulator_connection, tmp_path, clock):
    op = report(tmp_path, wallets={"seed": SEED_ADDRESS, "hot": HOT}, chains="1,56")
    op.execute(context("2026-11-23"))
    first = files_of(tmp_path / "2026-11-23")
    op.execute(context("2026-11-23"))  # same data, same fetch time: every byte the same
    assert files_of(tmp_path / "2026-11-23") == first
    clock.now += datetime.timedelta(hours=3)  # a rerun later that morning
    result = op.execute(context("2026-11-23"))
    again = files_of(tmp_path / "2026-11-23")
    assert again["balances.csv"] == first["balances.csv"]  # no wall clock in the CSV
    assert again["summary.json"] != first["summary.json"]  # the summary says when it fetched
    assert result["fetched_at"] == "2026-11-24T03:05:00.250Z"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["2026-11-23"]
    assert debris(tmp_path, "2026-11-23") == []


def test_failure_in_one_wallet_leaves_no_files_and_fails_at_once(okx_simulator, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=1)
    )
    okx_simulator.inject(Fault(status=200, code="81353", msg="Illegal address", times=1))
    with pytest.raises(AirflowFailException, match="81353") as failure:
        report(tmp_path, wallets=[SEED_ADDRESS, HOT], chains="1,56").execute(context("2026-11-23"))
    assert isinstance(failure.value.__cause__, OkxApiError)
    assert failure.value.__cause__.code == "81353"
    assert list(tmp_path.iterdir()) == []


def test_the_cyclic_gc_waits_while_the_report_runs_and_is_restored_after(
    okx_simulator, monkeypatch, tmp_path
):
    """The collector is paused for the report (it would scan a million rows at every burst) and
    given back as it was: after a report, after a failed one, and left off if it was off."""
    import gc

    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0))
    seen = []
    fetch = OkxTreasuryReportOperator._fetch

    def watched(self, *args):
        seen.append(gc.isenabled())
        return fetch(self, *args)

    monkeypatch.setattr(OkxTreasuryReportOperator, "_fetch", watched)
    assert gc.isenabled()
    report(tmp_path).execute(context("2026-11-23"))
    assert seen == [False] and gc.isenabled()
    okx_simulator.inject(Fault(status=200, code="81353", msg="Illegal address", times=1))
    with pytest.raises(AirflowFailException):
        report(tmp_path / "failed").execute(context("2026-11-23"))
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        report(tmp_path / "off").execute(context("2026-11-23"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_revoked_key_fails_without_retries_and_outage_stays_retryable(okx_simulator, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=0)
    )
    okx_simulator.inject(Fault(status=401, code="50111", times=None))
    with pytest.raises(AirflowFailException) as failure:
        report(tmp_path).execute(context("2026-11-23"))
    assert isinstance(failure.value.__cause__, OkxAuthError)
    assert failure.value.__cause__.code == "50111"
    okx_simulator.clear_faults()
    okx_simulator.inject(Fault(status=503, times=None))
    with pytest.raises(OkxUnavailableError) as outage:  # the task's own retries may still help
        report(tmp_path).execute(context("2026-11-23"))
    assert not isinstance(outage.value, AirflowFailException)
    assert list(tmp_path.iterdir()) == []


def test_failed_rerun_keeps_the_previous_complete_report(okx_simulator, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=0)
    )
    report(tmp_path).execute(context("2026-11-23"))
    before = files_of(tmp_path / "2026-11-23")
    okx_simulator.inject(Fault(status=503, code="50001", times=None))
    with pytest.raises(OkxApiError):
        report(tmp_path).execute(context("2026-11-23"))
    assert files_of(tmp_path / "2026-11-23") == before


def test_compares_with_the_previous_day(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    sim.set_balance(HOT, "1", USDT, "1000", price="1", symbol="USDT")
    op = report(tmp_path, wallets={"hot": HOT}, chains="1")
    clock.after("2026-11-22")
    op.execute(context("2026-11-22"))
    sim.set_balance(HOT, "1", USDT, "1250.5", price="1", symbol="USDT")
    clock.after("2026-11-23")
    result = op.execute(context("2026-11-23"))
    assert result["previous_date"] == "2026-11-22"
    summary = json.loads((tmp_path / "2026-11-23" / "summary.json").read_text())
    [change] = [c for c in summary["changes"]["by_token"] if c["token_address"] == USDT]
    assert Decimal(change["balance_change"]) == Decimal("250.5")
    assert Decimal(change["usd_change"]) == Decimal("250.5")


def test_reconciliation_flags_a_wallet_okx_values_differently(
    okx_simulator_connection, tmp_path, caplog, capsys
):
    sim = okx_simulator_connection
    sim.inject(
        Fault(
            body=json.dumps({"code": "0", "msg": "", "data": [{"totalValue": "1"}]}), endpoint="total_value"
        )
    )
    result = report(tmp_path, wallets={"hot": HOT}, chains="1").execute(context("2026-11-23"))
    assert result["flagged_wallets"] == [HOT]
    captured = capsys.readouterr()  # Airflow 3 logs through structlog, Airflow 2 through logging
    assert "Reconciliation" in caplog.text + captured.out + captured.err


def test_outlet_asset_and_validation(tmp_path):
    op = report(tmp_path)
    assert op.outlets == [ReportAsset(str(tmp_path))]
    templated = OkxTreasuryReportOperator(
        task_id="t", wallets="{{ params.w }}", chains="1", output_uri="{{ params.o }}"
    )
    assert templated.outlets == [ReportAsset("okx_treasury_report")]
    with pytest.raises(OkxInvalidInputError, match="wallets"):
        report(tmp_path, wallets=[])
    with pytest.raises(OkxInvalidInputError, match="wallets"):
        parse_wallets({"a": SEED_ADDRESS, "b": SEED_ADDRESS.lower()})
    assert parse_wallets(f"{{'cold': '{SEED_ADDRESS}'}}") == {"cold": SEED_ADDRESS}
    for bad in (datetime.timedelta(0), -5, float("nan"), "1 day", True):
        with pytest.raises(OkxInvalidInputError) as error:
            report(tmp_path, max_snapshot_lag=bad)
        assert error.value.field == "max_snapshot_lag"


# --- mapped snapshots: every wallet counted once -----------------------------------------


def test_aggregates_mapped_snapshots_without_refetching(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    snaps = [balances_of(sim, [a]) for a in (SEED_ADDRESS, HOT)]
    fetched = sim.count(endpoint="all_token_balances")
    direct = report(tmp_path / "a", wallets=[SEED_ADDRESS, HOT], chains="1,56").execute(context("2026-11-23"))
    mapped = report(tmp_path / "b", wallets=[SEED_ADDRESS, HOT], chains="1,56", balances=snaps).execute(
        context("2026-11-23")
    )
    assert mapped["total_usd"] == direct["total_usd"]
    assert sim.count(endpoint="all_token_balances") == 2 * fetched  # only the direct report fetched again
    assert (tmp_path / "a" / "2026-11-23" / "balances.csv").read_bytes() == (
        tmp_path / "b" / "2026-11-23" / "balances.csv"
    ).read_bytes()
    with pytest.raises(AirflowFailException, match="partial") as failure:
        report(tmp_path / "c", wallets=[SEED_ADDRESS, HOT], chains="1,56", balances=snaps[:1]).execute(
            context("2026-11-23")
        )
    assert isinstance(failure.value.__cause__, OkxInvalidInputError)
    assert failure.value.__cause__.value == [HOT]


@pytest.mark.parametrize("reconcile", [True, False])
def test_overlapping_batches_count_the_shared_wallet_once(okx_simulator_connection, tmp_path, reconcile):
    """Mapped batches ``[A, B]`` and ``[B, C]``: B's identical rows merge (it used to count twice)."""
    sim = okx_simulator_connection
    wallets = [SEED_ADDRESS, HOT, THIRD]
    direct = report(tmp_path / "direct", wallets=wallets, chains="1,56", reconcile=reconcile).execute(
        context("2026-11-23")
    )
    batches = [balances_of(sim, [SEED_ADDRESS, HOT]), balances_of(sim, [HOT, THIRD])]
    mapped = report(
        tmp_path / "mapped", wallets=wallets, chains="1,56", reconcile=reconcile, balances=batches
    ).execute(context("2026-11-23"))
    assert mapped["total_usd"] == direct["total_usd"]
    assert mapped["row_count"] == direct["row_count"]
    assert mapped["flagged_wallets"] == []
    assert (tmp_path / "direct" / "2026-11-23" / "balances.csv").read_bytes() == (
        tmp_path / "mapped" / "2026-11-23" / "balances.csv"
    ).read_bytes()


def test_one_wallet_written_two_ways_in_two_batches_counts_once(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    batches = [balances_of(sim, [SEED_ADDRESS], "1"), balances_of(sim, [SEED_ADDRESS.lower()], "1")]
    once = report(tmp_path / "once", chains="1").execute(context("2026-11-23"))
    merged = report(tmp_path / "merged", chains="1", balances=batches).execute(context("2026-11-23"))
    assert merged["total_usd"] == once["total_usd"]
    assert merged["row_count"] == once["row_count"] == 31
    with (tmp_path / "merged" / "2026-11-23" / "balances.csv").open() as f:
        assert {row["address"] for row in csv.DictReader(f)} == {SEED_ADDRESS}  # as the user wrote it


def test_batches_that_disagree_on_a_wallet_fail_naming_it(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    sim.set_balance(HOT, "1", USDT, "1000", price="1", symbol="USDT")
    first = balances_of(sim, [SEED_ADDRESS, HOT])
    sim.set_balance(HOT, "1", USDT, "1250.5", price="1", symbol="USDT")  # HOT moved in between
    second = balances_of(sim, [HOT, THIRD])
    op = report(tmp_path, wallets=[SEED_ADDRESS, HOT, THIRD], chains="1,56", balances=[first, second])
    with pytest.raises(AirflowFailException) as failure:
        op.execute(context("2026-11-23"))
    error = failure.value.__cause__
    assert isinstance(error, OkxInvalidInputError)
    assert (error.field, error.value) == ("balances", HOT)
    assert "USDT" in error.reason and "1000" in error.reason and "1250.5" in error.reason
    assert list(tmp_path.iterdir()) == []


def test_a_token_one_batch_lacks_is_a_disagreement(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    first = balances_of(sim, [SEED_ADDRESS, HOT])
    second = copy.deepcopy(balances_of(sim, [HOT, THIRD]))
    second["balances"] = [
        row for row in second["balances"] if not (row["address"] == HOT and row["chain_index"] == "56")
    ][:-1] + [row for row in second["balances"] if row["address"] != HOT][-1:]
    dropped = {(r["chain_index"], r["token_address"]) for r in first["balances"] if r["address"] == HOT} - {
        (r["chain_index"], r["token_address"]) for r in second["balances"] if r["address"] == HOT
    }
    assert dropped  # the second batch lost at least one of HOT's tokens
    with pytest.raises(AirflowFailException, match="absent") as failure:
        report(tmp_path, wallets=[SEED_ADDRESS, HOT, THIRD], chains="1,56", balances=[first, second]).execute(
            context("2026-11-23")
        )
    assert failure.value.__cause__.value == HOT


def test_base58_wallets_differing_in_case_are_two_wallets():
    """Solana addresses are case-sensitive: folding them would merge two treasuries."""
    from airflow_provider_okx.core.snapshots import rows_from_snapshots

    upper = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
    lower = "7ecDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"

    def row(address: str, balance: str) -> dict:
        return {"chain_index": "501", "token_address": "", "address": address, "symbol": "SOL",
                "balance": balance, "token_price": "150"}  # fmt: skip

    snap = {
        "addresses": [upper, lower],
        "chains": ["501"],
        "exclude_risk_tokens": True,
        "fetched_at": "2026-11-24T00:01:00.000Z",
        "balances": [row(upper, "1"), row(lower, "2")],
    }
    rows = rows_from_snapshots([snap], [upper, lower], ["501"], True)
    assert sorted((r.address, r.balance) for r in rows) == [(upper, Decimal(1)), (lower, Decimal(2))]
    only_upper = {**snap, "addresses": [upper], "balances": [row(upper, "1")]}
    with pytest.raises(OkxInvalidInputError) as missing:
        rows_from_snapshots([only_upper], [upper, lower], ["501"], True)
    assert missing.value.value == [lower]
    # a batch's rows of wallets the report does not list are left out
    assert [r.address for r in rows_from_snapshots([snap], [upper], ["501"], True)] == [upper]


# --- honest time -------------------------------------------------------------------------


def test_the_report_states_when_the_balances_were_really_fetched(okx_simulator_connection, tmp_path, clock):
    clock.after("2026-11-23", hours=7, minutes=41)  # a run that started late
    result = report(tmp_path).execute(context("2026-11-23"))
    assert result["date"] == "2026-11-23"
    assert result["fetched_at"] == "2026-11-24T07:41:00.000Z"
    assert result["period_end"] == "2026-11-24T00:00:00.000Z"
    assert result["snapshot_lag_seconds"] == 7 * 3600 + 41 * 60
    assert result["stale_snapshot"] is False
    summary = json.loads((tmp_path / "2026-11-23" / "summary.json").read_text())
    assert summary["generated_at"] == "2026-11-24T07:41:00.000Z"
    assert summary["snapshot_time"]["stale_snapshot"] is False
    html = (tmp_path / "2026-11-23" / "report.html").read_text()
    assert "Balances fetched 2026-11-24T07:41:00.000Z" in html
    assert "Not a snapshot" not in html


def test_a_backfill_is_refused_before_any_request(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    clock.after("2026-11-23")
    with pytest.raises(AirflowFailException, match="allow_stale_snapshot") as failure:
        report(tmp_path).execute(context("2026-11-01"))
    assert "2026-11-01" in str(failure.value) and "22 days" in str(failure.value)
    assert sim.count() == 0
    assert list(tmp_path.iterdir()) == []


def test_an_allowed_backfill_is_labelled_stale(okx_simulator_connection, tmp_path, clock):
    clock.after("2026-11-23")
    result = report(tmp_path, allow_stale_snapshot=True).execute(context("2026-11-01"))
    assert (result["date"], result["fetched_at"]) == ("2026-11-01", "2026-11-24T00:05:00.000Z")
    assert result["period_end"] == "2026-11-02T00:00:00.000Z"
    assert result["stale_snapshot"] is True
    summary = json.loads((tmp_path / "2026-11-01" / "summary.json").read_text())
    assert summary["date"] == "2026-11-01"
    assert summary["snapshot_time"]["stale_snapshot"] is True
    assert summary["snapshot_time"]["snapshot_lag"] == "22 days 5 min after"
    html = (tmp_path / "2026-11-01" / "report.html").read_text()
    assert "Not a snapshot of 2026-11-01" in html
    assert "22 days 5 min after" in html


def test_max_snapshot_lag_widens_or_narrows_the_window(okx_simulator_connection, tmp_path, clock):
    clock.after("2026-11-23", days=2)
    assert (
        report(tmp_path, max_snapshot_lag=datetime.timedelta(days=3)).execute(context("2026-11-23"))[
            "stale_snapshot"
        ]
        is False
    )
    clock.after("2026-11-23", hours=2)
    with pytest.raises(AirflowFailException, match="max_snapshot_lag"):
        report(tmp_path, max_snapshot_lag=3600).execute(context("2026-11-23"))


def test_a_logical_date_in_the_future_is_refused_too(okx_simulator_connection, tmp_path, clock):
    clock.after("2026-11-23")
    with pytest.raises(AirflowFailException, match="before its period ended"):
        report(tmp_path).execute(context("2026-12-25"))


def test_a_run_without_logical_date_reports_the_fetch_day(okx_simulator_connection, tmp_path, clock):
    clock.now = parse_instant("2026-11-24T13:00:00Z")
    result = report(tmp_path).execute({})
    assert (result["date"], result["period_end"], result["stale_snapshot"]) == ("2026-11-24", None, False)


def test_mapped_snapshots_are_judged_by_their_own_fetch_time(okx_simulator_connection, tmp_path, clock):
    sim = okx_simulator_connection
    snap = balances_of(sim, [SEED_ADDRESS], "1")
    snap["fetched_at"] = "2026-11-24T00:02:00.000Z"
    late = {**copy.deepcopy(snap), "fetched_at": "2026-11-24T00:04:30.000Z"}
    clock.now = parse_instant("2026-12-30T00:00:00Z")  # the report itself runs much later: irrelevant
    result = report(tmp_path, balances=[snap, late]).execute(context("2026-11-23"))
    assert (result["first_fetched_at"], result["fetched_at"]) == (
        "2026-11-24T00:02:00.000Z",
        "2026-11-24T00:04:30.000Z",
    )
    old = {**snap, "fetched_at": "2026-12-29T00:00:00.000Z"}  # fetched by a backfill
    with pytest.raises(AirflowFailException, match="allow_stale_snapshot"):
        report(tmp_path, balances=[old]).execute(context("2026-11-23"))
    with pytest.raises(AirflowFailException, match="fetched_at"):
        report(tmp_path, balances=[{**snap, "fetched_at": None}]).execute(context("2026-11-23"))


# --- text from the API -------------------------------------------------------------------


def test_a_lone_surrogate_and_formulas_from_okx_do_not_break_the_report(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    assets = [
        {"chainIndex": "1", "tokenContractAddress": "0x" + "11" * 20, "address": HOT, "symbol": "\ud83d",
         "balance": "5", "rawBalance": "5", "tokenPrice": "2", "isRiskToken": False},
        {"chainIndex": "1", "tokenContractAddress": "0x" + "22" * 20, "address": HOT,
         "symbol": '=HYPERLINK("http://x","claim")', "balance": "1", "rawBalance": "1", "tokenPrice": "3",
         "isRiskToken": False},
        {"chainIndex": "1", "tokenContractAddress": "", "address": HOT, "symbol": "ETH\x07\x1b[31m",
         "balance": "1", "rawBalance": "1", "tokenPrice": "7", "isRiskToken": False},
    ]  # fmt: skip
    body = json.dumps({"code": "0", "msg": "", "data": [{"tokenAssets": assets}]})  # "\ud83d" as an escape
    sim.inject(Fault(body=body, endpoint="all_token_balances", times=None))
    label = '=HYPERLINK("http://evil","ops")'
    result = report(tmp_path, wallets={label: HOT}, reconcile=False).execute(context("2026-11-23"))
    assert result["row_count"] == 3
    assert Decimal(result["total_usd"]) == Decimal(20)
    day = tmp_path / "2026-11-23"
    with (day / "balances.csv").open(encoding="utf-8") as f:
        rows = {row["token_address"]: row for row in csv.DictReader(f)}
    assert rows["0x" + "11" * 20]["symbol"] == "\ufffd"
    assert rows["0x" + "22" * 20]["symbol"] == '\'=HYPERLINK("http://x","claim")'
    assert rows[""]["symbol"] == "ETH\ufffd\ufffd[31m"
    assert {row["wallet_label"] for row in rows.values()} == {"'" + label}
    html = (day / "report.html").read_text(encoding="utf-8")
    ET.fromstring(html[html.index("<html") :])  # still well-formed XML
    assert "\ud83d" not in html and "\x07" not in html


def test_every_text_cell_of_the_csv_is_guarded():
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.report import Snapshot
    from airflow_provider_okx.core.report.csv_render import render_csv

    row = TokenBalance(
        chain_index="=1+1",
        token_address="@SUM(A1)",
        address="-2+3",
        symbol="+cmd|' /C calc'!A0",
        balance=Decimal("-1.5"),
        raw_balance=None,
        token_price=Decimal(2),
        token_type="=2",
    )
    snap = Snapshot("2026-11-24", "2026-11-24T00:00:00Z", {"": "-2+3"}, ["=1+1"], True, [row])
    record = next(csv.DictReader(render_csv(snap).splitlines()))
    for column in ("wallet_label", "address", "chain_index", "token_address", "symbol", "token_type"):
        assert record[column].startswith("'"), column
    assert record["chain_name"] == "chain =1+1"  # shown as text: it does not start a formula
    assert (record["balance"], record["usd_value"]) == ("-1.5", "-3.0")  # amounts never altered


# --- storage -----------------------------------------------------------------------------


def test_a_0_1_0_report_folder_is_replaced_by_a_versioned_one(okx_simulator_connection, tmp_path):
    day = tmp_path / "2026-11-23"
    (day / ".2026-11-23.staging-0ld").mkdir(parents=True)  # 0.1.0's race left one nested
    for name in FILES:
        (day / name).write_text("0.1.0")
    (tmp_path / ".2026-11-23.retired-0ld").mkdir()
    result = report(tmp_path).execute(context("2026-11-23"))
    assert day.is_symlink()
    assert sorted(files_of(day)) == FILES
    assert hashlib.sha256((day / "summary.json").read_bytes()).hexdigest() == result["sha256"]["summary.json"]
    assert debris(tmp_path, "2026-11-23") == []


def test_object_store_publishing_writes_each_file_to_its_key(okx_simulator_connection, memory_store):
    root = f"memory://reports-{memory_store}/okx"
    op = report(None, output_uri=root, wallets={"hot": HOT})
    result = op.execute(context("2026-11-23"))
    from airflow_provider_okx.glue.compat import object_storage_path

    day = object_storage_path(root) / "2026-11-23"
    first = {p.name: p.read_bytes() for p in day.iterdir()}
    assert sorted(first) == FILES
    assert result["files"] == {name: str(day / name) for name in FILES}
    assert result["version"] is None
    assert {n: hashlib.sha256(b).hexdigest() for n, b in first.items()} == result["sha256"]
    op.execute(context("2026-11-23"))  # a rerun replaces the files in place
    assert {p.name: p.read_bytes() for p in day.iterdir()} == first
    assert [p.name for p in object_storage_path(root).iterdir()] == ["2026-11-23"]


@pytest.fixture
def memory_store(request):
    """fsspec's in-memory filesystem attached to Airflow's object storage (a stand-in store
    without renames or symlinks, like S3)."""
    from fsspec.implementations.memory import MemoryFileSystem

    try:
        from airflow.sdk.io import attach
    except ImportError:
        from airflow.io.store import attach  # type: ignore[no-redef]
    attach(protocol="memory", fs=MemoryFileSystem())
    return request.node.name.replace("[", "-").replace("]", "").replace("_", "-")


# --- lineage -----------------------------------------------------------------------------


@pytest.fixture
def lineage(monkeypatch):
    """A real hook-lineage collector in place of the no-op one Airflow uses without readers,
    wherever this Airflow keeps it (the task SDK on 3.2+, ``airflow.lineage.hook`` before)."""
    import importlib
    import warnings

    try:
        from airflow.sdk import lineage as module
    except ImportError:  # Airflow 2, and 3.0/3.1
        from airflow.lineage import hook as module  # type: ignore[no-redef]
    collector = module.HookLineageCollector()
    for name in ("airflow.sdk.lineage", "airflow.lineage.hook", "airflow.sdk.io.path", "airflow.io.path"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                where = importlib.import_module(name)
        except Exception:  # absent (or a moved-module stub) in this version
            continue
        if hasattr(where, "get_hook_lineage_collector"):
            monkeypatch.setattr(where, "get_hook_lineage_collector", lambda: collector)
        if hasattr(where, "_hook_lineage_collector"):
            monkeypatch.setattr(where, "_hook_lineage_collector", collector)

    def outputs() -> set[str]:
        if hasattr(collector, "collected_assets"):  # Airflow 3 says asset, Airflow 2 dataset
            return {info.asset.uri for info in collector.collected_assets.outputs}
        return {info.dataset.uri for info in collector.collected_datasets.outputs}

    return outputs


def test_lineage_records_the_published_files_locally(okx_simulator_connection, tmp_path, lineage):
    report(tmp_path).execute(context("2026-11-23"))
    assert lineage() == {f"file://{tmp_path}/2026-11-23/{name}" for name in FILES}


def test_lineage_records_the_published_keys_on_an_object_store(
    okx_simulator_connection, memory_store, lineage
):
    root = f"memory://lineage-{memory_store}/okx"
    report(None, output_uri=root).execute(context("2026-11-23"))
    from airflow_provider_okx.glue.compat import object_storage_path

    day = object_storage_path(root) / "2026-11-23"
    assert lineage() == {ReportAsset(str(day / name)).uri for name in FILES}  # as Airflow spells them


@pytest.mark.parametrize("uri", ["  ", "\n", "file:///tmp/a\x00b"])
def test_a_blank_or_broken_output_uri_is_refused_naming_the_field(uri):
    with pytest.raises(OkxInvalidInputError) as info:  # not a failure inside Airflow's Asset
        OkxTreasuryReportOperator(task_id="r", wallets=[SEED_ADDRESS], chains="1", output_uri=uri)
    assert info.value.field == "output_uri"
