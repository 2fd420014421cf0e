"""Careless users and a careless OKX: every case fails fast with a typed error naming the field.

Each case goes through a public entry point a DAG author or the hook really uses (an operator
or sensor constructor, ``TokenBalance.from_okx``, ``parse_wallets``...), and asserts the exact
outcome: the exception class, the field it names and a phrase of its reason. Cases that must
be *accepted* assert the value they produce.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.models import TokenBalance, decimal_str, parse_decimal
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator, parse_addresses
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator, parse_wallets
from airflow_provider_okx.sensors.balance import OkxBalanceSensor

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
EVM_B = "0x" + "1b" * 20
SOL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
SOL_OTHER = "9w" + SOL[2:]  # one letter in another case: another Solana wallet


def balances(**kwargs: Any) -> OkxTokenBalancesOperator:
    return OkxTokenBalancesOperator(task_id="t", **{"address": EVM, "chains": 1, **kwargs})


def sensor(**kwargs: Any) -> OkxBalanceSensor:
    defaults = {"task_id": "s", "address": EVM, "chain": 1, "threshold": "1", "deferrable": False}
    return OkxBalanceSensor(**{**defaults, **kwargs})


def report(**kwargs: Any) -> OkxTreasuryReportOperator:
    defaults = {"task_id": "r", "wallets": [EVM], "chains": 1, "output_uri": "/tmp/okx-careless"}
    return OkxTreasuryReportOperator(**{**defaults, **kwargs})


def row(**fields: Any) -> TokenBalance:
    item = {"chainIndex": "1", "tokenContractAddress": "", "symbol": "ETH", "balance": "1", "tokenPrice": "2"}
    item.update(fields)
    return TokenBalance.from_okx({k: v for k, v in item.items() if v is not _ABSENT})


_ABSENT = object()


@dataclass(frozen=True)
class Refused:
    """The case must raise ``error`` naming ``field`` (``.field`` for our input errors, the
    message's first word for OKX data), with ``phrase`` in its message."""

    error: type[Exception]
    field: str
    phrase: str


# (case id, what the careless user or server does, the outcome it must have)
USER_CASES: list[tuple[str, Callable[[], Any], Refused]] = [
    # wallets and addresses
    (
        "one wallet under two labels",
        lambda: parse_wallets({"hot": EVM, "cold": EVM.lower()}),
        Refused(OkxInvalidInputError, "wallets", "'hot' and 'cold'"),
    ),
    (
        "labels equal once stringified",
        lambda: parse_wallets({1: EVM, "1": EVM_B}),
        Refused(OkxInvalidInputError, "wallets", "labels 1 and '1'"),
    ),
    ("empty label", lambda: parse_wallets({" ": EVM}), Refused(OkxInvalidInputError, "wallets", "empty")),
    (
        "None label",
        lambda: parse_wallets({None: EVM}),
        Refused(OkxInvalidInputError, "wallets", "label is text"),
    ),
    (
        "label with a newline",
        lambda: parse_wallets({"hot\nwallet": EVM}),
        Refused(OkxInvalidInputError, "wallets", "printable"),
    ),
    ("no wallets", lambda: report(wallets={}), Refused(OkxInvalidInputError, "wallets", "at least one")),
    (
        "empty address list",
        lambda: balances(address=[]),
        Refused(OkxInvalidInputError, "address", "at least one"),
    ),
    (
        "a set of addresses",
        lambda: balances(address={EVM, EVM_B}),
        Refused(OkxInvalidInputError, "address", "no order"),
    ),
    (
        "bytes address",
        lambda: balances(address=EVM.encode()),
        Refused(OkxInvalidInputError, "address", "bytes"),
    ),
    (
        "None in an address list",
        lambda: balances(address=[EVM, None]),
        Refused(OkxInvalidInputError, "address", "as text"),
    ),
    (
        "an address of 400 characters",
        lambda: balances(address="0x" + "a" * 400),
        Refused(OkxInvalidInputError, "address", "longer than any"),
    ),
    (
        "a broken rendered list",
        lambda: balances(address=f"['{EVM}', "),
        Refused(OkxInvalidInputError, "address", "not a list"),
    ),
    (
        "a list for the sensor's one address",
        lambda: sensor(address=[EVM]),
        Refused(OkxInvalidInputError, "address", "as text"),
    ),
    (
        "EVM wallet with only Solana",
        lambda: balances(chains="solana"),
        Refused(OkxInvalidInputError, "chains", "none of these chains"),
    ),
    # chains
    (
        "superscript chain",
        lambda: balances(chains="\u00b2"),
        Refused(OkxInvalidInputError, "chains", "unknown chain"),
    ),
    (
        "Arabic-Indic digit chain",
        lambda: balances(chains="\u0661"),
        Refused(OkxInvalidInputError, "chains", "unknown"),
    ),
    ("bytes chains", lambda: balances(chains=b"1"), Refused(OkxInvalidInputError, "chains", "bytes")),
    (
        "5,000-digit chain",
        lambda: balances(chains="1" * 5000),
        Refused(OkxInvalidInputError, "chains", "at most 18"),
    ),
    (
        "huge int chain",
        lambda: balances(chains=10**5000),
        Refused(OkxInvalidInputError, "chains", "at most 18"),
    ),
    ("float chain", lambda: balances(chains=[1.0]), Refused(OkxInvalidInputError, "chains", "index")),
    ("bool chain", lambda: balances(chains=True), Refused(OkxInvalidInputError, "chains", "index")),
    (
        "dict of chains",
        lambda: balances(chains={"1": "eth"}),
        Refused(OkxInvalidInputError, "chains", "dict"),
    ),
    ("None chains", lambda: balances(chains=None), Refused(OkxInvalidInputError, "chains", "NoneType")),
    ("blank chains", lambda: balances(chains=" , "), Refused(OkxInvalidInputError, "chains", "at least one")),
    # amounts
    (
        "threshold 1e50000000",
        lambda: sensor(threshold="1e50000000"),
        Refused(OkxInvalidInputError, "threshold", "bounds"),
    ),
    (
        "threshold 1E+999999999",
        lambda: sensor(threshold="1E+999999999"),
        Refused(OkxInvalidInputError, "threshold", "bounds"),
    ),
    (
        "threshold 0E-1000000",
        lambda: sensor(threshold="0E-1000000"),
        Refused(OkxInvalidInputError, "threshold", "bounds"),
    ),
    (
        "threshold of 81 digits",
        lambda: sensor(threshold="1" * 81),
        Refused(OkxInvalidInputError, "threshold", "80"),
    ),
    (
        "threshold 10**100",
        lambda: sensor(threshold=10**100),
        Refused(OkxInvalidInputError, "threshold", "80"),
    ),
    (
        "threshold Decimal 1e-70",
        lambda: sensor(threshold=Decimal("1e-70")),
        Refused(OkxInvalidInputError, "threshold", "bounds"),
    ),
    (
        "threshold NaN",
        lambda: sensor(threshold="NaN"),
        Refused(OkxInvalidInputError, "threshold", "not a number"),
    ),
    (
        "threshold Infinity",
        lambda: sensor(threshold="Infinity"),
        Refused(OkxInvalidInputError, "threshold", "not a number"),
    ),
    ("threshold True", lambda: sensor(threshold=True), Refused(OkxInvalidInputError, "threshold", "bool")),
    (
        "threshold None",
        lambda: sensor(threshold=None),
        Refused(OkxInvalidInputError, "threshold", "NoneType"),
    ),
    (
        "threshold float",
        lambda: sensor(threshold=0.1),
        Refused(OkxInvalidInputError, "threshold", "floats lose digits"),
    ),
    ("threshold list", lambda: sensor(threshold=[1]), Refused(OkxInvalidInputError, "threshold", "list")),
    (
        "threshold 1,000",
        lambda: sensor(threshold="1,000"),
        Refused(OkxInvalidInputError, "threshold", "separators"),
    ),
    (
        "threshold 1_000",
        lambda: sensor(threshold="1_000"),
        Refused(OkxInvalidInputError, "threshold", "not a number"),
    ),
    (
        "threshold in Arabic-Indic digits",
        lambda: sensor(threshold="\u0661\u0660\u0660"),
        Refused(OkxInvalidInputError, "threshold", "not a number"),
    ),
    (
        "threshold of 10,000 characters",
        lambda: sensor(threshold="1" * 10_000),
        Refused(OkxInvalidInputError, "threshold", "longer than any amount"),
    ),
    (
        "negative dust floor",
        lambda: balances(min_usd_value="-1"),
        Refused(OkxInvalidInputError, "min_usd_value", "negative"),
    ),
    (
        "dust floor 1E+999",
        lambda: balances(min_usd_value="1E+999"),
        Refused(OkxInvalidInputError, "min_usd_value", "bounds"),
    ),
    (
        "tolerance 1e99999",
        lambda: report(tolerance_usd="1e99999"),
        Refused(OkxInvalidInputError, "tolerance_usd", "bounds"),
    ),
    (
        "tolerance ratio float",
        lambda: report(tolerance_ratio=0.01),
        Refused(OkxInvalidInputError, "tolerance_ratio", "floats"),
    ),
    # choices, flags, tokens
    (
        "condition in a list",
        lambda: sensor(condition=["=="]),
        Refused(OkxInvalidInputError, "condition", "one of"),
    ),
    ("condition =>", lambda: sensor(condition="=>"), Refused(OkxInvalidInputError, "condition", "one of")),
    ("metric None", lambda: sensor(metric=None), Refused(OkxInvalidInputError, "metric", "one of")),
    (
        "metric in a set",
        lambda: sensor(metric={"balance"}),
        Refused(OkxInvalidInputError, "metric", "one of"),
    ),
    (
        "risk flag 'no'",
        lambda: sensor(exclude_risk_tokens="no"),
        Refused(OkxInvalidInputError, "exclude_risk_tokens", "True or False"),
    ),
    (
        "risk flag 0",
        lambda: balances(exclude_risk_tokens=0),
        Refused(OkxInvalidInputError, "exclude_risk_tokens", "True or False"),
    ),
    (
        "token address with a space",
        lambda: sensor(token_address="0xdac17f958d2ee523 a2206206994597c13d831ec7"),
        Refused(OkxInvalidInputError, "token_address", "spaces"),
    ),
    (
        "token address as an int",
        lambda: sensor(token_address=5),
        Refused(OkxInvalidInputError, "token_address", "int"),
    ),
    (
        "blank output_uri",
        lambda: check_output_uri("  "),
        Refused(OkxInvalidInputError, "output_uri", "blank"),
    ),
    (
        "output_uri of bytes",
        lambda: check_output_uri(b"/tmp/x"),
        Refused(OkxInvalidInputError, "output_uri", "bytes"),
    ),
    (
        "output_uri with a newline",
        lambda: check_output_uri("s3://bucket/\nreports"),
        Refused(OkxInvalidInputError, "output_uri", "control"),
    ),
]


def check_output_uri(value: object) -> str:
    from airflow_provider_okx.core.inputs import check_output_uri as check  # the report calls it

    return check(value)


def _row_of(**fields: Any) -> Callable[[], Any]:
    return lambda: row(**fields)


OKX_CASES: list[tuple[str, Callable[[], Any], Refused]] = [
    (
        "balance 1E+10000000 (280 MB report)",
        _row_of(balance="1E+10000000"),
        Refused(ValueError, "balance", "bounds"),
    ),
    (
        "balance 1E+999999999 (MemoryError)",
        _row_of(balance="1E+999999999"),
        Refused(ValueError, "balance", "bounds"),
    ),
    ("price 1e-999", _row_of(tokenPrice="1e-999"), Refused(ValueError, "tokenPrice", "bounds")),
    (
        "transferAmount 1E+100",
        _row_of(transferAmount="1E+100"),
        Refused(ValueError, "transferAmount", "bounds"),
    ),
    (
        "availableAmount of 100 digits",
        _row_of(availableAmount="9" * 100),
        Refused(ValueError, "availableAmount", "80 significant"),
    ),
    (
        "rawBalance of 81 digits",
        _row_of(rawBalance="9" * 81),
        Refused(ValueError, "rawBalance", "80 ASCII digits"),
    ),
    ("rawBalance 1e30", _row_of(rawBalance="1e30"), Refused(ValueError, "rawBalance", "integer")),
    (
        "rawBalance in Arabic-Indic digits",
        _row_of(rawBalance="\u0661\u0662"),
        Refused(ValueError, "rawBalance", "integer"),
    ),
    ("balance null", _row_of(balance=None), Refused(ValueError, "balance", "missing")),
    ("balance absent", _row_of(balance=_ABSENT), Refused(ValueError, "balance", "missing")),
    ("balance empty", _row_of(balance=""), Refused(ValueError, "balance", "missing")),
    ("tokenPrice absent", _row_of(tokenPrice=_ABSENT), Refused(ValueError, "tokenPrice", "missing")),
    ("balance NaN", _row_of(balance="NaN"), Refused(ValueError, "balance", "not a number")),
    ("balance -Infinity", _row_of(balance="-Infinity"), Refused(ValueError, "balance", "not a number")),
    ("balance as a JSON float", _row_of(balance=0.1), Refused(ValueError, "balance", "float")),
    (
        "balance in full-width digits",
        _row_of(balance="\uff11\uff12"),
        Refused(ValueError, "balance", "not a number"),
    ),
    ("balance 1_000", _row_of(balance="1_000"), Refused(ValueError, "balance", "not a number")),
    (
        "chainIndex absent",
        _row_of(chainIndex=_ABSENT),
        Refused(ValueError, "chainIndex", "not a chain index"),
    ),
    (
        "chainIndex superscript",
        _row_of(chainIndex="\u00b2"),
        Refused(ValueError, "chainIndex", "not a chain index"),
    ),
    (
        "a token that is a list",
        lambda: TokenBalance.from_okx(["1", "ETH"]),  # type: ignore[arg-type]
        Refused(ValueError, "tokenAssets", "object"),
    ),
    (
        "totalValue 1E+10000000",
        lambda: parse_decimal("1E+10000000", "totalValue"),
        Refused(ValueError, "totalValue", "bounds"),
    ),
    (
        "an XCom row with balance 1E+10000000",
        lambda: TokenBalance.from_dict({"chain_index": "1", "balance": "1E+10000000", "token_price": "1"}),
        Refused(ValueError, "balance", "bounds"),
    ),
    (
        "printing 1E+10000000",
        lambda: decimal_str(Decimal("1E+10000000")),
        Refused(ValueError, "refusing", "plain"),
    ),
]


def _check(action: Callable[[], Any], expected: Refused) -> None:
    started = time.process_time()
    with pytest.raises(expected.error) as info:
        action()
    error = info.value
    assert type(error) is expected.error or isinstance(error, expected.error)
    if isinstance(error, OkxInvalidInputError):
        assert error.field == expected.field
    else:
        assert str(error).startswith(expected.field)
    assert expected.phrase in str(error)
    assert len(str(error)) < 400  # a 10,000-character input is not quoted whole
    assert time.process_time() - started < 5  # fails fast: no giant number was ever built


@pytest.mark.parametrize(("action", "expected"), [c[1:] for c in USER_CASES], ids=[c[0] for c in USER_CASES])
def test_careless_user_is_told_which_field(action, expected):
    _check(action, expected)


@pytest.mark.parametrize(("action", "expected"), [c[1:] for c in OKX_CASES], ids=[c[0] for c in OKX_CASES])
def test_careless_okx_answer_names_okx_field(action, expected):
    _check(action, expected)


# --- what a careless user may write, and gets right ----------------------------------------


def test_one_wallet_in_three_spellings_is_one_wallet_first_spelling_kept():
    assert parse_addresses([EVM, EVM.lower(), f"  {EVM.lower()}  "]) == [EVM]
    assert parse_addresses(f"{EVM.lower()},{EVM}") == [EVM.lower()]


def test_base58_spellings_are_two_wallets():
    assert parse_addresses([SOL, SOL_OTHER]) == [SOL, SOL_OTHER]
    assert parse_wallets({"a": SOL, "b": SOL_OTHER}) == {"a": SOL, "b": SOL_OTHER}


def test_bech32_case_is_one_wallet():
    btc = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    with pytest.raises(OkxInvalidInputError) as info:
        parse_wallets({"vault": btc, "vault2": btc.upper()})
    assert info.value.field == "wallets" and "'vault' and 'vault2'" in str(info.value)


def test_int_labels_are_written_as_text():
    assert parse_wallets({1: EVM, 2: EVM_B}) == {"1": EVM, "2": EVM_B}


def test_rendered_templates_and_friendly_forms_are_understood():
    op = balances(address=f"{{'treasury': '{EVM}'}}", chains="['1', 'base']", min_usd_value=" 0.5 ")
    assert op.min_usd_value == " 0.5 "
    assert (
        sensor(
            condition=" >= ", threshold=" 100 ", chain={56}, exclude_risk_tokens="False"
        ).exclude_risk_tokens
        is False
    )
    assert balances(chains={56, 1}, min_usd_value="").chains == {56, 1}


def test_templates_inside_a_list_wait_for_rendering():
    op = balances(address=["{{ params.hot }}", EVM], chains=["{{ params.chain }}"])
    assert op.address[0] == "{{ params.hot }}"


def test_queried_address_wins_over_okx_echo():
    item = {
        "chainIndex": "1",
        "tokenContractAddress": "",
        "balance": "1",
        "tokenPrice": "2",
        "address": EVM.lower(),
    }
    assert TokenBalance.from_okx(item, address=EVM).address == EVM
    assert TokenBalance.from_okx(item).address == EVM.lower()  # no queried address: the echo


def test_real_extremes_are_amounts():
    """What OKX really sends at the edges stays exact: 36 decimals, 1e30 raw units, a tiny price."""
    r = row(
        balance="1000000000000.000000000000000001",
        tokenPrice="0.000000000000000000000000000000000001",
        rawBalance="1000000000000000000000000000000",
    )
    assert r.raw_balance == 10**30
    assert decimal_str(r.usd_value) == "0.000000000000000000000001000000000000000000000000000001"
    big = row(balance="9" * 40 + "." + "9" * 40, tokenPrice="172.895057177065864522056725546579939398")
    assert decimal_str(big.balance) == "9" * 40 + "." + "9" * 40
