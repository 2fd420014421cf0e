"""One OKX key's rate shared by every process of a CeleryExecutor deployment: ``make test-celery``
(part of ``make test``).

Started here, each as its own process on 127.0.0.1, and stopped again pass or fail: PostgreSQL
(the metadata database and Celery's ``db+postgresql://`` result backend) and Redis (the Celery
broker, and the ``rate_limit_store`` of the ``okx`` connection) from Debian's packages
(``scripts/ensure-postgres.sh``, ``scripts/ensure-redis.sh``); the OKX simulator refusing more
than 5 requests/s for the key; Airflow's scheduler, dag-processor, triggerer, api-server and two
``airflow celery worker`` processes of 4 slots each, all with one JWT secret and the execution
API URL, as docs/celery.md tells a first deployment.

``okx_celery_rate_budget`` (tests/deployment/celery_dags) maps the balances operator over 8
batches of 20 wallets (160 requests, up to 8 task processes at once) next to 3 deferred balance
sensors polling from the triggerer. The connection says ``rate_limit_rps=5`` and names the
store: the whole key then gets 5 requests/s across every process. The test shows every task
succeeds, the simulator refused nothing (0 answers 429), every wallet was read, and the budget
was used: the requests span at most 1.3 x (requests / 5) + SPAN_SLACK seconds. Without the
store the 429 assertion fails (measured: 152 of 323 requests answered 429, 38 in one second).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deployment.test_real_deployment import ADMIN_PASSWORD, AIRFLOW, Deployment, tail
from tests.postgres_server import find_bindir
from tests.postgres_server import start_server as start_postgres
from tests.postgres_server import stop_server as stop_postgres
from tests.redis_server import RedisServer
from tests.redis_server import find_binary as find_redis

pytestmark = pytest.mark.skipif(
    os.environ.get("OKX_CELERY_TEST") != "1",
    reason="starts a whole CeleryExecutor deployment: run it with `make test-celery`",
)

sys.path.insert(0, str(Path(__file__).with_name("celery_dags")))
import okx_celery_rate_budget as budget_dag  # noqa: E402  (the DAG's wallets and names)

DAG_ID = "okx_celery_rate_budget"
KEY_RATE = 5  # requests/s: the simulator's limit for the key, and the connection's rate_limit_rps
HEADROOM = 1.3  # the span may be this much longer than requests / KEY_RATE ...
SPAN_SLACK = 5.0  # ... plus this many seconds (the first and last task's start-up jitter)
WORKERS = 2
SLOTS = 4
RUN_TIMEOUT = 240  # seconds for the DAG run; the Makefile bounds the whole test too
SIMULATOR = [sys.executable, "-m", "airflow_provider_okx.testing"]


class CeleryDeployment(Deployment):
    """The LocalExecutor deployment of test_real_deployment.py, moved onto Celery and PostgreSQL."""

    def __init__(self, home: Path, outside: Path, database: str, broker: str, store: str) -> None:
        super().__init__(home, outside)
        self.store = store
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).with_name("celery_dags")),
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{database}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(SLOTS),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            }
        )


def worker_argv(n: int) -> list[str]:
    """Two workers on one host: distinct Celery hostnames, no log server (ports would clash)."""
    return [
        AIRFLOW,
        "celery",
        "worker",
        "--concurrency",
        str(SLOTS),
        "--celery-hostname",
        f"okx-worker-{n}@%h",
        "--skip-serve-logs",
    ]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def celery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryDeployment]:
    started = time.monotonic()
    bindir, redis_binary = find_bindir(), find_redis()
    if bindir is None or redis_binary is None:
        message = "run scripts/ensure-postgres.sh and scripts/ensure-redis.sh (Debian's packages)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    # `make test-celery` bounds the run with timeout(1), which sends SIGTERM: stop everything
    # started here then too (pytest runs the fixtures' teardown on an interrupt)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    redis = RedisServer(redis_binary)  # with a password: it must stay out of every log
    pg_root: Path | None = None
    dep: CeleryDeployment | None = None
    try:
        redis.start()
        postgres, pg_root = start_postgres(bindir)
        postgres.query("CREATE DATABASE airflow")
        database = f"{postgres.user}@{postgres.host}:{postgres.port}/airflow"
        # the broker in database 0, the rate budget in database 1 of the same server
        dep = CeleryDeployment(
            tmp_path_factory.mktemp("airflow-home"),
            tmp_path_factory.mktemp("simulator"),
            database,
            redis.url,
            redis.url.rsplit("/", 1)[0] + "/1",
        )
        atexit.register(dep.stop)
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=dep.env, cwd=dep.home, capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        dep.start(
            "simulator",
            [*SIMULATOR, "--port", str(dep.sim_port), "--rate-limit", str(KEY_RATE)],
            log_dir=dep.outside,
        )
        dep.start("api-server", [AIRFLOW, "api-server"])
        dep.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"])
        dep.start("dag-processor", [AIRFLOW, "dag-processor"])
        dep.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"])
        for n in range(1, WORKERS + 1):
            dep.start(f"worker-{n}", worker_argv(n))

        line = dep.wait_for(
            "the simulator's connection line",
            lambda: next(
                (x for x in dep.logs["simulator"].read_text().splitlines() if x.startswith("AIRFLOW_CONN_")),
                None,
            ),
            30,
        )
        dep.connection = json.loads(line.split("=", 1)[1].strip("'"))

        def healthy() -> bool | None:
            health = httpx.get(f"{dep.api}/api/v2/monitor/health", timeout=5).json()
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return True if all(health[p]["status"] == "healthy" for p in parts) else None

        dep.wait_for("every component to report healthy", healthy, 180, every=2)
        for n in range(1, WORKERS + 1):
            log = dep.logs[f"worker-{n}"]
            dep.wait_for(f"worker-{n} to be ready", lambda log=log: "ready." in log.read_text() or None, 120)
        token = httpx.post(
            f"{dep.api}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
        )
        assert token.status_code == 201, token.text
        dep.token = token.json()["access_token"]

        # docs/celery.md: with the store, the pool is a concurrency knob (every slot of both
        # workers), no longer the rate guard
        pool = {"name": budget_dag.POOL, "slots": WORKERS * SLOTS, "description": "OKX API key"}
        dep.call("POST", "/api/v2/pools", pool, (201,))
        conn = dep.connection
        extra = {**conn["extra"], "rate_limit_rps": KEY_RATE, "rate_limit_store": dep.store}
        dep.call(
            "POST",
            "/api/v2/connections",
            {
                "connection_id": "okx_default",
                "conn_type": "okx",
                "host": conn["host"],
                "login": conn["login"],
                "password": conn["password"],
                "extra": json.dumps(extra),
            },
            (201,),
        )
        dep.wait_for(f"{DAG_ID} to be parsed", lambda: dep.call("GET", f"/api/v2/dags/{DAG_ID}"), 180, 2)
        print(f"deployment up in {time.monotonic() - started:.1f} s")
        yield dep
    finally:
        if dep is not None:
            dep.stop()
            atexit.unregister(dep.stop)
        if pg_root is not None:
            stop_postgres(bindir, pg_root)
        redis.close()
        signal.signal(signal.SIGTERM, previous)
        print(f"test wall time (deployment up, run, down): {time.monotonic() - started:.1f} s")


def _requests(dep: Deployment, since: int = 0) -> list[dict[str, Any]]:
    return list(dep.sim("GET", f"/_admin/requests?since={since}")["requests"])


def _polls(dep: Deployment, since: int, wallet: str) -> int:
    return sum(1 for r in _requests(dep, since) if (r["address"] or "").lower() == wallet.lower())


def test_one_key_rate_across_two_celery_workers_and_the_triggerer(celery):
    dep = celery
    usdt = {"chain_index": "1", "token_address": budget_dag.USDT, "price": "1", "symbol": "USDT"}
    for wallet in budget_dag.SENSOR_WALLETS:
        dep.sim("PUT", "/_admin/balances", {**usdt, "address": wallet, "balance": "100"})
    dep.sim("DELETE", "/_admin/requests")  # count this run's requests only

    dep.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    started = time.monotonic()
    run_id = dep.trigger(DAG_ID, {})

    # Every sensor waits in the triggerer and has asked OKX at least once; then the deposits land.
    sensors = [f"wait_for_deposit_{n}" for n in range(len(budget_dag.SENSOR_WALLETS))]
    for task_id, wallet in zip(sensors, budget_dag.SENSOR_WALLETS, strict=True):
        dep.wait_for(
            f"{task_id} to defer and poll",
            lambda t=task_id, w=wallet: (
                True
                if dep.task_instance(DAG_ID, run_id, t)["state"] == "deferred" and _polls(dep, 0, w) >= 1
                else None
            ),
            RUN_TIMEOUT,
        )
    for wallet in budget_dag.SENSOR_WALLETS:
        dep.sim("PUT", "/_admin/balances", {**usdt, "address": wallet, "balance": "1500"})

    # finished either way: the figures are printed before anything is asserted
    state = dep.wait_for(
        f"{DAG_ID} run {run_id} to finish",
        lambda: s if (s := dep.run_state(DAG_ID, run_id)) in ("success", "failed") else None,
        RUN_TIMEOUT,
    )
    took = time.monotonic() - started
    states = dep.states(DAG_ID, run_id)

    requests = [r for r in _requests(dep) if r["endpoint"]]  # OKX's API, not the admin API
    refused = [r for r in requests if r["status"] == 429]
    read = {
        (r["address"] or "").lower()
        for r in requests
        if r["endpoint"] == "all_token_balances" and r["status"] == 200
    }
    times = sorted(r["time"] for r in requests)
    span = times[-1] - times[0]
    bound = HEADROOM * len(requests) / KEY_RATE + SPAN_SLACK
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    failed = sorted(task for task, ti_state in states.items() if ti_state != "success")
    wallets = {w.lower() for w in budget_dag.WALLETS}
    batch = sorted(r["time"] for r in requests if (r["address"] or "").lower() in wallets)
    print(
        f"run {state} in {took:.1f} s, {len(failed)} of {len(states)} tasks not successful {failed}; "
        f"{len(requests)} requests, {len(refused)} answered 429, {len(read & wallets)} of "
        f"{len(wallets)} wallets read; span {span:.1f} s (bound {bound:.1f} s = "
        f"{HEADROOM} x {len(requests)} / {KEY_RATE} + {SPAN_SLACK:.0f}); the balance tasks' requests "
        f"from +{batch[0] - times[0]:.1f} s to +{batch[-1] - times[0]:.1f} s; busiest second "
        f"{busiest} requests (key rate {KEY_RATE})"
    )

    assert len(states) == budget_dag.TASKS + len(sensors), states
    assert failed == [], f"{states}\n{dep.tails()}"
    assert state == "success"
    assert refused == [], f"{len(refused)} requests answered 429 (busiest second: {busiest})"
    assert read >= wallets, sorted(wallets - read)
    assert span <= bound, f"the requests took {span:.1f} s, more than {bound:.1f} s"

    # each mapped task returned its own 20 wallets, read from the one chain
    for index, batch in enumerate(budget_dag.BATCHES):
        xcom = dep.call(
            "GET",
            f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/balances/xcomEntries/return_value"
            f"?map_index={index}&deserialize=true",
        )
        value = xcom["value"]
        value = json.loads(value) if isinstance(value, str) else value
        assert [a.lower() for a in value["addresses"]] == batch, (index, value["addresses"])
        assert value["chains"] == ["1"], value["chains"]

    # both workers ran tasks: Celery logs each task it receives
    for n in range(1, WORKERS + 1):
        log = dep.logs[f"worker-{n}"]
        assert "received" in log.read_text(errors="replace"), tail(log)


def test_every_listening_socket_is_on_loopback_too(celery):
    """The two log servers are not started and nothing else listens beyond 127.0.0.1."""
    import psutil

    listening = []
    for proc in celery.tree():
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        listening += [(proc.pid, proc.name(), s.laddr) for s in sockets if s.status == psutil.CONN_LISTEN]
    exposed = [entry for entry in listening if entry[2].ip not in ("127.0.0.1", "::1")]
    assert exposed == [], exposed


def test_no_secret_in_any_log(celery):
    """The store's and the broker's password, the OKX secret and passphrase: in no file of the
    Airflow home (every service's and task's log), after a run that used them all."""
    from tests.redis_server import PASSWORD

    conn = celery.connection
    needles = [s.encode() for s in (PASSWORD, conn["password"], conn["extra"]["passphrase"])]
    files = [p for p in celery.home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files), files  # the run's task logs are there to scan
    leaks = [(str(p), n.decode()[:3] + "...") for p in files for n in needles if n in p.read_bytes()]
    assert leaks == []
