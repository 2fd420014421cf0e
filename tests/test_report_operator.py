"""OkxTreasuryReportOperator against the simulator: exact totals, idempotence, atomicity."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pendulum
import pytest

from airflow_provider_okx.api.errors import OkxApiError, OkxInvalidInputError
from airflow_provider_okx.compat import ReportAsset
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator, parse_wallets
from airflow_provider_okx.testing import SEED_ADDRESS, Fault

SEED = json.loads(resources.files("airflow_provider_okx.testing").joinpath("seed_example.json").read_text())
HOT = "0x" + "4c" * 20


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


def test_rerun_of_a_date_leaves_identical_files(okx_simulator_connection, tmp_path):
    op = report(tmp_path, wallets={"seed": SEED_ADDRESS, "hot": HOT}, chains="1,56")
    op.execute(context("2026-11-23"))
    first = {p.name: p.read_bytes() for p in (tmp_path / "2026-11-23").iterdir()}
    op.execute(context("2026-11-23"))
    second = {p.name: p.read_bytes() for p in (tmp_path / "2026-11-23").iterdir()}
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-23"]  # no staging left behind


def test_failure_in_one_wallet_leaves_no_files_and_fails(okx_simulator, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=1)
    )
    okx_simulator.inject(Fault(status=200, code="81353", msg="Illegal address", times=1))
    with pytest.raises(OkxApiError, match="81353"):
        report(tmp_path, wallets=[SEED_ADDRESS, HOT], chains="1,56").execute(context("2026-11-23"))
    assert not (tmp_path / "2026-11-23").exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_rerun_keeps_the_previous_complete_report(okx_simulator, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=0)
    )
    report(tmp_path).execute(context("2026-11-23"))
    before = {p.name: p.read_bytes() for p in (tmp_path / "2026-11-23").iterdir()}
    okx_simulator.inject(Fault(status=503, code="50001", times=None))
    with pytest.raises(OkxApiError):
        report(tmp_path).execute(context("2026-11-23"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "2026-11-23").iterdir()} == before


def test_compares_with_the_previous_day(okx_simulator_connection, tmp_path):
    sim = okx_simulator_connection
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    sim.set_balance(HOT, "1", usdt, "1000", price="1", symbol="USDT")
    op = report(tmp_path, wallets={"hot": HOT}, chains="1")
    op.execute(context("2026-11-22"))
    sim.set_balance(HOT, "1", usdt, "1250.5", price="1", symbol="USDT")
    result = op.execute(context("2026-11-23"))
    assert result["previous_date"] == "2026-11-22"
    summary = json.loads((tmp_path / "2026-11-23" / "summary.json").read_text())
    [change] = [c for c in summary["changes"]["by_token"] if c["token_address"] == usdt]
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


def test_aggregates_mapped_snapshots_without_refetching(okx_simulator_connection, tmp_path):
    from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator

    sim = okx_simulator_connection
    snaps = [
        OkxTokenBalancesOperator(task_id=f"b{i}", address=a, chains="1,56").execute({})
        for i, a in enumerate([SEED_ADDRESS, HOT])
    ]
    fetched = sim.count(endpoint="all_token_balances")
    direct = report(tmp_path / "a", wallets=[SEED_ADDRESS, HOT], chains="1,56").execute(context("2026-11-23"))
    mapped = report(tmp_path / "b", wallets=[SEED_ADDRESS, HOT], chains="1,56", balances=snaps).execute(
        context("2026-11-23")
    )
    assert mapped["total_usd"] == direct["total_usd"]
    assert sim.count(endpoint="all_token_balances") == 2 * fetched  # only the direct report fetched again
    for name in ("balances.csv", "summary.json"):
        assert (tmp_path / "a" / "2026-11-23" / name).read_bytes() == (
            tmp_path / "b" / "2026-11-23" / name
        ).read_bytes()
    with pytest.raises(OkxInvalidInputError, match="partial"):
        report(tmp_path / "c", wallets=[SEED_ADDRESS, HOT], chains="1,56", balances=snaps[:1]).execute(
            context("2026-11-23")
        )


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


def test_object_store_publishing_without_folder_renames(okx_simulator_connection, tmp_path, monkeypatch):
    """The object-store branch (S3/GCS have no folder renames): each file moved to its key."""
    from airflow_provider_okx.operators import report as report_module

    monkeypatch.setattr(report_module, "_is_local", lambda path: False)
    op = report(tmp_path, wallets={"hot": HOT})
    result = op.execute(context("2026-11-23"))
    day = tmp_path / "2026-11-23"
    first = {p.name: p.read_bytes() for p in day.iterdir()}
    assert sorted(first) == ["balances.csv", "report.html", "summary.json"]
    assert json.loads(first["summary.json"])["total_usd"] == result["total_usd"]
    op.execute(context("2026-11-23"))  # a rerun replaces the files in place
    assert {p.name: p.read_bytes() for p in day.iterdir()} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-23"]  # staging cleaned up
