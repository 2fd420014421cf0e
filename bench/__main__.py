"""``python -m bench [fig4 fig5 ...] [--only 1,6] [--smoke] [--compare] [--write]``: run the
figures, print one table.

Each figure runs in a fresh interpreter of its own (``python -m bench.<module>``), one after
another. The table says for each goal whether it holds; the exit code is 0 whatever the
table says (the benchmark reports, it does not gate). ``--smoke`` runs every figure at its
smallest size (``make test`` does, through ``make bench-smoke``): the exit code is then 1 when a
figure could not run (an ERROR row), never because of a number. ``--compare`` prints each goal
row beside the same row of the last run recorded in ``bench/RESULTS.md``, with the ratio of
the two headline numbers. ``--write`` also rewrites ``bench/RESULTS.md`` with the table, the
details, the date, the machine, its load and the command; a ``## Notes`` section already in
that file is kept as it is.

Adding a figure: see the convention in :mod:`bench` (one module, one line in ``FIGURES``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.common import REPO, FigureResult, setup_environment


@dataclass(frozen=True)
class Figure:
    number: int
    module: str
    """``bench.<module>`` is run as ``python -m``."""
    title: str
    limit: float
    """Seconds the full run may take before it is killed (an ERROR row)."""
    smoke_limit: float = 120.0
    """The same under ``--smoke``."""


# The one registry: a new figure adds one line (see the convention in bench/__init__.py).
_REGISTRY: tuple[Figure, ...] = (
    Figure(1, "fig1_client_cost", "1. Client CPU per balance call", 240, 90),
    Figure(2, "fig2_fanout", "2. Fan-out under a rate limit", 240, 90),
    Figure(3, "fig3_parse_time", "3. Parse-time cost (import after airflow.sdk)", 900, 180),
    Figure(4, "fig4_triggers", "4. 1,000 triggers waiting", 420, 120),
    Figure(
        5, "fig5_report", "5. Report at scale (100,000 and 1,000,000 rows; 1,000,000 through HTTP)", 1500, 180
    ),
    Figure(6, "fig6_signing", "6. Signing", 120, 60),
    Figure(7, "fig7_shared_rate", "7. One key shared by 8 processes (store)", 600, 120),
    Figure(
        8,
        "fig8_transactions",
        "8. Loading transactions (100 wallets x 2,000 transactions, 20 requests/s)",
        900,
        180,
    ),
)
FIGURES: dict[int, Figure] = {figure.number: figure for figure in _REGISTRY}
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


def run_figure(number: int, quick: bool, profile: bool, smoke: bool = False) -> tuple[FigureResult, float]:
    figure = FIGURES[number]
    module, title = figure.module, figure.title
    limit = figure.smoke_limit if smoke else figure.limit
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="okx-bench-") as tmp:
        out = Path(tmp) / "result.json"
        log = Path(tmp) / "output.log"
        command = [sys.executable, "-m", f"bench.{module}", "--json", str(out)]
        command += ["--quick"] * quick + ["--profile"] * profile + ["--smoke"] * smoke
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


def _holds(value: bool | None, smoke: bool = False) -> str:
    if value is None:
        return "ERROR"
    if smoke:
        return "ran"  # smoke sizes: the goal is not judged
    return "yes" if value else "MISS"


def _markdown(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def render_table(results: list[FigureResult], smoke: bool = False) -> str:
    rows = [("figure", "measured", "goal", "holds?")]
    for result in results:
        for k, goal in enumerate(result.goals):
            holds = _holds(goal.holds, smoke)
            rows.append((result.figure if k == 0 else "", goal.measured, goal.goal, holds))
    return _markdown(rows)


def render_details(results: list[FigureResult], elapsed: dict[str, float]) -> str:
    """Each figure's detail lines under its title and run time. A line that only repeats one of
    the figure's table rows (its measured cell) is left out: the table already says it."""
    out = []
    for result in results:
        measured = {goal.measured.strip() for goal in result.goals}
        out.append(f"{result.figure} ({elapsed.get(result.figure, 0):.0f} s)")
        out.extend(
            f"    {line}"
            for line in result.details
            if line.strip() not in measured and not line.lstrip().startswith("|")
        )
    return "\n".join(out)


# --- --compare: this run beside the last recorded one ------------------------------------

_RATIO = re.compile(r"(?<![A-Za-z\d.,])(\d[\d,]*(?:\.\d+)?)x\b")
_NUMBER = re.compile(r"(?<![A-Za-z\d.,])\d[\d,]*(?:\.\d+)?")
_SIZE_LABEL = re.compile(r"^(?:\[[^\]]*\] )?[\d,]+ \w+(?: \([^)]*\))?: ")
"""``100,000 rows: ...``, ``[shared] ...``: what the row is about, not what it measured."""


def headline(measured: str) -> float | None:
    """The number a row is about: its first ratio (``1.07x ...``) if it states one, else its
    first number (a size label such as ``100,000 rows:`` and names such as ``p99`` skipped);
    ``None`` when it has none."""
    text = _SIZE_LABEL.sub("", measured, count=1)
    found = _RATIO.search(text)
    if found is not None:
        return float(found.group(1).replace(",", ""))
    found = _NUMBER.search(text)
    return None if found is None else float(found.group(0).replace(",", ""))


def _figure_number(title: str) -> str:
    return title.split(".", 1)[0].strip()


def recorded_rows(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """The first table of a RESULTS.md: figure number -> its rows (measured, goal, holds)."""
    rows: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    in_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rule = all(cell and set(cell) <= {"-"} for cell in cells)
        if len(cells) != 4 or cells[0] == "figure" or rule:
            continue
        if cells[0]:
            current = _figure_number(cells[0])
        if current is not None:
            rows.setdefault(current, []).append((cells[1], cells[2], cells[3]))
    return rows


def _row_prefix(measured: str) -> str:
    """``[shared] ...`` rows of one figure are told apart by their bracketed case."""
    return measured.split("]", 1)[0] + "]" if measured.startswith("[") else ""


def render_compare(results: list[FigureResult], recorded: dict[str, list[tuple[str, str, str]]]) -> str:
    """Each goal row of this run beside the same row of the recorded run (same figure, same
    goal text and case, else the same position), and ``now / recorded`` of their headline
    numbers: about 1.00 is unchanged; for a time, a size or a ratio to a floor, above 1 is
    worse."""
    rows = [("figure", "goal", "recorded", "now", "now/recorded", "holds? (was)")]
    for result in results:
        old_rows = recorded.get(_figure_number(result.figure), [])
        used: set[int] = set()
        for k, goal in enumerate(result.goals):
            match = None
            for i, (measured, old_goal, _) in enumerate(old_rows):
                same_case = _row_prefix(measured) == _row_prefix(goal.measured)
                if i not in used and old_goal == goal.goal and same_case:
                    match = i
                    break
            if match is None and k < len(old_rows) and k not in used:
                match = k
            same_goal = False
            if match is not None:
                used.add(match)
                old_measured, old_goal, old_holds = old_rows[match]
                same_goal = old_goal == goal.goal
            else:
                old_measured, old_holds = "(not recorded)", "-"
            new, old = headline(goal.measured), headline(old_measured)
            if not same_goal:
                ratio = "-" if match is None else "goal changed"
            elif new is None or old is None:
                ratio = "-"
            elif old == 0:
                ratio = "=" if new == 0 else "new"
            else:
                ratio = f"{new / old:.2f}"
            rows.append(
                (
                    result.figure if k == 0 else "",
                    goal.goal,
                    old_measured,
                    goal.measured,
                    ratio,
                    f"{_holds(goal.holds)} ({old_holds})",
                )
            )
    return _markdown(rows)


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
    return (
        f"nproc {os.cpu_count()} ({cpu}); Python "
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
        "table); each figure measured in a fresh interpreter, against the bundled OKX simulator on "
        "loopback. A MISS is reported, never a failure: the exit code is 0. "
        "`python -m bench --compare` prints a new run beside this one.",
        "",
        f"- Date: {header['date']}",
        f"- Machine: {header['machine']}",
        f"- Load: {header['load']}",
        f"- Command: `{header['command']}` ({header['elapsed']})",
        "",
        table,
        "",
        "## Details",
        "",
        "What the table does not say: sizes, spreads, breakdowns (each figure's rows are in the "
        "table above only).",
        "",
        "```",
        details,
        "```",
        "",
    ]
    if notes:
        body.append(notes.rstrip() + "\n")
    RESULTS.write_text("\n".join(body))


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("figures", nargs="*", metavar="figN", help="run only these figures (e.g. fig4)")
    parser.add_argument("--only", metavar="N,N", help="run only these figures (e.g. 1,6)")
    parser.add_argument("--write", action="store_true", help="also rewrite bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller loads (development)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every figure at its smallest size, goals not judged; exit 1 if a figure cannot run",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="print each row beside the same row of the run recorded in bench/RESULTS.md",
    )
    parser.add_argument("--profile", action="store_true", help="add cProfile listings to the details")
    args = parser.parse_args(argv)
    if args.smoke and args.write:
        parser.error("--smoke numbers are not figures: --write refuses them")
    setup_environment()
    named = [name.removeprefix("fig") for name in args.figures]
    if named:
        args.only = ",".join(filter(None, [args.only, *named]))
    chosen = _parse_only(args.only)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    machine_info = machine()
    load_start = _load()
    started = time.monotonic()
    results: list[FigureResult] = []
    elapsed: dict[str, float] = {}
    for number in chosen:
        print(f"[bench] {FIGURES[number].title}{' (smoke)' * args.smoke} ...", file=sys.stderr, flush=True)
        result, took = run_figure(number, args.quick, args.profile, args.smoke)
        results.append(result)
        elapsed[result.figure] = took
        print(f"[bench]   done in {took:.0f} s", file=sys.stderr, flush=True)
    total = time.monotonic() - started
    load_end = _load()

    table = render_table(results, smoke=args.smoke)
    details = render_details(results, elapsed)
    print(table)
    print()
    print(details)
    print(f"\n{len(results)} figures in {total:.0f} s; {machine_info}; load average {load_end} at the end")
    if args.compare:
        recorded = recorded_rows(RESULTS.read_text()) if RESULTS.exists() else {}
        print(
            f"\nBeside the run recorded in {RESULTS.relative_to(REPO)} "
            "(now/recorded: the ratio of each row's headline numbers):"
        )
        print(render_compare(results, recorded))
    failed = [r.figure for r in results if not r.goals or any(g.holds is None for g in r.goals)]
    if args.write:
        command = "python -m bench" + "".join(
            f" {flag}" for flag, on in (("--quick", args.quick), ("--profile", args.profile)) if on
        )
        command += f" --only {args.only}" if args.only else ""
        command += " --write"
        header = {
            "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info,
            "load": f"load average {load_start} at start, {load_end} at the end (1, 5, 15 min)",
            "command": command,
            "elapsed": f"{total:.0f} s",
        }
        write_results(table, details, header)
        print(f"wrote {RESULTS.relative_to(REPO)}", file=sys.stderr)
    if args.smoke and failed:
        print(f"[bench] smoke: could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
