"""A hostile HTTP server for tests: raw sockets on loopback, controlled byte by byte.

Each test gives a handler that receives the parsed request and the client socket and writes
whatever it likes: a trickle, a redirect, a huge or compressed body, an echo of our headers,
nothing at all. The server records every request (with its raw header block) and how many
connections were opened, and stops every handler when the test ends (bounded waits).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    raw_headers: bytes
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass
class Exchange:
    """What one handler call may use: the request, the socket and the stop signal."""

    request: RawRequest
    conn: socket.socket
    stopped: threading.Event
    index: int
    """How many requests this server received before this one (0 for the first)."""

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; ``False`` once the client is gone."""
        try:
            self.conn.sendall(data)
            return True
        except OSError:
            return False

    def respond(
        self,
        status: int = 200,
        body: bytes | str | object = b"",
        headers: dict[str, str] | None = None,
        reason: str = "OK",
    ) -> None:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        head = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in head.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)

    def trickle(self, data: bytes, interval: float) -> None:
        """Send ``data`` one byte every ``interval`` seconds, until the client or the test goes."""
        for i in range(len(data)):
            if self.stopped.wait(interval) or not self.send(data[i : i + 1]):
                return

    def reset(self) -> None:
        """Close with a TCP reset (RST) instead of a clean FIN."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.conn.close()


Handler = Callable[[Exchange], None]


@dataclass
class HostileServer:
    handler: Handler
    tls: ssl.SSLContext | None = None
    """Serve HTTPS with this server-side context (see :func:`tls_files`)."""
    requests: list[RawRequest] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _read_request(self, conn: socket.socket, buffer: bytearray) -> RawRequest | None:
        conn.settimeout(0.2)
        while b"\r\n\r\n" not in buffer:
            if self.stopped.is_set():
                return None
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buffer += chunk
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        body = bytearray(rest)
        while len(body) < length and not self.stopped.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            body += chunk
        buffer[:] = body[length:]
        method, target, _ = request_line.split(" ", 2)
        return RawRequest(method, target, headers, head, bytes(body[:length]))

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        if self.tls is not None:
            try:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
            with self._lock:
                self._conns.append(conn)
        try:
            while not self.stopped.is_set():
                request = self._read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    index = len(self.requests)
                    self.requests.append(request)
                conn.settimeout(None)
                self.handler(Exchange(request, conn, self.stopped, index))
                if conn.fileno() == -1:
                    return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once
        except OSError:
            pass
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._listener.close()
        deadline = time.monotonic() + 5
        for thread in [self._accepter, *self._threads]:
            thread.join(max(deadline - time.monotonic(), 0))


def envelope(data: object = None, code: str = "0", msg: str = "") -> dict:
    return {"code": code, "msg": msg, "data": [] if data is None else data}


CHAINS = envelope([{"name": "Ethereum", "shortName": "eth", "chainIndex": "1", "logoUrl": ""}])


@pytest.fixture
def hostile(monkeypatch) -> Iterator[Callable[..., HostileServer]]:
    """Start a hostile server with a handler; ``okx_default`` points at it (no rate limit)."""
    from tests.conftest import conn_json

    servers: list[HostileServer] = []

    def start(handler: Handler, *, tls: ssl.SSLContext | None = None, **extra: object) -> HostileServer:
        server = HostileServer(handler, tls)
        servers.append(server)
        monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", conn_json(host=server.base_url, **extra))
        return server

    yield start
    for server in servers:
        server.stop()


def tls_files(directory) -> dict[str, str]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (PEM paths)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def issue(subject: str, key, issuer: str, issuer_key, *, ca: bool = False, usage=None, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    import ipaddress

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("okx-test-ca", ca_key, "okx-test-ca", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue(
        "127.0.0.1",
        server_key,
        "okx-test-ca",
        ca_key,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = issue("okx-client", client_key, "okx-test-ca", ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    def pem_key(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    files = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_cert": server.public_bytes(serialization.Encoding.PEM),
        "server_key": pem_key(server_key),
        "client_cert": client.public_bytes(serialization.Encoding.PEM),
        "client_key": pem_key(client_key),
    }
    paths = {}
    for label, data in files.items():
        path = directory / f"{label}.pem"
        path.write_bytes(data)
        paths[label] = str(path)
    return paths


def server_tls(files: dict[str, str], *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["server_cert"], files["server_key"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(files["ca"])
    return context
