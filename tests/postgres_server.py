"""A real PostgreSQL server for the tests, started on loopback from Debian's binaries.

``postgres_server`` (session fixture) runs ``initdb`` in a fresh temporary folder and ``pg_ctl
start`` on 127.0.0.1 and a free port, then stops it and removes the folder at the end of the
session. As root it runs the server as the ``postgres`` user (PostgreSQL refuses root).

Missing binaries skip the tests on a workstation and fail them under ``CI=true``:
``scripts/ensure-postgres.sh`` installs them (``make test`` calls it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

USER = "okx"
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str

    def uri(self, database: str | None = None) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_...``) for this server."""
        return f"postgres://{self.user}@{self.host}:{self.port}/{database or self.database}"

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own autocommitted connection; the rows it returns, if any.

        Uses psycopg (3) when installed, else psycopg2 (what Airflow 2's postgres provider uses).
        """
        try:
            import psycopg

            with psycopg.connect(
                host=self.host, port=self.port, user=self.user, dbname=self.database, autocommit=True
            ) as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except ImportError:
            import psycopg2

            conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.database)
            try:
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall() if cursor.description else []
            finally:
                conn.close()


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a psycopg or psycopg2 error (``"23514"``: a check constraint refused a row)."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``, or ``initdb`` on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], timeout: float) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed ({result.returncode}): {result.stderr[-2000:]}")


def start_server(bindir: Path) -> tuple[PostgresServer, Path]:
    """initdb + pg_ctl start in a new temporary folder; returns the server and the folder."""
    root = Path(tempfile.mkdtemp(prefix="okx-pg-"))
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError("running as root needs a 'postgres' user to run the server") from None
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            timeout=120,
        )
        for attempt in range(3):
            port = _free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
            try:
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "start",
                        "-D",
                        str(data),
                        "-l",
                        str(root / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        str(START_TIMEOUT),
                    ],
                    timeout=START_TIMEOUT + 30,
                )
                return PostgresServer("127.0.0.1", port, USER, "postgres"), root
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def stop_server(bindir: Path, root: Path) -> None:
    try:
        _run([str(bindir / "pg_ctl"), "stop", "-D", str(root / "data"), "-m", "immediate", "-w"], timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for this test session (trust auth, user ``okx``)."""
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL binaries not found: run scripts/ensure-postgres.sh (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    server, root = start_server(bindir)
    try:
        yield server
    finally:
        stop_server(bindir, root)
