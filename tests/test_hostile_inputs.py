"""Trust, round two: a hostile campaign over every parameter a DAG author types.

Every public operator, sensor, trigger and hook method is given what a careless or hostile
author could write for each of its parameters: flags as words, counts as floats and text,
durations that overflow, amounts beyond any bound, repeated labels, what Jinja's native mode
makes of addresses. Each case is either accepted with the exact value it must produce, or
refused with :class:`OkxInvalidInputError` naming the parameter (never a bare ``TypeError``,
``OverflowError`` or a silent guess). Case ids are ``<area>-<case>``: the closing table of the
issue counts them per area.
"""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_okx.core.api import results
from airflow_provider_okx.core.api.errors import OkxInvalidInputError, OkxMalformedResponseError, is_permanent
from airflow_provider_okx.core.inputs import parse_addresses, parse_chains, parse_flag, parse_wallets
from airflow_provider_okx.core.snapshots import rows_from_snapshots
from airflow_provider_okx.core.thresholds import BalanceCondition
from airflow_provider_okx.glue.compat import AIRFLOW_V3, AirflowException
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor
from airflow_provider_okx.testing import SEED_ADDRESS
from airflow_provider_okx.transfers.okx_to_sql import OkxBalancesToSqlOperator
from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

EVM = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
EVM_B = "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063"


# --- the public entry points, each with every other argument valid ------------------------------


def balances(**kw: Any) -> Any:
    return OkxTokenBalancesOperator(task_id="b", **{"address": EVM, "chains": 1, **kw})


def sensor(**kw: Any) -> Any:
    return OkxBalanceSensor(
        task_id="s", **{"address": EVM, "chain": 1, "threshold": "1", "deferrable": False, **kw}
    )


def report(**kw: Any) -> Any:
    return OkxTreasuryReportOperator(
        task_id="r", **{"wallets": [EVM], "chains": 1, "output_uri": "/tmp/okx-hostile", **kw}
    )


def to_sql(**kw: Any) -> Any:
    return OkxBalancesToSqlOperator(task_id="q", **{"sql_conn_id": "x", "wallets": [EVM], "chains": 1, **kw})


def condition(**kw: Any) -> dict[str, Any]:
    return {**BalanceCondition.build(address=EVM, chain="1", threshold="1").to_kwargs(), **kw}


def trigger(**kw: Any) -> Any:
    return OkxBalanceTrigger(**{"condition": condition(), "poke_interval": 60, **kw})


def event_trigger(**kw: Any) -> Any:
    if not AIRFLOW_V3:
        pytest.skip("OkxBalanceEventTrigger needs Airflow 3")
    from airflow_provider_okx.triggers.balance_event import OkxBalanceEventTrigger

    return OkxBalanceEventTrigger(**{"address": EVM, "chain": 1, "threshold": "1", **kw})


def hook_call(method: str, **kw: Any) -> Callable[[], Any]:
    """A hook method with one hostile argument: refused before the connection is even read."""

    def call() -> Any:
        hook = OkxHook(okx_conn_id="okx_hostile_no_such_connection")
        if method == "get_token_balances":
            return hook.get_token_balances(EVM, [("1", "")], **kw)
        if method.startswith("get_wallets_"):
            return getattr(hook, method)([EVM], "1", **kw)
        return getattr(hook, method)(EVM, "1", **kw)

    return call


ENTRY_POINTS: dict[str, Callable[..., Any]] = {
    "balances": balances,
    "sensor": sensor,
    "report": report,
    "to_sql": to_sql,
    "trigger": trigger,
    "event_trigger": event_trigger,
}


# --- flags: one rule everywhere -------------------------------------------------------------------

FLAGS = [
    ("balances", "exclude_risk_tokens"),
    ("sensor", "exclude_risk_tokens"),
    ("sensor", "deferrable"),
    ("sensor", "start_from_trigger"),
    ("report", "exclude_risk_tokens"),
    ("report", "reconcile"),
    ("report", "allow_stale_snapshot"),
    ("to_sql", "exclude_risk_tokens"),
    ("to_sql", "create_table"),
    ("event_trigger", "exclude_risk_tokens"),
    ("event_trigger", "fire_if_met_at_start"),
]
HOOK_FLAGS = [
    "get_all_token_balances",
    "get_total_value",
    "get_token_balances",
    "get_wallets_token_balances",
    "get_wallets_total_value",
]
ACCEPTED_FLAGS = {True: True, False: False, "false": False, "False": False, " TRUE ": True, "true": True}
REFUSED_FLAGS = ["no", "yes", "0", "1", "", "flase", "off", None, 0, 1, 1.0, [], {"x": 1}]


@pytest.mark.parametrize(("entry", "field"), FLAGS, ids=[f"{e}.{f}" for e, f in FLAGS])
@pytest.mark.parametrize("value", REFUSED_FLAGS, ids=repr)
def test_flags_refuse_anything_but_a_boolean(entry, field, value):
    with pytest.raises(OkxInvalidInputError) as info:
        ENTRY_POINTS[entry](**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(("entry", "field"), FLAGS, ids=[f"{e}.{f}" for e, f in FLAGS])
@pytest.mark.parametrize("value", list(ACCEPTED_FLAGS), ids=repr)
def test_flags_accept_booleans_and_their_names(entry, field, value):
    if field == "start_from_trigger" and ACCEPTED_FLAGS[value]:
        pytest.skip("start_from_trigger=True is tested in test_sensor_start_from_trigger")
    made = ENTRY_POINTS[entry](**{field: value})
    seen = (
        made.wait.exclude_risk_tokens if entry == "event_trigger" and field == "exclude_risk_tokens" else None
    )
    if seen is None and field != "start_from_trigger":
        seen = getattr(made, field)
    if seen is not None:
        assert seen is ACCEPTED_FLAGS[value]


@pytest.mark.parametrize("method", HOOK_FLAGS)
@pytest.mark.parametrize("value", REFUSED_FLAGS, ids=repr)
def test_hook_flags_refuse_anything_but_a_boolean(method, value):
    with pytest.raises(OkxInvalidInputError) as info:
        hook_call(method, exclude_risk_tokens=value)()
    assert info.value.field == "exclude_risk_tokens"


@pytest.mark.parametrize("value", REFUSED_FLAGS, ids=repr)
def test_trigger_condition_flag_is_strict(value):
    with pytest.raises(OkxInvalidInputError) as info:
        trigger(condition=condition(exclude_risk_tokens=value))
    assert info.value.field == "exclude_risk_tokens"


def test_a_false_word_is_false_on_the_wire(okx_simulator_connection):
    """``exclude_risk_tokens="false"`` asks OKX for risk tokens, as ``False`` does (it acted as
    True when the hook took any non-empty string for True)."""
    hook = OkxHook()
    hook.get_all_token_balances(SEED_ADDRESS, "1", exclude_risk_tokens="false")
    hook.get_all_token_balances(SEED_ADDRESS, "1", exclude_risk_tokens=False)
    first, second = (r.query for r in okx_simulator_connection.requests)
    assert first == second
    assert parse_flag("FALSE", "f") is False and parse_flag(" true ", "f") is True


# --- counts and durations: bounded at construction -----------------------------------------------

COUNTS = [
    ("report", "max_workers", 1, 64),
    ("to_sql", "max_workers", 1, 64),
    ("to_sql", "batch_size", 1, 100_000),
]
REFUSED_COUNTS = [0, -1, 2.5, "4.0", "four", "", True, 10**20, float("nan"), float("inf"), [4]]


@pytest.mark.parametrize(("entry", "field", "least", "most"), COUNTS, ids=[f"{e}.{f}" for e, f, *_ in COUNTS])
@pytest.mark.parametrize("value", REFUSED_COUNTS, ids=repr)
def test_counts_refuse_what_is_not_a_bounded_whole_number(entry, field, least, most, value):
    if value == "" and field == "max_workers":
        assert ENTRY_POINTS[entry](**{field: value}).max_workers is None  # an empty template: default
        return
    with pytest.raises(OkxInvalidInputError) as info:
        ENTRY_POINTS[entry](**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(("entry", "field", "least", "most"), COUNTS, ids=[f"{e}.{f}" for e, f, *_ in COUNTS])
def test_counts_accept_their_bounds_and_rendered_text(entry, field, least, most):
    assert getattr(ENTRY_POINTS[entry](**{field: least}), field) == least
    assert getattr(ENTRY_POINTS[entry](**{field: most}), field) == most
    assert getattr(ENTRY_POINTS[entry](**{field: f" {least + 1} "}), field) == least + 1
    with pytest.raises(OkxInvalidInputError):
        ENTRY_POINTS[entry](**{field: most + 1})


@pytest.mark.parametrize("method", ["get_wallets_token_balances", "get_wallets_total_value"])
@pytest.mark.parametrize("value", REFUSED_COUNTS, ids=repr)
def test_hook_max_workers_is_bounded(method, value, okx_simulator_connection):
    hook = OkxHook()
    call = getattr(hook, method)
    if value == "":
        call([EVM], "1", max_workers=value)  # an empty template: the default
        return
    before = okx_simulator_connection.count()
    with pytest.raises(OkxInvalidInputError) as info:
        call([EVM], "1", max_workers=value)
    assert info.value.field == "max_workers"
    assert okx_simulator_connection.count() == before  # refused before any request


def test_hook_max_workers_as_text_is_parsed(okx_simulator_connection):
    """``max_workers="4"`` raised a raw TypeError at run time."""
    assert OkxHook().get_wallets_total_value([EVM, EVM_B], "1", max_workers="4").keys() == {EVM, EVM_B}


DURATIONS = [
    ("report", "max_snapshot_lag"),
    ("event_trigger", "poll_interval"),
    ("trigger", "poke_interval"),
    ("sensor", "poke_interval"),
    ("sensor", "timeout"),
]
REFUSED_DURATIONS = [
    10**20,
    10**400,
    0,
    -1,
    float("inf"),
    float("nan"),
    "soon",
    "",
    True,
    None,
    [60],
    Decimal("1E+30"),
    datetime.timedelta(days=36600),
]


@pytest.mark.parametrize(("entry", "field"), DURATIONS, ids=[f"{e}.{f}" for e, f in DURATIONS])
@pytest.mark.parametrize("value", REFUSED_DURATIONS, ids=repr)
def test_durations_are_bounded_with_a_named_error(entry, field, value):
    """Never an OverflowError or TypeError: an error naming the parameter (Airflow's own check
    of a sensor's ``poke_interval``/``timeout`` may come first: it names the parameter too)."""
    with pytest.raises((OkxInvalidInputError, AirflowException, ValueError)) as info:
        ENTRY_POINTS[entry](**{field: value})
    if isinstance(info.value, OkxInvalidInputError):
        assert info.value.field == field
    else:
        assert field in str(info.value)


@pytest.mark.parametrize(
    ("entry", "field", "value", "seconds"),
    [
        ("report", "max_snapshot_lag", 3600, 3600),
        ("report", "max_snapshot_lag", "7200", 7200),
        ("report", "max_snapshot_lag", datetime.timedelta(hours=3), 10800),
        ("event_trigger", "poll_interval", "0.5", 0.5),
        ("event_trigger", "poll_interval", Decimal("30"), 30),
        ("trigger", "poke_interval", 0.05, 0.05),
        ("sensor", "poke_interval", datetime.timedelta(minutes=2), 120),
    ],
)
def test_durations_accept_numbers_text_and_timedeltas(entry, field, value, seconds):
    got = getattr(ENTRY_POINTS[entry](**{field: value}), field)
    got = got.total_seconds() if isinstance(got, datetime.timedelta) else got
    assert got == seconds


@pytest.mark.parametrize("value", [10**20, float("inf"), -1, "later", True])
def test_trigger_end_at_is_bounded(value):
    with pytest.raises(OkxInvalidInputError) as info:
        trigger(end_at=value)
    assert info.value.field == "end_at"


@pytest.mark.parametrize("value", ["1.5", "-0.1", "1E+100000000", 0.5])
def test_tolerance_ratio_is_a_ratio(value):
    with pytest.raises(OkxInvalidInputError) as info:
        report(tolerance_ratio=value)
    assert info.value.field == "tolerance_ratio"


# --- amounts: exact through every trigger's serialization ----------------------------------------

AMOUNTS = [
    "1234567890123456789012345678901234567890",  # 40 digits: rounded to 28 before
    "0.000000000000000000000000000000000000000000000000000000000001",
    "12345678901234567890.123456789012345678901234567890123456789",
    "1E+60",
    "0",
]


@pytest.mark.parametrize("threshold", AMOUNTS)
def test_event_trigger_threshold_survives_serialization(threshold):
    made = event_trigger(threshold=threshold)
    classpath, kwargs = made.serialize()
    again = event_trigger(**json.loads(json.dumps(kwargs)))
    assert again.wait.threshold == Decimal(threshold)
    assert again.serialize() == (classpath, kwargs)


@pytest.mark.parametrize("threshold", AMOUNTS)
def test_balance_trigger_threshold_survives_serialization(threshold):
    wait = BalanceCondition.build(address=EVM, chain="1", threshold=threshold)
    made = trigger(condition=wait.to_kwargs())
    _, kwargs = made.serialize()
    again = OkxBalanceTrigger(**json.loads(json.dumps(kwargs)))
    assert BalanceCondition.from_kwargs(again.condition).threshold == Decimal(threshold)


def test_near_equal_event_thresholds_keep_their_own_state():
    a = event_trigger(threshold="1234567890123456789012345678901234567890")
    b = event_trigger(threshold="1234567890123456789012345678901234567891")
    assert a.state_key != b.state_key
    assert a.serialize() != b.serialize()
    same = event_trigger(threshold="1234567890123456789012345678901234567890.000")
    assert same.state_key == a.state_key  # equal values still share (trailing zeros normalised)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("sensor", "threshold"),
        ("event_trigger", "threshold"),
        ("balances", "min_usd_value"),
        ("report", "tolerance_usd"),
        ("report", "tolerance_ratio"),
    ],
)
@pytest.mark.parametrize(
    "value", [1.5, "1E+100000000", "NaN", "-Infinity", "-1", "1,000", True, [1], 10**400]
)
def test_amounts_are_exact_and_bounded(entry, field, value):
    with pytest.raises(OkxInvalidInputError) as info:
        ENTRY_POINTS[entry](**{field: value})
    assert info.value.field == field


# --- wallets: repeated labels and native rendering ----------------------------------------------

REPEATED = [
    f'{{"cold": "{EVM}", "cold": "{EVM_B}"}}',
    f"{{'cold': '{EVM}', 'cold': '{EVM_B}'}}",
    f'{{"cold": "{EVM}", "hot": "{EVM_B}", "cold": "{EVM}"}}',
    f"  {{'cold': '{EVM}', \"cold\": '{EVM_B}'}}",
]


@pytest.mark.parametrize("text", REPEATED)
@pytest.mark.parametrize(
    ("entry", "field"),
    [("balances", "address"), ("report", "wallets"), ("to_sql", "wallets"), (None, "wallets")],
)
def test_a_repeated_label_is_refused_naming_it(text, entry, field):
    with pytest.raises(OkxInvalidInputError) as info:
        parse_wallets(text) if entry is None else ENTRY_POINTS[entry](**{field: text})
    assert info.value.field == field
    assert "cold" in str(info.value) and "twice" in str(info.value)


def test_distinct_labels_still_parse():
    assert parse_wallets(f'{{"cold": "{EVM}", "hot": "{EVM_B}"}}') == {"cold": EVM, "hot": EVM_B}
    assert parse_wallets(f"{{'cold': '{EVM}', 'hot': '{EVM_B}'}}") == {"cold": EVM, "hot": EVM_B}


@pytest.fixture
def native_dag():
    from airflow_provider_okx.glue.compat import AIRFLOW_V3

    if AIRFLOW_V3:
        from airflow.sdk import DAG
    else:
        from airflow import DAG
    return DAG("hostile_native", schedule=None, render_template_as_native_obj=True)


A = "0x00C6c06298d514Db089934071355e5743BF21d60"
B = "0x0000000000000000000000000000000000000abc"

NATIVE_FORMS = [
    ("comma string", f"{A},{B}", [A, B]),
    ("one address", A, [A]),
    ("list", [A, B], [A, B]),
    ("tuple", (A, B), [A, B]),
    ("mapping", {"cold": A, "hot": B}, [A, B]),
    ("json list text", json.dumps([A, B]), [A, B]),
]


@pytest.mark.parametrize(("name", "value", "expected"), NATIVE_FORMS, ids=[f[0] for f in NATIVE_FORMS])
def test_native_rendering_keeps_addresses_as_written(native_dag, name, value, expected):
    """What Jinja renders from ``{{ params.x }}`` under native mode reaches the parser as written."""
    with native_dag:
        op = balances(address="{{ params.x }}", chains="{{ params.c }}")
    context = {"params": {"x": value, "c": [1, 56]}}
    rendered = op.render_template("{{ params.x }}", context)
    assert parse_addresses(rendered) == expected
    assert parse_chains(op.render_template("{{ params.c }}", context)) == ["1", "56"]


@pytest.mark.parametrize(
    "mangled",
    [(0xABC, 0xDEF), 0x28C6C06298D514DB089934071355E5743BF21D60, [A, 12], {"cold": 0xABC}, 1.5e3],
    ids=["tuple of ints", "one int", "list with an int", "mapping to an int", "float"],
)
def test_numbers_where_addresses_belong_say_native_rendering_mangled_them(mangled):
    with pytest.raises(OkxInvalidInputError) as info:
        parse_wallets(mangled)
    assert "render_template_as_native_obj" in str(info.value)
    assert "2748" not in str(info.value)  # the decimal int native mode made is not quoted as the address


# --- chains compared as sets; unpriced tokens never dust; negative data malformed ------------------


def _snapshot(chains: list[str]) -> dict[str, Any]:
    return {
        "addresses": [EVM],
        "chains": chains,
        "fetched_at": "2026-11-24T00:00:00.000Z",
        "exclude_risk_tokens": True,
        "dropped_count": 0,
        "balances": [],
    }


@pytest.mark.parametrize("order", [["56", "1"], ["1", "56"], ["bsc", "ethereum"], [56, 1]])
def test_snapshot_chains_compare_as_sets(order):
    assert rows_from_snapshots(_snapshot(order), [EVM], ["1", "56"], True) == []


@pytest.mark.parametrize("other", [["1"], ["1", "56", "8453"], [], ["middle-earth"]])
def test_other_snapshot_chains_are_still_refused(other):
    with pytest.raises(OkxInvalidInputError) as info:
        rows_from_snapshots(_snapshot(other), [EVM], ["1", "56"], True)
    assert info.value.field == "balances"


@pytest.mark.parametrize("flag", ["true", 1, None])
def test_snapshot_risk_flag_must_be_the_boolean(flag):
    snap = {**_snapshot(["1"]), "exclude_risk_tokens": flag}
    with pytest.raises(OkxInvalidInputError):
        rows_from_snapshots(snap, [EVM], ["1"], True)


def test_min_usd_value_keeps_unpriced_tokens(okx_simulator_connection):
    sim = okx_simulator_connection
    wallet = "0x" + "c3" * 20
    sim.set_balance(wallet, "1", "0x" + "d4" * 20, "5", price="0", symbol="NOPRICE")
    sim.set_balance(wallet, "1", "0x" + "e5" * 20, "0.001", price="1", symbol="DUST")
    sim.set_balance(wallet, "1", "0x" + "f6" * 20, "1000", price="1", symbol="BIG")
    op = balances(address=wallet, min_usd_value="1")
    result = op.execute({})
    symbols = {row["symbol"] for row in result["balances"]}
    assert {"NOPRICE", "BIG"} <= symbols and "DUST" not in symbols
    assert result["unpriced_count"] == sum(
        1 for row in result["balances"] if Decimal(row["token_price"]) == 0
    )
    assert result["unpriced_count"] >= 1


ROW = {"chainIndex": "1", "tokenContractAddress": "", "symbol": "ETH", "balance": "1", "tokenPrice": "2"}
NEGATIVE = [
    ("tokenPrice", "-0.5"),
    ("balance", "-1"),
    ("rawBalance", "-1000"),
    ("transferAmount", "-1"),
    ("availableAmount", "-0.1"),
    ("tokenPrice", "-1E-30"),
]


@pytest.mark.parametrize(("name", "value"), NEGATIVE)
def test_negative_amounts_from_okx_are_malformed(name, value):
    read = results.token_balances("all_token_balances", EVM)
    with pytest.raises(OkxMalformedResponseError) as info:
        read([{"tokenAssets": [{**ROW, name: value}]}])
    assert name in str(info.value)
    assert not is_permanent(info.value)  # retried like the other malformed shapes


@pytest.mark.parametrize("value", ["-1", "-0.000001", "-1E+10"])
def test_negative_total_value_is_malformed(value):
    with pytest.raises(OkxMalformedResponseError, match="totalValue"):
        results.total_value("total_value")([{"totalValue": value}])


def test_negative_zero_and_plain_zero_are_data():
    read = results.token_balances("all_token_balances", EVM)
    (row,) = read([{"tokenAssets": [{**ROW, "balance": "-0", "tokenPrice": "0"}]}])
    assert row.balance == 0 and not row.is_priced


def test_a_negative_price_is_retried_then_read(okx_simulator_connection, no_sleep):
    sim = okx_simulator_connection
    body = json.dumps({"code": "0", "msg": "", "data": [{"tokenAssets": [{**ROW, "tokenPrice": "-3"}]}]})
    from airflow_provider_okx.testing.faults import Fault

    sim.inject(Fault(body=body, times=1, endpoint="all_token_balances"))
    rows = OkxHook().get_all_token_balances(SEED_ADDRESS, "1")
    assert rows and all(row.token_price >= 0 for row in rows)
    assert sim.count(endpoint="all_token_balances") == 2  # the malformed answer, then the retry


# --- the simulator's admin API ---------------------------------------------------------------------


def _admin(sim: Any, method: str, route: str, payload: Any) -> tuple[int, dict[str, Any]]:
    data = json.dumps(payload).encode()  # ensure_ascii: a lone surrogate travels as \ud800
    request = urllib.request.Request(f"{sim.base_url}/_admin/{route}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


LONE = "x\ud800y"
BALANCE = {"address": EVM, "chain_index": "1", "token_address": "", "balance": "1"}
ADMIN_TEXT_CASES = [
    ("PUT", "balances", {**BALANCE, "address": LONE}, "address"),
    ("PUT", "balances", {**BALANCE, "token_address": LONE}, "token_address"),
    ("PUT", "balances", {**BALANCE, "symbol": LONE}, "symbol"),
    ("PUT", "balances", {**BALANCE, "chain_index": LONE}, "chain_index"),
    ("PUT", "balances", {**BALANCE, "balance": LONE}, "balance"),
    ("PUT", "prices", {"chain_index": "1", "token_address": LONE, "price": "1"}, "token_address"),
    ("PUT", "prices", {"chain_index": LONE, "token_address": "", "price": "1"}, "chain_index"),
    ("POST", "faults", {"code": "50011", "msg": LONE}, "msg"),
    ("POST", "faults", {"body": LONE}, "body"),
    ("POST", "faults", {"status": 503, "endpoint": LONE}, "endpoint"),
    ("POST", "faults", {"code": LONE}, "code"),
    ("POST", "faults", {"headers": {"X-A": LONE}}, "headers.X-A"),
    ("POST", "faults", {"headers": {LONE: "v"}}, "field name"),
    ("PUT", "balances", {**BALANCE, LONE: "1"}, "field name"),
]
HUGE = [
    "1E+100000000",
    "1E+61",
    "1" * 81,
    "-1",
    "NaN",
    "Infinity",
    "1E-100000000",
    10**100,
    "0x10",
    "\uff11",
]  # the last: a full-width digit one
ADMIN_AMOUNT_CASES = [
    *[("PUT", "balances", {**BALANCE, "balance": v}, "balance") for v in HUGE],
    *[("PUT", "balances", {**BALANCE, "price": v}, "price") for v in HUGE],
    *[("PUT", "prices", {"chain_index": "1", "token_address": "", "price": v}, "price") for v in HUGE],
]


@pytest.mark.parametrize(
    ("method", "route", "payload", "field"),
    ADMIN_TEXT_CASES + ADMIN_AMOUNT_CASES,
    ids=[f"{m} {r} {f} {json.dumps(p)[:60]}" for m, r, p, f in ADMIN_TEXT_CASES + ADMIN_AMOUNT_CASES],
)
def test_admin_api_refuses_what_it_cannot_serve_and_keeps_serving(
    okx_simulator_connection, method, route, payload, field
):
    sim = okx_simulator_connection
    status, answer = _admin(sim, method, route, payload)
    assert 400 <= status < 500, answer
    assert field in answer["error"]
    # The simulator still serves the wallet (a stored lone surrogate or 1E+100000000 made it 500).
    assert OkxHook().get_all_token_balances(EVM, "1") is not None
    assert sim.faults == [] or route != "faults"


def test_admin_api_still_accepts_ordinary_values(okx_simulator_connection):
    sim = okx_simulator_connection
    status, _ = _admin(sim, "PUT", "balances", {**BALANCE, "balance": "12.5", "price": "2", "symbol": "ÉTH"})
    assert status == 200
    (row,) = [r for r in OkxHook().get_all_token_balances(EVM, "1") if r.token_address == ""]
    assert row.balance == Decimal("12.5") and row.symbol == "ÉTH"


# --- connection ids, text parameters and choices ----------------------------------------------

CONN_IDS = [
    ("balances", "okx_conn_id"),
    ("sensor", "okx_conn_id"),
    ("report", "okx_conn_id"),
    ("report", "output_conn_id"),
    ("to_sql", "okx_conn_id"),
    ("to_sql", "sql_conn_id"),
    ("trigger", "okx_conn_id"),
    ("event_trigger", "okx_conn_id"),
]


@pytest.mark.parametrize(("entry", "field"), CONN_IDS, ids=[f"{e}.{f}" for e, f in CONN_IDS])
@pytest.mark.parametrize("value", ["", "   ", "okx\ndefault", 7, b"okx", ["okx"], "x" * 251], ids=repr)
def test_connection_ids_are_text(entry, field, value):
    with pytest.raises(OkxInvalidInputError) as info:
        ENTRY_POINTS[entry](**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(("entry", "field"), CONN_IDS, ids=[f"{e}.{f}" for e, f in CONN_IDS])
def test_connection_ids_accept_names_and_templates(entry, field):
    assert getattr(ENTRY_POINTS[entry](**{field: " my_okx "}), field) == "my_okx"
    if entry not in ("trigger", "event_trigger"):  # triggers get rendered values only
        assert (
            getattr(ENTRY_POINTS[entry](**{field: "{{ var.value.conn }}"}), field) == "{{ var.value.conn }}"
        )


OTHER_PARAMS = [
    ("sensor", "condition", "=>"),
    ("sensor", "condition", None),
    ("sensor", "metric", "usd"),
    ("sensor", "metric", ["balance"]),
    ("sensor", "token_address", "0x 1"),
    ("sensor", "token_address", 7),
    ("sensor", "chain", "middle-earth"),
    ("sensor", "chain", [1, 56]),  # balance watches one token on one chain
    ("sensor", "address", ""),
    ("sensor", "address", 0x28C6C06298D514DB089934071355E5743BF21D60),
    ("event_trigger", "condition", "!="),
    ("event_trigger", "metric", "price"),
    ("event_trigger", "chain", "solana"),  # an EVM wallet on Solana
    ("event_trigger", "token_address", "\x00"),
    ("balances", "chains", b"1"),
    ("balances", "chains", {"1": "x"}),
    ("balances", "address", {"0x1", "0x2"}),
    ("report", "output_uri", "   "),
    ("report", "output_uri", "file:///tmp/\x07"),
    ("report", "wallets", []),
    ("report", "chains", ""),
    ("to_sql", "table", "okx; DROP TABLE x"),
    ("to_sql", "table", 7),
    ("to_sql", "snapshot_date", "31/12/2025"),
    ("to_sql", "wallets", {1: EVM, "1": EVM_B}),
]


@pytest.mark.parametrize(
    ("entry", "field", "value"), OTHER_PARAMS, ids=[f"{e}.{f}={v!r}"[:60] for e, f, v in OTHER_PARAMS]
)
def test_every_other_parameter_is_checked_at_construction(entry, field, value):
    with pytest.raises(OkxInvalidInputError) as info:
        ENTRY_POINTS[entry](**{field: value})
    assert info.value.field in (field, "chain" if field == "chain" else field, "chains")


HOOK_ARGS = [
    ("get_total_value", {"asset_type": "everything"}, "asset_type"),
    ("get_total_value", {"asset_type": ["all"]}, "asset_type"),
    ("get_all_token_balances", {"token_filter": "2"}, "token_filter"),
    ("get_all_token_balances", {"token_filter": True}, "token_filter"),
]


@pytest.mark.parametrize(("method", "kwargs", "field"), HOOK_ARGS, ids=[f"{m}{k}" for m, k, _ in HOOK_ARGS])
def test_hook_choices_are_checked_before_any_request(method, kwargs, field, okx_simulator_connection):
    with pytest.raises(OkxInvalidInputError) as info:
        getattr(OkxHook(), method)(EVM, "1", **kwargs)
    assert info.value.field == field
    assert okx_simulator_connection.count() == 0


@pytest.mark.parametrize(
    ("tokens", "field"),
    [
        ([("1", 7)], "tokens"),
        ([("1", "0x a")], "tokens"),
        ([("1",)], "tokens"),
        ([("middle-earth", "")], "chains"),
    ],
    ids=repr,
)
def test_hook_token_pairs_are_checked(tokens, field, okx_simulator_connection):
    with pytest.raises(OkxInvalidInputError) as info:
        OkxHook().get_token_balances(EVM, tokens)
    assert info.value.field == field
    assert okx_simulator_connection.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("output_uri", "   "), ("wallets", f'{{"a": "{EVM}", "a": "{EVM_B}"}}'), ("chains", "middle-earth")],
)
def test_report_rendered_input_errors_fail_fast_before_any_request(field, value, okx_simulator_connection):
    """After templating, an input error of the report fails the task at once (no retries spent),
    before a single request."""
    from airflow_provider_okx.glue.compat import AirflowFailException

    op = report(**{field: "{{ params.x }}"})
    setattr(op, field, value)  # what the template rendered
    with pytest.raises(AirflowFailException) as info:
        op.execute({"logical_date": datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)})
    assert info.value.__cause__.field == field
    assert okx_simulator_connection.count() == 0
