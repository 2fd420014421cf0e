"""The pure pieces of the history: Transaction/PricePoint, the movement key, the pager, windows."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_okx.core.api import routes
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.api.paging import Pager
from airflow_provider_okx.core.api.results import Page
from airflow_provider_okx.core.api.windows import TimeWindow
from airflow_provider_okx.core.models import PricePoint, Transaction, ms_to_datetime

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
WALLET = "0xEd0C6079229E2d407672a117c22b62064f4a4312"


def tx(**changes) -> Transaction:
    fields = {
        "chain_index": "1",
        "tx_hash": "0xAB",
        "tx_time": T0,
        "address": WALLET,
        "token_address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        "symbol": "USDC",
        "amount": Decimal("1.50"),
        "tx_fee": Decimal("0.0001"),
        "status": "success",
        "direction": "in",
        "from_addresses": ("0x00000000000000000000000000000000000000Aa",),
        "to_addresses": (WALLET,),
        "item_type": "2",
    }
    fields.update(changes)
    return Transaction(**fields)


def test_movement_key_ignores_case_where_the_family_does_and_compares_amounts_by_value():
    echo = tx(
        address=WALLET.lower(),
        tx_hash="0xab",
        token_address="0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
        to_addresses=(WALLET.lower(),),
        amount=Decimal("1.5"),
    )
    assert echo.movement_key == tx().movement_key and echo.movement_id == tx().movement_id
    assert len(tx().movement_id) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"item_type": "0"},
        {"token_address": ""},
        {"direction": "out"},
        {"amount": Decimal("1.5000001")},
        {"chain_index": "56"},
        {"address": "0x5555555555555555555555555555555555555555"},
        {"from_addresses": ("0x00000000000000000000000000000000000000bb",)},
    ],
)
def test_records_of_one_transaction_that_differ_are_distinct_movements(change):
    assert tx(**change).movement_key != tx().movement_key


def test_base58_addresses_keep_their_case_in_the_key():
    a = tx(chain_index="501", address="So1anaWa11et", to_addresses=("So1anaWa11et",), tx_hash="5xYz")
    b = tx(chain_index="501", address="So1anaWa11et", to_addresses=("So1anaWa11et",), tx_hash="5xyz")
    assert a.movement_key != b.movement_key


def test_round_trips_and_refusals():
    original = tx(tx_time=T0 + timedelta(milliseconds=7))
    data = original.to_dict()
    assert data["tx_time"] == "2026-11-01T00:00:00.007Z" and data["amount"] == "1.50"
    assert Transaction.from_dict(data) == original
    assert pickle.loads(pickle.dumps(original)) == original  # frozen, slotted, still picklable
    for field, value in (
        ("amount", "-1"),
        ("status", "done"),
        ("direction", "up"),
        ("tx_time", "2026-11-01"),
    ):
        with pytest.raises(ValueError, match=field):
            Transaction.from_dict({**data, field: value})
    point = PricePoint("1", "", T0, Decimal("1994.430000000000000000"))
    assert PricePoint.from_dict(point.to_dict()) == point
    assert point.to_dict() == {
        "chain_index": "1",
        "token_address": "",
        "time": "2026-11-01T00:00:00Z",
        "price": "1994.430000000000000000",
    }


@pytest.mark.parametrize("raw", ["-1", "1.5", 1.5, True, "", "9" * 16, "\uff11\uff12"])
def test_ms_are_digits_only(raw):
    with pytest.raises(ValueError, match="txTime"):
        ms_to_datetime(raw, "txTime")


def test_ms_are_exact():
    assert ms_to_datetime("1764547200999", "t") == datetime(2025, 12, 1, 0, 0, 0, 999000, tzinfo=timezone.utc)


def test_the_pager_keeps_one_page_of_keys():
    pager: Pager[int] = Pager(lambda n: n, lambda n: n != 99)
    assert pager.accept(Page("a", [1, 2, 2, 3])) == [1, 2, 3]
    assert pager.accept(Page("b", [3, 4, 99])) == [4]  # 3 repeated at the boundary, 99 outside
    assert pager.cursor == "b" and not pager.done
    assert pager.accept(Page("c", [1])) == [1]  # two pages back: only one page of keys is kept
    assert pager.accept(Page("", [5])) == [5] and pager.done


def test_windows():
    window = TimeWindow.of(T0, T0 + timedelta(days=1))
    assert window.contains(T0) and not window.contains(T0 + timedelta(days=1))
    inclusive = TimeWindow.of(T0, T0, end_inclusive=True)
    assert inclusive.contains(T0) and inclusive.query_end_ms == inclusive.query_begin_ms + 2
    other_zone = datetime(2026, 11, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert TimeWindow.of(other_zone, None).begin == T0
    with pytest.raises(OkxInvalidInputError, match="before 1970"):
        TimeWindow.of(datetime(1969, 12, 31, tzinfo=timezone.utc), None)


def test_route_limits_are_data():
    one = routes.transactions_by_address(routes.V6, WALLET, ["1"])
    many = routes.transactions_by_address(routes.V5, WALLET, ["1", "56"])
    assert one.path.endswith("limit=20") and many.path.endswith("limit=20")
    assert routes.transactions_by_address(routes.V6, WALLET, ["1", "56"]).path.endswith("limit=100")
    with pytest.raises(OkxInvalidInputError, match="tokens"):
        routes.current_price(routes.V6, [("1", "")] * 101)
