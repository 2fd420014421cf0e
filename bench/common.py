"""What every figure shares: results, statistics, the simulator in another process, the CLI."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def setup_environment() -> None:
    """Quiet Airflow, and its migrated home when the Makefile did not name one."""
    home = REPO / ".airflow" / "af3"
    if "AIRFLOW_HOME" not in os.environ and home.is_dir():
        os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


# --- results ------------------------------------------------------------------------------


@dataclass
class Goal:
    """One row of the table."""

    measured: str
    goal: str
    holds: bool | None
    """``None``: not measured (skipped or failed)."""


@dataclass
class FigureResult:
    figure: str
    goals: list[Goal] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def goal(self, measured: str, goal: str, holds: bool | None) -> None:
        self.goals.append(Goal(measured, goal, holds))

    def detail(self, line: str) -> None:
        self.details.append(line)
        print(f"  {line}", file=sys.stderr, flush=True)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FigureResult:
        return cls(
            figure=data["figure"],
            goals=[Goal(**g) for g in data["goals"]],
            details=list(data["details"]),
            data=dict(data.get("data") or {}),
        )


def figure_main(
    measure: Callable[[argparse.Namespace], FigureResult],
    description: str,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Entry point of a figure module: measure, then write the result as JSON.

    :param arguments: adds the figure's own options to the parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", metavar="OUT", help="write the result here (default: print it)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the hot loop")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (development only)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="smallest sizes, a few seconds: proves the figure runs (make test); numbers mean nothing",
    )
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args()
    setup_environment()
    result = measure(args)
    text = json.dumps(result.to_json(), indent=2)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)


def size(args: argparse.Namespace, full: Any, quick: Any, smoke: Any) -> Any:
    """The figure's size for this run: ``smoke`` under ``--smoke``, ``quick`` under ``--quick``,
    else ``full``. Every figure picks its counts, durations and repeats through this."""
    if getattr(args, "smoke", False):
        return smoke
    if getattr(args, "quick", False):
        return quick
    return full


# --- statistics ---------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def spread(values: Sequence[float], fmt: str = ".3g") -> str:
    """``min..max`` of a series, for the detail lines."""
    return f"{min(values):{fmt}}..{max(values):{fmt}}"


def rotations(names: Sequence[str], rounds: int) -> Iterator[list[str]]:
    """Each round's order: rotate, so no contender always runs first (or last)."""
    for r in range(rounds):
        k = r % len(names)
        yield list(names[k:]) + list(names[:k])


# --- the simulator as a command (figure 1) ------------------------------------------------


@dataclass
class CliSimulator:
    process: subprocess.Popen[str]
    base_url: str
    connection: dict[str, Any]

    def connection_json(self, **extra: Any) -> str:
        conn = json.loads(json.dumps(self.connection))
        conn["extra"].update(extra)
        return json.dumps(conn)


@contextmanager
def cli_simulator(*args: str, startup_timeout: float = 60.0) -> Iterator[CliSimulator]:
    """``python -m airflow_provider_okx.testing --port 0 ARGS`` in a subprocess, on loopback.

    Parses the two lines it prints (its URL, then ``AIRFLOW_CONN_OKX_DEFAULT='...'``) and stops
    it with SIGTERM (then SIGKILL) on exit.
    """
    command = [sys.executable, "-m", "airflow_provider_okx.testing", "--host", LOOPBACK, "--port", "0"]
    process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert process.stdout is not None
        stdout = process.stdout
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(
            target=lambda: [lines.put(line.strip()) for line in stdout], daemon=True, name="sim-stdout"
        )
        reader.start()
        banner: list[str] = []
        deadline = time.monotonic() + startup_timeout
        while len(banner) < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (process.poll() is not None and lines.empty()):
                raise RuntimeError(f"the simulator did not start: {banner!r}")
            try:
                banner.append(lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        if not banner[0].startswith("OKX simulator listening on "):
            raise RuntimeError(f"unexpected simulator banner: {banner[0]!r}")
        base_url = banner[0].rsplit(" ", 1)[1]
        name, _, value = banner[1].partition("=")
        if name != "AIRFLOW_CONN_OKX_DEFAULT":
            raise RuntimeError(f"unexpected simulator line: {banner[1]!r}")
        connection = json.loads(value.strip().strip("'"))
        yield CliSimulator(process, base_url, connection)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# --- the simulator in another process, with its request log (figures 2 and 4) ------------


def _serve(conn: Any, options: dict[str, Any]) -> None:
    """Child process: run an :class:`OkxSimulator` and answer commands on ``conn``."""
    from airflow_provider_okx.testing import OkxSimulator

    sim = OkxSimulator(LOOPBACK, 0, **options)
    sim.start()
    try:
        conn.send({"base_url": sim.base_url, "connection": json.loads(sim.connection_json())})
        while True:
            try:
                if not conn.poll(1.0):
                    continue
                command, argument = conn.recv()
            except (EOFError, OSError):  # the bench process is gone: stop too
                return
            if command == "stop":
                conn.send(None)
                return
            if command == "set":
                for name, value in argument.items():
                    setattr(sim, name, value)
                conn.send(None)
            elif command == "reset":
                sim.reset()
                conn.send(None)
            elif command == "stats":
                with sim._log_lock:
                    records = list(sim.requests)
                conn.send(
                    {
                        "total": len(records),
                        "by_status": dict(Counter(str(r.status) for r in records)),
                        "by_endpoint": dict(Counter(str(r.endpoint) for r in records)),
                        "errors": len(sim.errors),
                    }
                )
            else:
                conn.send(f"unknown command {command!r}")
    finally:
        sim.stop()


class SimProcess:
    """An :class:`~airflow_provider_okx.testing.OkxSimulator` in a child process.

    The bench process stays the only client in its own process (so its CPU time and memory are
    the client's alone), and still reads the simulator's request log: :meth:`stats` counts
    answers by HTTP status and by endpoint.
    """

    def __init__(self, **options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True, name="okx-sim")
        self.base_url = ""
        self.connection: dict[str, Any] = {}

    def __enter__(self) -> SimProcess:
        self._process.start()
        info = self._call_raw(timeout=60)
        self.base_url, self.connection = info["base_url"], info["connection"]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("stop", timeout=15)
        except Exception:
            pass
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _call_raw(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise TimeoutError("the simulator process did not answer")
        return self._conn.recv()

    def call(self, command: str, argument: Any = None, timeout: float = 60) -> Any:
        self._conn.send((command, argument))
        return self._call_raw(timeout)

    def set(self, **attributes: Any) -> None:
        self.call("set", attributes)

    def reset(self) -> None:
        self.call("reset")

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def connection_json(self, **extra: Any) -> str:
        conn = json.loads(json.dumps(self.connection))
        conn["extra"].update(extra)
        return json.dumps(conn)


# --- profiling ----------------------------------------------------------------------------


def profile_top(function: Callable[[], Any], lines: int = 18, sort: str = "cumulative") -> str:
    """Run ``function`` under cProfile; the top ``lines`` entries by ``sort``."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        function()
    finally:
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(lines)
    return out.getvalue()
