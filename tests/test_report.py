"""The treasury report layer: exact totals, reconciliation, changes, and the three outputs."""

from __future__ import annotations

import csv
import decimal
import gc
import io
import json
import math
import random
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction

import pytest

from airflow_provider_okx.core.models import EXACT, TokenBalance, sort_key
from airflow_provider_okx.core.report import (
    Snapshot,
    build_summary,
    display,
    render_csv,
    render_html,
    render_summary_json,
)
from airflow_provider_okx.core.report.aggregate import SCHEMA_VERSION
from airflow_provider_okx.core.report.trend import TREND_REPORTS, summary_head

TREASURY = "0xEd0C6079229E2d407672a117c22b62064f4a4312"  # configured checksummed, OKX answers lowercase
HOT = "0x1111111111111111111111111111111111111111"
COLD = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
PT_SUSDE = "0x386ae941d4262b0ee96354499df2ab8442734ec0"
USDT_BSC = "0x55d398326f99059ff775485246999027b3197955"
USDC_ETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DUST = "0x00000000000000000000000000000000000d0057"
FOO = "0x00000000000000000000000000000000000000f0"
SCAM = "0x5ca3000000000000000000000000000000000bad"
OLD = "0x0000000000000000000000000000000000000010"

WALLETS = {"Treasury <main> & co": TREASURY, "Hot wallet": HOT, "BTC cold": COLD}


def tb(
    address: str, chain: str, token: str, symbol: str, balance: str, price: str, **kw: object
) -> TokenBalance:
    return TokenBalance(
        chain_index=chain,
        token_address=token,
        address=address,
        symbol=symbol,
        balance=Decimal(balance),
        raw_balance=kw.pop("raw_balance", None),  # type: ignore[arg-type]
        token_price=Decimal(price),
        **kw,  # type: ignore[arg-type]
    )


def today_rows() -> list[TokenBalance]:
    treasury = TREASURY.lower()
    return [
        tb(treasury, "1", PT_SUSDE, "PT-sUSDE-27FEB2025", "47042180.520700015", "0.968391562089677097"),
        tb(treasury, "1", "", "ETH", "12.5", "3012.45", raw_balance=12500000000000000000, token_type="1"),
        tb(treasury, "1", DUST, "DUST", "0.000000000000000001", "2.5"),
        tb(treasury, "56", USDT_BSC, "USDT", "1000000", "1.0001"),
        tb(treasury, "56", FOO, "FOO", "123.456", "0"),
        tb(HOT, "1", USDC_ETH, "USDC", "2500.5", "0.9998"),
        tb(HOT, "56", USDT_BSC, "USDT", "10", "1.0001"),
        tb(HOT, "56", SCAM, "SCAM", "1000000", "0.5", is_risk_token=True),
        tb(COLD, "0", "", "BTC", "1.23456789", "97123.45"),
    ]


def previous_rows() -> list[TokenBalance]:
    treasury = TREASURY.lower()
    return [
        tb(treasury, "1", PT_SUSDE, "PT-sUSDE-27FEB2025", "47042180.520700015", "0.968391562089677097"),
        tb(treasury, "1", "", "ETH", "12.5", "3000"),
        tb(treasury, "1", DUST, "DUST", "0.000000000000000001", "2.5"),
        tb(treasury, "56", USDT_BSC, "USDT", "900000", "1.0001"),  # grows to 1,000,000 today
        tb(treasury, "56", FOO, "FOO", "123.456", "0"),
        tb(treasury, "56", OLD, "OLD", "5", "2"),  # vanishes today
        tb(HOT, "56", USDT_BSC, "USDT", "10", "1.0001"),
        tb(HOT, "56", SCAM, "SCAM", "1000000", "0.5", is_risk_token=True),
        tb(COLD, "0", "", "BTC", "1.23456789", "97000"),
    ]


def snapshot(rows: list[TokenBalance] | None = None, date: str = "2026-11-24") -> Snapshot:
    return Snapshot(
        date=date,
        generated_at=f"{date}T02:00:00.000Z",
        wallets=dict(WALLETS),
        chains=["1", "56", "0"],
        exclude_risk_tokens=False,
        balances=today_rows() if rows is None else rows,
    )


def exact(rows: list[TokenBalance]) -> Fraction:
    """Independent exact arithmetic: Fractions from the decimal strings."""
    return sum((Fraction(str(r.balance)) * Fraction(str(r.token_price)) for r in rows), Fraction(0))


def counted(rows: list[TokenBalance]) -> list[TokenBalance]:
    return [r for r in rows if r.token_price != 0 and not r.is_risk_token]


def previous_summary() -> dict:
    """Yesterday's summary as the operator loads it: written as JSON, read back."""
    summary = build_summary(snapshot(previous_rows(), date="2026-11-23"))
    return json.loads(render_summary_json(summary))


def by(entries: list[dict], **match: object) -> dict:
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, entries)
    return found[0]


# --- totals ------------------------------------------------------------------------------


def test_total_is_the_exact_sum_of_priced_non_risk_values():
    rows = today_rows()
    summary = build_summary(snapshot(rows))

    assert Fraction(summary["total_usd"]) == exact(counted(rows))
    # The 28-digit default context would have rounded this product; the report did not.
    product = Decimal("47042180.520700015") * Decimal("0.968391562089677097")
    assert Fraction(str(product)) != Fraction(47042180520700015, 10**9) * Fraction(968391562089677097, 10**18)
    assert "e" not in summary["total_usd"].lower()
    assert summary["row_count"] == 9
    assert summary["token_count"] == 8  # USDT on BSC held by two wallets is one token
    assert (summary["priced_token_count"], summary["unpriced_token_count"], summary["risk_token_count"]) == (
        6,
        1,
        1,
    )


def test_unpriced_and_risk_tokens_are_listed_apart_and_not_counted():
    rows = today_rows()
    summary = build_summary(snapshot(rows))

    foo = by(summary["unpriced"], symbol="FOO")
    assert (foo["balance"], foo["chain_index"], foo["token_address"], foo["wallet_count"]) == (
        "123.456",
        "56",
        FOO,
        1,
    )
    scam = by(summary["risk_tokens"], symbol="SCAM")
    assert (scam["balance"], scam["usd"]) == ("1000000", "500000")
    assert summary["risk_usd"] == "500000"
    listed = {e["symbol"] for e in summary["by_token"]}
    assert "FOO" not in listed
    assert "SCAM" not in listed
    assert "SCAM" not in {e["symbol"] for e in summary["by_symbol"]}
    hot = by(summary["by_wallet"], address=HOT)
    assert Fraction(hot["usd"]) == exact(counted([r for r in rows if r.address == HOT]))
    bsc = by(summary["by_chain"], chain_index="56")
    assert Fraction(bsc["usd"]) == exact(counted([r for r in rows if r.chain_index == "56"]))
    assert bsc["chain_name"] == "BNB Chain"
    assert bsc["token_count"] == 3  # USDT, FOO and SCAM are all held there


def test_breakdowns_are_sorted_and_add_up():
    rows = today_rows()
    summary = build_summary(snapshot(rows))
    total = Fraction(summary["total_usd"])

    for name in ("by_chain", "by_token", "by_symbol", "by_wallet"):
        values = [Fraction(e["usd"]) for e in summary[name]]
        assert values == sorted(values, reverse=True), name
        assert sum(values) == total, name
    assert [e["chain_index"] for e in summary["by_chain"]] == ["1", "56", "0"]
    usdt = by(summary["by_token"], symbol="USDT")
    assert (usdt["balance"], usdt["price"], usdt["wallet_count"]) == ("1000010", "1.0001", 2)
    dust = by(summary["by_token"], symbol="DUST")
    assert (dust["balance"], dust["usd"]) == ("0.000000000000000001", "0.0000000000000000025")
    # Rows of the lowercase address belong to the wallet configured in checksum case.
    treasury = by(summary["by_wallet"], label="Treasury <main> & co")
    assert (treasury["address"], treasury["token_count"]) == (TREASURY, 5)
    assert len(summary["by_wallet"]) == 3


def test_a_configured_wallet_that_holds_nothing_is_still_reported():
    empty = "0x2222222222222222222222222222222222222222"
    snap = snapshot()
    snap = Snapshot(
        snap.date, snap.generated_at, {**WALLETS, "Empty": empty}, snap.chains, False, snap.balances
    )
    wallet = by(build_summary(snap)["by_wallet"], label="Empty")
    assert (wallet["usd"], wallet["token_count"]) == ("0", 0)


# --- reconciliation ----------------------------------------------------------------------


def dec(value: Fraction) -> Decimal:
    """A Fraction with a power-of-ten denominator as the exactly equal Decimal."""
    with decimal.localcontext(EXACT):
        return Decimal(value.numerator) / Decimal(value.denominator)


def test_reconciliation_flags_only_wallets_beyond_tolerance():
    rows = today_rows()

    def our(address: str) -> Fraction:
        return exact([r for r in rows if r.address.lower() == address.lower()])  # risk rows included

    okx = {
        TREASURY: dec(our(TREASURY) + Fraction("0.005")),  # within: below both tolerances
        HOT: dec(our(HOT) + 1000),  # beyond 0.1% of ~502,510
        COLD: dec(our(COLD)),
    }
    summary = build_summary(snapshot(rows), okx_totals=okx)
    rec = summary["reconciliation"]

    assert rec["checked"] is True
    assert [f["address"] for f in rec["flagged"]] == [HOT]
    hot = rec["flagged"][0]
    assert (hot["status"], Fraction(hot["difference"]), hot["label"]) == ("mismatch", -1000, "Hot wallet")
    assert Fraction(hot["our_usd"]) == our(HOT)  # OKX's total covers the fetched risk token too
    assert by(summary["by_wallet"], address=HOT)["reconciled"] is False
    assert by(summary["by_wallet"], address=TREASURY)["reconciled"] is True
    assert Fraction(by(rec["wallets"], address=TREASURY)["difference"]) == Fraction("-0.005")


def test_reconciliation_tolerance_is_the_larger_of_absolute_and_ratio():
    def flagged(ours: str, **kw: Decimal) -> bool:
        rows = [tb(HOT, "1", USDC_ETH, "USDC", ours, "1")]
        snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"Hot": HOT}, ["1"], True, rows)
        summary = build_summary(snap, okx_totals={HOT: Decimal(100000)}, **kw)
        return bool(summary["reconciliation"]["flagged"])

    assert not flagged("100100")  # exactly 0.1% of OKX's total: allowed
    assert flagged("100100.000001")
    assert not flagged("99900")
    assert flagged("99899.99")
    assert not flagged("100000.01", tolerance_ratio=Decimal(0))  # exactly $0.01
    assert flagged("100000.011", tolerance_ratio=Decimal(0))
    assert not flagged("100000.5", tolerance_usd=Decimal(1), tolerance_ratio=Decimal(0))


def test_a_wallet_without_an_okx_total_is_flagged_missing():
    treasury = exact([r for r in today_rows() if r.address == TREASURY.lower()])
    summary = build_summary(snapshot(), okx_totals={TREASURY.lower(): dec(treasury)})
    statuses = {f["address"]: f["status"] for f in summary["reconciliation"]["flagged"]}
    assert statuses == {HOT: "missing", COLD: "missing"}


def test_without_okx_totals_nothing_is_checked_or_flagged():
    summary = build_summary(snapshot())
    assert summary["reconciliation"]["checked"] is False
    assert summary["reconciliation"]["flagged"] == []
    assert {w["reconciled"] for w in summary["by_wallet"]} == {None}


def test_tolerances_must_be_decimals():
    with pytest.raises(ValueError, match="tolerance_usd"):
        build_summary(snapshot(), tolerance_usd=0.01)  # type: ignore[arg-type]


# --- changes -----------------------------------------------------------------------------


def test_changes_against_the_previous_summary():
    summary = build_summary(snapshot(), previous=previous_summary())
    changes = summary["changes"]

    assert summary["previous_date"] == changes["previous_date"] == "2026-11-23"
    usdt = by(changes["by_token"], symbol="USDT")
    assert (usdt["previous_balance"], usdt["balance"], usdt["balance_change"]) == (
        "900010",
        "1000010",
        "100000",
    )
    assert usdt["usd_change"] == "100010"
    assert usdt["status"] == "changed"
    eth = by(changes["by_token"], symbol="ETH")  # same units, new price
    assert (eth["balance_change"], eth["usd_change"]) == ("0", "155.625")
    assert [t["symbol"] for t in changes["new_tokens"]] == ["USDC"]
    assert [(t["symbol"], t["balance"], t["usd"]) for t in changes["vanished_tokens"]] == [("OLD", "5", "10")]
    assert by(changes["by_token"], symbol="OLD")["status"] == "vanished"
    assert changes["unchanged_token_count"] == 4  # PT-sUSDE, DUST, FOO, SCAM

    # Every USD change is exact and they add up to the change of the total.
    prev_total = exact(counted(previous_rows()))
    assert Fraction(changes["previous_total_usd"]) == prev_total
    assert Fraction(changes["total_usd_change"]) == exact(counted(today_rows())) - prev_total
    for name in ("by_token", "by_wallet", "by_chain"):
        assert sum(Fraction(e["usd_change"]) for e in changes[name]) == Fraction(changes["total_usd_change"])
    hot = by(changes["by_wallet"], address=HOT)
    assert Fraction(hot["usd_change"]) == Fraction("2500.5") * Fraction("0.9998")
    moves = [abs(Fraction(e["usd_change"])) for e in changes["by_token"]]
    assert moves == sorted(moves, reverse=True)


def test_no_previous_summary_means_no_changes():
    summary = build_summary(snapshot())
    assert summary["changes"] is None
    assert summary["previous_date"] is None


def test_a_previous_summary_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="by_token"):
        build_summary(snapshot(), previous={"date": "2026-11-23", "total_usd": "1"})


def test_the_summary_holds_aggregates_only_with_its_scalars_first():
    text = render_summary_json(build_summary(snapshot(), previous=previous_summary()))
    summary = json.loads(text)
    assert "holdings" not in summary  # balances.csv has every row; nothing reads them back
    assert summary["schema_version"] == SCHEMA_VERSION == 2
    # What a trend needs is in the first bytes: the head of the file alone gives it.
    head = summary_head(text[:400])
    assert (head["schema_version"], head["date"], head["total_usd"]) == (
        2,
        "2026-11-24",
        summary["total_usd"],
    )
    assert "by_wallet" not in head


# --- attribution: why the total moved ---------------------------------------------------

DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
GONE_PRICE = "0x00000000000000000000000000000000000000aa"
UNFLAGGED = "0x00000000000000000000000000000000000000bb"


def day_one() -> list[TokenBalance]:
    treasury = TREASURY.lower()
    return [
        tb(treasury, "1", "", "ETH", "12.5", "3000"),  # price moves
        tb(treasury, "56", USDT_BSC, "USDT", "900000", "1.0001"),  # quantity moves
        tb(HOT, "56", USDT_BSC, "USDT", "10", "1.0002"),  # ... quoted another price: mixed
        tb(treasury, "1", DAI, "DAI", "500", "0.999"),  # both move
        tb(treasury, "56", OLD, "OLD", "5", "2"),  # vanishes
        tb(treasury, "1", GONE_PRICE, "GP", "40", "3"),  # priced, then unpriced
        tb(HOT, "1", UNFLAGGED, "UF", "7", "11", is_risk_token=True),  # risk, then not
        tb(COLD, "0", "", "BTC", "1.23456789", "97000"),
        tb(HOT, "56", FOO, "FOO", "123.456", "0"),  # unpriced both days
    ]


def day_two() -> list[TokenBalance]:
    treasury = TREASURY.lower()
    return [
        tb(treasury, "1", "", "ETH", "12.5", "3012.45"),
        tb(treasury, "56", USDT_BSC, "USDT", "1000000", "1.0001"),
        tb(HOT, "56", USDT_BSC, "USDT", "10", "1.0001"),
        tb(treasury, "1", DAI, "DAI", "700", "1.001"),
        tb(HOT, "1", USDC_ETH, "USDC", "2500.5", "0.9998"),  # new
        tb(treasury, "1", GONE_PRICE, "GP", "40", "0"),
        tb(HOT, "1", UNFLAGGED, "UF", "7", "11"),
        tb(COLD, "0", "", "BTC", "1.23456789", "97123.45"),
        tb(HOT, "56", FOO, "FOO", "123.456", "0"),
    ]


def attributed() -> dict:
    before = json.loads(render_summary_json(build_summary(snapshot(day_one(), date="2026-11-23"))))
    return build_summary(snapshot(day_two()), previous=before)


def parts(entry: dict) -> dict[str, Fraction]:
    return {name: Fraction(value) for name, value in entry["attribution"].items()}


def F(text: str) -> Fraction:
    return Fraction(text)


def test_attribution_adds_up_exactly_to_every_change():
    changes = attributed()["changes"]
    total = parts(changes)
    change = exact(counted(day_two())) - exact(counted(day_one()))
    assert Fraction(changes["total_usd_change"]) == change
    assert sum(total.values()) == change  # to the last digit
    for name in ("by_token", "by_wallet", "by_chain"):
        for entry in changes[name]:
            assert sum(parts(entry).values()) == F(entry["usd_change"]), (name, entry)
    for part in ("price", "quantity", "new", "vanished"):
        assert sum(parts(e)[part] for e in changes["by_token"]) == total[part], part
        assert sum(parts(e)[part] for e in changes["by_chain"]) == total[part], part
    # A wallet's quantity effect also holds what it closed in tokens gone from the total.
    wallets = [parts(e) for e in changes["by_wallet"]]
    assert all("vanished" not in w for w in wallets)
    assert sum(w["price"] for w in wallets) == total["price"]
    assert sum(w["new"] for w in wallets) == total["new"]
    assert sum(w["quantity"] for w in wallets) == total["quantity"] + total["vanished"]


def test_attribution_splits_price_and_quantity_moves():
    tokens = attributed()["changes"]["by_token"]
    eth = by(tokens, symbol="ETH")  # units unchanged: all price
    assert parts(eth) == {"price": F("12.5") * (F("3012.45") - 3000), "quantity": 0, "new": 0, "vanished": 0}
    dai = by(tokens, symbol="DAI")  # quantity at the old price, price on today's units
    assert parts(dai)["quantity"] == (700 - 500) * F("0.999")
    assert parts(dai)["price"] == 700 * (F("1.001") - F("0.999"))
    assert (dai["previous_price"], dai["price"]) == ("0.999", "1.001")
    usdc = by(tokens, symbol="USDC")
    assert (usdc["status"], parts(usdc)["new"]) == ("new", F("2500.5") * F("0.9998"))
    old = by(tokens, symbol="OLD")
    assert (old["status"], parts(old)["vanished"]) == ("vanished", -10)
    # No longer priced: its value is unknown today, so it left the total (not "fell to 0").
    gone = by(tokens, symbol="GP")
    assert (gone["status"], parts(gone)["vanished"], parts(gone)["price"]) == ("changed", -120, 0)
    # No longer a risk token: it entered the total.
    assert parts(by(tokens, symbol="UF"))["new"] == 77
    assert "FOO" not in {t["symbol"] for t in tokens}  # unpriced both days, unchanged


def test_attribution_with_wallets_quoted_different_prices():
    usdt = by(attributed()["changes"]["by_token"], symbol="USDT")
    # Yesterday 900,000 at 1.0001 and 10 at 1.0002: the reference price is value / units.
    value_before = 900000 * F("1.0001") + 10 * F("1.0002")
    reference = F(usdt["previous_price"])
    assert abs(reference - value_before / 900010) < Fraction(1, 10**34)
    split = parts(usdt)
    assert split["quantity"] == 1000010 * reference - value_before  # exact, with that reference
    assert split["quantity"] + split["price"] == F(usdt["usd_change"])
    assert abs(split["quantity"] - 100000 * value_before / 900010) < Fraction(1, 10**25)


def test_a_wallet_split_uses_its_own_rows():
    hot = by(attributed()["changes"]["by_wallet"], address=HOT)
    usdt_reference = F(by(attributed()["changes"]["by_token"], symbol="USDT")["previous_price"])
    split = parts(hot)
    assert split["new"] == F("2500.5") * F("0.9998") + 77  # USDC, and UF now that it counts
    assert split["price"] == 10 * (F("1.0001") - usdt_reference)
    assert split["quantity"] == 10 * usdt_reference - 10 * F("1.0002")


# --- trend and earlier reports -----------------------------------------------------------


class Log:
    """Collects what the operator logs (``self.log`` is a logging.Logger)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(("info", message % args))

    def warning(self, message: str, *args: object) -> None:
        self.lines.append(("warning", message % args))


def reports_root(tmp_path):
    from airflow_provider_okx.glue.compat import object_storage_path

    return object_storage_path(f"file://{tmp_path}")


def day_summary(date: str, units: str) -> dict:
    rows = [tb(HOT, "1", USDC_ETH, "USDC", units, "0.9998")]
    return build_summary(Snapshot(date, f"{date}T02:00:00.000Z", {"Hot": HOT}, ["1"], True, rows))


def write_report(tmp_path, date: str, text: str) -> None:
    (tmp_path / date).mkdir()
    (tmp_path / date / "summary.json").write_text(text)


def schema_1_text(summary: dict, holdings: int) -> str:
    """A summary as version 0.1.0 wrote it: keys sorted, every holding inside, schema 1."""
    old = {k: v for k, v in summary.items() if k != "trend"}
    rows = [["1", f"0x{i:040x}", f"T{i}", "1", "0", "0", False] for i in range(holdings)]
    old.update(schema_version=1, holdings={"columns": [], "wallets": [{"rows": rows}]})
    return json.dumps(old, sort_keys=True, indent=2)


def test_trend_reads_the_last_reports_heads_only(tmp_path):
    from airflow_provider_okx.operators.report import _earlier_summaries

    dates = [f"2026-10-{d:02d}" for d in range(1, 32)] + [f"2026-11-{d:02d}" for d in range(1, 24)]
    for n, date in enumerate(dates):
        text = render_summary_json(day_summary(date, str(1000 + n)))
        if date != dates[-1]:  # only the latest is read whole: spoil every other one after its head
            text += " " * 10_000 + "not JSON: a reader of whole files fails here"
        write_report(tmp_path, date, text)
    (tmp_path / "2026-11-10" / "summary.json").unlink()  # a report without a summary is skipped
    (tmp_path / "2026-11-24").mkdir()  # today's and later folders are not earlier reports
    (tmp_path / "notes").mkdir()

    log = Log()
    previous, heads = _earlier_summaries(reports_root(tmp_path), "2026-11-24", log)
    assert previous is not None and previous["date"] == "2026-11-23"
    assert len(heads) == TREND_REPORTS - 1
    assert log.lines == []

    summary = build_summary(snapshot(date="2026-11-24"), previous=previous, history=heads)
    trend = summary["trend"]
    assert len(trend) == TREND_REPORTS
    assert trend[-1] == {"date": "2026-11-24", "total_usd": summary["total_usd"]}
    assert "2026-11-10" not in {p["date"] for p in trend}
    assert trend[0]["date"] == "2026-10-25"
    first = dates.index("2026-10-25")
    assert Fraction(trend[0]["total_usd"]) == (1000 + first) * Fraction("0.9998")
    assert [p["date"] for p in trend] == sorted(p["date"] for p in trend)


def test_a_small_schema_1_previous_summary_is_still_compared(tmp_path):
    from airflow_provider_okx.operators.report import _earlier_summaries

    write_report(tmp_path, "2026-11-23", schema_1_text(previous_summary(), holdings=3))
    log = Log()
    previous, heads = _earlier_summaries(reports_root(tmp_path), "2026-11-24", log)
    assert previous is not None and previous["schema_version"] == 1
    summary = build_summary(snapshot(), previous=previous, history=heads)
    assert Fraction(summary["changes"]["total_usd_change"]) == exact(counted(today_rows())) - exact(
        counted(previous_rows())
    )
    assert [p["date"] for p in summary["trend"]] == ["2026-11-23", "2026-11-24"]
    assert log.lines == []


def test_a_large_schema_1_previous_summary_is_skipped_with_a_log_line(tmp_path, monkeypatch):
    from airflow_provider_okx.operators import report as report_module

    monkeypatch.setattr(report_module, "OLD_SUMMARY_LIMIT", 20_000)
    write_report(tmp_path, "2026-11-22", render_summary_json(day_summary("2026-11-22", "5")))
    write_report(tmp_path, "2026-11-23", schema_1_text(previous_summary(), holdings=500))
    log = Log()
    previous, heads = report_module._earlier_summaries(reports_root(tmp_path), "2026-11-24", log)

    assert previous is None  # not loaded: the day has no changes section rather than a huge load
    [(level, message), (_, trend_message)] = log.lines
    assert level == "warning"
    assert "2026-11-23/summary.json has a summary of schema 1" in message
    assert "no changes section" in message
    assert "left out of the trend" in trend_message  # its total is not in its head
    assert [h["date"] for h in heads] == ["2026-11-22"]
    summary = build_summary(snapshot(), previous=previous, history=heads)
    assert summary["changes"] is None
    assert [p["date"] for p in summary["trend"]] == ["2026-11-22", "2026-11-24"]


def test_a_previous_summary_of_a_newer_schema_is_not_compared(tmp_path):
    from airflow_provider_okx.operators.report import _earlier_summaries

    newer = {"schema_version": SCHEMA_VERSION + 1, **day_summary("2026-11-23", "5")}
    newer["schema_version"] = SCHEMA_VERSION + 1
    write_report(tmp_path, "2026-11-23", json.dumps(newer, indent=2))
    log = Log()
    previous, heads = _earlier_summaries(reports_root(tmp_path), "2026-11-24", log)
    assert previous is None
    assert "newer than this provider's" in log.lines[0][1]
    assert [h["date"] for h in heads] == ["2026-11-23"]  # its date and total still make the trend


def test_summary_head_takes_only_whole_members():
    text = '{\n  "schema_version": 2,\n  "date": "2026-11-24",\n  "row_count": 123456,\n  "by_wallet": [1, 2'
    assert summary_head(text) == {"schema_version": 2, "date": "2026-11-24", "row_count": 123456}
    assert summary_head(text[: text.index("3456")]) == {"schema_version": 2, "date": "2026-11-24"}
    assert summary_head('{"a": 1}') == {"a": 1}
    assert summary_head("not json") == {}


# --- CSV ---------------------------------------------------------------------------------


def test_csv_decimals_round_trip_exactly():
    rows = today_rows()
    text = render_csv(snapshot(rows))
    assert "\r" not in text
    assert text.endswith("\n")
    records = list(csv.DictReader(io.StringIO(text)))

    ordered = sorted(rows, key=sort_key)
    assert [(r["address"], r["chain_index"], r["token_address"]) for r in records] == [
        (b.address, b.chain_index, b.token_address) for b in ordered
    ]
    for record, balance in zip(records, ordered, strict=True):
        assert Decimal(record["balance"]) == balance.balance
        assert Decimal(record["token_price"]) == balance.token_price
        assert Fraction(record["usd_value"]) == Fraction(str(balance.balance)) * Fraction(
            str(balance.token_price)
        )
        for cell in (record["balance"], record["token_price"], record["usd_value"]):
            assert re.fullmatch(r"-?\d+(\.\d+)?", cell), cell  # plain notation, never 1E-18
    dust = next(r for r in records if r["symbol"] == "DUST")
    assert dust["balance"] == "0.000000000000000001"
    eth = next(r for r in records if r["symbol"] == "ETH")
    assert (eth["raw_balance"], eth["token_type"], eth["chain_name"]) == (
        "12500000000000000000",
        "1",
        "Ethereum",
    )
    assert eth["wallet_label"] == "Treasury <main> & co"
    assert eth["date"] == "2026-11-24"
    foo = next(r for r in records if r["symbol"] == "FOO")
    assert (foo["is_priced"], foo["is_risk_token"], foo["usd_value"]) == ("false", "false", "0")
    scam = next(r for r in records if r["symbol"] == "SCAM")
    assert (scam["is_priced"], scam["is_risk_token"]) == ("true", "true")
    cold = next(r for r in records if r["symbol"] == "BTC")
    assert (cold["wallet_label"], cold["chain_name"]) == ("BTC cold", "Bitcoin")


def test_csv_text_that_a_spreadsheet_would_run_is_neutralised():
    rows = [tb(HOT, "56", SCAM, '=HYPERLINK("x","claim")', "1", "0", is_risk_token=True)]
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"@ops": HOT}, ["56"], False, rows)
    record = next(csv.DictReader(io.StringIO(render_csv(snap))))
    assert record["symbol"] == '\'=HYPERLINK("x","claim")'
    assert record["wallet_label"] == "'@ops"
    assert record["balance"] == "1"


# --- determinism and JSON ----------------------------------------------------------------


def test_identical_input_gives_byte_identical_outputs():
    def outputs(rows: list[TokenBalance]) -> tuple[str, str, str]:
        snap = snapshot(rows)
        summary = build_summary(snap, okx_totals={TREASURY: Decimal(1)}, previous=previous_summary())
        return render_csv(snap), render_summary_json(summary), render_html(summary)

    first = outputs(today_rows())
    shuffled = today_rows()
    random.Random(7).shuffle(shuffled)
    assert outputs(shuffled) == first
    assert outputs(today_rows()) == first


def test_summary_json_is_ascii_indented_and_loads_back_equal():
    summary = build_summary(snapshot(), previous=previous_summary())
    text = render_summary_json(summary)
    assert text.endswith("}\n")
    assert text.isascii()
    assert json.loads(text) == summary
    assert text.startswith('{\n  "schema_version": 2,\n  "date": "2026-11-24",')  # scalars first
    assert '\n  "total_usd": "' in text  # two-space indent

    def strings(value: object) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert not [s for s in strings(summary) if re.fullmatch(r"[-+]?[\d.]+[eE][-+]?\d+", s)]  # no 1E-18


# --- HTML --------------------------------------------------------------------------------


def parse_html(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.split("\n", 1)[1])


def text_of(root: ET.Element) -> str:
    return " ".join("".join(root.itertext()).split())


def test_html_is_well_formed_self_contained_and_shows_the_headline():
    rows = today_rows()
    summary = build_summary(snapshot(rows), okx_totals={TREASURY: Decimal(1)}, previous=previous_summary())
    page = render_html(summary)
    root = parse_html(page)
    text = text_of(root)

    cents = math.floor(exact(counted(rows)) * 100 + Fraction(1, 2))  # half-up, by hand
    headline = f"${cents // 100:,}.{cents % 100:02d}"
    assert headline == "$46,715,421.80"
    assert headline in text
    assert f'title="{summary["total_usd"]} USD"' in page  # the exact value, as a tooltip
    assert "<svg" in page
    assert root.findall(".//svg")
    assert "<script" not in page.lower()
    assert "http" not in page.lower()  # nothing fetched, nothing linked
    assert "@import" not in page
    assert "url(" not in page
    assert "Treasury <main> & co" in text  # escaped in the page, intact for the reader
    for heading in ("Wallets", "Chains", "Top tokens", "Unpriced tokens", "Risk tokens", "Top movers"):
        assert heading in text
    assert "Changes since 2026-11-23" in text
    flagged = root.findall(".//tr[@class='flag']")
    assert flagged
    assert all(re.search("flagged|mismatch|missing", text_of(row)) for row in flagged)


def test_html_survives_hostile_token_text():
    rows = [
        tb(HOT, "56", SCAM, 'x"><script>alert(1)</script>\x07\x00', "1", "1", is_risk_token=True),
        tb(HOT, "1", USDC_ETH, "US]]>DC & <b>", "1", "1"),
    ]
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"a\"'<>&": HOT}, ["1", "56"], False, rows)
    page = render_html(build_summary(snap))
    root = parse_html(page)
    assert "<script" not in page
    assert "US]]>DC & <b>" in text_of(root)


def test_html_of_an_empty_snapshot():
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"Hot": HOT}, ["1"], True, [])
    summary = build_summary(snap)
    assert summary["total_usd"] == "0"
    assert summary["by_token"] == []
    text = text_of(parse_html(render_html(summary)))
    assert "$0.00" in text
    assert "No previous report" in text


def test_html_groups_small_chains_in_the_chart_and_caps_tables():
    chains = [str(i) for i in range(1, 16)]
    rows = [tb(HOT, c, "", f"C{c}", "1", str(100 - int(c))) for c in chains]
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"Hot": HOT}, chains, True, rows)
    root = parse_html(render_html(build_summary(snap), top_n=10))
    chart = text_of(root.find(".//svg[@aria-label='Allocation by chain (USD)']"))
    assert "4 other chains" in chart
    assert "10 of 15 chains shown; summary.json lists all 15." in text_of(root)


def test_html_shows_why_the_total_moved_and_the_trend_with_exact_tooltips():
    before = json.loads(render_summary_json(build_summary(snapshot(day_one(), date="2026-11-23"))))
    history = [{"date": f"2026-11-{d:02d}", "total_usd": f"{4_600_000 + d}.125"} for d in range(10, 23)]
    summary = build_summary(snapshot(day_two()), previous=before, history=history)
    page = render_html(summary)
    root = parse_html(page)  # well-formed XHTML
    text = text_of(root)
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "Why the total moved" in text
    changes = summary["changes"]
    for part in ("price", "quantity", "new", "vanished"):
        assert f'title="{changes["attribution"][part]} USD"' in page  # exact, in a tooltip
    eth = by(changes["by_token"], symbol="ETH")
    [movers] = [
        t for t in root.iter("table") if [th.text for th in t.iter("th")][:2] == ["Token", "Units change"]
    ]
    assert f"{eth['attribution']['price']} USD" in [td.get("title") for td in movers.iter("td")]
    assert "+$155.63" in text_of(movers)  # 12.5 x 12.45 = 155.625, half-up

    [trend] = root.findall(".//svg[@aria-label='Total value (USD) over the last 15 reports']")
    dots = [g.findtext("title") for g in trend.findall("g")]
    assert len(dots) == 15
    assert dots[0] == "2026-11-10: $4,600,010.13 (4600010.125 USD)"
    assert dots[-1].startswith(
        f"2026-11-24: {display.usd(summary['total_usd'])} ({summary['total_usd']} USD)"
    )


def test_html_cleans_api_text_and_escapes_it():
    rows = [
        tb(HOT, "1", USDC_ETH, "US\ud800DC\x1b<i>", "1", "1"),
        tb(HOT, "56", SCAM, "</title><script>alert(1)</script>", "1", "1", is_risk_token=True),
    ]
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", {"ops\x00<&>": HOT}, ["1", "56"], False, rows)
    page = render_html(build_summary(snap))
    page.encode("utf-8")  # a lone surrogate could not be written out
    root = parse_html(page)
    assert "<script" not in page
    text = text_of(root)
    assert "US\ufffdDC\ufffd<i>" in text
    assert "ops\ufffd<&>" in text


def test_a_share_that_rounds_to_nothing_is_not_shown_as_zero():
    assert display.percent("1", "10000") == "<0.1%"
    assert display.percent("-1", "10000", sign=True) == "-<0.1%"
    assert display.percent("1", "10000", sign=True) == "+<0.1%"
    assert display.percent("0", "10000") == "0.0%"
    assert display.percent("5", "10000") == "0.1%"


def test_rows_come_in_sort_key_order_one_wallet_at_a_time():
    rng = random.Random(3)
    addresses = [TREASURY, TREASURY.lower(), HOT, COLD, "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"]
    rows = [
        tb(
            rng.choice(addresses),
            rng.choice(["1", "56", "0", "x"]),
            f"0x{rng.randrange(30):040x}",
            rng.choice(["A", "B"]),
            str(rng.randrange(1, 50)),
            rng.choice(["0", "1.5", "2"]),
        )
        for _ in range(2000)
    ]
    snap = snapshot(rows)
    assert [row.balance for row in snap.rows] == sorted(rows, key=sort_key)
    assert list(snap.rows) == list(snap.rows)  # a fresh pass each time
    first = next(snap.rows)
    assert Fraction(first.usd_str) == Fraction(first.balance_str) * Fraction(first.price_str)


def test_the_garbage_collector_is_left_as_it_was():
    assert gc.isenabled()
    render_summary_json(build_summary(snapshot()))
    assert gc.isenabled()
    gc.disable()
    try:
        render_csv(snapshot())
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- display rounding (the only rounding anywhere) ---------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45555514.58219005474271787689498655", "$45,555,514.58"),
        ("0.005", "$0.01"),
        ("0.0049", "<$0.01"),
        ("0", "$0.00"),
        ("-1234.565", "-$1,234.57"),
        ("1E+3", "$1,000.00"),
    ],
)
def test_usd_for_people(value: str, expected: str):
    assert display.usd(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("47042180.520700015", "47,042,180.52"),
        ("12.5", "12.5"),
        ("0.968391562089677097", "0.9684"),
        ("0.000000000000000001", "0.000000000000000001"),
        ("1E-20", "0.00000000000000000001"),
        ("1000.000", "1,000"),
    ],
)
def test_units_for_people(value: str, expected: str):
    assert display.units(value) == expected


def test_display_rounding_does_not_depend_on_the_ambient_context():
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        assert display.usd("45555514.58719") == "$45,555,514.59"
        assert display.percent("1", "3") == "33.3%"


# --- snapshot validation -----------------------------------------------------------------


def test_snapshot_refuses_a_bad_date_and_a_wallet_listed_twice():
    with pytest.raises(ValueError, match="date"):
        Snapshot("24/11/2026", "x", {}, [], True, [])
    with pytest.raises(ValueError, match="listed twice"):
        Snapshot("2026-11-24", "x", {"a": TREASURY, "b": TREASURY.lower()}, [], True, [])


# --- scale -------------------------------------------------------------------------------


def test_a_100000_row_report_renders_with_bounded_tables():
    wallets = {f"w{w:04d}": "0x" + f"{w:040x}" for w in range(1000)}
    price = Decimal("0.968391562089677097")
    rows = [
        TokenBalance(
            "1" if t % 2 else "56", "0x" + f"{t + 1:040x}", address, f"T{t}", Decimal(w + t), None, price
        )
        for w, address in enumerate(wallets.values())
        for t in range(100)
    ]
    snap = Snapshot("2026-11-24", "2026-11-24T02:00:00Z", wallets, ["1", "56"], True, rows)
    summary = build_summary(snap)
    csv_text, page = render_csv(snap), render_html(summary)

    assert csv_text.count("\n") == 100_001
    assert summary["row_count"] == 100_000
    assert len(render_summary_json(summary)) > 0
    assert "25 of 1,000 wallets shown; summary.json lists all 1,000." in text_of(parse_html(page))
    assert len(page) < 500_000
