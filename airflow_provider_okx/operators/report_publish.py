"""Publishing a treasury report's files under ``<root>/<date>/``: storage I/O, kept apart from
the pure ``report`` package.

:func:`publish` takes one *writer* per file, ``name -> callable(text_stream)``, so a file is
streamed to storage as it is rendered (a million-row ``balances.csv`` never exists as one
string). It returns :class:`Published`: the paths readers open, and the SHA-256 and size of the
bytes this run wrote.

Local filesystems (``file://``): one complete report visible, always
--------------------------------------------------------------------
::

    <root>/<date>             -> .<date>.<token>   a symbolic link: what readers open
    <root>/.<date>.<token>/                        the complete version it names
    <root>/.<date>.lock                            serialises publishers of <date> (kept)

1. Take an exclusive ``flock`` on ``.<date>.lock``: publishers of one date queue (on this host
   and, through NFS's lock emulation, across hosts); a dead publisher's lock is released by
   the kernel. The wait is bounded (``lock_timeout``).
2. Write every file into a new ``.<date>.<token>/`` and ``fsync`` it. Nothing readers open
   has changed yet.
3. Point a new symlink ``.<date>.<token>.link`` at it and rename that over ``<date>``
   (``os.replace``: atomic). Readers see the previous complete report until this instant and
   the new one after it. A ``<date>`` that is a real folder (written by 0.1.0) is swapped with
   the link in one atomic ``renameat2(RENAME_EXCHANGE)`` on Linux; where that call does not
   exist, the folder is renamed away and the link renamed in right after (the only window
   without a visible report, once per date, on non-Linux systems).
4. Remove every ``.<date>.*`` entry but the lock and the version ``<date>`` names: the
   superseded version, and whatever a killed publisher left (its unfinished version, its
   link, 0.1.0's ``.<date>.staging-*`` and ``.<date>.retired-*``). Under the lock no live
   publisher owns any of them.

A publisher killed at any instant leaves either the previous report or the new one behind
``<date>``, complete; the next publish of that date removes the debris. When nothing is
visible because 0.1.0 was killed between its two renames, the next publish first puts the
complete ``.<date>.retired-*`` report back.

Readers that open several files of one report while a rerun may publish should resolve
``<date>`` once (``os.path.realpath``) and read from that version folder; a superseded
version is deleted by the next publish (files already open stay readable).

Object stores (``s3://``, ``gs://``...): each object whole
----------------------------------------------------------
Object stores have neither folder renames nor symlinks. Every file is rendered to a local
temporary file first (a rendering error touches nothing), then uploaded straight to its final
key, in ``writers`` order; the store makes an upload visible only once it is complete, so no
reader ever sees a partial file, and a failed upload is discarded, never committed. What a
reader can see across the files: while a run uploads, for a few seconds, new files next to the
previous run's; two runs of one date publishing at once can leave a mix of the two (each file
whole, the last upload of each key winning). Compare a file's SHA-256 with a run's XCom
(``sha256``) to tell whose bytes it holds.

Lineage
-------
Airflow's hook-level lineage collector records the published paths (``<root>/<date>/<file>``),
never version folders or temporary files: on object stores the upload goes through
``ObjectStoragePath.open``, whose writes Airflow records; locally the files are written with
``os`` calls and the published paths are registered with the collector directly.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

Writer = Callable[[IO[str]], None]
"""Writes one file's text to the stream it is given (UTF-8, newlines untranslated)."""

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_CHUNK = 1 << 20


def _no_step(point: str) -> None:
    """Default of :data:`checkpoint`: nothing happens between steps."""


checkpoint: Callable[[str], None] = _no_step
"""Called with the name of each step a publish reaches (``locked``, ``written:<file>``,
``linked``, ``swapped``, ``cleaned``; object stores: ``rendered``, ``written:<file>``).
The crash tests replace it to stop or kill the publishing process at those points."""


@dataclass(frozen=True)
class Published:
    """What one :func:`publish` call made visible."""

    report_dir: Any
    """``<root>/<date>`` (an ``ObjectStoragePath``)."""
    files: dict[str, Any]
    """``name -> <root>/<date>/<name>``: the paths readers open."""
    sha256: dict[str, str]
    """``name -> hex digest`` of the bytes this run wrote: whether a published file still holds
    this run's bytes (a later run of the date replaces them) is a digest comparison away."""
    sizes: dict[str, int]
    """``name -> bytes`` this run wrote."""
    version: str | None
    """Local stores: the ``.<date>.<token>`` folder ``<date>`` named when this run published.
    ``None`` on object stores."""

    def to_xcom(self) -> dict[str, Any]:
        return {
            "report_dir": str(self.report_dir),
            "files": {name: str(path) for name, path in self.files.items()},
            "sha256": dict(self.sha256),
            "bytes": dict(self.sizes),
            "version": self.version,
        }


def publish(root: Any, date: str, writers: Mapping[str, Writer], *, lock_timeout: float = 900.0) -> Published:
    """Write ``writers`` as the files of ``<root>/<date>/`` so that they appear together
    (local filesystems) or each whole (object stores); see the module documentation.

    :param root: an ``ObjectStoragePath`` (``file://``, ``s3://``...).
    :param date: ``YYYY-MM-DD``.
    :param writers: ``file name -> writer``; each writer is called once with a text stream.
    :param lock_timeout: longest wait, in seconds, for another publisher of the same date
        (local filesystems).
    """
    if not _DATE.match(date):
        raise ValueError(f"date={date!r}: expected YYYY-MM-DD")
    for name in writers:
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise ValueError(f"file name {name!r}: expected a plain name")
    target = root / date
    files = {name: target / name for name in writers}
    if _is_local(root):
        version, digests = _publish_local(root.path, date, writers, lock_timeout)
        _record_outputs(files.values())
    else:
        version, digests = None, _publish_to_store(root, target, date, writers)
    return Published(
        report_dir=target,
        files=files,
        sha256={name: digest for name, (digest, _) in digests.items()},
        sizes={name: size for name, (_, size) in digests.items()},
        version=version,
    )


# --- local filesystems -------------------------------------------------------------------


def _publish_local(
    root: str, date: str, writers: Mapping[str, Writer], lock_timeout: float
) -> tuple[str, dict[str, tuple[str, int]]]:
    os.makedirs(root, exist_ok=True)
    with _date_lock(os.path.join(root, f".{date}.lock"), lock_timeout):
        checkpoint("locked")
        _restore_if_nothing_visible(root, date, writers)
        token = uuid.uuid4().hex[:12]
        version = f".{date}.{token}"
        try:
            digests = _write_version(root, version, writers)
            _swap_in(root, date, version, token)
        except BaseException:  # the visible report is untouched: drop this run's unfinished one
            _remove(os.path.join(root, f"{version}.link"))
            _remove(os.path.join(root, version))
            raise
        _fsync_dir(root)
        checkpoint("swapped")
        _remove_debris(root, date)
        checkpoint("cleaned")
    return version, digests


def _write_version(root: str, version: str, writers: Mapping[str, Writer]) -> dict[str, tuple[str, int]]:
    """Write every file into the new folder ``<root>/<version>`` and make it durable."""
    folder = os.path.join(root, version)
    os.mkdir(folder)
    digests = {}
    for name, write in writers.items():
        digests[name] = _write_local(os.path.join(folder, name), write)
        checkpoint(f"written:{name}")
    _fsync_dir(folder)
    return digests


def _swap_in(root: str, date: str, version: str, token: str) -> None:
    """Make ``<root>/<date>`` name ``version``, in one atomic rename."""
    link = os.path.join(root, f"{version}.link")
    try:
        os.symlink(version, link)
    except OSError as error:
        raise OSError(
            error.errno,
            f"cannot publish atomically under {root}: the filesystem refused a symbolic link "
            f"({error.strerror}); for a mounted object store use its own URI (s3://...)",
        ) from error
    checkpoint("linked")
    target = os.path.join(root, date)
    if os.path.isdir(target) and not os.path.islink(target):
        _swap_with_folder(link, target, token)  # a report folder written by 0.1.0
    else:
        os.replace(link, target)


class _date_lock:
    """An exclusive ``flock`` on ``path``, waited for at most ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        # Opened read-write: NFS emulates flock with POSIX locks, which need a writable file.
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise TimeoutError(
                        f"another run has been publishing this report for over {self.timeout:.0f} s "
                        f"(lock {self.path} is held)"
                    ) from None
                checkpoint("waiting")
                time.sleep(0.05)

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)  # releases the lock


def _write_local(path: str, write: Writer) -> tuple[str, int]:
    with open(path, "xb") as raw:
        digest = _write_text(raw, write)
        os.fsync(raw.fileno())
    return digest


def _write_text(raw: IO[bytes], write: Writer) -> tuple[str, int]:
    """Run ``write`` on a UTF-8 text stream over ``raw``; the SHA-256 and size of its bytes."""
    hashing = _Hashing(raw)
    text = io.TextIOWrapper(io.BufferedWriter(hashing, _CHUNK), encoding="utf-8", newline="")
    write(text)
    text.flush()
    text.detach().detach()  # leaves ``raw`` open for its owner
    return hashing.sha256.hexdigest(), hashing.size


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what it passes on to ``raw``."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.raw.write(view)
        self.size += view.nbytes
        return view.nbytes


def _swap_with_folder(link: str, folder: str, token: str) -> None:
    """Put the symlink ``link`` where the real folder ``folder`` is, atomically if the system can."""
    try:
        _exchange(link, folder)  # the old folder now sits at ``link``'s name: debris
        return
    except (AttributeError, OSError):
        pass  # no renameat2 (not Linux, old libc) or a filesystem without RENAME_EXCHANGE
    legacy = os.path.join(os.path.dirname(folder), f".{os.path.basename(folder)}.{token}.legacy")
    os.rename(folder, legacy)
    checkpoint("legacy-moved")
    try:
        os.replace(link, folder)
    except BaseException:
        os.rename(legacy, folder)
        raise


def _exchange(a: str, b: str) -> None:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2  # AttributeError where libc has no renameat2
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), a)


def _restore_if_nothing_visible(root: str, date: str, writers: Mapping[str, Writer]) -> None:
    """When ``<date>`` shows nothing (0.1.0 killed between its renames, a dangling link), put
    back the newest complete report a killed publisher set aside, so that one stays visible
    should this publish fail too."""
    target = os.path.join(root, date)
    if os.path.exists(target):
        return
    if os.path.islink(target):
        os.unlink(target)  # dangling
    aside = [
        os.path.join(root, name)
        for name in os.listdir(root)
        if name.startswith(f".{date}.")
        and (name.startswith(f".{date}.retired-") or name.endswith(".legacy"))
        and os.path.isdir(os.path.join(root, name))
        and not os.path.islink(os.path.join(root, name))
        and all(os.path.isfile(os.path.join(root, name, file)) for file in writers)
    ]
    if aside:
        os.rename(max(aside, key=os.path.getmtime), target)


def _remove_debris(root: str, date: str) -> None:
    """Remove every ``.<date>.*`` entry but the lock and the version ``<date>`` names."""
    target = os.path.join(root, date)
    if not os.path.islink(target) or not os.path.isdir(target):
        return  # keep everything when nothing valid is published
    keep = {f".{date}.lock", os.path.basename(os.readlink(target))}
    for name in os.listdir(root):
        if name.startswith(f".{date}.") and name not in keep:
            _remove(os.path.join(root, name))


def _remove(path: str) -> None:
    """Remove a file, a symlink (not what it names) or a folder tree, if it exists."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- object stores -----------------------------------------------------------------------


def _publish_to_store(
    root: Any, target: Any, date: str, writers: Mapping[str, Writer]
) -> dict[str, tuple[str, int]]:
    digests: dict[str, tuple[str, int]] = {}
    with ExitStack() as stack:
        spools: dict[str, IO[bytes]] = {}
        for name, write in writers.items():  # render everything before touching the store
            spools[name] = stack.enter_context(tempfile.TemporaryFile())
            digests[name] = _write_text(spools[name], write)
        checkpoint("rendered")
        target.mkdir(parents=True, exist_ok=True)
        for name, spool in spools.items():
            spool.seek(0)
            _upload(spool, target / name)
            checkpoint(f"written:{name}")
    _remove_store_debris(root, date)
    return digests


def _upload(source: IO[bytes], path: Any) -> None:
    """Copy ``source`` to ``path`` through ``ObjectStoragePath.open`` (Airflow records the
    write as lineage); a failed copy is discarded, never committed as a truncated object."""
    out = path.open("wb")
    try:
        shutil.copyfileobj(source, out, _CHUNK)
    except BaseException:
        discard = getattr(out, "discard", None)  # fsspec's buffered files abort the upload
        if discard is not None:
            discard()
        raise
    out.close()


def _remove_store_debris(root: Any, date: str) -> None:
    """Remove 0.1.0's ``.<date>.staging-*`` keys (this version writes no other keys)."""
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(f".{date}."):
            if entry.is_dir():
                entry.rmdir(recursive=True)
            else:
                entry.unlink(missing_ok=True)


# --- shared ------------------------------------------------------------------------------


def _is_local(path: Any) -> bool:
    return str(getattr(path, "protocol", "file") or "file") in ("file", "local")


def _record_outputs(paths: Any) -> None:
    """Tell Airflow's hook-level lineage collector that ``paths`` were written."""
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector
    except ImportError:  # Airflow 2
        from airflow.lineage.hook import (  # type: ignore[no-redef,attr-defined,unused-ignore]
            get_hook_lineage_collector,
        )
    collector = get_hook_lineage_collector()
    # Airflow 3 says asset, Airflow 2 dataset
    add = getattr(collector, "add_output_asset", None) or getattr(collector, "add_output_dataset")  # noqa: B009
    for path in paths:
        add(context=path, uri=str(path))
