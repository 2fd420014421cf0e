"""report_publish.publish in one process: streaming writers, digests, failures, the date lock,
object stores. (Kills and racing processes: tests/test_report_crash.py.)"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from decimal import Decimal

import pytest

from airflow_provider_okx.glue.compat import object_storage_path
from airflow_provider_okx.operators import report_publish
from airflow_provider_okx.operators.report_publish import publish

DATE = "2026-11-23"
FILES = ("balances.csv", "summary.json", "report.html")


def writers(tag: str, *, fail: str = "") -> dict:
    def writer(name: str):
        def write(out) -> None:
            for i in range(1000):  # many small writes: the file is streamed, not built
                out.write(f"{tag} {name} line {i} \u20ac\n")
                if name == fail and i == 500:
                    raise RuntimeError(f"rendering {name} failed")

        return write

    return {name: writer(name) for name in FILES}


def content(tag: str, name: str) -> bytes:
    return "".join(f"{tag} {name} line {i} \u20ac\n" for i in range(1000)).encode()


def visible(root) -> str:
    """The tag of the report ``<root>/<date>`` shows (all files from one publish)."""
    tags = {(root / DATE / name).read_bytes().split(b" ", 1)[0].decode() for name in FILES}
    assert len(tags) == 1, tags
    [tag] = tags
    for name in FILES:
        assert (root / DATE / name).read_bytes() == content(tag, name)
    return tag


def debris(root) -> list[str]:
    day = root / DATE
    keep = {DATE, f".{DATE}.lock", os.readlink(day) if day.is_symlink() else None}
    return sorted(name for name in os.listdir(root) if name not in keep)


def test_publish_streams_every_file_and_names_its_bytes(tmp_path):
    published = publish(object_storage_path(f"file://{tmp_path}"), DATE, writers("one"))
    assert visible(tmp_path) == "one"
    assert (tmp_path / DATE).is_symlink()
    assert os.readlink(tmp_path / DATE) == published.version
    assert published.to_xcom() == {
        "report_dir": f"file://{tmp_path}/{DATE}",
        "files": {name: f"file://{tmp_path}/{DATE}/{name}" for name in FILES},
        "sha256": {name: hashlib.sha256(content("one", name)).hexdigest() for name in FILES},
        "bytes": {name: len(content("one", name)) for name in FILES},
        "version": published.version,
    }
    publish(object_storage_path(f"file://{tmp_path}"), DATE, writers("two"))
    assert visible(tmp_path) == "two"
    assert debris(tmp_path) == []  # the superseded version is gone


def test_a_failing_writer_leaves_the_previous_report_and_no_debris(tmp_path):
    root = object_storage_path(f"file://{tmp_path}")
    publish(root, DATE, writers("one"))
    with pytest.raises(RuntimeError, match=r"rendering summary\.json failed"):
        publish(root, DATE, writers("two", fail="summary.json"))
    assert visible(tmp_path) == "one"
    assert debris(tmp_path) == []


def test_a_publisher_that_never_gets_the_lock_gives_up_and_changes_nothing(tmp_path):
    root = object_storage_path(f"file://{tmp_path}")
    publish(root, DATE, writers("one"))
    with open(tmp_path / f".{DATE}.lock", "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another publisher, stuck
        with pytest.raises(TimeoutError, match="lock"):
            publish(root, DATE, writers("two"), lock_timeout=0.3)
    assert visible(tmp_path) == "one"
    assert debris(tmp_path) == []


def test_publishers_in_threads_queue_on_the_date_lock(tmp_path):
    root = object_storage_path(f"file://{tmp_path}")
    errors: list[BaseException] = []

    def run(tag: str) -> None:
        try:
            publish(root, DATE, writers(tag))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert visible(tmp_path) in {f"t{i}" for i in range(6)}
    assert debris(tmp_path) == []


def test_a_dangling_link_and_other_dates_are_handled(tmp_path):
    os.symlink(f".{DATE}.gone", tmp_path / DATE)  # its version was deleted by hand
    (tmp_path / ".2026-11-22.keep").mkdir()  # another date's entries are not this run's business
    publish(object_storage_path(f"file://{tmp_path}"), DATE, writers("one"))
    assert visible(tmp_path) == "one"
    assert debris(tmp_path) == [".2026-11-22.keep"]


@pytest.mark.parametrize("date", ["2026-11-3", "../2026-11-23", "2026-11-23/x", ""])
def test_dates_and_file_names_are_checked(tmp_path, date):
    root = object_storage_path(f"file://{tmp_path}")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        publish(root, date, writers("x"))
    for name in ("", ".hidden", "a/b", "..\\x"):
        with pytest.raises(ValueError, match="plain name"):
            publish(root, DATE, {name: lambda out: None})
    assert list(tmp_path.iterdir()) == []


def test_write_csv_streams_what_render_csv_returns(tmp_path):
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.report import Snapshot
    from airflow_provider_okx.core.report.csv_render import render_csv, write_csv

    wallets = {f"w{w}": "0x" + f"{w:040x}" for w in range(50)}
    rows = [
        TokenBalance("1", "0x" + f"{t + 1:040x}", a, f"T{t}", Decimal(t) / 3, None, Decimal("0.5"))
        for a in wallets.values()
        for t in range(200)
    ]
    snapshot = Snapshot(DATE, "2026-11-24T00:00:00Z", wallets, ["1"], True, rows)
    published = publish(
        object_storage_path(f"file://{tmp_path}"),
        DATE,
        {"balances.csv": lambda out: write_csv(snapshot, out)},
    )
    text = render_csv(snapshot)
    assert (tmp_path / DATE / "balances.csv").read_bytes() == text.encode()
    assert published.sizes["balances.csv"] == len(text.encode())
    assert text.count("\n") == 10_001


# --- object stores -----------------------------------------------------------------------


@pytest.fixture
def store(request):
    """fsspec's memory filesystem attached to Airflow's object storage: no renames, no links."""
    from fsspec.implementations.memory import MemoryFileSystem

    try:
        from airflow.sdk.io import attach
    except ImportError:
        from airflow.io.store import attach  # type: ignore[no-redef]
    attach(protocol="memory", fs=MemoryFileSystem())
    return object_storage_path(f"memory://publish-{request.node.name.replace('_', '-')}/reports")


def test_object_store_files_go_straight_to_their_keys(store):
    legacy = store / f".{DATE}.staging-0ld"  # left by 0.1.0
    legacy.mkdir(parents=True)
    (legacy / "balances.csv").write_text("half")
    published = publish(store, DATE, writers("one"))
    assert published.version is None
    assert [p.name for p in store.iterdir()] == [DATE]
    for name in FILES:
        assert (store / DATE / name).read_bytes() == content("one", name)
    assert published.sha256["report.html"] == hashlib.sha256(content("one", "report.html")).hexdigest()


def test_object_store_rendering_failure_uploads_nothing(store, monkeypatch):
    publish(store, DATE, writers("one"))
    steps: list[str] = []
    monkeypatch.setattr(report_publish, "checkpoint", steps.append)
    with pytest.raises(RuntimeError):
        publish(store, DATE, writers("two", fail="report.html"))
    assert steps == []  # failed while rendering to local spool files, before any upload
    for name in FILES:
        assert (store / DATE / name).read_bytes() == content("one", name)


def test_a_failed_upload_is_discarded_not_committed():
    """fsspec commits a buffered upload on close, even after an error: _upload must discard."""

    class Upload:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def write(self, data: bytes) -> int:
            self.calls.append("write")
            return len(data)

        def discard(self) -> None:
            self.calls.append("discard")

        def close(self) -> None:
            self.calls.append("close")

    class Key:
        def __init__(self) -> None:
            self.upload = Upload()

        def open(self, mode: str) -> Upload:
            return self.upload

    class BrokenSource:
        def __init__(self) -> None:
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 1:
                raise OSError("disk read error")
            return b"x" * 10

    key = Key()
    with pytest.raises(OSError, match="disk read error"):
        report_publish._upload(BrokenSource(), key)
    assert key.upload.calls == ["write", "discard"]
