"""Publishing killed with SIGKILL at every step, and publishers racing on one date, in real
processes (tests/report_publisher.py): what is visible is always one complete report, all of
its files from one run, and the next run leaves no debris."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import signal
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from airflow_provider_okx.operators import report_publish
from tests.report_publisher import DATE, expected_files
from tests.report_publisher import run as child_run

FORK = multiprocessing.get_context("fork")
FILES = ("balances.csv", "summary.json", "report.html")
EXPECTED = {run: expected_files(run) for run in range(21)}
report_publish._record_outputs([])  # Airflow's lineage collector, set up once before forking


class Publisher:
    """One publishing process, forked from this one (a real process: its own file
    descriptors and locks, killed with a real SIGKILL)."""

    def __init__(self, root: Path, run: int, tmp: Path, **options: str | bool) -> None:
        self.run = run
        self.signals = tmp / f"signals-{run}-{time.monotonic_ns()}"
        self.signals.mkdir(parents=True)
        self.proc = FORK.Process(
            target=child_run, args=(str(root), DATE, run, str(self.signals)), kwargs=options
        )
        self.proc.start()

    def wait(self) -> int | None:
        self.proc.join(timeout=120)
        return self.proc.exitcode

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)

    def steps(self) -> list[str]:
        path = self.signals / "steps"
        return path.read_text().split() if path.exists() else []

    def wait_for(self, what: str) -> None:
        """Until the process reached step ``what`` (or paused, for ``"paused"``); bounded."""
        deadline = time.monotonic() + 60
        while not ((self.signals / "paused").exists() if what == "paused" else what in self.steps()):
            assert self.proc.is_alive(), f"publisher {self.run} exited with {self.proc.exitcode}"
            assert time.monotonic() < deadline, f"publisher {self.run} never reached {what}"
            time.sleep(0.01)

    def go(self) -> None:
        (self.signals / "go").touch()

    def result(self) -> dict:
        return json.loads((self.signals / "result.json").read_text())


def publish(root: Path, run: int, tmp: Path, **options: str | bool) -> Publisher:
    publisher = Publisher(root, run, tmp, **options)
    expect = -signal.SIGKILL if options.get("kill_at") else 0
    assert publisher.wait() == expect, publisher.steps()
    return publisher


def visible(root: Path) -> int | None:
    """The run whose report ``<root>/<date>`` shows, checking it is one complete report."""
    day = root / DATE
    if not day.exists():
        assert not day.is_symlink() or not os.path.exists(day)
        return None
    seen = {name: (day / name).read_bytes() for name in FILES}
    runs = [run for run, files in EXPECTED.items() if files == seen]
    assert len(runs) == 1, f"visible files are not one run's complete report: {sorted(os.listdir(day))}"
    # ... and they agree with each other, as a reader would check
    summary = json.loads(seen["summary.json"])
    rows = list(csv.DictReader(io.StringIO(seen["balances.csv"].decode())))
    assert Fraction(summary["total_usd"]) == sum(Fraction(r["usd_value"]) for r in rows)
    assert summary["row_count"] == len(rows)
    assert f"Balances fetched {summary['generated_at']}" in seen["report.html"].decode()
    return runs[0]


def debris(root: Path) -> list[str]:
    day = root / DATE
    keep = {DATE, f".{DATE}.lock", os.readlink(day) if day.is_symlink() else None}
    return sorted(name for name in os.listdir(root) if name not in keep)


BEFORE_SWAP = [
    "locked",
    "mid:balances.csv",
    "written:balances.csv",
    "mid:summary.json",
    "written:summary.json",
    "mid:report.html",
    "written:report.html",
    "linked",
]
AFTER_SWAP = ["swapped", "cleaned"]


@pytest.mark.parametrize("step", BEFORE_SWAP + AFTER_SWAP)
def test_killed_at_any_step_leaves_one_complete_report(tmp_path, step):
    root = tmp_path / "reports"
    publish(root, 1, tmp_path)
    killed = publish(root, 2, tmp_path, kill_at=step)
    assert killed.steps()[-1] == step
    assert visible(root) == (1 if step in BEFORE_SWAP else 2)
    publish(root, 3, tmp_path)  # the next run
    assert visible(root) == 3
    assert debris(root) == []


@pytest.mark.parametrize("step", ["mid:summary.json", "linked", "swapped"])
def test_the_first_publish_killed_shows_nothing_or_everything(tmp_path, step):
    root = tmp_path / "reports"
    publish(root, 1, tmp_path, kill_at=step)
    assert visible(root) == (1 if step == "swapped" else None)
    publish(root, 2, tmp_path)
    assert visible(root) == 2
    assert debris(root) == []


def legacy_folder(root: Path, run: int) -> None:
    """``<date>/`` as 0.1.0 wrote it: a real folder (here with 0.1.0's race debris inside)."""
    day = root / DATE
    (day / f".{DATE}.staging-0ld").mkdir(parents=True)
    for name, data in EXPECTED[run].items():
        (day / name).write_bytes(data)


@pytest.mark.parametrize("step", ["linked", "swapped", "cleaned"])
def test_replacing_a_0_1_0_folder_is_atomic(tmp_path, step):
    root = tmp_path / "reports"
    legacy_folder(root, 0)
    publish(root, 1, tmp_path, kill_at=step)
    assert visible(root) == (0 if step == "linked" else 1)
    publish(root, 2, tmp_path)
    assert visible(root) == 2
    assert (root / DATE).is_symlink()
    assert debris(root) == []


def test_without_renameat2_a_kill_between_renames_is_recovered(tmp_path):
    """Only where the system cannot exchange two paths (not Linux), once per 0.1.0 folder: a
    kill between the two renames shows nothing until the next run, which first puts the old
    report back (so it stays visible should that run fail too)."""
    root = tmp_path / "reports"
    legacy_folder(root, 0)
    publish(root, 1, tmp_path, kill_at="legacy-moved", no_exchange=True)
    assert visible(root) is None
    publish(root, 2, tmp_path, kill_at="written:balances.csv")
    assert visible(root) == 0  # recovered
    publish(root, 3, tmp_path, no_exchange=True)
    assert visible(root) == 3
    assert debris(root) == []


def test_what_0_1_0_left_after_a_kill_between_its_renames_is_recovered(tmp_path):
    """0.1.0 killed between its renames: no ``<date>``, the old report in ``.<date>.retired-*``."""
    root = tmp_path / "reports"
    retired = root / f".{DATE}.retired-0ld"
    retired.mkdir(parents=True)
    for name, data in EXPECTED[0].items():
        (retired / name).write_bytes(data)
    (root / f".{DATE}.staging-0ld").mkdir()
    (root / f".{DATE}.staging-0ld" / "balances.csv").write_text("half")
    publish(root, 1, tmp_path, kill_at="mid:balances.csv")
    assert visible(root) == 0  # put back before anything else
    publish(root, 2, tmp_path)
    assert visible(root) == 2
    assert debris(root) == []


def test_a_second_publisher_waits_for_the_first(tmp_path):
    root = tmp_path / "reports"
    publish(root, 1, tmp_path)
    first = Publisher(root, 2, tmp_path, pause_at="written:report.html")
    first.wait_for("paused")  # holds the date's lock, its version written, not yet visible
    second = Publisher(root, 3, tmp_path)
    second.wait_for("waiting")  # queued on the lock
    assert visible(root) == 1
    first.go()
    assert (first.wait(), second.wait()) == (0, 0)
    assert visible(root) == 3  # the last to publish wins, whole
    # Each run's XCom names the bytes it wrote; the first run's were replaced by the second's.
    for publisher in (first, second):
        result = publisher.result()
        assert result["files"] == {name: f"file://{root}/{DATE}/{name}" for name in FILES}
        assert result["sha256"] == {
            n: hashlib.sha256(b).hexdigest() for n, b in EXPECTED[publisher.run].items()
        }
    assert debris(root) == []


def test_a_publisher_killed_while_another_waits(tmp_path):
    root = tmp_path / "reports"
    publish(root, 1, tmp_path)
    first = Publisher(root, 2, tmp_path, pause_at="linked")
    first.wait_for("paused")
    second = Publisher(root, 3, tmp_path)
    second.wait_for("waiting")
    first.kill()  # dies holding the lock: the kernel releases it
    assert first.wait() == -signal.SIGKILL
    assert second.wait() == 0
    assert visible(root) == 3
    assert debris(root) == []


@pytest.mark.parametrize("legacy", [False, True])
def test_two_publishers_racing_on_one_date(tmp_path, legacy):
    root = tmp_path / "reports"
    if legacy:
        legacy_folder(root, 0)
    for round_ in range(10):
        a, b = 2 * round_ + 1, 2 * round_ + 2
        racers = [Publisher(root, a, tmp_path), Publisher(root, b, tmp_path)]
        assert [p.wait() for p in racers] == [0, 0]
        assert visible(root) in (a, b)
        for racer in racers:
            assert racer.result()["sha256"] == {
                n: hashlib.sha256(data).hexdigest() for n, data in EXPECTED[racer.run].items()
            }
        assert debris(root) == []
    assert (root / DATE).is_symlink()


def test_expected_reports_differ_per_run():
    """The crash tests tell runs apart by their bytes: every file differs between runs."""
    for name in FILES:
        assert len({files[name] for files in EXPECTED.values()}) == len(EXPECTED)
    assert Decimal(json.loads(EXPECTED[1]["summary.json"])["total_usd"]) > 0
