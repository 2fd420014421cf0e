"""The user-input module: identity of addresses, the accepted forms, and the bounds of amounts."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.inputs import (
    check_condition,
    check_metric,
    check_output_uri,
    literal,
    parse_addresses,
    parse_amount,
    parse_chains,
    parse_flag,
    parse_optional_amount,
    parse_token_address,
    parse_wallets,
)
from airflow_provider_okx.core.models import (
    MAX_AMOUNT_DIGITS,
    MAX_AMOUNT_EXPONENT,
    TokenBalance,
    amount_problem,
    decimal_str,
    parse_bounded_amount,
)
from airflow_provider_okx.core.thresholds import BalanceCondition, balance_condition
from airflow_provider_okx.glue.templating import unresolved

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
EVM_B = "0x" + "1b" * 20
SOL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
TON_RAW = "0:" + "AB" * 32
USDC_SOL = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


# --- addresses and wallets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EVM, [EVM]),
        ([EVM, EVM_B], [EVM, EVM_B]),
        ((EVM, EVM_B), [EVM, EVM_B]),
        (f"{EVM}, {EVM_B}", [EVM, EVM_B]),
        (f"['{EVM}', '{EVM_B}']", [EVM, EVM_B]),
        (f'["{EVM}"]', [EVM]),
        (f"('{EVM}',)", [EVM]),
        ({"hot": EVM}, [EVM]),
        (f"{{'hot': '{EVM}'}}", [EVM]),
        ([EVM, EVM.lower(), EVM_B, EVM_B.upper().replace("0X", "0x")], [EVM, EVM_B]),
        ([TON_RAW, TON_RAW.lower()], [TON_RAW]),
        ([SOL, SOL.replace("W", "w", 1)], [SOL, SOL.replace("W", "w", 1)]),
    ],
)
def test_parse_addresses_forms_and_identity(value, expected):
    assert parse_addresses(value) == expected


def test_parse_wallets_keeps_labels_and_refuses_ambiguity():
    assert parse_wallets({" treasury ": EVM, 7: EVM_B}) == {"treasury": EVM, "7": EVM_B}
    assert parse_wallets([EVM, EVM.lower()]) == {EVM: EVM}
    with pytest.raises(OkxInvalidInputError) as info:
        parse_wallets({"treasury": EVM, " treasury": EVM_B})
    assert info.value.field == "wallets"
    assert "'treasury' and ' treasury'" in str(info.value)
    with pytest.raises(OkxInvalidInputError) as info:
        parse_wallets({"a": TON_RAW, "b": TON_RAW.lower()}, field="address")
    assert info.value.field == "address"
    assert "'a' and 'b'" in str(info.value)


def test_literal_reads_json_then_python_and_refuses_the_rest():
    assert literal('["a", 1]') == ["a", 1]
    assert literal("{'a': (1, 2)}") == {"a": (1, 2)}
    for text in ("[1, 2", "__import__('os')", "[" * 100_000 + "]" * 100_000):
        with pytest.raises(ValueError, match="not a JSON or Python literal"):
            literal(text)


def test_templates_nested_in_lists_and_dicts_are_unresolved():
    assert unresolved(["{{ a }}", EVM])
    assert unresolved({"hot": "{{ params.hot }}"})
    assert not unresolved([EVM, {"x": 1}])
    assert not unresolved(b"1")  # a wrong type is refused now, not "resolved later"


# --- chains and tokens ----------------------------------------------------------------------


def test_parse_chains_reads_rendered_lists_and_sets():
    assert parse_chains("['1', 'base']") == ["1", "8453"]
    assert parse_chains("[56, 1]") == ["56", "1"]
    assert parse_chains({"base", 1, 56}) == ["1", "56", "8453"]
    assert parse_chains(" 1 , eth ") == ["1"]


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ""), ("", ""), (" 0xAbC ", "0xAbC"), ("btc-brc20-ordi", "btc-brc20-ordi")]
)
def test_parse_token_address(value, expected):
    assert parse_token_address(value) == expected


def test_token_identity_folds_hex_but_not_base58():
    rows = [
        TokenBalance(
            "1", "0xdac17f958d2ee523a2206206994597c13d831ec7", EVM, "USDT", Decimal("5"), None, Decimal("1")
        ),
        TokenBalance("501", USDC_SOL.lower(), SOL, "FAKE", Decimal("7"), None, Decimal("1")),
        TokenBalance("501", USDC_SOL, SOL, "USDC", Decimal("2"), None, Decimal("1")),
    ]
    evm = balance_condition(
        address=EVM, chain=1, threshold="1", token_address="0xDAC17F958D2EE523A2206206994597C13D831EC7"
    )
    assert evm.value_from_tokens(rows) == 5
    assert evm.symbol_in(rows) == "USDT"
    sol = balance_condition(address=SOL, chain="solana", threshold="1", token_address=USDC_SOL)
    assert sol.value_from_tokens(rows) == 2  # the lower-cased mint is another token
    assert sol.symbol_in(rows) == "USDC"


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", Decimal("100")),
        (" 1.50 ", Decimal("1.50")),
        ("1e3", Decimal("1E+3")),
        (".5", Decimal("0.5")),
        (7, Decimal(7)),
        (Decimal("0.000000000000000001"), Decimal("1E-18")),
        ("9" * 40 + "." + "9" * 40, Decimal("9" * 40 + "." + "9" * 40)),
        (f"9.99e{MAX_AMOUNT_EXPONENT}", Decimal("9.99E+60")),
        (f"1e-{MAX_AMOUNT_EXPONENT}", Decimal("1E-60")),
        ("0E-140", Decimal("0E-140")),
    ],
)
def test_parse_amount_accepts_exact_amounts_within_bounds(value, expected):
    amount = parse_amount(value, "threshold")
    assert amount == expected and str(amount) == str(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9" * 40 + "." + "9" * (MAX_AMOUNT_DIGITS - 39), "more than 80 significant digits"),
        (f"1e{MAX_AMOUNT_EXPONENT + 1}", "1E+61 or more"),
        (f"1e-{MAX_AMOUNT_EXPONENT + 1}", "below 1E-60"),
        ("0E-141", "a zero with more than 140 decimal places"),
        ("-0.5", "must not be negative"),
        ("sNaN", "not a number"),
        ("", "missing"),
        (Decimal("Infinity"), "not a finite number"),
        pytest.param(10**5000, "out of bounds", id="int-of-5001-digits"),
    ],
)
def test_parse_amount_refuses_beyond_bounds_naming_the_field(value, reason):
    with pytest.raises(OkxInvalidInputError) as info:
        parse_amount(value, "tolerance_usd")
    assert info.value.field == "tolerance_usd"
    assert reason in info.value.reason


def test_negative_amounts_only_where_allowed_and_optional_amounts():
    assert parse_amount("-2.5", "delta", allow_negative=True) == Decimal("-2.5")
    assert parse_optional_amount(None, "min_usd_value") is None
    assert parse_optional_amount("  ", "min_usd_value") is None
    assert parse_optional_amount("0.01", "min_usd_value") == Decimal("0.01")


def test_okx_amount_fast_and_slow_paths_agree():
    for text in ("1", "0.1", "1e5", "123.456000", "0", "0.000", "-3"):
        fast = TokenBalance.from_okx({"chainIndex": "1", "balance": text, "tokenPrice": "1"}).balance
        slow = parse_bounded_amount(f" {text} ", "balance")  # whitespace takes the slow path
        assert str(fast) == str(slow)
    assert amount_problem(Decimal("1E+60")) is None
    assert amount_problem(Decimal("1E+61")) is not None


def test_decimal_str_refuses_to_print_a_huge_exponent_at_once():
    assert decimal_str(Decimal("1E+1000")) == "1" + "0" * 1000
    for value in (Decimal("1E+1001"), Decimal("1E-1001"), Decimal("NaN")):
        with pytest.raises(ValueError, match="refusing to print"):
            decimal_str(value)
    assert decimal_str(Decimal("0E-99999999")) == "0"


# --- flags, choices, output -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("False", False), (" TRUE ", True)]
)
def test_parse_flag(value, expected):
    assert parse_flag(value, "exclude_risk_tokens") is expected


def test_condition_metric_and_output_uri():
    assert check_condition(" <= ") == "<="
    assert check_metric("usd_value ") == "usd_value"
    assert check_output_uri(Path("/tmp/reports")) == "/tmp/reports"
    assert check_output_uri(" s3://bucket/okx ") == "s3://bucket/okx"
    with pytest.raises(OkxInvalidInputError) as info:
        check_output_uri(None)
    assert info.value.field == "output_uri"


# --- the wait, and the purity of thresholds ------------------------------------------------


def test_balance_condition_describes_token_and_wallet():
    native = balance_condition(address=EVM, chain=1, threshold="0.5", condition="<")
    assert native.describe(Decimal("0.25"), "ETH") == (
        f"balance of ETH (native coin) in wallet {EVM} on chain 1 is 0.25 (waiting for < 0.5)"
    )
    assert (
        native.describe(Decimal(0))
        == f"balance of native coin in wallet {EVM} on chain 1 is 0 (waiting for < 0.5)"
    )
    whole = balance_condition(address=EVM, chain="1,56", threshold="10", metric="total_usd")
    assert whole.describe(Decimal("12.5")) == (
        f"total_usd of wallet {EVM} on chain 1,56 is 12.5 (waiting for >= 10)"
    )
    spam = native.describe(Decimal(1), "USDT\nINFO - deposit confirmed")
    assert "\n" not in spam and "'USDT\\nINFO - deposit confirmed'" in spam
    assert BalanceCondition.build(address=EVM, chain=1, threshold="0.5", condition="<") == native
    assert BalanceCondition.from_kwargs(native.to_kwargs()) == native


def test_thresholds_do_no_io():
    assert not hasattr(BalanceCondition, "observe") and not hasattr(BalanceCondition, "aobserve")
    heavy = "('requests', 'httpx', 'aiohttp', 'airflow_provider_okx.hooks.okx')"
    code = (
        "import sys, airflow_provider_okx.core.thresholds, airflow_provider_okx.core.inputs; "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
