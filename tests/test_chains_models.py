"""Chain selection, address families and exact money."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import (
    check_family,
    chunked,
    compatible_chains,
    normalize_chains,
    validate_address,
)
from airflow_provider_okx.core.models import TokenBalance, decimal_str, exact_sum, sort_key, total_usd

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
SOL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
TRON = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


@pytest.mark.parametrize(
    ("chains", "expected"),
    [
        (1, ["1"]),
        ("1", ["1"]),
        ("1,56, 8453", ["1", "56", "8453"]),
        ([1, "56", "base"], ["1", "56", "8453"]),
        ("ethereum,BNB Chain,arbitrum", ["1", "56", "42161"]),
        (["1", 1, "eth", "01"], ["1"]),
        ("7777", ["7777"]),
        ({8453, "eth", 56}, ["1", "56", "8453"]),
    ],
)
def test_normalize_chains(chains, expected):
    assert normalize_chains(chains) == expected


@pytest.mark.parametrize(
    "chains",
    ["", [], "narnia", -1, "1,-5", [None], 1.5, "\u00b2", "\u0661", b"1", {"1": "eth"}, "1" * 19, True, None],
)
def test_bad_chains_name_the_field(chains):
    with pytest.raises(OkxInvalidInputError) as info:
        normalize_chains(chains)
    assert info.value.field == "chains"
    assert "chains=" in str(info.value)


def test_chunking_120_chains_into_three():
    chains = [str(i) for i in range(1000, 1120)]
    chunks = chunked(chains)
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert [c for chunk in chunks for c in chunk] == chains


@pytest.mark.parametrize(
    "address", ["", "   ", None, "0x123", "hello world", "0xZZ0C6079229E2d407672a117c22b62064f4a4312"]
)
def test_bad_address_names_the_field(address):
    with pytest.raises(OkxInvalidInputError) as info:
        validate_address(address)
    assert info.value.field == "address"


@pytest.mark.parametrize("address", [EVM, SOL, BTC, TRON])
def test_good_addresses(address):
    assert validate_address(f" {address} ") == address


def test_family_mismatch_is_refused_with_names():
    with pytest.raises(OkxInvalidInputError) as info:
        check_family(EVM, ["1", "501"])
    assert "Solana (501)" in str(info.value)
    check_family(EVM, ["1", "56", "99999"])  # unknown chains are OKX's call
    check_family(SOL, ["501"])
    check_family(BTC, ["0"])
    assert compatible_chains(EVM, ["1", "501", "0", "8453"]) == ["1", "8453"]
    assert compatible_chains(SOL, ["1", "501"]) == ["501"]


def test_amounts_round_trip_exactly():
    item = {
        "chainIndex": "1",
        "tokenAddress": "0x386ae941d4262b0ee96354499df2ab8442734ec0",
        "symbol": "PT",
        "balance": "47042180.520700015",
        "tokenPrice": "0.968391562089677097",
        "rawBalance": "",
        "isRiskToken": False,
        "tokenType": "1",
        "transferAmount": "0",
        "availableAmount": "",
    }
    balance = TokenBalance.from_okx(item)
    assert balance.balance == Decimal("47042180.520700015")
    assert balance.raw_balance is None
    assert balance.available_amount is None
    assert balance.transfer_amount == 0
    # The default 28-digit context would round this product; ours does not.
    exact = Fraction("47042180.520700015") * Fraction("0.968391562089677097")
    assert Fraction(balance.usd_value) == exact
    assert Fraction(Decimal("47042180.520700015") * Decimal("0.968391562089677097")) != exact
    data = balance.to_dict()
    assert data["balance"] == "47042180.520700015"
    assert data["usd_value"] == "45555250.678545267044919755753056455"
    assert TokenBalance.from_dict(data) == balance


def test_tiny_amounts_and_v6_fields():
    item = {
        "chainIndex": "8453",
        "tokenContractAddress": "0xabc",
        "symbol": "DUST",
        "balance": "0.000000000000000001",
        "tokenPrice": "0",
        "rawBalance": "1",
        "isRiskToken": "true",
    }
    balance = TokenBalance.from_okx(item, address="0xme")
    assert balance.token_address == "0xabc"
    assert balance.address == "0xme"
    assert decimal_str(balance.balance) == "0.000000000000000001"
    assert balance.raw_balance == 1
    assert balance.token_type is None
    assert balance.is_risk_token is True
    assert not balance.is_priced
    assert balance.to_dict()["usd_value"] == "0"


def test_floats_are_refused():
    with pytest.raises(ValueError, match="float"):
        TokenBalance.from_okx({"chainIndex": "1", "balance": 0.1, "tokenPrice": "1"})


def test_exact_sum_never_rounds():
    values = [Decimal("1e30"), Decimal("0.000000000000000000000000000001"), Decimal("-1e30")]
    assert exact_sum(values) == Decimal("0.000000000000000000000000000001")
    rows = [
        TokenBalance("1", "", "0xa", "A", Decimal("123456789.123456789123456789"), None, Decimal("3.33")),
        TokenBalance("1", "t", "0xa", "B", Decimal("0.000000000000000001"), None, Decimal("99999.99")),
    ]
    assert Fraction(total_usd(rows)) == sum(Fraction(r.balance) * Fraction(r.token_price) for r in rows)


def test_rows_belong_to_the_queried_address_not_the_echo():
    item = {
        "chainIndex": "1",
        "tokenContractAddress": "",
        "balance": "1",
        "tokenPrice": "2",
        "address": EVM.upper(),
    }
    assert TokenBalance.from_okx(item, address=EVM).address == EVM
    assert TokenBalance.from_okx(item).address == EVM.upper()


def test_sort_key_keeps_base58_wallets_apart():
    other = "9w" + SOL[2:]
    rows = [
        TokenBalance(chain, "", address, "SOL", Decimal(1), None, Decimal(1))
        for address in (SOL, other)
        for chain in ("501", "1")
    ]
    ordered = [r.address for r in sorted(rows, key=sort_key)]
    assert ordered in ([SOL, SOL, other, other], [other, other, SOL, SOL])
