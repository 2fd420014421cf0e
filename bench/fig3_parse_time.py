"""Figure 3: what our DAG-facing modules add to DAG parsing, next to the HTTP provider's.

Each sample is a fresh interpreter that imports ``airflow.sdk`` first (what every DAG file
pays anyway), then times ``import <module>``: the CPU time it takes (``time.process_time()``,
the goal: the cost itself, which a machine shared with other work does not inflate) and the
wall time (``time.perf_counter()``, a detail: equal to the CPU time on an idle machine, more
when other processes compete for the cores). Deployed Airflow
imports from compiled bytecode, so the goal is measured that way: the probes write and read
``.pyc`` files under a temporary ``PYTHONPYCACHEPREFIX`` (never next to the sources), warmed by
one run of each kind first. A few "cold" samples (``PYTHONDONTWRITEBYTECODE=1`` and an empty
prefix: every module compiled from source, as in an environment that sets that variable and
installed without compiling) are reported as details. Ours: the
balances operator, the balance sensor and the report operator (when it exists), imported one
after another in the same interpreter, so their sum is what a DAG using all three pays and each
one's share is what it adds to the others. Theirs: ``airflow.providers.http.operators.http``.
Ours also includes the SQL loader (``transfers.okx_to_sql``), the last DAG-facing module.
The two kinds take turns, one interpreter at a time (ours, HTTP, HTTP, ours, ...), so that a
core stays free for whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

from bench.common import REPO, FigureResult, figure_main, median, size, spread

TITLE = "3. Parse-time cost (import after airflow.sdk)"
SAMPLES = 20
COLD_SAMPLES = 3
GOAL_MS = 15.0
HTTP_GOAL = 0.2
"""x the HTTP provider's operator."""
OURS = (
    "airflow_provider_okx.operators.balances",
    "airflow_provider_okx.sensors.balance",
    "airflow_provider_okx.operators.report",
    "airflow_provider_okx.transfers.okx_to_sql",
)
HTTP = ("airflow.providers.http.operators.http",)

_PROBE = """
import importlib, json, sys, time
import airflow.sdk
times = []
for name in sys.argv[1:]:
    wall, cpu = time.perf_counter(), time.process_time()
    importlib.import_module(name)
    times.append([time.process_time() - cpu, time.perf_counter() - wall])
print(json.dumps(times))
"""


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _environment(pycache: str, cached: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPYCACHEPREFIX"] = pycache
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _start(modules: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE, *modules],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def _finish(process: subprocess.Popen[str]) -> list[list[float]]:
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError("an import probe took more than 120 s") from None
    if process.returncode != 0:
        raise RuntimeError(f"import probe failed: {err.strip().splitlines()[-1:]}")
    return json.loads(out.strip().splitlines()[-1])


def _interleaved(
    ours: tuple[str, ...], samples: int, env: dict[str, str]
) -> tuple[list[list[list[float]]], list[list[list[float]]]]:
    """``samples`` of each kind, one interpreter at a time, interleaved: ours, HTTP, HTTP, ours..."""
    ours_runs: list[list[list[float]]] = []
    http_runs: list[list[list[float]]] = []
    for i in range(samples):
        order = (ours, HTTP) if i % 2 == 0 else (HTTP, ours)
        for modules in order:
            times = _finish(_start(modules, env))
            (ours_runs if modules is ours else http_runs).append(times)
    return ours_runs, http_runs


def measure(args: argparse.Namespace) -> FigureResult:
    result = FigureResult(TITLE)
    samples, cold_samples = size(args, full=(SAMPLES, COLD_SAMPLES), quick=(4, 2), smoke=(1, 0))
    ours = tuple(m for m in OURS if _exists(m))
    missing = [m for m in OURS if m not in ours]

    with (
        tempfile.TemporaryDirectory(prefix="okx-bench-pyc-") as cache,
        tempfile.TemporaryDirectory(prefix="okx-bench-nopyc-") as empty,
    ):
        warm = _environment(cache, cached=True)
        for modules in (ours, HTTP):  # compile and write the bytecode once
            _finish(_start(modules, warm))
        ours_runs, http_runs = _interleaved(ours, samples, warm)
        cold_ours, cold_http = (
            _interleaved(ours, cold_samples, _environment(empty, cached=False)) if cold_samples else ([], [])
        )

    def total(run: list[list[float]], kind: int = 0) -> float:
        """Milliseconds of one interpreter's imports: CPU (0) or wall (1)."""
        return sum(module[kind] for module in run) * 1e3

    ours_ms = [total(run) for run in ours_runs]
    http_ms = [total(run) for run in http_runs]
    ours_wall = [total(run, 1) for run in ours_runs]
    http_wall = [total(run, 1) for run in http_runs]
    ours_med, http_med = median(ours_ms), median(http_ms)
    result.goal(f"{ours_med:.1f} ms CPU (from bytecode)", f"<= {GOAL_MS:.0f} ms", ours_med <= GOAL_MS)
    result.goal(
        f"{ours_med / http_med:.3f}x HTTP provider's operator ({http_med:.1f} ms)",
        f"<= {HTTP_GOAL:g}x HTTP provider's",
        ours_med <= HTTP_GOAL * http_med,
    )
    result.detail(
        f"median of {samples} fresh interpreters each, importing from bytecode, interleaved; CPU: "
        f"ours {spread(ours_ms, '.1f')} ms, HTTP operator {spread(http_ms, '.1f')} ms; wall: ours "
        f"{median(ours_wall):.1f} ms ({spread(ours_wall, '.1f')}), HTTP operator {median(http_wall):.1f} ms"
    )
    for k, module in enumerate(ours):
        share = median([run[k][0] * 1e3 for run in ours_runs])
        result.detail(f"  {module}: {share:.1f} ms{' (after the ones above)' if k else ''}")
    if missing:
        result.detail(f"not measured (does not exist yet): {', '.join(missing)}")
    cold_ours_ms = median([total(run) for run in cold_ours]) if cold_ours else None
    cold_http_ms = median([total(run) for run in cold_http]) if cold_http else None
    if cold_ours_ms is not None and cold_http_ms is not None:
        result.detail(
            f"cold, compiled from source (median of {cold_samples} each, CPU): ours {cold_ours_ms:.1f} ms, "
            f"HTTP operator {cold_http_ms:.1f} ms"
        )
    result.data = {
        "ours_ms": ours_ms,
        "http_ms": http_ms,
        "ours_wall_ms": ours_wall,
        "http_wall_ms": http_wall,
        "cold_ours_ms": cold_ours_ms,
        "cold_http_ms": cold_http_ms,
        "modules": list(ours),
        "missing": missing,
    }
    return result


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE)
