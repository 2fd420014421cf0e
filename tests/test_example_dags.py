"""The example DAGs: they parse with no network and no connection, and run end to end."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_okx.core.inputs import check_output_uri, parse_amount, parse_chains, parse_wallets
from airflow_provider_okx.glue.compat import AIRFLOW_V3
from tests.test_dags import ROOT, airflow_dags_test

EXAMPLES = ROOT / "airflow_provider_okx" / "example_dags"


def test_example_dags_import_without_network_or_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_OKX_DEFAULT", raising=False)
    code = (
        "import socket, sys\n"
        "def deny(*a, **k): raise RuntimeError('network at parse time')\n"
        "socket.socket.connect = deny\n"
        "from airflow.models.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(EXAMPLES)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(sorted(bag.dag_ids))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    expected = ["okx_balance_threshold", "okx_month_end_close", "okx_report_consumer", "okx_treasury_report"]
    if AIRFLOW_V3:  # AssetWatcher (event-driven scheduling) is Airflow 3 only
        expected = sorted([*expected, "okx_deposit_event"])
    assert out.stdout.strip().splitlines()[-1] == str(expected)


@pytest.fixture
def okx_api_pool():
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "pools", "set", "okx_api", "8", "OKX API key"], check=True, capture_output=True)


def test_treasury_report_dag_end_to_end(okx_simulator, okx_api_pool, tmp_path):
    sim = okx_simulator
    output = tmp_path / "reports"
    env = {
        "AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50),
        "OKX_REPORT_URI": f"file://{output}",
    }
    # Today: the report refuses to stamp today's balances with a past date (max_snapshot_lag).
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    airflow_dags_test("okx_treasury_report", EXAMPLES, env, today)
    day = output / today
    assert sorted(p.name for p in day.iterdir()) == ["balances.csv", "report.html", "summary.json"]
    summary = json.loads((day / "summary.json").read_text())
    assert summary["wallet_count"] == 3
    assert summary["reconciliation"]["checked"] is True
    assert summary["reconciliation"]["flagged"] == []
    html = (day / "report.html").read_text()
    ET.fromstring(html.split("\n", 1)[1] if html.startswith("<!DOCTYPE") else html)
    assert "<svg" in html and "<script" not in html
    # The report aggregated the mapped snapshots: balances were fetched once per wallet.
    assert sim.count(endpoint="all_token_balances") == 3
    assert sim.count(endpoint="total_value") == 3
    # CSV decimals are exact
    import csv

    with (day / "balances.csv").open() as f:
        rows = list(csv.DictReader(f))
    total = sum(
        Fraction(r["usd_value"]) for r in rows if r["is_priced"] == "true" and r["is_risk_token"] == "false"
    )
    assert Fraction(summary["total_usd"]) == total
    assert all(Decimal(r["balance"]) == Decimal(r["balance"].strip()) for r in rows)
    # The same run loaded the day's snapshot into the default warehouse, an embedded SQLite file
    # beside the reports (warehouse_load, from the mapped snapshots: no request of its own).
    from airflow_provider_okx.transfers.okx_to_sql import COLUMNS

    with sqlite3.connect(output / "warehouse.sqlite") as conn:
        loaded = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM okx_balances").fetchall()
    assert len(loaded) == len(rows) > 31
    assert {r[COLUMNS.index("snapshot_date")] for r in loaded} == {today}
    assert {r[COLUMNS.index("wallet_label")] for r in loaded} == {"treasury-cold", "treasury-hot", "payroll"}
    assert sum(Fraction(r[COLUMNS.index("usd_value")]) for r in loaded) == sum(
        Fraction(r["usd_value"]) for r in rows
    )


def test_treasury_report_takes_a_list_of_addresses(okx_simulator, okx_api_pool, tmp_path):
    """Triggered with ``{"wallets": ["0x...", "0x..."]}``: each wallet is labelled by its address."""
    sim = okx_simulator
    wallets = ["0x" + "c3" * 20, "0x" + "d4" * 20]
    output = tmp_path / "reports"
    env = {
        "AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50),
        "OKX_REPORT_URI": f"file://{output}",
    }
    conf = json.dumps({"wallets": wallets, "chains": [1, 8453]})  # chains as a list: it was refused
    # Tomorrow (00:00 UTC is less than a day ahead, so not stale), a run of its own: today's is
    # the other test's.
    tomorrow = (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)).isoformat()
    log = airflow_dags_test("okx_treasury_report", EXAMPLES, env, tomorrow, "--conf", conf)
    summary = json.loads((output / tomorrow / "summary.json").read_text())
    assert summary["wallet_count"] == 2
    assert sim.count(endpoint="all_token_balances") == 2
    for address in wallets:
        assert f"Wallet {address}" in log
    with (output / tomorrow / "balances.csv").open() as f:
        import csv

        assert {row["address"].lower() for row in csv.DictReader(f)} == set(wallets)


def _example_dag(dag_id: str):
    """The ``dag`` object of an example DAG file, imported as the DAG processor would."""
    spec = importlib.util.spec_from_file_location(f"example_{dag_id}", EXAMPLES / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def _param(dag_id: str, name: str):
    return _example_dag(dag_id).params.get_param(name)


@pytest.mark.parametrize(
    "wallets",
    [
        ["0xEd0C6079229E2d407672a117c22b62064f4a4312"],
        {"cold": "0xEd0C6079229E2d407672a117c22b62064f4a4312"},
    ],
)
def test_wallets_param_accepts_a_list_or_labels(wallets):
    assert _param("okx_treasury_report", "wallets").resolve(value=wallets) == wallets


@pytest.mark.parametrize(
    ("wallets", "rule"),
    [
        ([], "minItems"),
        ({}, "minProperties"),
        (7, "type"),  # a comma-separated string is accepted now (the operators take it)
        ("", "minLength"),
        ([7], "type' in schema['items"),
    ],
)
def test_wallets_param_refuses_what_is_not_wallets(wallets, rule):
    param = _param("okx_treasury_report", "wallets")
    # the class the running Airflow's Param raises (core's before 3.2, the SDK's since)
    error = sys.modules[type(param).__module__].ParamValidationError
    with pytest.raises(error, match=re.escape(f"Failed validating '{rule}")):
        param.resolve(value=wallets)


@pytest.mark.parametrize("dag_id", ["okx_treasury_report", "okx_balance_threshold", "okx_month_end_close"])
def test_example_dags_tell_how_to_create_their_pool(dag_id):
    """Airflow never starts a task in a missing pool: the DAG page says so before the first run."""
    dag = _example_dag(dag_id)
    pools = {task.pool for task in dag.tasks} - {"default_pool"}
    assert pools == {"okx_api"}
    assert 'airflow pools set okx_api 4 "OKX API key"' in dag.doc_md
    assert "okx_api" in dag.description


def test_balance_threshold_dag_end_to_end(okx_simulator):
    sim = okx_simulator
    address = "0x28c6c06298d514db089934071355e5743bf21d60"
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    sim.set_balance_sequence(address, "1", usdt, ["100", "250000.5"], price="1", symbol="USDT")
    env = {"AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50)}
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "pools", "set", "okx_api", "8", "OKX"],
        check=True,
        capture_output=True,
    )
    output = airflow_dags_test("okx_balance_threshold", EXAMPLES, env)
    assert f"Deposit confirmed: {address} holds 250000.5 USDT (token {usdt} on chain" in output
    # The sensor's check in the worker saw 100 and deferred; the trigger saw 250000.5. Both
    # read the wallet's all-token-balances (the same question in both modes).
    assert sim.count(endpoint="token_balances") == 0
    assert sim.count(endpoint="all_token_balances") == 2


# --- every Param accepts every form its operator documents ------------------------------------------

EVM_A = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
EVM_B = "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063"
PARAM_FORMS: dict[tuple[str, str], list[Any]] = {
    ("okx_treasury_report", "chains"): [
        [1, 56, 8453],
        ["ethereum", "base"],
        ["1", 56],
        "ethereum,bsc,base",
        "1,56",
        "8453",
        1,
    ],
    ("okx_treasury_report", "wallets"): [
        [EVM_A, EVM_B],
        {"cold": EVM_A, "hot": EVM_B},
        f"{EVM_A},{EVM_B}",
        EVM_A,
    ],
    ("okx_treasury_report", "output_uri"): ["file:///tmp/okx-reports", "/tmp/okx-reports", "s3://bucket/okx"],
    ("okx_balance_threshold", "address"): [EVM_A, EVM_B],
    ("okx_balance_threshold", "threshold"): ["250000", 250000, "0.000001", "1E+3"],
    ("okx_month_end_close", "chains"): [[1, 8453], ["ethereum", "base"], "ethereum,base", "1,8453", 1],
    ("okx_month_end_close", "wallets"): [
        [EVM_A, EVM_B],
        {"cold": EVM_A, "hot": EVM_B},
        f"{EVM_A},{EVM_B}",
        EVM_A,
    ],
    ("okx_month_end_close", "output_uri"): ["file:///tmp/okx-reports", "/tmp/okx-reports", "s3://bucket/okx"],
    ("okx_month_end_close", "tolerance_usd"): ["1", "0.01", "0"],
}
PARSERS = {
    "chains": lambda v: parse_chains(v),
    "chain": lambda v: parse_chains(v),
    "wallets": lambda v: parse_wallets(v),
    "address": lambda v: parse_wallets(v),
    "output_uri": lambda v: check_output_uri(v),
    "threshold": lambda v: parse_amount(v, "threshold"),
}


def _param_cases() -> list[tuple[str, str, Any]]:
    return [(dag_id, name, form) for (dag_id, name), forms in PARAM_FORMS.items() for form in forms]


def test_every_example_param_has_its_forms_listed():
    """A Param added to an example DAG must be listed above with the forms its operator takes."""
    for path in sorted(EXAMPLES.glob("okx_*.py")):
        dag_id = path.stem
        if dag_id == "okx_deposit_event" and not AIRFLOW_V3:
            continue
        for name in _example_dag(dag_id).params:
            assert (dag_id, name) in PARAM_FORMS, f"{dag_id}: Param {name!r} has no forms in PARAM_FORMS"


@pytest.mark.parametrize(("dag_id", "name", "form"), _param_cases(), ids=lambda v: json.dumps(v)[:40])
def test_example_params_accept_every_documented_form(dag_id, name, form):
    """The Param validates the form (as the trigger form and ``--conf`` do), and every task of the
    DAG that templates this Param reads what Jinja renders from it (native mode included)."""
    import copy

    dag = _example_dag(dag_id)
    params = copy.deepcopy(dag.params)
    params[name] = form  # validates against the Param's schema
    resolved = params.validate()
    assert resolved[name] == form
    template = "{{ params." + name + " }}"
    checked = 0
    for task in dag.tasks:
        for field in getattr(task, "template_fields", ()):
            if getattr(task, field, None) == template and field in PARSERS:
                rendered = task.render_template(template, {"params": resolved})
                PARSERS[field](rendered)
                checked += 1
    if name == "wallets":  # the task that lists the wallets for the mapped fetch
        assert parse_wallets(form)
        checked += 1
    if name == "tolerance_usd":  # the month-end alert task reads it with the same parser
        assert parse_amount(form, "tolerance_usd") >= 0
        checked += 1
    assert checked, f"no task of {dag_id} reads params.{name}"


@pytest.mark.parametrize(
    ("dag_id", "name", "form"),
    [
        ("okx_treasury_report", "chains", 1.5),
        ("okx_treasury_report", "chains", []),
        ("okx_treasury_report", "chains", ""),
        ("okx_treasury_report", "wallets", []),
        ("okx_treasury_report", "wallets", {}),
        ("okx_balance_threshold", "threshold", 0.1),
    ],
    ids=repr,
)
def test_example_params_refuse_what_no_operator_takes(dag_id, name, form):
    import copy

    dag = _example_dag(dag_id)
    params = copy.deepcopy(dag.params)
    with pytest.raises(Exception, match=name):  # noqa: PT012 (setting validates on some versions)
        params[name] = form
        params.validate()


def test_month_end_close_dag_end_to_end(okx_simulator, okx_api_pool, tmp_path):
    """Two closes: the first has nothing to roll forward from; before the second, the wallets
    move (one transfer hidden from the history): the second loads the month's transactions,
    rolls forward (every balance explained but the hidden one, exactly) and its alert fails."""
    sim = okx_simulator
    hot = "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063"
    output = tmp_path / "close"
    env = {
        "AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50),
        "OKX_CLOSE_URI": f"file://{output}",
        # explicit: importing an example DAG in this process (another test) sets its default in
        # os.environ, a SQLite file under /tmp that other runs (other Airflow legs) share
        "OKX_WAREHOUSE_CONN_ID": "okx_close_warehouse",
        "AIRFLOW_CONN_OKX_CLOSE_WAREHOUSE": json.dumps(
            {"conn_type": "sqlite", "host": str(output / "warehouse.sqlite")}
        ),
    }
    now = datetime.datetime.now(datetime.timezone.utc)
    month_ago = now - datetime.timedelta(days=35)
    for days in range(0, 35, 5):  # the last weeks' history, some of it in the closed month
        sim.add_transaction(hot, "1", "", "0.01", "in", time=month_ago + datetime.timedelta(days=days))
    today = now.date().isoformat()
    airflow_dags_test("okx_month_end_close", EXAMPLES, env, today)
    first = json.loads((output / today / "summary.json").read_text())
    assert first["roll_forward"] is None and first["valuation"]["mode"] == "cutoff"

    sim.add_transaction(hot, "1", "", "0.25", "out", fee="0.00042")
    hidden = sim.add_transaction(hot, "8453", "", "0.5", "in")
    sim.hide_transaction(hot, "8453", hidden.tx_hash)
    tomorrow = (now.date() + datetime.timedelta(days=1)).isoformat()
    airflow = str(Path(sys.executable).with_name("airflow"))
    run_env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES), **env}
    proc = subprocess.run(
        [airflow, "dags", "test", "okx_month_end_close", tomorrow],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    flat = " ".join(log.split())  # Airflow 3.0 prints the exception wrapped at the terminal's width
    assert "balance(s) changed by more than their transactions explain" in flat, log[-6000:]
    second = json.loads((output / tomorrow / "summary.json").read_text())
    section = second["roll_forward"]
    assert section["opening_date"] == today
    (difference,) = [row for row in section["rows"] if row["status"] != "reconciled"]
    assert (difference["wallet_label"], difference["chain_index"], difference["token_address"]) == (
        "treasury-hot",
        "8453",
        "",
    )
    assert difference["unexplained"] == "0.5"  # exactly the hidden transfer
    hot_eth = next(
        r
        for r in section["rows"]
        if r["wallet_label"] == "treasury-hot" and r["chain_index"] == "1" and not r["token_address"]
    )
    assert (hot_eth["outflow"], hot_eth["fees"], hot_eth["status"]) == ("0.25", "0.00042", "reconciled")
    # The warehouse holds the closed month's transactions, each once.
    with sqlite3.connect(output / "warehouse.sqlite") as conn:
        stored = conn.execute("SELECT tx_time, movement_id FROM okx_transactions").fetchall()
    assert stored and len({movement for _, movement in stored}) == len(stored)
    assert len({tx_time[:7] for tx_time, _ in stored}) == 1  # one calendar month
