"""Chaos: OKX failing ~30% of requests (5xx, 429, dropped connections; seeded) within the retry
budget gives a report byte-identical to a clean run's (same frozen fetch time)."""

from __future__ import annotations

import datetime
import random

import pendulum
import pytest

from airflow_provider_okx.core.report_time import parse_instant
from airflow_provider_okx.operators import report as report_module
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.testing import SEED_ADDRESS, Fault

WALLETS = {
    "seed": SEED_ADDRESS,
    **{f"evm-{i}": "0x" + f"{i:02x}" * 20 for i in range(1, 31)},
    "sol": "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV",
    "btc": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
}
CHAINS = "ethereum,bsc,base,solana,bitcoin"
FILES = ("balances.csv", "summary.json", "report.html")

FAILURES = (
    lambda: Fault(status=503),  # OKX unavailable (50001)
    lambda: Fault(status=500),  # system error (50026)
    lambda: Fault(status=502, body="<html><body>Bad Gateway</body></html>"),  # the gateway's page
    lambda: Fault(status=429, headers={"Retry-After": "0"}),  # rate limited
    lambda: Fault(drop=True),  # connection dropped without an answer
)


def chaos(seed: int, slots: int, rate: float = 0.3, most_in_a_row: int = 3) -> list[Fault]:
    """One fault or pass-through per request, in the order requests arrive: ``rate`` of them
    fail, never more than ``most_in_a_row`` in a row (the retry budget is 5 per request)."""
    rng = random.Random(seed)
    plan, streak = [], 0
    for _ in range(slots):
        if rng.random() < rate and streak < most_in_a_row:
            plan.append(rng.choice(FAILURES)())
            streak += 1
        else:
            plan.append(Fault())  # answers normally
            streak = 0
    return plan


@pytest.fixture(autouse=True)
def frozen_fetch_time(monkeypatch):
    monkeypatch.setattr(report_module, "utc_now", lambda: parse_instant("2026-11-24T00:05:00Z"))


def run_report(out, workers: int) -> dict[str, bytes]:
    start = pendulum.datetime(2026, 11, 23, tz="UTC")
    context = {"ds": "2026-11-23", "logical_date": start, "data_interval_end": start + datetime.timedelta(1)}
    OkxTreasuryReportOperator(
        task_id="report",
        wallets=WALLETS,
        chains=CHAINS,
        output_uri=str(out),
        exclude_risk_tokens=False,
        max_workers=workers,
    ).execute(context)
    return {name: (out / "2026-11-23" / name).read_bytes() for name in FILES}


@pytest.mark.parametrize(("seed", "workers", "max_retries"), [(7, 1, 5), (11, 1, 5), (23, 4, 10)])
def test_thirty_percent_faults_give_byte_identical_files(
    okx_simulator, monkeypatch, tmp_path, no_sleep, seed, workers, max_retries
):
    sim = okx_simulator
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", sim.connection_json(rate_limit_rps=0, max_retries=max_retries)
    )
    clean = run_report(tmp_path / "clean", workers)
    clean_requests = sim.count()

    plan = chaos(seed, slots=600)
    for fault in plan:
        sim.inject(fault)
    faulty = run_report(tmp_path / "chaos", workers)
    attempts = len(plan) - len(sim.faults)
    failed = sum(fault.answers for fault in plan[:attempts])
    sim.clear_faults()
    print(f"seed {seed}, {workers} worker(s): {failed} of {attempts} attempts failed")

    assert faulty == clean  # every byte of every file
    # The chaos was real: about 30% of the attempts failed, and every one was retried.
    assert attempts == clean_requests + failed
    assert failed >= 12
    assert 0.15 <= failed / attempts <= 0.45
