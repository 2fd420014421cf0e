"""``OkxSimulator``: OKX's Web3 balance API on loopback, for tests, demos and benchmarks."""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_okx.testing.admin import PREFIX as ADMIN_PREFIX
from airflow_provider_okx.testing.admin import AdminApi, is_loopback
from airflow_provider_okx.testing.auth import ApiKey, RateLimiter, check_request
from airflow_provider_okx.testing.endpoints import (
    LEDGER_ENDPOINTS,
    ROUTES,
    BalanceApi,
    Reply,
    Request,
    envelope,
    not_found,
)
from airflow_provider_okx.testing.faults import Fault, FaultQueue
from airflow_provider_okx.testing.history import HistoryApi, HistoryOptions
from airflow_provider_okx.testing.ledger import LedgerEntry, generated_history, parse_time
from airflow_provider_okx.testing.server import SimulatorHTTPServer
from airflow_provider_okx.testing.wallets import SEED_ADDRESS, SEED_CHAIN, WalletBook

DEFAULT_API_KEY = "sim-api-key"
DEFAULT_SECRET_KEY = "sim-secret-key"
DEFAULT_PASSPHRASE = "sim-passphrase"
DEFAULT_PROJECT_ID = "sim-project"

UNLIMITED_CLIENT_RPS = 1000
"""``rate_limit_rps`` put in the connection extra when the simulator itself has no limit."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulator received and what it answered.

    ``target`` is the raw request target (path and query) exactly as received; ``query`` the
    raw query string; ``headers`` the headers with their names as sent (use :meth:`header` for
    a case-insensitive lookup); ``status`` 0 when the connection was dropped; ``code`` the OKX
    code answered ("" for a raw body or an HTML page); ``endpoint`` one of ``all_token_balances``,
    ``total_value``, ``token_balances``, ``supported_chains`` or ``None`` for an unknown path;
    ``time`` when it arrived (``time.time()``, the local clock); ``address`` the wallet
    address the request asked about (the ``address`` query parameter, or the POST body's
    ``address``), ``None`` when it names none.
    """

    method: str
    path: str
    query: str
    target: str
    headers: dict[str, str]
    body: str
    status: int
    code: str
    api_key: str | None
    endpoint: str | None
    time: float
    faulted: bool = False
    address: str | None = None

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return json.loads(self.body)


_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")


def _wallet_identity(address: str) -> str:
    """How :meth:`OkxSimulator.count` matches addresses: ``0x`` hex case-insensitively, others exactly."""
    return address.lower() if _HEX.match(address) else address


def _queried_address(request: Request) -> str | None:
    """The wallet a request asks about: the query's ``address``, else the JSON body's."""
    if "address=" in request.query:
        values = parse_qs(request.query, keep_blank_values=True).get("address")
        if values:
            return values[0]
    if request.body[:1] == b"{":
        try:
            body = json.loads(request.body)
        except ValueError:
            return None
        address = body.get("address") if isinstance(body, dict) else None
        return address if isinstance(address, str) else None
    return None


class OkxSimulator:
    """A real HTTP server on loopback that behaves like OKX's Web3 balance API (v5 and v6).

    It verifies OK-ACCESS-* signatures exactly as OKX does, enforces the timestamp window
    and a per-key token-bucket rate limit, serves deterministic wallets (the seed address
    returns OKX's documented example) and injects faults on demand. Use it as a context
    manager, or call :meth:`start` and :meth:`stop`. ``clock_offset``, ``latency``,
    ``rate_limit_rps``, ``timestamp_window``, ``send_retry_after``, ``unsupported_chains`` and
    ``v5_flat_token_list`` may be changed while it runs.

    :param admin: serve the admin API under ``/_admin/`` (:mod:`.admin`): steer the simulator
        over HTTP from another process. It answers loopback peers only, unless ``host`` is a
        non-loopback address.
    :param v5_flat_token_list: answer the v5 specific-token POST with a flat list of tokens as
        ``data`` (the shape older OKX docs show) instead of ``data[].tokenAssets``.

    It also keeps a ledger (:mod:`.ledger`): dated transactions, served as the transaction
    history and added to the balances up to the simulator's "now" (:meth:`set_now`; the
    server clock unless set). ``history_repeat_boundary`` and ``history_trailing_empty_page``
    (:class:`~.history.HistoryOptions`) change how the history pages.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit_rps: float | None = None,
        latency: float = 0.0,
        clock_offset: float = 0.0,
        timestamp_window: float = 30.0,
        send_retry_after: bool = False,
        api_key: str = DEFAULT_API_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        passphrase: str = DEFAULT_PASSPHRASE,
        project_id: str | None = DEFAULT_PROJECT_ID,
        max_recorded: int | None = 100_000,
        admin: bool = True,
        v5_flat_token_list: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.rate_limit_rps = rate_limit_rps
        self.latency = latency
        self.clock_offset = clock_offset
        self.timestamp_window = timestamp_window
        self.send_retry_after = send_retry_after
        self.api_key = api_key
        self.secret_key = secret_key
        self.passphrase = passphrase
        self.project_id = project_id
        self.max_recorded = max_recorded
        self.admin = admin
        self.v5_flat_token_list = v5_flat_token_list
        self.history_repeat_boundary = False
        self.history_trailing_empty_page = False
        self.unsupported_chains: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self._trimmed = 0  # requests dropped from the front of the log by max_recorded
        self.errors: list[str] = []
        self._keys: dict[str, ApiKey] = {api_key: ApiKey(api_key, secret_key, passphrase)}
        self._log_lock = threading.Lock()
        self._faults = FaultQueue()
        self._limiter = RateLimiter()
        self._book = WalletBook()
        self._book.ledger.clock = self.server_time
        self._api = BalanceApi(self._book)
        self._history = HistoryApi(self._book)
        self._api.warm(SEED_ADDRESS, [SEED_CHAIN])
        self._admin = AdminApi(self, allow_remote=not is_loopback(host))
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self.base_url if self._server is not None else "stopped"
        return f"OkxSimulator({state}, api_key={self.api_key!r})"

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> OkxSimulator:
        """Bind and serve in a daemon thread. After a stop it binds the same port again."""
        if self._server is not None:
            return self
        server = SimulatorHTTPServer((self.host, self.port), self._handle, self.server_time, self._record)
        self.port = server.server_port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="okx-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> OkxSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- how to reach it ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` (the port is known once started)."""
        if not self.port:
            raise RuntimeError("the simulator has no port until it is started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def connection_extra(self, **overrides: Any) -> dict[str, Any]:
        """The ``extra`` of an ``okx`` connection to this simulator; ``overrides`` replace or add keys.

        ``rate_limit_rps`` is the simulator's own limit, or a high one when it has none.
        """
        extra: dict[str, Any] = {"passphrase": self.passphrase}
        if self.project_id is not None:
            extra["project_id"] = self.project_id
        extra["rate_limit_rps"] = (
            self.rate_limit_rps if self.rate_limit_rps is not None else UNLIMITED_CLIENT_RPS
        )
        extra.update(overrides)
        return extra

    def connection_json(self, **overrides: Any) -> str:
        """A JSON connection for ``AIRFLOW_CONN_OKX_DEFAULT`` pointing at this simulator."""
        return json.dumps(
            {
                "conn_type": "okx",
                "host": self.base_url,
                "login": self.api_key,
                "password": self.secret_key,
                "extra": self.connection_extra(**overrides),
            }
        )

    def server_time(self) -> float:
        """The simulated server clock: ``time.time() + clock_offset``."""
        return time.time() + self.clock_offset

    def server_date(self) -> str:
        """The ``Date`` header the server would send now."""
        return formatdate(self.server_time(), usegmt=True)

    # --- request log --------------------------------------------------------------------

    def clear_requests(self) -> None:
        """Empty the request log (log indexes start again at 0)."""
        with self._log_lock:
            self.requests.clear()
            self._trimmed = 0

    def request_count(self) -> int:
        """Requests recorded since the log was last cleared (including any ``max_recorded`` dropped)."""
        with self._log_lock:
            return self._trimmed + len(self.requests)

    def requests_since(self, index: int) -> tuple[list[tuple[int, RecordedRequest]], int]:
        """``([(index, request), ...], next)``: the log from position ``index`` on.

        Positions count from the last :meth:`clear_requests`; entries dropped by
        ``max_recorded`` are skipped. ``next`` is the position the next request will take:
        pass it as ``index`` to read only what is new.
        """
        with self._log_lock:
            start = max(index - self._trimmed, 0)
            entries = [(self._trimmed + start + i, r) for i, r in enumerate(self.requests[start:])]
            return entries, self._trimmed + len(self.requests)

    def count(
        self,
        endpoint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        *,
        address: str | None = None,
    ) -> int:
        """How many recorded requests match every given filter.

        ``address``: requests that asked about this wallet (``0x`` hex addresses match
        case-insensitively, others exactly).
        """
        with self._log_lock:
            records = list(self.requests)
        wallet = None if address is None else _wallet_identity(address)
        return sum(
            1
            for r in records
            if (endpoint is None or r.endpoint == endpoint)
            and (status is None or r.status == status)
            and (code is None or r.code == code)
            and (wallet is None or (r.address is not None and _wallet_identity(r.address) == wallet))
        )

    def _is_admin(self, request: Request) -> bool:
        return self.admin and request.path.startswith(ADMIN_PREFIX)

    def _record(self, request: Request, reply: Reply, received: float) -> None:
        if self._is_admin(request):
            return  # the log is of API traffic: polling it must not grow it
        route = ROUTES.get(request.path)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            target=request.target,
            headers=dict(request.sent_headers),
            body=request.body.decode("utf-8", "replace"),
            status=reply.status,
            code=reply.code,
            api_key=request.headers.get("ok-access-key"),
            endpoint=route.name if route is not None else None,
            time=received,
            faulted=getattr(reply, "faulted", False),
            address=_queried_address(request),
        )
        with self._log_lock:
            self.requests.append(record)
            if self.max_recorded is not None and len(self.requests) > self.max_recorded:
                excess = len(self.requests) - self.max_recorded
                del self.requests[:excess]
                self._trimmed += excess

    # --- faults, balances, keys ---------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Queue a fault; each request takes the first matching fault with uses left."""
        self._faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Injected faults that still have uses left."""
        return self._faults.pending()

    def set_balance(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        balance: str | int | Decimal,
        *,
        price: str | int | Decimal | None = None,
        symbol: str | None = None,
    ) -> None:
        """Override (or add) one token of one wallet. Balance "0" shows the token with 0.

        ``price`` is the token's price, not the wallet's: it calls :meth:`set_price`, so every
        wallet holding that token sees it. A token added without any price is priced "1".
        """
        self._book.set_balance(address, chain_index, token_address, balance, price=price, symbol=symbol)

    def set_portfolio(self, address: str, chains: Any, tokens: int) -> dict[str, int]:
        """Give a wallet ``tokens`` generated tokens spread evenly over ``chains`` (a list, or
        ``"1,56"``) instead of its usual handful: the native coin and tokens ``TK1``, ``TK2``...
        of each chain, deterministic, each token one price in every wallet holding it (for
        benchmarks: 100 wallets x 10,000 tokens is a million balance rows). Answers are cached
        per wallet and chain, so serving them again costs little. Overrides and the ledger apply
        on top; ``tokens=0`` (or :meth:`clear_balances`) gives the usual portfolio back.
        Returns the tokens per chain. Over HTTP: ``PUT /_admin/portfolios``.

        :raises ValueError: for a bad chain or a count outside 0 to 100,000.
        """
        if isinstance(chains, str):
            chains = chains.split(",")
        return self._book.set_portfolio(address, chains, tokens)

    def clear_portfolios(self) -> None:
        """Give every wallet of :meth:`set_portfolio` its usual portfolio back (balance and price
        overrides stay; :meth:`clear_balances` drops both)."""
        self._book.clear_portfolios()

    def set_price(self, chain_index: str | int, token_address: str, price: str | int | Decimal) -> None:
        """Set one token's price (``"0"``: OKX has no price) for every wallet, until cleared."""
        self._book.set_price(chain_index, token_address, price)

    def set_balance_sequence(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        balances: list[str],
        *,
        price: str | int | Decimal | None = None,
        symbol: str = "TKN",
    ) -> None:
        """The k-th balance request reading this wallet and chain sees ``balances[min(k, len-1)]``.

        ``price``, when given, is set for the token as by :meth:`set_price`.
        """
        self._book.set_sequence(address, chain_index, token_address, balances, price=price, symbol=symbol)

    def clear_balances(self) -> None:
        """Drop every balance and price override and every :meth:`set_portfolio` (the
        deterministic portfolios remain)."""
        self._book.clear()

    # --- the ledger -----------------------------------------------------------------------

    def add_transaction(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        amount: str | int | Decimal,
        direction: str,
        *,
        time: Any = None,
        tx_hash: str | None = None,
        counterparty: str | None = None,
        fee: str | int | Decimal = "0",
        status: str = "success",
        symbol: str | None = None,
        item_type: str | None = None,
    ) -> LedgerEntry:
        """Add one record to a wallet's history; it moves the wallet's balances from its
        ``time`` on (default: "now"). See :mod:`.ledger` for what each status moves.

        :param direction: ``"in"``, ``"out"`` or ``"self"``, relative to ``address``.
        :param time: an aware datetime, ISO 8601 text with a zone, or ms since the epoch.
        :param fee: the transaction's fee in the native coin, paid by the wallet when it sent
            the transaction (once per ``tx_hash``).
        :param tx_hash: default a hash derived from the record; give one to make records of
            one transaction (a swap: one ``out`` and one ``in`` with one hash).
        :raises ValueError: naming the field, for a bad value or a record that would take a
            balance below zero.
        """
        return self._book.add_transaction(
            address,
            chain_index,
            token_address=token_address,
            amount=amount,
            direction=direction,
            time=time,
            tx_hash=tx_hash,
            counterparty=counterparty,
            fee=fee,
            status=status,
            symbol=symbol,
            item_type=item_type,
        )

    def add_transactions(self, address: str, chain_index: str | int, records: list[dict[str, Any]]) -> int:
        """Many :meth:`add_transaction` records (their keyword arguments as dicts) at once,
        checked together: all are added or none. Returns how many were added."""
        return len(self._book.add_transactions(address, chain_index, records))

    def generate_history(
        self, address: str, chain_index: str | int, count: int, *, begin: Any, end: Any = None
    ) -> int:
        """Add ``count`` deterministic records to a wallet's ledger over ``[begin, end)``
        (default end: "now"), moving the native coin and up to three of the (non-risk) tokens the
        wallet holds (see
        :func:`.ledger.generated_history`). Returns how many were added."""
        chain = str(chain_index).strip()
        begin_ms = parse_time(begin, "begin")
        end_ms = self.now_ms if end is None else parse_time(end, "end")
        held = self._book.opening(address, chain)
        tokens = [a.token_address for a in held if a.token_address and not a.is_risk_token][:3]
        records = generated_history(address, chain, count, begin_ms=begin_ms, end_ms=end_ms, tokens=tokens)
        return self.add_transactions(address, chain, records)

    def hide_transaction(self, address: str, chain_index: str | int, tx_hash: str) -> int:
        """A fault: leave the records of ``tx_hash`` out of the wallet's history while they still
        move its balances (a roll-forward then shows exactly their amount unexplained).
        Returns how many records were hidden (0: no such transaction)."""
        return self._book.ledger.hide(address, str(chain_index).strip(), tx_hash)

    def set_now(self, when: Any) -> int | None:
        """Fix the simulator's "now" (aware datetime, ISO 8601 text or ms); ``None`` follows
        the server clock again. Balances, history and prices are as of "now"."""
        return self._book.ledger.set_now(when)

    @property
    def now_is_fixed(self) -> bool:
        """Whether "now" was set (rather than following the server clock)."""
        return self._book.ledger.now_is_fixed

    @property
    def now_ms(self) -> int:
        """The simulator's "now" in ms since the epoch."""
        return self._book.ledger.now_ms()

    def clear_transactions(self) -> None:
        """Drop every ledger entry; "now" follows the server clock again."""
        self._book.ledger.clear()

    def add_key(self, api_key: str, secret_key: str, passphrase: str) -> None:
        """Accept another API key (each key has its own rate-limit bucket)."""
        self._keys[api_key] = ApiKey(api_key, secret_key, passphrase)

    def reset(self) -> None:
        """Forget requests, faults, balance overrides, the ledger, rate-limit state and errors."""
        self.clear_requests()
        self.clear_faults()
        self.clear_balances()
        self.clear_transactions()
        self._limiter.reset()
        self.errors.clear()

    # --- serving ------------------------------------------------------------------------

    def _handle(self, request: Request, received: float) -> Reply:
        try:
            if self._is_admin(request):
                return self._admin.answer(request)
            return self._answer(request)
        except Exception:
            self.errors.append(traceback.format_exc())
            return envelope("50026", "System error, please try again later", status=500)

    def _answer(self, request: Request) -> Reply:
        if self.latency > 0:
            time.sleep(self.latency)
        route = ROUTES.get(request.path)
        fault = self._faults.take(route.name if route is not None else None, request.path)
        extra_headers: tuple[tuple[str, str], ...] = ()
        if fault is not None:
            if fault.latency > 0:
                time.sleep(fault.latency)
            if fault.drop:
                return _FaultReply(status=0, drop=True)
            if fault.answers:
                return self._fault_reply(fault, route.version if route is not None else None)
            extra_headers = tuple(fault.headers.items())
        reply = self._authorised_answer(request)
        if extra_headers:
            reply = Reply(
                reply.status, reply.body, reply.code, reply.headers + extra_headers, reply.content_type
            )
        return reply

    def _fault_reply(self, fault: Fault, version: str | None) -> Reply:
        status = fault.response_status()
        headers = dict(fault.headers)
        if status == 429 and self.send_retry_after and not any(k.lower() == "retry-after" for k in headers):
            headers["Retry-After"] = "1"
        raw = fault.body_bytes()
        if raw is not None:
            content_type = "text/html" if raw.lstrip()[:1] == b"<" else "application/json"
            return _FaultReply(status, raw, "", tuple(headers.items()), content_type)
        code = fault.response_code(version)
        body = envelope(code, fault.response_msg(version)).body
        return _FaultReply(status, body, code, tuple(headers.items()))

    def _authorised_answer(self, request: Request) -> Reply:
        route = ROUTES.get(request.path)
        if route is None:
            return not_found()
        if request.method != route.method:
            return envelope("50000", f"Method {request.method} not allowed; use {route.method}", status=405)
        failure = check_request(
            request.headers,
            request.method,
            request.target,
            request.path,
            request.body,
            self._keys,
            self.server_time(),
            self.timestamp_window,
        )
        if failure is not None:
            return envelope(failure.code, failure.msg, status=failure.status)
        key = request.headers["ok-access-key"]
        if not self._limiter.allow(key, self.rate_limit_rps):
            reply = envelope("50011", "Too Many Requests", status=429)
            if self.send_retry_after:
                reply = Reply(reply.status, reply.body, reply.code, (("Retry-After", "1"),))
            return reply
        unsupported = frozenset(str(chain) for chain in self.unsupported_chains)
        if route.name in LEDGER_ENDPOINTS:
            options = HistoryOptions(self.history_repeat_boundary, self.history_trailing_empty_page)
            return self._history.answer(route, request, unsupported, options)
        return self._api.answer(route, request, unsupported, v5_flat_token_list=self.v5_flat_token_list)


@dataclass(frozen=True)
class _FaultReply(Reply):
    """A reply produced by an injected fault (recorded as ``faulted``)."""

    faulted: bool = field(default=True)
