"""``python -m bench [fig4 fig5 ...] [--only 1,6] [--write]``: run the figures, print one table.

Each figure runs in a fresh interpreter of its own (``python -m bench.<module>``), one after
another. The table says for each goal whether it holds; the exit code is 0 whatever the
table says (the benchmark reports, it does not gate). ``--write`` also rewrites
``bench/RESULTS.md`` with the table, the details, the date, the machine and the command; a
``## Notes`` section already in that file is kept as it is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bench.common import REPO, FigureResult, setup_environment

FIGURES: dict[int, tuple[str, str, float]] = {
    # number: (module, title, time limit in seconds)
    1: ("fig1_client_cost", "1. Client CPU per balance call", 240),
    2: ("fig2_fanout", "2. Fan-out under a rate limit", 240),
    3: ("fig3_parse_time", "3. Parse-time cost (import after airflow.sdk)", 360),
    4: ("fig4_triggers", "4. 1,000 triggers waiting", 420),
    5: ("fig5_report", "5. Report at scale (100,000 and 1,000,000 rows)", 900),
    6: ("fig6_signing", "6. Signing", 120),
    8: (
        "fig8_transactions",
        "8. Loading transactions (100 wallets x 2,000 transactions, 20 requests/s)",
        900,
    ),
}
RESULTS = Path(__file__).with_name("RESULTS.md")
NOTES_MARKER = "## Notes"


def _parse_only(text: str | None) -> list[int]:
    if not text:
        return list(FIGURES)
    chosen = []
    for part in text.split(","):
        part = part.strip().lower().removeprefix("fig")
        if not part:
            continue
        if not part.isdigit() or int(part) not in FIGURES:
            raise SystemExit(f"--only: unknown figure {part!r} (choose from {', '.join(map(str, FIGURES))})")
        chosen.append(int(part))
    return sorted(set(chosen))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_figure(number: int, quick: bool, profile: bool) -> tuple[FigureResult, float]:
    module, title, limit = FIGURES[number]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="okx-bench-") as tmp:
        out = Path(tmp) / "result.json"
        log = Path(tmp) / "output.log"
        command = [sys.executable, "-m", f"bench.{module}", "--json", str(out)]
        command += ["--quick"] * quick + ["--profile"] * profile
        with log.open("w") as sink:
            # A session of its own: on a timeout (or Ctrl-C) the figure goes down together with
            # the simulator processes it started.
            process = subprocess.Popen(
                command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code: int | None = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                code = None
            except BaseException:
                _kill_group(process)
                raise
        elapsed = time.monotonic() - started
        if code == 0 and out.exists():
            return FigureResult.from_json(json.loads(out.read_text())), elapsed
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-8:]
    reason = f"timed out after {limit:.0f} s" if code is None else f"failed (exit {code})"
    failed = FigureResult(title)
    failed.goal(reason, "-", None)
    failed.details.extend(tail)
    return failed, elapsed


def _holds(value: bool | None) -> str:
    return "ERROR" if value is None else "yes" if value else "MISS"


def render_table(results: list[FigureResult]) -> str:
    rows = [("figure", "measured", "goal", "holds?")]
    for result in results:
        for k, goal in enumerate(result.goals):
            rows.append((result.figure if k == 0 else "", goal.measured, goal.goal, _holds(goal.holds)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def render_details(results: list[FigureResult], elapsed: dict[str, float]) -> str:
    out = []
    for result in results:
        out.append(f"{result.figure} ({elapsed.get(result.figure, 0):.0f} s)")
        out.extend(f"    {line}" for line in result.details)
    return "\n".join(out)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for entry in Path("/proc/cpuinfo").read_text().splitlines():
            if entry.startswith("model name"):
                cpu = entry.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()} ({cpu}), load average {load} at start; Python "
        f"{platform.python_version()}, Airflow {_version('apache-airflow')}, "
        f"requests {_version('requests')}, aiohttp {_version('aiohttp')}, httpx {_version('httpx')}, "
        f"python-okx {_version('python-okx')}, {platform.system()} {platform.release()}"
    )


def write_results(table: str, details: str, header: dict[str, str]) -> None:
    notes = ""
    if RESULTS.exists():
        text = RESULTS.read_text()
        at = text.find("\n" + NOTES_MARKER)
        if at >= 0:
            notes = text[at + 1 :]
    body = [
        "# Benchmark results",
        "",
        "Written by `python -m bench --write` (`make bench` runs the same figures and prints the "
        "table); the figures and goals are those of the performance issue, each measured in a fresh "
        "interpreter, against the bundled OKX simulator on loopback. A MISS is reported, never a "
        "failure: the exit code is 0.",
        "",
        f"- Date: {header['date']}",
        f"- Machine: {header['machine']}",
        f"- Command: `{header['command']}` ({header['elapsed']})",
        "",
        table,
        "",
        "## Details",
        "",
        "```",
        details,
        "```",
        "",
    ]
    if notes:
        body.append(notes.rstrip() + "\n")
    RESULTS.write_text("\n".join(body))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("figures", nargs="*", metavar="figN", help="run only these figures (e.g. fig4)")
    parser.add_argument("--only", metavar="N,N", help="run only these figures (e.g. 1,6)")
    parser.add_argument("--write", action="store_true", help="also rewrite bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller loads (development)")
    parser.add_argument("--profile", action="store_true", help="add cProfile listings to the details")
    args = parser.parse_args(argv)
    setup_environment()
    named = [name.removeprefix("fig") for name in args.figures]
    if named:
        args.only = ",".join(filter(None, [args.only, *named]))
    chosen = _parse_only(args.only)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    machine_info = machine()
    started = time.monotonic()
    results: list[FigureResult] = []
    elapsed: dict[str, float] = {}
    for number in chosen:
        print(f"[bench] {FIGURES[number][1]} ...", file=sys.stderr, flush=True)
        result, took = run_figure(number, args.quick, args.profile)
        results.append(result)
        elapsed[result.figure] = took
        print(f"[bench]   done in {took:.0f} s", file=sys.stderr, flush=True)
    total = time.monotonic() - started

    table = render_table(results)
    details = render_details(results, elapsed)
    print(table)
    print()
    print(details)
    print(f"\n{len(results)} figures in {total:.0f} s; {machine_info}")
    if args.write:
        command = "python -m bench" + "".join(
            f" {flag}" for flag, on in (("--quick", args.quick), ("--profile", args.profile)) if on
        )
        command += f" --only {args.only}" if args.only else ""
        command += " --write"
        header = {
            "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info,
            "command": command,
            "elapsed": f"{total:.0f} s",
        }
        write_results(table, details, header)
        print(f"wrote {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
