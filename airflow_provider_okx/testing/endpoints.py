"""The balance endpoints of both API generations: routes, parameter checks, responses.

Pure request -> reply logic with no sockets: :mod:`.server` does the HTTP, :mod:`.simulator`
the authentication, rate limit and faults around it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_okx.chains import address_families, known_chains
from airflow_provider_okx.testing.wallets import (
    EXACT,
    Asset,
    WalletBook,
    chain_family,
    defi_value,
    plain,
    token_key,
    wallet_key,
)

MAX_CHAINS = 50
MAX_TOKENS = 20

ALL_TOKEN_BALANCES = "all_token_balances"
TOTAL_VALUE = "total_value"
TOKEN_BALANCES = "token_balances"
SUPPORTED_CHAINS = "supported_chains"
ENDPOINTS = (ALL_TOKEN_BALANCES, TOTAL_VALUE, TOKEN_BALANCES, SUPPORTED_CHAINS)

JSON = "application/json"
HTML = "text/html"

NOT_FOUND_PAGE = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Route:
    """One endpoint of one API generation."""

    method: str
    path: str
    version: str  # "v5" or "v6"
    name: str  # one of ENDPOINTS


ROUTES: dict[str, Route] = {
    route.path: route
    for route in (
        Route("GET", "/api/v6/dex/balance/all-token-balances-by-address", "v6", ALL_TOKEN_BALANCES),
        Route("GET", "/api/v6/dex/balance/total-value-by-address", "v6", TOTAL_VALUE),
        Route("POST", "/api/v6/dex/balance/token-balances-by-address", "v6", TOKEN_BALANCES),
        Route("GET", "/api/v6/dex/balance/supported/chain", "v6", SUPPORTED_CHAINS),
        Route("GET", "/api/v5/wallet/asset/all-token-balances-by-address", "v5", ALL_TOKEN_BALANCES),
        Route("GET", "/api/v5/wallet/asset/total-value-by-address", "v5", TOTAL_VALUE),
        Route("POST", "/api/v5/wallet/asset/token-balances-by-address", "v5", TOKEN_BALANCES),
        Route("GET", "/api/v5/wallet/chain/supported-chains", "v5", SUPPORTED_CHAINS),
    )
}


@dataclass(frozen=True)
class Request:
    """A request as received: ``target`` is the raw request target (path and query)."""

    method: str
    target: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    sent_headers: Mapping[str, str] = field(default_factory=dict)  # names as sent


@dataclass(frozen=True)
class Reply:
    """What to send back. ``code`` is the OKX code of the envelope ("" for a raw body)."""

    status: int
    body: bytes = b""
    code: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON
    drop: bool = False


def dumps(payload: object) -> bytes:
    """Compact UTF-8 JSON, as OKX sends it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(code: str, msg: str, data: list[Any] | None = None, status: int = 200) -> Reply:
    """An OKX envelope reply: ``{"code", "msg", "data"}``."""
    return Reply(status=status, body=dumps({"code": code, "msg": msg, "data": data or []}), code=code)


def not_found() -> Reply:
    """What OKX's gateway answers for a path it does not serve: an HTML 404 page."""
    return Reply(status=404, body=NOT_FOUND_PAGE, content_type=HTML)


class _ParamError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.code)
        self.reply = reply


def _fail(code: str, msg: str, status: int = 200) -> _ParamError:
    return _ParamError(envelope(code, msg, status=status))


def _param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _chain_list(text: str | None) -> list[str]:
    if text is None or not text.strip():
        raise _fail("50014", "Parameter chains can not be empty", 400)
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_CHAINS or not all(part.isdigit() for part in parts):
        raise _fail("51000", "Parameter chains error", 400)
    return list(dict.fromkeys(str(int(part)) for part in parts))


def _check_address(address: str | None, chains: list[str], unsupported: Collection[str]) -> str:
    if not address:
        raise _fail("50014", "Parameter address can not be empty", 400)
    families = address_families(address)
    if not families:
        raise _fail("81353", "Illegal address")
    if any(chain in unsupported for chain in chains):
        raise _fail("81104", "Chain not support")
    if any(chain_family(chain) not in families for chain in chains):
        raise _fail("81157", "Chain and address do not match")
    return address


def _flag01(value: str | None, name: str) -> bool:
    """A "0"/"1" risk parameter: ``True`` when risk tokens are to be filtered out ("0", default)."""
    if value is None or value == "0":
        return True
    if value == "1":
        return False
    raise _fail("51000", f"Parameter {name} error", 400)


def _flag_bool(value: str | None, name: str) -> bool:
    """A ``true``/``false`` risk parameter (total value): ``True`` (default) filters risk tokens."""
    if value is None or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise _fail("51000", f"Parameter {name} error", 400)


@dataclass
class _Cache:
    """A bounded LRU of pre-serialised replies."""

    size: int = 8192
    _items: OrderedDict[Hashable, Reply] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable) -> Reply | None:
        with self._lock:
            reply = self._items.get(key)
            if reply is not None:
                self._items.move_to_end(key)
            return reply

    def put(self, key: Hashable, reply: Reply) -> None:
        with self._lock:
            self._items[key] = reply
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class BalanceApi:
    """Answers authenticated requests to the balance endpoints from a :class:`WalletBook`."""

    def __init__(self, book: WalletBook) -> None:
        self.book = book
        self._cache = _Cache()

    def warm(self, address: str, chains: list[str]) -> None:
        """Pre-serialise the common answers for ``address`` (the seed wallet) in both generations."""
        query = f"address={address}&chains={','.join(chains)}"
        for version, prefix in (("v5", "/api/v5/wallet/asset"), ("v6", "/api/v6/dex/balance")):
            risk = "filter" if version == "v5" else "excludeRiskToken"
            for path, extra in (
                ("all-token-balances-by-address", f"&{risk}=0"),
                ("all-token-balances-by-address", f"&{risk}=1"),
                ("total-value-by-address", ""),
            ):
                route = ROUTES[f"{prefix}/{path}"]
                self.answer(route, Request("GET", "", route.path, query + extra, {}, b""), ())

    def answer(self, route: Route, request: Request, unsupported: Collection[str]) -> Reply:
        """The reply to an authenticated, rate-limited request for ``route``."""
        try:
            if route.name == SUPPORTED_CHAINS:
                return self._supported_chains(unsupported)
            if route.name == TOKEN_BALANCES:
                return self._token_balances(route, request, unsupported)
            params = parse_qs(request.query, keep_blank_values=True)
            address = _param(params, "address")
            if not address:
                raise _fail("50014", "Parameter address can not be empty", 400)
            chains = _chain_list(_param(params, "chains"))
            if route.name == ALL_TOKEN_BALANCES:
                risk = "filter" if route.version == "v5" else "excludeRiskToken"
                exclude = _flag01(_param(params, risk), risk)
                _check_address(address, chains, unsupported)
                return self._all_token_balances(route, address, chains, exclude)
            asset_type = _param(params, "assetType") or "0"
            if asset_type not in ("0", "1", "2"):
                raise _fail("51000", "Parameter assetType error", 400)
            exclude = _flag_bool(_param(params, "excludeRiskToken"), "excludeRiskToken")
            _check_address(address, chains, unsupported)
            return self._total_value(route, address, chains, asset_type, exclude)
        except _ParamError as error:
            return error.reply

    # --- endpoints ----------------------------------------------------------------------

    def _holdings(self, address: str, chains: list[str], exclude_risk: bool) -> list[Asset]:
        assets: list[Asset] = []
        for chain in chains:
            assets.extend(
                a for a in self.book.assets(address, chain) if not (exclude_risk and a.is_risk_token)
            )
        return assets

    def _all_token_balances(self, route: Route, address: str, chains: list[str], exclude: bool) -> Reply:
        key = (route.path, address, tuple(chains), exclude)
        touched = self.book.touches(address, chains)
        cached = None if touched else self._cache.get(key)
        if cached is not None:
            return cached
        assets = self._holdings(address, chains, exclude)
        render = Asset.v5 if route.version == "v5" else Asset.v6
        reply = envelope("0", "success", [{"tokenAssets": [render(a) for a in assets]}])
        if not touched:
            self._cache.put(key, reply)
        return reply

    def _total_value(
        self, route: Route, address: str, chains: list[str], asset_type: str, exclude: bool
    ) -> Reply:
        key = (route.path, address, tuple(chains), asset_type, exclude)
        touched = self.book.touches(address, chains)
        cached = None if touched else self._cache.get(key)
        if cached is not None:
            return cached
        total = Decimal(0)
        if asset_type in ("0", "1"):
            for asset in self._holdings(address, chains, exclude):
                total = EXACT.add(total, asset.usd_value())
        if asset_type in ("0", "2"):
            for chain in chains:
                total = EXACT.add(total, defi_value(wallet_key(address), chain))
        reply = envelope("0", "success", [{"totalValue": plain(total)}])
        if not touched:
            self._cache.put(key, reply)
        return reply

    def _token_balances(self, route: Route, request: Request, unsupported: Collection[str]) -> Reply:
        list_name, token_field, risk = (
            ("tokenAddresses", "tokenAddress", "filter")
            if route.version == "v5"
            else ("tokenContractAddresses", "tokenContractAddress", "excludeRiskToken")
        )
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise _fail("51000", "Request body is not valid JSON", 400) from None
        if not isinstance(body, dict):
            raise _fail("51000", "Request body must be a JSON object", 400)
        address = body.get("address")
        if not isinstance(address, str) or not address:
            raise _fail("50014", "Parameter address can not be empty", 400)
        entries = body.get(list_name)
        if not entries:
            raise _fail("50014", f"Parameter {list_name} can not be empty", 400)
        if not isinstance(entries, list) or len(entries) > MAX_TOKENS:
            raise _fail("51000", f"Parameter {list_name} error", 400)
        wanted: dict[tuple[str, str], str] = {}
        for entry in entries:
            chain = entry.get("chainIndex") if isinstance(entry, dict) else None
            token = entry.get(token_field, "") if isinstance(entry, dict) else None
            if isinstance(chain, int) and not isinstance(chain, bool):
                chain = str(chain)
            if not isinstance(chain, str) or not chain.strip().isdigit() or not isinstance(token, str):
                raise _fail("51000", f"Parameter {list_name} error", 400)
            wanted.setdefault((str(int(chain)), token_key(token)), token)
        flag = body.get(risk)
        exclude = _flag01(None if flag is None else str(flag), risk)
        chains = list(dict.fromkeys(chain for chain, _ in wanted))
        _check_address(address, chains, unsupported)
        held: dict[tuple[str, str], Asset] = {}
        for chain in chains:
            for asset in self.book.assets(address, chain):
                if not (exclude and asset.is_risk_token):
                    held.setdefault((chain, token_key(asset.token_address)), asset)
        render = Asset.v5 if route.version == "v5" else Asset.v6
        assets = [render(held[k]) for k in wanted if k in held]
        return envelope("0", "success", [{"tokenAssets": assets}])

    def _supported_chains(self, unsupported: Collection[str]) -> Reply:
        key = ("supported", frozenset(unsupported))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        data = [
            {
                "name": info.name,
                "logoUrl": f"https://static.okx.com/cdn/wallet/logo/{(info.aliases or (info.name,))[0]}.png",
                "shortName": (info.aliases or (info.name,))[0].lower(),
                "chainIndex": info.index,
            }
            for info in known_chains()
            if info.index not in unsupported
        ]
        reply = envelope("0", "success", data)
        self._cache.put(key, reply)
        return reply

    def clear_cache(self) -> None:
        self._cache.clear()


__all__ = ["ENDPOINTS", "ROUTES", "BalanceApi", "Reply", "Request", "Route"]
