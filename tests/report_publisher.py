"""A report publisher in its own process, for the crash tests (tests/test_report_crash.py).

The tests fork a process that calls :func:`run` (forking skips the seconds Airflow takes to
import); ``python tests/report_publisher.py ROOT DATE RUN --signals DIR [--kill-at STEP] [--pause-at STEP]
[--no-exchange]`` publishes report number ``RUN`` (real renderers, contents that differ per run)
under ``ROOT`` with :func:`~airflow_provider_okx.operators.report_publish.publish`, and:

- ``--kill-at STEP``: sends itself SIGKILL when the publish reaches ``STEP`` (a checkpoint name
  of ``report_publish``, or ``mid:<file>``: half of that file written and flushed);
- ``--pause-at STEP``: creates ``DIR/paused`` at ``STEP`` and waits for ``DIR/go``;
- ``--no-exchange``: behaves as a system without ``renameat2`` (not Linux);
- appends every step it reaches to ``DIR/steps`` and writes its result to ``DIR/result.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

DATE = "2026-11-23"
WALLETS = {"treasury": "0x" + "4c" * 20, "ops": "0x" + "7d" * 20}


def expected_files(run: int, date: str = DATE) -> dict[str, bytes]:
    """The bytes of every file of report number ``run``: what a reader must see, whole."""
    return {name: _render(write) for name, write in writers(run, date).items()}


def writers(run: int, date: str = DATE) -> dict:
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.report import Snapshot, build_summary
    from airflow_provider_okx.operators.report import report_writers

    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    price = Decimal("1.0001")
    rows = [
        TokenBalance("1", usdt, address, "USDT", Decimal(1000 * run + i), None, price)
        for i, address in enumerate(WALLETS.values())
    ] + [
        TokenBalance("1", f"0x{t:040x}", WALLETS["treasury"], f"T{t}", Decimal(run) / 7 + t, None, Decimal(t))
        for t in range(1, 400)  # a CSV large enough to be written in several chunks
    ]
    snapshot = Snapshot(date, f"2026-11-24T00:{run:02d}:00.000Z", WALLETS, ["1"], True, rows)
    summary = build_summary(snapshot)
    return report_writers(snapshot, summary)


def _render(write) -> bytes:
    out = io.StringIO(newline="")
    write(out)
    return out.getvalue().encode("utf-8")


def run(
    root: str,
    date: str,
    run: int,
    signals: str,
    *,
    kill_at: str = "",
    pause_at: str = "",
    no_exchange: bool = False,
) -> None:
    """Publish report ``run`` under ``root``, stopping or dying at the steps asked for."""
    from airflow_provider_okx.glue.compat import object_storage_path
    from airflow_provider_okx.operators import report_publish

    folder = Path(signals)
    folder.mkdir(parents=True, exist_ok=True)
    reached: list[str] = []

    def step(point: str) -> None:
        if point == "waiting" and point in reached:
            return
        reached.append(point)
        with (folder / "steps").open("a") as log:
            log.write(point + "\n")
        if point == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if point == pause_at:
            (folder / "paused").touch()
            deadline = time.monotonic() + 60
            while not (folder / "go").exists():
                if time.monotonic() > deadline:
                    sys.exit("never told to go on")
                time.sleep(0.01)

    def halting(name: str, write):
        def halted(out) -> None:
            text = _render(write).decode("utf-8")
            half = len(text) // 2
            out.write(text[:half])
            out.flush()
            step(f"mid:{name}")
            out.write(text[half:])

        return halted

    report_publish.checkpoint = step
    if no_exchange:

        def no_renameat2(a: str, b: str) -> None:
            raise AttributeError("renameat2")

        report_publish._exchange = no_renameat2
    files = {name: halting(name, write) for name, write in writers(run, date).items()}
    published = report_publish.publish(object_storage_path(f"file://{root}"), date, files)
    (folder / "result.json").write_text(json.dumps(published.to_xcom()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("date")
    parser.add_argument("run", type=int)
    parser.add_argument("--signals", required=True)
    parser.add_argument("--kill-at", default="")
    parser.add_argument("--pause-at", default="")
    parser.add_argument("--no-exchange", action="store_true")
    args = parser.parse_args()
    run(
        args.root,
        args.date,
        args.run,
        args.signals,
        kill_at=args.kill_at,
        pause_at=args.pause_at,
        no_exchange=args.no_exchange,
    )


if __name__ == "__main__":
    main()
