"""Several processes sharing one API key through the store never exceed the key's rate at the
simulator; without the store, the same processes do (the problem the store solves).

Each worker is a fresh interpreter (``tests/shared_budget_worker.py``), as Airflow 3 runs each
task; the simulator (in this process) enforces the key's rate and records when each request
arrived; ``redis-server`` is started by the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_okx.testing import OkxSimulator
from tests.shared_budget_worker import MARK

REPO = Path(__file__).resolve().parent.parent
RATE = 5
PROCESSES = 4


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    ordered = sorted(times)
    most, j = 0, 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + width:
            j += 1
        most = max(most, j - i)
    return most


def hear(child: subprocess.Popen[str]) -> str:
    """The worker's next line meant for the test (others, such as Airflow's logs, skipped)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(MARK + " "):
            return line[len(MARK) + 1 :].strip()
    raise AssertionError(f"the worker exited ({child.wait()}) without answering")


def run_workers(sim: OkxSimulator, connection: str, requests: int) -> list[dict]:
    env = dict(os.environ, AIRFLOW_CONN_OKX_DEFAULT=connection, PYTHONPATH=str(REPO))
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.shared_budget_worker", str(requests)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert hear(child) == "ready"
        sim.reset()  # forget the warm-up calls, refill the key's bucket
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(hear(child)) for child in children]
        for child in children:
            child.communicate(timeout=300)
            assert child.returncode == 0
        return reports
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.fixture
def limited_simulator():
    sim = OkxSimulator(rate_limit_rps=RATE)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def arrivals(sim: OkxSimulator) -> list[float]:
    return [r.time for r in sim.requests]


def test_processes_sharing_a_key_through_the_store_stay_under_its_rate(limited_simulator, redis_server):
    sim = limited_simulator
    connection = sim.connection_json(rate_limit_rps=RATE, rate_limit_store=redis_server.url)
    reports = run_workers(sim, connection, requests=6)
    assert [r["failed"] for r in reports] == [0] * PROCESSES
    assert sim.count(status=429) == 0
    assert sim.count(status=200) == 6 * PROCESSES
    assert max_in_any_window(arrivals(sim)) <= RATE


def test_without_the_store_the_same_processes_exceed_the_key_rate(limited_simulator):
    sim = limited_simulator
    connection = sim.connection_json(rate_limit_rps=RATE, max_retries=10)
    reports = run_workers(sim, connection, requests=3)
    assert [r["failed"] for r in reports] == [0] * PROCESSES
    # every process paces itself at the key's rate: together they send PROCESSES times it
    assert max_in_any_window(arrivals(sim)) > RATE or sim.count(status=429) > 0
