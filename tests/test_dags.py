"""End to end: ``airflow dags test`` of real DAGs against the simulator, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from airflow_provider_okx.glue.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

ROOT = Path(__file__).resolve().parent.parent


def airflow_dags_test(dag_id: str, dags_folder: Path, env: dict[str, str], *args: str) -> str:
    airflow = str(Path(sys.executable).with_name("airflow"))
    run_env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder), **env}
    if AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_1_PLUS:
        # Airflow 3.0's `dags test` does not register the DAG's assets, so a task with an asset
        # outlet fails ("inactive assets in its inlets or outlets"); a deployment's
        # dag-processor registers them, and so does `dags reserialize`.
        subprocess.run(
            [airflow, "dags", "reserialize"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    proc = subprocess.run(
        [airflow, "dags", "test", dag_id, *args], env=run_env, capture_output=True, text=True, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def test_mapped_balances_then_deferrable_threshold(okx_simulator, tmp_path):
    sim = okx_simulator
    wallet = "0x" + "a1" * 20
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    sim.set_balance_sequence(wallet, "1", usdt, ["10", "500", "1500"], price="1", symbol="USDT")
    out = tmp_path / "xcom.json"
    env = {"AIRFLOW_CONN_OKX_DEFAULT": sim.connection_json(rate_limit_rps=50), "OKX_TEST_XCOM_OUT": str(out)}
    airflow_dags_test("okx_test_balances_threshold", ROOT / "tests" / "dags", env)

    result = json.loads(out.read_text())
    snapshots = result["balances"]
    assert len(snapshots) == 3
    for snap in snapshots:
        assert set(snap) >= {
            "addresses",
            "chains",
            "fetched_at",
            "exclude_risk_tokens",
            "token_count",
            "total_usd",
            "balances",
        }
        assert snap["chains"] == ["1", "56"]
        assert snap["token_count"] == len(snap["balances"])
        assert Fraction(snap["total_usd"]) == sum(Fraction(r["usd_value"]) for r in snap["balances"])
    assert {s["addresses"][0] for s in snapshots} == {
        "0xEd0C6079229E2d407672a117c22b62064f4a4312",
        wallet,
        "0x" + "b2" * 20,
    }
    deposit = result["deposit"]
    assert deposit["value"] == "1500"
    assert deposit["threshold"] == "1000"
    assert deposit["condition"] == ">="
    assert set(deposit) == {
        "address",
        "chain",
        "token_address",
        "metric",
        "condition",
        "threshold",
        "value",
        "observed_at",
    }
    # The mapped balances task read that wallet first (10, on chains 1 and 56); the sensor's
    # check in the worker saw 500 and deferred; the trigger saw 1500 and fired. Both modes ask
    # the same question: the wallet's all-token-balances on chain 1, every token (filter=1).
    assert sim.count(endpoint="token_balances") == 0
    waits = [
        r
        for r in sim.requests
        if r.endpoint == "all_token_balances" and f"address={wallet}&chains=1&" in r.query
    ]
    assert len(waits) == 2 and all("filter=1" in r.query for r in waits)
