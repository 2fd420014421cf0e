"""HTTP plumbing: a threading HTTP/1.1 keep-alive server on loopback.

Each connection gets a daemon thread; every answer carries ``Content-Length`` (so connections
stay open), a ``Date`` from the simulated server clock and is written in one ``send``.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_okx.testing.endpoints import JSON, Reply, Request, bad_body

MAX_BODY = 1 << 20
"""Largest request body accepted (bytes)."""

Handler = Callable[[Request, float], Reply]


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer sized for many concurrent keep-alive clients."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handle: Handler,
        clock: Callable[[], float],
        on_reply: Callable[[Request, Reply, float], None],
    ) -> None:
        self.handle = handle
        self.clock = clock
        self.on_reply = on_reply
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (or a connection closed by stop()) is not worth a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection (their threads then end)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "okx-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator keeps its own request log (``OkxSimulator.requests``)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(self.server.clock() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                length = int(line.split(b";", 1)[0].strip() or b"x", 16)
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(length))
                self.rfile.readline(1024)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        length = int(length_text)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def _serve(self) -> None:
        received = time.time()
        target = self.path
        path, _, query = target.partition("?")
        sent = dict(self.headers.items())
        headers = {name.lower(): value for name, value in sent.items()}
        client = str(self.client_address[0]) if self.client_address else ""
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            request = Request(self.command, target, path, query, headers, b"", sent, client)
            reply = bad_body(path)
            self.server.on_reply(request, reply, received)
            self._send(reply)
            return
        request = Request(self.command, target, path, query, headers, body, sent, client)
        reply = self.server.handle(request, received)
        # Recorded before answering, so a client that got its answer finds its request logged.
        self.server.on_reply(request, reply, received)
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Date: {self.date_time_string()}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(reply.body)}",
        ]
        names = {name.lower() for name, _ in reply.headers}
        if "content-type" not in names:
            lines.append(f"Content-Type: {reply.content_type or JSON}")
        lines.extend(f"{name}: {value}" for name, value in reply.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(head + reply.body)
