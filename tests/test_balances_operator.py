"""OkxTokenBalancesOperator: XCom contents, ordering, dust, validation, mapping."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from airflow_provider_okx.core.api.errors import OkxAuthError, OkxInvalidInputError, OkxUnavailableError
from airflow_provider_okx.glue.compat import AirflowFailException
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator, parse_addresses
from airflow_provider_okx.testing import SEED_ADDRESS, Fault

WALLET_B = "0x" + "1b" * 20
SOL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def run(**kwargs):
    op = OkxTokenBalancesOperator(task_id="balances", **kwargs)
    return op.execute({})


class LogLines:
    """Stands in for the operator's logger: the lines it was given, whatever level the
    deployment filters at (``make`` runs with WARNING)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: str, *args: object, **_: object) -> None:
        self.lines.append(msg % args if args else msg)

    info = warning = error = debug = exception = _record

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def log_lines(monkeypatch):
    lines = LogLines()
    monkeypatch.setattr(OkxTokenBalancesOperator, "log", property(lambda self: lines))
    return lines


def test_seed_wallet_xcom_shape_and_exact_total(okx_simulator_connection):
    result = run(address=SEED_ADDRESS, chains="ethereum", exclude_risk_tokens=False)
    assert set(result) == {
        "addresses",
        "chains",
        "fetched_at",
        "exclude_risk_tokens",
        "token_count",
        "total_usd",
        "min_usd_value",
        "dropped_count",
        "unpriced_count",
        "balances",
    }
    assert result["addresses"] == [SEED_ADDRESS]
    assert result["chains"] == ["1"]
    assert result["token_count"] == 31 == len(result["balances"])
    assert result["fetched_at"].endswith("Z") and len(result["fetched_at"]) == 24
    exact = sum(Fraction(row["balance"]) * Fraction(row["token_price"]) for row in result["balances"])
    assert Fraction(result["total_usd"]) == exact
    assert all(isinstance(row["balance"], str) for row in result["balances"])
    values = [Decimal(row["usd_value"]) for row in result["balances"]]
    assert values == sorted(values, reverse=True)


def test_identical_data_gives_identical_rows(okx_simulator_connection):
    first = run(address=[WALLET_B, SEED_ADDRESS], chains="1,56")
    second = run(address=[WALLET_B, SEED_ADDRESS], chains="1,56")
    assert first["balances"] == second["balances"]
    keys = [(r["address"], int(r["chain_index"])) for r in first["balances"]]
    assert keys == sorted(keys)


def test_min_usd_value_drops_dust_and_says_so(okx_simulator_connection):
    everything = run(address=SEED_ADDRESS, chains=1, exclude_risk_tokens=False)
    result = run(address=SEED_ADDRESS, chains=1, exclude_risk_tokens=False, min_usd_value="1000000")
    # A token OKX has no price for is never dust: kept, and counted as unpriced.
    unpriced = [r for r in everything["balances"] if Decimal(r["token_price"]) == 0]
    kept = [r for r in everything["balances"] if Decimal(r["usd_value"]) >= 1000000 or r in unpriced]
    assert result["token_count"] == len(kept) > len(unpriced) > 0
    assert result["unpriced_count"] == len(unpriced)
    assert result["dropped_count"] == 31 - len(kept) > 0
    assert Fraction(result["total_usd"]) == sum(Fraction(r["usd_value"]) for r in kept)
    assert result["min_usd_value"] == "1000000"


def test_each_address_gets_only_its_family_chains(okx_simulator_connection):
    result = run(address=[WALLET_B, SOL], chains="ethereum,solana")
    sim = okx_simulator_connection
    sent = {r.query for r in sim.requests if r.endpoint == "all_token_balances"}
    assert any("chains=1&" in q and WALLET_B in q for q in sent)
    assert any("chains=501&" in q and SOL in q for q in sent)
    assert {r["chain_index"] for r in result["balances"]} <= {"1", "501"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": [], "chains": "1"}, "address"),
        ({"address": "", "chains": "1"}, "address"),
        ({"address": "0xnope", "chains": "1"}, "address"),
        ({"address": SEED_ADDRESS, "chains": "middle-earth"}, "chains"),
        ({"address": SEED_ADDRESS, "chains": "1", "min_usd_value": "-1"}, "min_usd_value"),
        ({"address": SEED_ADDRESS, "chains": "1", "min_usd_value": 0.5}, "min_usd_value"),
    ],
)
def test_bad_input_fails_at_construction(kwargs, field):
    with pytest.raises(OkxInvalidInputError) as info:
        OkxTokenBalancesOperator(task_id="t", **kwargs)
    assert info.value.field == field


def test_templated_values_are_checked_at_execute_and_fail_without_retries(okx_simulator_connection):
    op = OkxTokenBalancesOperator(task_id="t", address="{{ params.wallet }}", chains="1")
    op.address = "not-an-address"  # what rendering produced
    with pytest.raises(AirflowFailException, match="address") as info:
        op.execute({})
    assert isinstance(info.value.__cause__, OkxInvalidInputError)
    assert info.value.__cause__.field == "address"
    assert okx_simulator_connection.count() == 0


def test_address_with_no_chain_of_its_family_fails_at_construction(okx_simulator_connection):
    with pytest.raises(OkxInvalidInputError, match="none of these chains") as info:
        run(address=SOL, chains="1,56")
    assert info.value.field == "chains"
    assert okx_simulator_connection.count() == 0


def test_one_wallet_written_twice_is_fetched_and_counted_once(okx_simulator_connection):
    sim = okx_simulator_connection
    once = run(address=SEED_ADDRESS, chains=1, exclude_risk_tokens=False)
    sim.clear_requests()
    twice = run(
        address=[SEED_ADDRESS, SEED_ADDRESS.lower(), f" {SEED_ADDRESS.upper().replace('0X', '0x')} "],
        chains=1,
        exclude_risk_tokens=False,
    )
    assert twice["addresses"] == [SEED_ADDRESS]  # the first spelling given is kept
    assert sim.count(endpoint="all_token_balances") == 1
    assert twice["total_usd"] == once["total_usd"]
    assert twice["token_count"] == once["token_count"] == 31
    assert {row["address"] for row in twice["balances"]} == {SEED_ADDRESS}


def test_base58_spellings_are_two_wallets(okx_simulator_connection):
    other = "9w" + SOL[2:]  # same letters, one in another case: another Solana wallet
    result = run(address=[SOL, other], chains="solana")
    assert result["addresses"] == [SOL, other]
    assert okx_simulator_connection.count(endpoint="all_token_balances") == 2


def test_labelled_wallets_name_both_labels_of_one_wallet():
    with pytest.raises(OkxInvalidInputError) as info:
        OkxTokenBalancesOperator(
            task_id="t", address={"hot": SEED_ADDRESS, "cold": SEED_ADDRESS.lower()}, chains=1
        )
    assert info.value.field == "address"
    assert "'hot'" in str(info.value) and "'cold'" in str(info.value)


def test_signature_errors_fail_the_task_at_once(okx_simulator, monkeypatch):
    conn = json.loads(okx_simulator.connection_json(rate_limit_rps=0))
    conn["password"] = "wrong-secret-value"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", json.dumps(conn))
    with pytest.raises(AirflowFailException, match="50113") as info:
        run(address=SEED_ADDRESS, chains=1)
    assert isinstance(info.value.__cause__, OkxAuthError)
    assert info.value.__cause__.code == "50113"
    assert "wrong-secret-value" not in str(info.value)
    assert okx_simulator.count() == 1


def test_unavailable_stays_a_retryable_error(okx_simulator, monkeypatch, no_sleep):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=0, max_retries=1)
    )
    okx_simulator.inject(Fault(status=503, code="50001", times=2))
    with pytest.raises(OkxUnavailableError) as info:
        run(address=SEED_ADDRESS, chains=1)
    assert not isinstance(info.value, AirflowFailException)
    assert info.value.code == "50001" and info.value.http_status == 503


def test_log_names_each_wallet_its_label_tokens_and_exact_total(okx_simulator_connection, log_lines):
    result = run(address={"treasury": SEED_ADDRESS, "ops": WALLET_B}, chains=1, exclude_risk_tokens=False)
    logged = log_lines.text
    seed_rows = [r for r in result["balances"] if r["address"] == SEED_ADDRESS]
    seed_total = sum(Fraction(r["usd_value"]) for r in seed_rows)
    line = next(line for line in logged.splitlines() if f"treasury ({SEED_ADDRESS})" in line)
    assert f"{len(seed_rows)} token(s)" in line
    assert Fraction(line.split("token(s), ")[1].split(" USD")[0]) == seed_total
    assert f"ops ({WALLET_B})" in logged
    assert (
        f"{result['token_count']} token(s) over 2 wallet(s) and 1 chain(s): {result['total_usd']} USD"
        in logged
    )


def test_log_stops_after_twenty_wallets(okx_simulator_connection, log_lines):
    wallets = ["0x" + f"{i:02x}" * 20 for i in range(1, 26)]
    run(address=wallets, chains=1)
    logged = log_lines.text
    assert sum(line.startswith("Wallet ") for line in log_lines.lines) == 20
    assert sum(f"Wallet {w}:" in logged for w in wallets) == 20
    assert "and 5 more wallet(s)" in logged


def test_rendered_list_strings_are_understood():
    assert parse_addresses(f"['{SEED_ADDRESS}', '{WALLET_B}']") == [SEED_ADDRESS, WALLET_B]
    assert parse_addresses(f'["{SEED_ADDRESS}"]') == [SEED_ADDRESS]
    assert parse_addresses(f"{SEED_ADDRESS}, {WALLET_B}") == [SEED_ADDRESS, WALLET_B]
    assert parse_addresses({"hot": SEED_ADDRESS}) == [SEED_ADDRESS]


def test_template_fields_and_mapping():
    assert OkxTokenBalancesOperator.template_fields == ("address", "chains", "min_usd_value", "okx_conn_id")
    from airflow_provider_okx.glue.compat import AIRFLOW_V3

    if AIRFLOW_V3:
        from airflow.sdk import DAG
    else:
        from airflow import DAG
    import pendulum

    with DAG("mapping_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        mapped = OkxTokenBalancesOperator.partial(task_id="m", chains="1", pool="okx_api").expand(
            address=[SEED_ADDRESS, WALLET_B]
        )
    assert mapped.partial_kwargs["pool"] == "okx_api"
