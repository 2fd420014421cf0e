"""The simulator's admin API: steer a running simulator over HTTP (``/_admin/...``).

For tests of a real deployment, where the simulator runs in another process: set balances,
prices and large generated portfolios, inject and clear faults, read and clear the request log.
Unsigned, JSON in and out. Amounts are JSON strings (an int is accepted too); a JSON number
with a fraction or exponent in ``balance`` or ``price`` is refused with 400, since it would
have gone through a float, and so is an amount outside the product's bounds
(``"1E+100000000"``, more than 80 digits, negative: see
:func:`~airflow_provider_okx.core.models.amount_problem`). A string holding a lone surrogate
(``"\\ud800"``), anywhere in the body, is refused with 400 naming the field.

=========================  ==================================================================
``GET /_admin/state``      ``{"requests", "faults", "rate_limit_rps", "latency"}``
``GET /_admin/requests``   ``?since=N``: ``{"requests": [...], "next": M}`` (no headers, ever)
``DELETE /_admin/requests``  clear the request log (indexes start again at 0)
``PUT /_admin/balances``   ``{"address", "chain_index", "token_address", "balance",
                           "price"?, "symbol"?}``
``DELETE /_admin/balances``  drop every balance and price override, and every portfolio
``PUT /_admin/prices``     ``{"chain_index", "token_address", "price"}``: every wallet
``PUT /_admin/portfolios`` ``{"address", "chains", "tokens"}`` -> ``{"ok", "address", "tokens",
                           "chains": {chain: n}}``: ``tokens`` generated tokens over ``chains``
                           (a list, or ``"1,56"``), 0 to 100000; 0: the usual portfolio again
``DELETE /_admin/portfolios``  every wallet's usual portfolio again (overrides stay)
``POST /_admin/faults``    the :class:`~.faults.Fault` fields -> ``{"pending": n}``
``DELETE /_admin/faults``  drop every injected fault
``POST /_admin/reset``     requests, faults, overrides, the ledger, rate-limit buckets
``POST /_admin/transactions``  ``{"address", "chain_index", "token_address", "amount",
                           "direction", "time"?, "tx_hash"?, "counterparty"?, "fee"?,
                           "status"?, "symbol"?, "item_type"?}`` -> the record added
``DELETE /_admin/transactions``  drop the whole ledger
``POST /_admin/transactions/generate``  ``{"address", "chain_index", "count", "begin", "end"?}``
                           -> ``{"added": n}`` (deterministic records, see :mod:`.ledger`)
``POST /_admin/transactions/hide``  ``{"address", "chain_index", "tx_hash"}`` -> ``{"hidden": n}``
``GET /_admin/now``        ``{"now": ISO 8601 Z, "fixed": bool}``
``PUT /_admin/now``        ``{"now": ISO 8601 with a zone | ms | null}`` (null: the clock)
=========================  ==================================================================

Only loopback peers are answered unless the simulator was bound to a non-loopback host.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from airflow_provider_okx.core.models import amount_problem, read_decimal, shorten
from airflow_provider_okx.testing.endpoints import Reply, Request, dumps
from airflow_provider_okx.testing.faults import Fault
from airflow_provider_okx.testing.ledger import LedgerEntry, ms_iso
from airflow_provider_okx.testing.portfolios import LARGE_PORTFOLIO_LIMIT
from airflow_provider_okx.testing.wallet_book import chain_text

if TYPE_CHECKING:
    from airflow_provider_okx.testing.simulator import OkxSimulator, RecordedRequest

PREFIX = "/_admin/"

FAULT_FIELDS = ("status", "code", "msg", "body", "headers", "latency", "drop", "times", "endpoint")


class AdminError(Exception):
    """A refused admin request: HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Number(str):
    """A JSON number with a fraction or exponent, kept as its text (see :func:`_loads`)."""


def _is_text(value: object) -> bool:
    """A JSON string (a :class:`_Number` is a number, although kept as text)."""
    return isinstance(value, str) and not isinstance(value, _Number)


def _refuse_constant(name: str) -> Any:
    raise AdminError(400, f"{name} is not a number JSON allows")


def _loads(body: bytes) -> Any:
    """JSON with every non-integer number kept as :class:`_Number` text (never a float), and no
    string that UTF-8 cannot carry (a lone surrogate such as ``"\\ud800"`` would be stored, then
    break every answer that quotes it)."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_float=_Number, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AdminError(400, "the body is not valid JSON") from None
    _check_text(payload, "body")
    return payload


def _check_text(value: Any, where: str) -> None:
    """Refuse a string (a value or a key, at any depth) holding a lone surrogate, naming where."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise AdminError(400, f"{where} holds a lone surrogate (not text UTF-8 can carry)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"a field name in {where}")
            _check_text(item, key if where == "body" else f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) is a loopback address."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def request_summary(index: int, record: RecordedRequest) -> dict[str, Any]:
    """One request log entry as the admin API shows it: never its headers or body."""
    return {
        "index": index,
        "method": record.method,
        "path": record.path,
        "query": record.query,
        "status": record.status,
        "code": record.code,
        "endpoint": record.endpoint,
        "address": record.address,
        "time": record.time,
        "faulted": record.faulted,
    }


# --- field checks ------------------------------------------------------------------------------


def _object(body: bytes, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    payload = _loads(body) if body.strip() else {}
    if not isinstance(payload, dict):
        raise AdminError(400, "the body must be a JSON object")
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise AdminError(400, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    missing = [name for name in required if name not in payload]
    if missing:
        raise AdminError(400, f"missing field(s) {', '.join(missing)}")
    return payload


def _amount(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if isinstance(value, _Number):
        raise AdminError(
            400, f"{name} must be a JSON string (got the number {value}: amounts are never floats)"
        )
    if isinstance(value, bool) or not (_is_text(value) or isinstance(value, int)):
        raise AdminError(400, f"{name} must be a decimal string")
    # The product's own bounds (core/models.py): what OKX could never send is refused here,
    # before the simulator stores it and fails on every later answer.
    try:
        amount = read_decimal(value if isinstance(value, int) else value.strip())
    except ValueError as error:
        raise AdminError(400, f"{name}: {error}") from None
    problem = amount_problem(amount)
    if problem:
        raise AdminError(400, f"{name} {shorten(value)} is {problem}")
    if amount < 0:
        raise AdminError(400, f"{name} must not be negative")
    return str(value).strip()


def _text(payload: Mapping[str, Any], name: str, *, empty: bool = True) -> str:
    value = payload[name]
    if not _is_text(value) or (not empty and not value):
        raise AdminError(400, f"{name} must be a {'' if empty else 'non-empty '}string")
    return value


def _chain(payload: Mapping[str, Any]) -> str:
    value = payload["chain_index"]
    if isinstance(value, bool) or not (_is_text(value) or isinstance(value, int)):
        raise AdminError(400, 'chain_index must be a string such as "1"')
    return str(value)


def _chains(payload: Mapping[str, Any]) -> list[str]:
    """``chains``: a list of chain indexes (strings or integers), or one string ``"1,56"``."""
    value = payload["chains"]
    items = value.split(",") if _is_text(value) else value
    if not isinstance(items, list) or any(
        isinstance(item, bool) or not (_is_text(item) or isinstance(item, int)) for item in items
    ):
        raise AdminError(400, 'chains must be a list of chain indexes such as ["1", "56"], or "1,56"')
    chains = []
    for item in items:
        try:
            chains.append(chain_text(item))
        except ValueError:
            raise AdminError(400, f"chains: {shorten(str(item))!r} is not a chain index") from None
    return chains


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, _Number)):
        raise AdminError(400, f"{name} must be a number of seconds")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise AdminError(400, f"{name} must be a finite number of seconds >= 0")
    return seconds


def fault_from_json(payload: Mapping[str, Any]) -> Fault:
    """A :class:`Fault` from its JSON fields, each type-checked."""
    kwargs: dict[str, Any] = {}
    status = payload.get("status")
    if status is not None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise AdminError(400, "status must be an HTTP status code (100-599)")
        kwargs["status"] = status
    code = payload.get("code")
    if code is not None:
        if isinstance(code, bool) or not (_is_text(code) or isinstance(code, int)) or not str(code).strip():
            raise AdminError(400, 'code must be an OKX code such as "50011"')
        kwargs["code"] = str(code)
    for name in ("msg", "body", "endpoint"):
        value = payload.get(name)
        if value is not None:
            if not _is_text(value):
                raise AdminError(400, f"{name} must be a string")
            kwargs[name] = value
    headers = payload.get("headers")
    if headers is not None:
        if not isinstance(headers, dict) or not all(_is_text(v) and k.strip() for k, v in headers.items()):
            raise AdminError(400, "headers must be an object of strings")
        if any(any(c in k + v for c in "\r\n\0") or ":" in k for k, v in headers.items()):
            raise AdminError(400, "header names and values cannot hold line breaks (or ':' in a name)")
        kwargs["headers"] = dict(headers)
    if payload.get("latency") is not None:
        kwargs["latency"] = _seconds(payload["latency"], "latency")
    drop = payload.get("drop")
    if drop is not None:
        if not isinstance(drop, bool):
            raise AdminError(400, "drop must be true or false")
        kwargs["drop"] = drop
    if "times" in payload:
        times = payload["times"]
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise AdminError(400, "times must be a positive integer, or null for until cleared")
        kwargs["times"] = times
    return Fault(**kwargs)


# --- the API ---------------------------------------------------------------------------------


class AdminApi:
    """Answers ``/_admin/`` requests for one simulator (pure: request in, reply out).

    :param allow_remote: answer peers that are not on loopback (only when the simulator was
        bound to a non-loopback host on purpose).
    """

    def __init__(self, simulator: OkxSimulator, *, allow_remote: bool = False) -> None:
        self.sim = simulator
        self.allow_remote = allow_remote
        self._routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "state"): self._state,
            ("GET", "requests"): self._requests,
            ("DELETE", "requests"): self._clear_requests,
            ("PUT", "balances"): self._set_balance,
            ("DELETE", "balances"): self._clear_balances,
            ("PUT", "prices"): self._set_price,
            ("PUT", "portfolios"): self._set_portfolio,
            ("DELETE", "portfolios"): self._clear_portfolios,
            ("POST", "faults"): self._inject,
            ("DELETE", "faults"): self._clear_faults,
            ("POST", "reset"): self._reset,
            ("POST", "transactions"): self._add_transaction,
            ("DELETE", "transactions"): self._clear_transactions,
            ("POST", "transactions/hide"): self._hide_transaction,
            ("POST", "transactions/generate"): self._generate,
            ("GET", "now"): self._now,
            ("PUT", "now"): self._set_now,
        }

    def answer(self, request: Request) -> Reply:
        try:
            if not self.allow_remote and request.client and not is_loopback(request.client):
                raise AdminError(403, "the admin API answers loopback clients only")
            name = request.path[len(PREFIX) :].strip("/")
            handler = self._routes.get((request.method, name))
            if handler is None:
                allowed = sorted(method for method, route in self._routes if route == name)
                if allowed:
                    reply = _json({"error": f"use {' or '.join(allowed)} for {PREFIX}{name}"}, 405)
                    return Reply(reply.status, reply.body, "", (("Allow", ", ".join(allowed)),))
                raise AdminError(404, f"no admin route {request.path}")
            return _json(handler(request))
        except AdminError as error:
            return _json({"error": error.message}, error.status)
        except (TypeError, ValueError) as error:  # refused by the simulator itself
            return _json({"error": str(error)}, 400)

    def _state(self, request: Request) -> dict[str, Any]:
        return {
            "requests": self.sim.request_count(),
            "faults": len(self.sim.faults),
            "rate_limit_rps": self.sim.rate_limit_rps,
            "latency": self.sim.latency,
        }

    def _requests(self, request: Request) -> dict[str, Any]:
        params = parse_qs(request.query, keep_blank_values=True)
        since_text = params.get("since", ["0"])[0]
        if not (since_text.isascii() and since_text.isdigit()):
            raise AdminError(400, f"since must be an integer >= 0, not {since_text!r}")
        entries, following = self.sim.requests_since(int(since_text))
        return {"requests": [request_summary(i, r) for i, r in entries], "next": following}

    def _clear_requests(self, request: Request) -> dict[str, Any]:
        self.sim.clear_requests()
        return {"ok": True}

    def _set_balance(self, request: Request) -> dict[str, Any]:
        payload = _object(
            request.body,
            ("address", "chain_index", "token_address", "balance", "price", "symbol"),
            ("address", "chain_index", "token_address", "balance"),
        )
        price = None if payload.get("price") is None else _amount(payload, "price")
        symbol = None if payload.get("symbol") is None else _text(payload, "symbol", empty=False)
        self.sim.set_balance(
            _text(payload, "address", empty=False),
            _chain(payload),
            _text(payload, "token_address"),
            _amount(payload, "balance"),
            price=price,
            symbol=symbol,
        )
        return {"ok": True}

    def _clear_balances(self, request: Request) -> dict[str, Any]:
        self.sim.clear_balances()
        return {"ok": True}

    def _set_price(self, request: Request) -> dict[str, Any]:
        fields = ("chain_index", "token_address", "price")
        payload = _object(request.body, fields, fields)
        self.sim.set_price(_chain(payload), _text(payload, "token_address"), _amount(payload, "price"))
        return {"ok": True}

    def _set_portfolio(self, request: Request) -> dict[str, Any]:
        fields = ("address", "chains", "tokens")
        payload = _object(request.body, fields, fields)
        tokens = payload["tokens"]
        if (
            isinstance(tokens, bool)
            or not isinstance(tokens, int)
            or not 0 <= tokens <= LARGE_PORTFOLIO_LIMIT
        ):
            raise AdminError(400, f"tokens must be an integer from 0 to {LARGE_PORTFOLIO_LIMIT}")
        address = _text(payload, "address", empty=False)
        counts = self.sim.set_portfolio(address, _chains(payload), tokens)
        return {"ok": True, "address": address, "tokens": sum(counts.values()), "chains": counts}

    def _clear_portfolios(self, request: Request) -> dict[str, Any]:
        self.sim.clear_portfolios()
        return {"ok": True}

    def _inject(self, request: Request) -> dict[str, Any]:
        self.sim.inject(fault_from_json(_object(request.body, FAULT_FIELDS, ())))
        return {"pending": len(self.sim.faults)}

    def _clear_faults(self, request: Request) -> dict[str, Any]:
        self.sim.clear_faults()
        return {"ok": True}

    def _reset(self, request: Request) -> dict[str, Any]:
        self.sim.reset()
        return {"ok": True}

    def _add_transaction(self, request: Request) -> dict[str, Any]:
        payload = _object(
            request.body,
            TRANSACTION_FIELDS,
            ("address", "chain_index", "token_address", "amount", "direction"),
        )
        fee = "0" if payload.get("fee") is None else _amount(payload, "fee")
        entry = self.sim.add_transaction(
            _text(payload, "address", empty=False),
            _chain(payload),
            _text(payload, "token_address"),
            _amount(payload, "amount"),
            _text(payload, "direction", empty=False),
            time=_time(payload, "time"),
            tx_hash=_optional_text(payload, "tx_hash"),
            counterparty=_optional_text(payload, "counterparty"),
            fee=fee,
            status=_optional_text(payload, "status") or "success",
            symbol=_optional_text(payload, "symbol"),
            item_type=_optional_text(payload, "item_type"),
        )
        return {"ok": True, "transaction": entry_summary(entry)}

    def _clear_transactions(self, request: Request) -> dict[str, Any]:
        self.sim.clear_transactions()
        return {"ok": True}

    def _hide_transaction(self, request: Request) -> dict[str, Any]:
        fields = ("address", "chain_index", "tx_hash")
        payload = _object(request.body, fields, fields)
        hidden = self.sim.hide_transaction(
            _text(payload, "address", empty=False), _chain(payload), _text(payload, "tx_hash", empty=False)
        )
        if not hidden:
            raise AdminError(404, "tx_hash: no visible record of this transaction in that wallet's ledger")
        return {"hidden": hidden}

    def _generate(self, request: Request) -> dict[str, Any]:
        payload = _object(
            request.body,
            ("address", "chain_index", "count", "begin", "end"),
            ("address", "chain_index", "count", "begin"),
        )
        count = payload["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1_000_000:
            raise AdminError(400, "count must be an integer from 0 to 1000000")
        added = self.sim.generate_history(
            _text(payload, "address", empty=False),
            _chain(payload),
            count,
            begin=_time(payload, "begin"),
            end=_time(payload, "end"),
        )
        return {"added": added}

    def _now(self, request: Request) -> dict[str, Any]:
        return {"now": ms_iso(self.sim.now_ms), "fixed": self.sim.now_is_fixed}

    def _set_now(self, request: Request) -> dict[str, Any]:
        payload = _object(request.body, ("now",), ("now",))
        self.sim.set_now(_time(payload, "now"))
        return self._now(request)


def entry_summary(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger record as the admin API shows it (amounts as exact strings)."""
    return {
        "address": entry.address,
        "chain_index": entry.chain_index,
        "tx_hash": entry.tx_hash,
        "time": ms_iso(entry.time_ms),
        "token_address": entry.token_address,
        "symbol": entry.symbol,
        "amount": format(entry.amount, "f"),
        "direction": entry.direction,
        "counterparty": entry.counterparty,
        "fee": format(entry.fee, "f"),
        "status": entry.status,
        "item_type": entry.item_type,
    }


TRANSACTION_FIELDS = (
    "address",
    "chain_index",
    "token_address",
    "amount",
    "direction",
    "time",
    "tx_hash",
    "counterparty",
    "fee",
    "status",
    "symbol",
    "item_type",
)


def _optional_text(payload: Mapping[str, Any], name: str) -> str | None:
    return None if payload.get(name) is None else _text(payload, name, empty=False)


def _time(payload: Mapping[str, Any], name: str) -> str | int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not (_is_text(value) or isinstance(value, int)):
        raise AdminError(400, f"{name} must be an ISO 8601 time with a zone, or milliseconds since 1970")
    return value


def _json(payload: object, status: int = 200) -> Reply:
    return Reply(status=status, body=dumps(payload))
