"""Cut-off valuation, pure: the price as of a time, unpriced tokens, disclosure in the summary
and in balances.csv."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from fractions import Fraction

from airflow_provider_okx.core.models import PricePoint, TokenBalance
from airflow_provider_okx.core.report import Snapshot, build_summary
from airflow_provider_okx.core.report.csv_render import render_csv
from airflow_provider_okx.core.report.valuation import (
    CUTOFF,
    LIVE,
    LIVE_SOURCE,
    Valuation,
    disclose,
    price_as_of,
    price_key,
    revalue,
)

UTC = datetime.timezone.utc
CUTOFF_TIME = datetime.datetime(2026, 12, 1, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)
WALLET = "0x" + "ab" * 20
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
MEME = "0x" + "77" * 20


def point(token: str, minutes_before: int, price: str) -> PricePoint:
    return PricePoint("1", token, CUTOFF_TIME - datetime.timedelta(minutes=minutes_before), Decimal(price))


def holding(token: str, amount: str, live_price: str) -> TokenBalance:
    return TokenBalance(
        chain_index="1",
        token_address=token,
        address=WALLET,
        symbol={"": "ETH", USDC: "USDC"}.get(token, "MEME"),
        balance=Decimal(amount),
        raw_balance=None,
        token_price=Decimal(live_price),
        token_type=None,
        transfer_amount=None,
        available_amount=None,
        is_risk_token=False,
    )


def test_price_as_of_is_the_latest_point_at_or_before_the_cutoff():
    points = [point("", -1, "9999"), point("", 0, "3000.5"), point("", 1, "2999"), point("", 61, "1")]
    chosen = price_as_of(points, CUTOFF_TIME, HOUR)
    assert chosen is not None and (chosen.time, chosen.price) == (CUTOFF_TIME, Decimal("3000.5"))
    assert price_as_of([point("", 61, "1")], CUTOFF_TIME, HOUR) is None  # too old
    assert price_as_of([point("", -5, "1")], CUTOFF_TIME, HOUR) is None  # after the cut-off


def test_revalue_at_the_cutoff_and_unpriced_is_not_zero():
    rows = [holding("", "2", "3100"), holding(USDC, "10.5", "1"), holding(MEME, "1000", "0.5")]
    points = {
        price_key("1", ""): point("", 3, "3000.123456789012345678"),
        price_key("1", USDC.upper().replace("0X", "0x")): point(USDC, 0, "0.9999"),
        price_key("1", MEME): None,
    }
    valued, valuation = revalue(rows, points, CUTOFF_TIME, "1m", HOUR)
    assert [r.token_price for r in valued] == [
        Decimal("3000.123456789012345678"),
        Decimal("0.9999"),
        Decimal(0),
    ]
    assert valuation.mode == CUTOFF and valuation.valuation_time == "2026-12-01T00:00:00.000Z"
    snapshot = Snapshot(
        "2026-11-30", "2026-12-01T00:05:00.000Z", {"w": WALLET}, ["1"], True, valued, valuation
    )
    summary = build_summary(snapshot)
    disclose(summary, snapshot.prices)
    expected = Fraction("2") * Fraction("3000.123456789012345678") + Fraction("10.5") * Fraction("0.9999")
    assert Fraction(summary["total_usd"]) == expected  # at the cut-off prices, exact; MEME not 0
    assert [entry["symbol"] for entry in summary["unpriced"]] == ["MEME"]  # listed apart, not zero
    assert summary["unpriced"][0]["price_time"] == ""
    eth = next(entry for entry in summary["by_token"] if entry["symbol"] == "ETH")
    assert eth["price_time"] == "2026-11-30T23:57:00.000Z"
    assert "historical-price, period 1m" in eth["price_source"]
    assert summary["valuation"]["mode"] == CUTOFF and summary["valuation"]["unpriced_token_count"] == 1
    rows_out = {r["symbol"]: r for r in csv.DictReader(io.StringIO(render_csv(snapshot)))}
    assert rows_out["ETH"]["price_time"] == "2026-11-30T23:57:00.000Z"
    assert rows_out["USDC"]["price_time"] == "2026-12-01T00:00:00.000Z"
    assert rows_out["MEME"]["price_time"] == "" and rows_out["MEME"]["is_priced"] == "false"
    assert {r["price_source"] for r in rows_out.values()} == {valuation.price_source}


def test_live_valuation_is_the_default_and_says_so():
    snapshot = Snapshot(
        "2026-11-30", "2026-12-01T00:05:00.000Z", {"w": WALLET}, ["1"], True, [holding("", "1", "3000")]
    )
    assert snapshot.prices == Valuation.live("2026-12-01T00:05:00.000Z") and snapshot.prices.mode == LIVE
    summary = build_summary(snapshot)
    disclose(summary, snapshot.prices)
    assert summary["valuation"]["price_source"] == LIVE_SOURCE
    (row,) = csv.DictReader(io.StringIO(render_csv(snapshot)))
    assert (row["price_time"], row["price_source"]) == ("", LIVE_SOURCE)
