"""OpenLineage: what the operators and the sensor report as inputs and outputs, with the
openlineage provider installed (the test extra) and without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_okx.core.chains import address_key
from airflow_provider_okx.glue.lineage import OkxRead, okx_namespace, operator_lineage, storage_dataset
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor
from tests.lineage_links_run import DAG_ID, lineage_links_run

pytest.importorskip("airflow.providers.openlineage")

from airflow.providers.common.compat.openlineage import facet

EVM = "0x28C6c06298d514Db089934071355E5743bf21d60"
SOLANA = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
BITCOIN = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"


def completes(events, task_id):
    name = f"{DAG_ID}.{task_id}"
    return [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == name]


def datasets(items):
    return sorted((d["namespace"], d["name"]) for d in items)


def test_run_events_name_okx_wallets_as_inputs_and_the_published_files_as_outputs():
    run = lineage_links_run()
    okx = okx_namespace(run.base_url)
    assert okx.startswith("okx://127.0.0.1:")

    balances = completes(run.events, "balances")
    assert len(balances) == 3  # one per mapped wallet
    assert sorted(datasets(e["inputs"])[0] for e in balances) == sorted(
        [(okx, EVM.lower()), (okx, SOLANA), (okx, BITCOIN)]
    )
    assert all(e["outputs"] == [] for e in balances)
    evm_input = next(e["inputs"][0] for e in balances if e["inputs"][0]["name"] == EVM.lower())
    assert "Ethereum (1), Base (8453)" in evm_input["facets"]["documentation"]["description"]
    assert {f["name"] for f in evm_input["facets"]["schema"]["fields"]} >= {"balance", "usd_value"}

    [wait] = completes(run.events, "wait")
    assert datasets(wait["inputs"]) == [(okx, EVM.lower())]
    assert (
        "token 0xdac17f958d2ee523a2206206994597c13d831ec7"
        in (wait["inputs"][0]["facets"]["documentation"]["description"])
    )

    [report] = completes(run.events, "report")
    assert datasets(report["inputs"]) == sorted([(okx, EVM.lower()), (okx, SOLANA)])
    [day] = [p for p in run.reports.iterdir() if not p.name.startswith(".")]
    published = sorted(("file", str(day / name)) for name in ("balances.csv", "report.html", "summary.json"))
    assert datasets(report["outputs"]) == published
    assert all(Path(name).is_file() for _, name in published)
    # Never a staging or retired key, only the files readers see.
    assert not any("staging" in d["name"] or "retired" in d["name"] for d in report["outputs"])


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("s3://treasury/okx/2026-11-23/report.html", "s3://treasury", "okx/2026-11-23/report.html"),
        ("gs://treasury/okx/2026-11-23/summary.json", "gs://treasury", "okx/2026-11-23/summary.json"),
        ("file:///srv/okx/2026-11-23/balances.csv", "file", "/srv/okx/2026-11-23/balances.csv"),
        ("file://nas01/srv/okx/report.html", "file://nas01", "/srv/okx/report.html"),
        ("/srv/okx/2026-11-23/report.html", "file", "/srv/okx/2026-11-23/report.html"),
    ],
)
def test_storage_datasets_follow_openlineage_naming(uri, namespace, name):
    dataset = storage_dataset(facet, uri)
    assert (dataset.namespace, dataset.name) == (namespace, name)


def test_okx_namespace_is_the_connection_host():
    assert okx_namespace("https://web3.okx.com") == "okx://web3.okx.com"
    assert okx_namespace("https://WEB3.OKX.COM/") == "okx://web3.okx.com"
    assert okx_namespace("http://127.0.0.1:8080") == "okx://127.0.0.1:8080"
    assert okx_namespace(None) == "okx://web3.okx.com"


def test_one_dataset_per_wallet_named_by_its_address_key():
    read = OkxRead(
        base_url="https://web3.okx.com",
        wallets={EVM: ("1", "56"), SOLANA: ("501",)},
    )
    lineage = operator_lineage(read)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("okx://web3.okx.com", EVM.lower()),  # EVM hex: case is only a checksum
        ("okx://web3.okx.com", SOLANA),  # base58: case-sensitive, kept
    ]
    assert address_key(EVM) == EVM.lower()
    assert lineage.outputs == []


def test_balances_operator_reports_what_execute_read(okx_simulator_connection):
    sim = okx_simulator_connection
    op = OkxTokenBalancesOperator(task_id="b", address=[EVM, SOLANA], chains="ethereum,solana,bsc")
    assert op.get_openlineage_facets_on_complete(None) is None  # nothing read yet
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    by_name = {d.name: d for d in lineage.inputs}
    assert set(by_name) == {EVM.lower(), SOLANA}
    assert {d.namespace for d in lineage.inputs} == {okx_namespace(sim.base_url)}
    assert (
        by_name[SOLANA].facets["documentation"].description
        == f"OKX Web3 balances of wallet {SOLANA} on Solana (501)"
    )
    assert "Ethereum (1), BNB Chain (56)" in by_name[EVM.lower()].facets["documentation"].description


def test_sensor_reports_its_rendered_wallet(okx_simulator_connection):
    sensor = OkxBalanceSensor(task_id="w", address=SOLANA, chain="solana", threshold="1", deferrable=False)
    lineage = sensor.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (okx_namespace(okx_simulator_connection.base_url), SOLANA)
    ]


BLOCK_OPENLINEAGE = """
import sys
# Airflow's provider discovery has run by now (importing the operators reads the config); from
# here on every module of the openlineage client and provider is gone, as when not installed.
for name in (
    "openlineage",
    "openlineage.client",
    "airflow.providers.openlineage.extractors",
    "airflow.providers.openlineage.plugins",
    "airflow.providers.common.compat.openlineage",
    "airflow.providers.common.compat.openlineage.facet",
):
    sys.modules[name] = None  # any import of them now raises ImportError
"""


def test_without_the_openlineage_provider_facets_are_none_and_nothing_fails(okx_simulator):
    code = (
        "from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator\n"
        "from airflow_provider_okx.operators.report import OkxTreasuryReportOperator\n"
        "from airflow_provider_okx.sensors.balance import OkxBalanceSensor\n"
        + BLOCK_OPENLINEAGE
        + "from airflow_provider_okx.glue.lineage import operator_lineage\n"
        f"op = OkxTokenBalancesOperator(task_id='b', address={EVM!r}, chains='1')\n"
        "result = op.execute({})\n"
        "assert result['token_count'] > 0\n"
        "assert op.get_openlineage_facets_on_complete(None) is None\n"
        f"s = OkxBalanceSensor(task_id='s', address={EVM!r}, chain=1, threshold='1', deferrable=False)\n"
        "assert s.get_openlineage_facets_on_complete(None) is None\n"
        f"r = OkxTreasuryReportOperator(task_id='r', wallets=[{EVM!r}], chains='1', output_uri='/tmp/x')\n"
        "r.okx_report = {'files': {'report.html': 'file:///tmp/x/report.html'}}\n"
        "assert r.get_openlineage_facets_on_complete(None) is None\n"
        "print('no-openlineage-ok')\n"
    )
    env = {**os.environ, "AIRFLOW_CONN_OKX_DEFAULT": okx_simulator.connection_json(rate_limit_rps=50)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "no-openlineage-ok" in out.stdout


def test_importing_operators_does_not_import_openlineage():
    code = (
        "import sys\n"
        "import airflow_provider_okx.operators.balances, airflow_provider_okx.operators.report\n"
        "import airflow_provider_okx.sensors.balance, airflow_provider_okx.glue.links\n"
        "import airflow_provider_okx.triggers.balance_event\n"
        # Airflow's own provider discovery reads every provider's get_provider_info: not ours.
        "loaded = [m for m in sys.modules if 'openlineage' in m and not m.endswith(\n"
        "    ('providers.openlineage', 'providers.openlineage.get_provider_info'))]\n"
        "assert not loaded, loaded\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
