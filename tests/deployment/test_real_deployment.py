"""The provider on a real Airflow 3 deployment: ``make test-deployment`` (part of ``make test``).

``airflow db migrate``, then the scheduler (LocalExecutor), the dag-processor, the triggerer and
the api-server run as separate processes with their own Airflow home and SQLite database, next
to the OKX simulator as one more process; all of them listen on 127.0.0.1 only. Everything is
driven the way a user drives a deployment: through Airflow's REST API (v2, a JWT from the
simple auth manager) and the simulator's admin API. Everything started here is stopped again,
pass or fail.

To check one more DAG: add its id to ``EXAMPLE_DAGS`` (it is then awaited before the tests
start; each test unpauses its DAG) and write a test with ``deployment.trigger(...)``,
``deployment.wait_for_run(...)`` and friends.
"""

from __future__ import annotations

import atexit
import csv
import datetime
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("OKX_DEPLOYMENT_TEST") != "1",
    reason="starts a whole Airflow deployment: run it with `make test-deployment`",
)

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
EXAMPLE_DAGS = ("okx_treasury_report", "okx_balance_threshold", "okx_deposit_event")
POOL = "okx_api"
POKE_INTERVAL = 5  # the deposit sensor's, through OKX_DEPOSIT_POKE_INTERVAL
# The deposit watcher of okx_deposit_event (an AssetWatcher), through OKX_DEPOSIT_* variables:
# the wallet, its USDT threshold and the seconds between two polls.
WATCHED_ADDRESS = "0x" + "d7" * 20
WATCHED_THRESHOLD = "1000"
POLL_INTERVAL = 2
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
ADMIN_PASSWORD = secrets.token_urlsafe(12)
SIMULATOR = [sys.executable, "-m", "airflow_provider_okx.testing"]

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"({error})"
    return "\n".join(text[-lines:])


class Deployment:
    """The processes, their Airflow home, and the REST calls the tests make."""

    def __init__(self, home: Path, outside: Path) -> None:
        self.home = home
        self.outside = outside  # the simulator's output: it prints the secrets, keep it apart
        self.reports = home / "reports"
        self.api_port = free_port()
        self.sim_port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.argv: dict[str, list[str]] = {}
        self.token = ""
        self.connection: dict[str, Any] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OKX_"))}
        (home / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow_provider_okx" / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # Their log servers bind every interface and have no host setting (Airflow 3.3):
                # they are not started (--skip-serve-logs); on one machine the api-server reads
                # task and trigger logs from the files. Their ports are moved off the defaults.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "OKX_REPORT_URI": f"file://{self.reports}",
                "OKX_DEPOSIT_POKE_INTERVAL": str(POKE_INTERVAL),
                "OKX_DEPOSIT_ADDRESS": WATCHED_ADDRESS,
                "OKX_DEPOSIT_THRESHOLD": WATCHED_THRESHOLD,
                "OKX_DEPOSIT_POLL_INTERVAL": str(POLL_INTERVAL),
            }
        )

    # --- processes ----------------------------------------------------------------------

    def start(self, name: str, argv: list[str], log_dir: Path | None = None) -> subprocess.Popen[bytes]:
        log = (log_dir or self.home) / f"{name}.out"
        self.logs[name] = log
        with log.open("wb") as out:  # each in its own process group: stopped as a whole
            proc = subprocess.Popen(
                argv,
                env=self.env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = proc
        self.argv[name] = argv
        return proc

    def restart(self, name: str) -> None:
        """Stop one service as a deploy does (SIGTERM to its group) and start it again; the new
        one logs to ``<name>-restarted.out``, the old log stays in the failure tails."""
        proc = self.processes.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.start(f"{name}-restarted", self.argv[name])

    def tree(self) -> list[psutil.Process]:
        """Every live process started here, with all their descendants."""
        found: list[psutil.Process] = []
        for proc in self.processes.values():
            try:
                parent = psutil.Process(proc.pid)
                found += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found

    def stop(self) -> None:
        """Stop everything started here: SIGTERM to each process group, then SIGKILL."""
        leftovers = self.tree()
        for proc in reversed(self.processes.values()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.processes.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        for leftover in leftovers:  # anything that left its group (daemonised children)
            try:
                leftover.kill()
            except psutil.NoSuchProcess:
                pass

    def tails(self) -> str:
        parts = [f"--- {name} ({path}) ---\n{tail(path)}" for name, path in self.logs.items()]
        task_logs = sorted((self.home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)[-4:]
        parts += [f"--- task log {p.relative_to(self.home)} ---\n{tail(p, 25)}" for p in task_logs]
        return "\n".join(parts)

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
        """Poll ``check`` until it returns a value; fail with every service's log tail."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise AssertionError(
                        f"{name} exited ({proc.returncode}) while waiting for {what}\n{self.tails()}"
                    )
            try:
                value = check()
            except (httpx.HTTPError, OSError, KeyError, ValueError) as error:
                value, last = None, error
            if value is not None:
                return value
            time.sleep(every)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})\n{self.tails()}"
        )

    # --- REST -----------------------------------------------------------------------------

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.request(method, f"{self.api}{path}", json=body, headers=headers, timeout=30)
        if response.status_code not in expect:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"http://127.0.0.1:{self.sim_port}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def trigger(self, dag_id: str, conf: dict[str, Any], logical_date: str | None = None) -> str:
        body = {"logical_date": logical_date, "conf": conf}
        return str(self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        state = self.wait_for(
            f"{dag_id} run {run_id} to finish",
            lambda: s if (s := self.run_state(dag_id, run_id)) in ("success", "failed") else None,
            timeout,
        )
        assert state == "success", f"{dag_id} {run_id}: {self.states(dag_id, run_id)}\n{self.tails()}"
        return state

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis}

    def task_log_entries(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[Any]:
        """The task's log as the UI shows it (structured entries on Airflow 3)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        return list(self.call("GET", f"{path}?full_content=true")["content"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        entries = self.task_log_entries(dag_id, run_id, task_id, try_number)
        return "\n".join(e.get("event", "") if isinstance(e, dict) else str(e) for e in entries)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = Deployment(tmp_path_factory.mktemp("airflow-home"), tmp_path_factory.mktemp("simulator"))
    atexit.register(dep.stop)  # also on an interpreter exit that skips the fixture's finally
    try:
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=dep.env, cwd=dep.home, capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        dep.start("simulator", [*SIMULATOR, "--port", str(dep.sim_port)], log_dir=dep.outside)
        dep.start("api-server", [AIRFLOW, "api-server"])
        dep.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"])
        dep.start("dag-processor", [AIRFLOW, "dag-processor"])
        dep.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"])

        line = dep.wait_for(
            "the simulator's connection line",
            lambda: next(
                (x for x in dep.logs["simulator"].read_text().splitlines() if x.startswith("AIRFLOW_CONN_")),
                None,
            ),
            30,
        )
        dep.connection = json.loads(line.split("=", 1)[1].strip("'"))
        admin = httpx.get(f"http://127.0.0.1:{dep.sim_port}/_admin/state", timeout=10)
        assert admin.status_code == 200, (
            f"the simulator has no admin API (GET /_admin/state -> {admin.status_code}): "
            "this test steers balances through it while Airflow runs"
        )

        def healthy() -> bool | None:
            health = httpx.get(f"{dep.api}/api/v2/monitor/health", timeout=5).json()
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return True if all(health[p]["status"] == "healthy" for p in parts) else None

        dep.wait_for("every component to report healthy", healthy, 180, every=2)
        token = httpx.post(
            f"{dep.api}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
        )
        assert token.status_code == 201, token.text
        dep.token = token.json()["access_token"]

        # docs, first steps: the pool, then the connection (here through the REST API)
        dep.call("POST", "/api/v2/pools", {"name": POOL, "slots": 4, "description": "OKX API key"}, (201,))
        conn = dep.connection
        dep.call(
            "POST",
            "/api/v2/connections",
            {
                "connection_id": "okx_default",
                "conn_type": "okx",
                "host": conn["host"],
                "login": conn["login"],
                "password": conn["password"],
                "extra": json.dumps({**conn["extra"], "rate_limit_rps": 20}),
            },
            (201,),
        )
        for dag_id in EXAMPLE_DAGS:
            dep.wait_for(
                f"{dag_id} to be parsed", lambda d=dag_id: dep.call("GET", f"/api/v2/dags/{d}"), 180, 2
            )
        yield dep
    finally:
        dep.stop()
        atexit.unregister(dep.stop)


def unpause(dep: Deployment, dag_id: str) -> None:
    dep.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})


# --- the checks -------------------------------------------------------------------------------


def test_connection_test_command_reaches_okx(deployment):
    """docs: `airflow connections test okx_default` is the test that always works."""
    out = subprocess.run(
        [AIRFLOW, "connections", "test", "okx_default"],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Connection success!" in out.stdout, out.stdout[-2000:]


def test_treasury_report_with_a_list_of_wallets_is_exact(deployment):
    dep = deployment
    wallets = ["0xEd0C6079229E2d407672a117c22b62064f4a4312", "0x" + "f6" * 20]
    # Today: the report refuses to stamp today's balances with a past date (max_snapshot_lag).
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    run_id = dep.trigger(
        "okx_treasury_report", {"wallets": wallets, "chains": "ethereum,base"}, f"{today}T00:00:00Z"
    )
    unpause(dep, "okx_treasury_report")
    dep.wait_for_run("okx_treasury_report", run_id)

    day = dep.reports / today
    assert sorted(p.name for p in day.iterdir()) == ["balances.csv", "report.html", "summary.json"]
    summary = json.loads((day / "summary.json").read_text())
    assert summary["wallet_count"] == 2
    assert summary["reconciliation"]["checked"] is True
    assert summary["reconciliation"]["flagged"] == []
    with (day / "balances.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["address"].lower() for r in rows} == {w.lower() for w in wallets}
    for row in rows:  # every value is exactly balance x price
        assert Fraction(row["usd_value"]) == Fraction(row["balance"]) * Fraction(row["token_price"]), row
    counted = [r for r in rows if r["is_priced"] == "true" and r["is_risk_token"] == "false"]
    assert Fraction(summary["total_usd"]) == sum(Fraction(r["usd_value"]) for r in counted)
    log = dep.task_log("okx_treasury_report", run_id, "wallet_addresses")
    assert all(f"Wallet {w}" in log for w in wallets), log[-2000:]


def test_deposit_sensor_waits_in_the_triggerer_and_fires_on_the_crossing(deployment):
    dep = deployment
    dag_id, task_id = "okx_balance_threshold", "wait_for_usdt_deposit"
    address = "0x" + "e5" * 20
    balance = {"address": address, "chain_index": "1", "token_address": USDT, "price": "1", "symbol": "USDT"}
    dep.sim("PUT", "/_admin/balances", {**balance, "balance": "100"})
    unpause(dep, dag_id)
    run_id = dep.trigger(dag_id, {"address": address, "threshold": "1000"})

    ti = dep.wait_for(
        "the sensor to defer",
        lambda: t if (t := dep.task_instance(dag_id, run_id, task_id))["state"] == "deferred" else None,
        180,
    )
    assert ti["trigger"]["classpath"] == "airflow_provider_okx.triggers.balance.OkxBalanceTrigger"
    # The trigger polls in the triggerer: the triggerer starts it and writes its poll lines
    # (logger of the trigger module, not the sensor's) into the task's log, and OKX keeps
    # getting asked while no worker runs the task.
    first = dep.sim("GET", "/_admin/requests?since=0")["next"]
    dep.wait_for(
        "the trigger to poll twice", lambda: _polls(dep, first, address) >= 2 or None, 6 * POKE_INTERVAL
    )
    entries = [e for e in dep.task_log_entries(dag_id, run_id, task_id) if isinstance(e, dict)]
    started = [
        e for e in entries if e.get("filename") == "triggerer_job_runner.py" and "starting" in e["event"]
    ]
    assert started, json.dumps(entries[-10:], indent=1)
    polls = [e for e in entries if e.get("logger") == "airflow_provider_okx.triggers.balance"]
    assert f"balance of {USDT} in wallet {address} on chain 1 is 100 (waiting for >= 1000)" in {
        e["event"] for e in polls
    }
    assert dep.task_instance(dag_id, run_id, task_id)["state"] == "deferred"

    crossed = time.monotonic()
    dep.sim("PUT", "/_admin/balances", {**balance, "balance": "1500.25"})
    dep.wait_for(
        "the sensor to succeed after the crossing",
        lambda: True if dep.task_instance(dag_id, run_id, task_id)["state"] == "success" else None,
        POKE_INTERVAL + 60,
        every=0.5,
    )
    took = time.monotonic() - crossed
    print(f"sensor succeeded {took:.1f} s after the balance crossed (poke interval {POKE_INTERVAL} s)")
    assert took <= POKE_INTERVAL + 20, f"{took:.1f} s"
    dep.wait_for_run(dag_id, run_id, timeout=120)
    payout = dep.task_log(dag_id, run_id, "release_payout")
    assert f"Deposit confirmed: {address} holds 1500.25 USDT" in payout, payout[-2000:]


def test_deposit_event_dag_runs_once_per_crossing(deployment):
    """okx_deposit_event: its AssetWatcher polls in the triggerer and starts one run per crossing
    of the threshold, not one per poll while the balance stays above it."""
    dep = deployment
    dag_id, address = "okx_deposit_event", WATCHED_ADDRESS
    balance = {"address": address, "chain_index": "1", "token_address": USDT, "price": "1", "symbol": "USDT"}
    dep.sim("PUT", "/_admin/balances", {**balance, "balance": "100"})
    asset_id = _asset(dep, "okx_usdt_deposit")["id"]
    # Airflow registers an asset's watchers (and so starts their trigger) when it parses the DAG
    # file while the DAG is unpaused: unpause, then ask for that parse (the UI's "Reparse")
    # rather than wait for the periodic one.
    unpause(dep, dag_id)
    file_token = dep.call("GET", f"/api/v2/dags/{dag_id}/details")["file_token"]
    dep.call("PUT", f"/api/v2/parseDagFile/{file_token}", expect=(201,))
    watchers = dep.wait_for(
        "the asset's watcher to be registered",
        lambda: _asset(dep, "okx_usdt_deposit")["watchers"] or None,
        60,
    )
    assert [w["name"] for w in watchers] == ["okx_usdt_deposit_watcher"], watchers

    def hold(value: str, events: int, what: str) -> None:
        """Set the balance, let the trigger poll it at least twice, expect ``events`` in all."""
        dep.sim("PUT", "/_admin/balances", {**balance, "balance": value})
        mark = _request_mark(dep)
        dep.wait_for(
            f"two polls of the watched wallet at {value} USDT ({what})",
            lambda: _polls(dep, mark, address) >= 2 or None,
            10 * POLL_INTERVAL + 20,
            every=0.5,
        )
        seen = dep.wait_for(
            f"{events} asset event(s) after {what}",
            lambda: e if len(e := _asset_events(dep, asset_id)) >= events else None,
            30,
            every=0.5,
        )
        values = [e["extra"]["payload"]["value"] for e in seen]
        assert len(values) == events, f"{what}: expected {events} event(s) in all, got {values}\n{seen}"

    started = time.monotonic()
    hold("100", 0, "below the threshold at the start")
    hold("1500.25", 1, "the first crossing")
    # that event's run exists before the next crossing: its event is not merged into it
    dep.wait_for("the first run", lambda: _runs(dep, dag_id) or None, 60, every=0.5)
    hold("2000", 1, "staying above")
    hold("10", 1, "falling below")
    hold("1234.5", 2, "the second crossing")
    runs = dep.wait_for("the second run", lambda: r if len(r := _runs(dep, dag_id)) >= 2 else None, 60, 0.5)
    for run in runs:
        dep.wait_for_run(dag_id, run["dag_run_id"], timeout=120)
    print(f"five balance steps, two crossings, two runs in {time.monotonic() - started:.1f} s")

    runs = _runs(dep, dag_id)
    events = _asset_events(dep, asset_id)
    assert len(runs) == 2, runs
    assert [e["extra"]["payload"]["value"] for e in events] == ["1500.25", "1234.5"], events
    by_value = {}
    for run in runs:
        assert run["run_type"] == "asset_triggered", run
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
        consumed = dep.call("GET", path)["asset_events"]
        assert len(consumed) == 1, consumed  # one crossing, one run
        payload = consumed[0]["extra"]["payload"]
        by_value[payload["value"]] = payload
        log = dep.task_log(dag_id, run["dag_run_id"], "on_deposit")
        line = (
            f"Deposit crossing (crossed): {payload['value']} USDT >= {WATCHED_THRESHOLD} "
            f"at {payload['observed_at']} in {payload['address']}"
        )
        assert line in log, log[-2000:]
    assert sorted(by_value) == ["1234.5", "1500.25"], by_value
    first, second = by_value["1500.25"], by_value["1234.5"]
    assert first["address"].lower() == address and first["threshold"] == WATCHED_THRESHOLD, first
    # each event names the observation on the other side of the threshold that came before it
    assert first["previous"]["value"] == "100" and second["previous"]["value"] == "10", by_value
    assert first["observed_at"] < second["observed_at"], by_value

    # Airflow 3.3+: the watcher keeps its side of the threshold in the asset's state store, so a
    # triggerer restart while the balance stays above fires nothing (no second event for the
    # second crossing).
    stored = dep.call("GET", f"/api/v2/assets/{asset_id}/state-store")["asset_state_store"]
    side = {"met": True, "value": "1234.5", "observed_at": second["observed_at"]}
    assert [e["value"] for e in stored] == [side], stored
    restarted = time.monotonic()
    dep.restart("triggerer")
    mark = _request_mark(dep)
    dep.wait_for(
        "the restarted triggerer's watcher to poll three times",
        lambda: _polls(dep, mark, address) >= 3 or None,
        120,
        every=0.5,
    )
    print(f"the restarted triggerer's watcher polled three times {time.monotonic() - restarted:.1f} s later")
    resumed = dep.logs["triggerer-restarted"].read_text(errors="replace")
    assert "Resuming from the stored observation" in resumed, tail(dep.logs["triggerer-restarted"])
    events = _asset_events(dep, asset_id)
    assert [e["extra"]["payload"]["value"] for e in events] == ["1500.25", "1234.5"], events
    assert len(_runs(dep, dag_id)) == 2, _runs(dep, dag_id)


def _asset(dep: Deployment, name: str) -> dict[str, Any]:
    assets = dep.call("GET", f"/api/v2/assets?name_pattern={name}")["assets"]
    matching = [a for a in assets if a["name"] == name]
    assert len(matching) == 1, assets
    return dict(matching[0])


def _asset_events(dep: Deployment, asset_id: int) -> list[dict[str, Any]]:
    """The asset's events, oldest first (the triggerer records them whether or not a run follows)."""
    path = f"/api/v2/assets/events?asset_id={asset_id}&order_by=timestamp&limit=100"
    response = httpx.get(f"{dep.api}{path}", headers={"Authorization": f"Bearer {dep.token}"}, timeout=30)
    if response.status_code == 500:  # a ValueError: wait_for asks again, and names it on a timeout
        raise ValueError(
            f"GET {path} -> 500: Airflow 3.3 fails to list an event while a run it created is still "
            "queued (no start_date yet, apache/airflow#71360)"
        )
    assert response.status_code == 200, f"GET {path} -> {response.status_code}: {response.text[:2000]}"
    return list(response.json()["asset_events"])


def _runs(dep: Deployment, dag_id: str) -> list[dict[str, Any]]:
    return list(dep.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])


def _request_mark(dep: Deployment) -> int:
    """The simulator's request-log position the next request takes."""
    return int(dep.sim("GET", f"/_admin/requests?since={10**12}")["next"])


def _polls(dep: Deployment, since: int, address: str) -> int:
    """Reads of ``address``'s balances since request ``since`` (the trigger reads the wallet's
    all-token-balances, shared with any other trigger of that wallet)."""
    answer = dep.sim("GET", f"/_admin/requests?since={since}")
    return sum(
        1
        for r in answer["requests"]
        if r["endpoint"] == "all_token_balances" and (r["address"] or "").lower() == address.lower()
    )


def test_every_listening_socket_is_on_loopback(deployment):
    listening = []
    for proc in deployment.tree():
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        listening += [(proc.pid, proc.name(), s.laddr) for s in sockets if s.status == psutil.CONN_LISTEN]
    ss = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    ports = {laddr.port for _, _, laddr in listening}
    assert {deployment.api_port, deployment.sim_port} <= ports, (listening, ss)
    exposed = [entry for entry in listening if entry[2].ip not in ("127.0.0.1", "::1")]
    assert exposed == [], f"{exposed}\n{ss}"


def test_no_secret_in_any_log_the_database_or_the_reports(deployment):
    dep = deployment
    found_in = _scanner([dep.connection["password"], dep.connection["extra"]["passphrase"]])
    # the scanner sees a secret where one is: the simulator prints its connection on start
    assert found_in(dep.logs["simulator"].read_bytes())
    leaks = [str(p) for p in dep.home.rglob("*") if p.is_file() and found_in(p.read_bytes())]
    with sqlite3.connect(dep.home / "airflow.db") as db:
        dump = "\n".join(db.iterdump()).encode()
    # what was scanned holds the stored connection and the runs (their XComs, rendered fields)
    assert b"okx_default" in dump and b"okx_treasury_report" in dump and b"okx_balance_threshold" in dump
    if found_in(dump):
        leaks.append("metadata database dump")
    assert leaks == []


def _scanner(values: list[str]) -> Callable[[bytes], bool]:
    needles = [v.encode() for v in values if v]
    assert len(needles) == 2
    return lambda data: any(n in data for n in needles)
