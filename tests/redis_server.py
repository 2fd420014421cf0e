"""A real Redis server for the tests, started on loopback from Debian's ``redis-server``.

``redis_server`` (fixture) runs ``redis-server`` in a fresh temporary folder on 127.0.0.1 and
a free port (no persistence, a password), and stops it and removes the folder afterwards.
:class:`RedisServer` can also stop and restart the same server on the same port, for the
tests of a store that goes away and comes back.

A missing binary skips the tests on a workstation and fails them under ``CI=true``:
``scripts/ensure-redis.sh`` installs it (``make test`` calls it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "redis-test-pa55word"
START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(f"AUTH {PASSWORD}\r\nPING\r\n".encode())
            data = b""
            while b"PONG" not in data:
                chunk = sock.recv(64)
                if not chunk:
                    return False
                data += chunk
            return True
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process in its own folder; :meth:`stop` and :meth:`start` again."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="okx-redis-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                PASSWORD,
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start on port {self.port}: {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def find_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server on 127.0.0.1 (password :data:`PASSWORD`) for one test."""
    binary = find_binary()
    if binary is None:
        message = "redis-server not found: run scripts/ensure-redis.sh (apt-get install redis-server)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("redis")
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()
