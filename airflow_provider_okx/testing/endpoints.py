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

from airflow_provider_okx.core.chains import address_families, known_chains
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
TRANSACTIONS = "transactions"
HISTORICAL_PRICE = "historical_price"
CURRENT_PRICE = "current_price"
LEDGER_ENDPOINTS = (TRANSACTIONS, HISTORICAL_PRICE, CURRENT_PRICE)
"""Served from the ledger and the token prices by :mod:`.history`."""
ENDPOINTS = (ALL_TOKEN_BALANCES, TOTAL_VALUE, TOKEN_BALANCES, SUPPORTED_CHAINS, *LEDGER_ENDPOINTS)

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
        Route("GET", "/api/v6/dex/post-transaction/transactions-by-address", "v6", TRANSACTIONS),
        Route("GET", "/api/v6/dex/index/historical-price", "v6", HISTORICAL_PRICE),
        Route("POST", "/api/v6/dex/index/current-price", "v6", CURRENT_PRICE),
        Route("GET", "/api/v5/wallet/post-transaction/transactions-by-address", "v5", TRANSACTIONS),
        Route("GET", "/api/v5/dex/index/historical-price", "v5", HISTORICAL_PRICE),
        Route("POST", "/api/v5/dex/index/current-price", "v5", CURRENT_PRICE),
        Route("GET", "/api/v5/wallet/token/historical-price", "v5", HISTORICAL_PRICE),
        Route("POST", "/api/v5/wallet/token/current-price", "v5", CURRENT_PRICE),
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
    client: str = ""  # the peer's IP address


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


class ParamError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.code)
        self.reply = reply


@dataclass(frozen=True)
class ParamErrors:
    """How one API generation answers a bad parameter: each method returns the error to raise.

    v6 answers from OKX's balance error table (onchainos dev-docs ``wallet/balance-error-code``):
    50014 / HTTP 400 ``param {x} is invalid``, 81001 / HTTP 200 ``Incorrect parameter: : {x}``
    and ``Required request body is missing``, 81104 ``Chain not support``. v5 answers with the
    wallet API's codes: 50014 (empty), 51000 (malformed), 81353 (illegal address), 81157 (chain
    and address do not match), 81104.
    """

    version: str

    def missing(self, name: str) -> ParamError:
        """A required parameter is absent or empty."""
        if self.version == "v6":
            return _fail("50014", f"param {name} is invalid", 400)
        return _fail("50014", f"Parameter {name} can not be empty", 400)

    def malformed(self, name: str) -> ParamError:
        """A parameter's value has the wrong form (not a number, not 0/1, too many items)."""
        if self.version == "v6":
            return _fail("50014", f"param {name} is invalid", 400)
        return _fail("51000", f"Parameter {name} error", 400)

    def illegal_address(self) -> ParamError:
        if self.version == "v6":
            return _fail("81001", "Incorrect parameter: : address")
        return _fail("81353", "Illegal address")

    def chain_mismatch(self) -> ParamError:
        """The address belongs to another family than one of the chains (EVM address, chain 501)."""
        if self.version == "v6":
            return _fail("81001", "Incorrect parameter: : chains")
        return _fail("81157", "Chain and address do not match")

    def unsupported_chain(self) -> ParamError:
        return _fail("81104", "Chain not support")

    def body_missing(self) -> ParamError:
        if self.version == "v6":
            return _fail("81001", "Required request body is missing")
        return self.missing("address")

    def body_invalid(self, why: str) -> ParamError:
        """The POST body is not a JSON object (``why`` is the v5 message)."""
        if self.version == "v6":
            return _fail("81001", "Incorrect parameter: : request body")
        return _fail("51000", why, 400)


ERRORS: dict[str, ParamErrors] = {"v5": ParamErrors("v5"), "v6": ParamErrors("v6")}


def bad_body(path: str) -> Reply:
    """The answer to a request whose body could not be read (bad length, too large)."""
    route = ROUTES.get(path)
    if route is not None and route.version == "v6":
        return ERRORS["v6"].body_invalid("").reply
    return envelope("51000", "Invalid request body", status=400)


def _fail(code: str, msg: str, status: int = 200) -> ParamError:
    return ParamError(envelope(code, msg, status=status))


def query_param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def chain_list(text: str | None, errors: ParamErrors) -> list[str]:
    if text is None or not text.strip():
        raise errors.missing("chains")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_CHAINS or not all(part.isascii() and part.isdigit() for part in parts):
        raise errors.malformed("chains")
    return list(dict.fromkeys(str(int(part)) for part in parts))


def check_address(address: str, chains: list[str], unsupported: Collection[str], errors: ParamErrors) -> None:
    families = address_families(address)
    if not families:
        raise errors.illegal_address()
    if any(chain in unsupported for chain in chains):
        raise errors.unsupported_chain()
    if any(chain_family(chain) not in families for chain in chains):
        raise errors.chain_mismatch()


def flag01(value: str | None, name: str, errors: ParamErrors) -> bool:
    """A "0"/"1" risk parameter: ``True`` when risk tokens are to be filtered out ("0", default)."""
    if value is None or value == "0":
        return True
    if value == "1":
        return False
    raise errors.malformed(name)


def _flag_bool(value: str | None, name: str, errors: ParamErrors) -> bool:
    """A ``true``/``false`` risk parameter (total value): ``True`` (default) filters risk tokens."""
    if value is None or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise errors.malformed(name)


@dataclass
class _Cache:
    """A bounded LRU of pre-serialised replies."""

    size: int = 8192
    _items: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable) -> Any:
        with self._lock:
            reply = self._items.get(key)
            if reply is not None:
                self._items.move_to_end(key)
            return reply

    def put(self, key: Hashable, reply: Any) -> None:
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
        self._chains = _Cache(size=65536)
        """Per wallet and chain: its token objects as JSON, and its total value."""

    def warm(self, address: str, chains: list[str]) -> None:
        """Pre-serialise the common answers for ``address`` (the seed wallet) in both generations."""
        query = f"address={address}&chains={','.join(chains)}"
        for prefix, extras in (
            ("/api/v5/wallet/asset", ("&filter=0", "&filter=1")),
            (
                "/api/v6/dex/balance",
                ("&excludeRiskToken=0", "&excludeRiskToken=1", "&excludeRiskToken=1&filter=1"),
            ),
        ):
            targets = [("all-token-balances-by-address", extra) for extra in extras]
            for path, extra in (*targets, ("total-value-by-address", "")):
                route = ROUTES[f"{prefix}/{path}"]
                self.answer(route, Request("GET", "", route.path, query + extra, {}, b""), ())

    def answer(
        self,
        route: Route,
        request: Request,
        unsupported: Collection[str],
        *,
        v5_flat_token_list: bool = False,
    ) -> Reply:
        """The reply to an authenticated, rate-limited request for ``route``.

        Parameter errors are answered with the codes of the route's API generation
        (:class:`ParamErrors`). ``v5_flat_token_list`` answers the v5 specific-token POST with
        the flat list of tokens older OKX docs show, instead of ``data[].tokenAssets``.
        """
        errors = ERRORS[route.version]
        try:
            if route.name == SUPPORTED_CHAINS:
                return self._supported_chains(unsupported)
            if route.name == TOKEN_BALANCES:
                return self._token_balances(route, request, unsupported, errors, v5_flat_token_list)
            params = parse_qs(request.query, keep_blank_values=True)
            address = query_param(params, "address")
            if not address:
                raise errors.missing("address")
            chains = chain_list(query_param(params, "chains"), errors)
            if route.name == ALL_TOKEN_BALANCES:
                exclude = self._risk_filter(route, params, errors)
                check_address(address, chains, unsupported, errors)
                return self._all_token_balances(route, address, chains, exclude)
            asset_type = query_param(params, "assetType") or "0"
            if asset_type not in ("0", "1", "2"):
                raise errors.malformed("assetType")
            exclude = _flag_bool(query_param(params, "excludeRiskToken"), "excludeRiskToken", errors)
            check_address(address, chains, unsupported, errors)
            return self._total_value(route, address, chains, asset_type, exclude)
        except ParamError as error:
            return error.reply

    @staticmethod
    def _risk_filter(route: Route, params: Mapping[str, list[str]], errors: ParamErrors) -> bool:
        """Whether an all-token-balances request hides risk tokens.

        v5: ``filter`` "0" (default) hides them, "1" shows them. v6: ``excludeRiskToken`` "0"
        (default) hides them; ``filter`` "0" (default) hides risk, custom and passive tokens and
        "1" returns all (OKX's own CLI sends it). Risk tokens appear only with both at "1".
        """
        if route.version == "v5":
            return flag01(query_param(params, "filter"), "filter", errors)
        exclude = flag01(query_param(params, "excludeRiskToken"), "excludeRiskToken", errors)
        hide_all = flag01(query_param(params, "filter"), "filter", errors)
        return exclude or hide_all

    # --- endpoints ----------------------------------------------------------------------

    def _chain_holdings(self, address: str, chain: str, exclude_risk: bool) -> list[Asset]:
        return [a for a in self.book.assets(address, chain) if not (exclude_risk and a.is_risk_token)]

    def _per_chain(self, key: tuple[Hashable, ...], address: str, chain: str, build: Any) -> Any:
        """``build()``, cached per wallet and chain while nothing a test set touches that chain
        (so a wallet whose ledger moves one chain re-reads only that chain). The key holds the
        wallet's large portfolio on the chain, if any (:meth:`WalletBook.set_portfolio`)."""
        if self.book.touches(address, [chain]):
            return build()
        key = (*key, address, chain, self.book.portfolio(address, chain))
        cached = self._chains.get(key)
        if cached is None:
            cached = build()
            self._chains.put(key, cached)
        return cached

    def _all_token_balances(self, route: Route, address: str, chains: list[str], exclude: bool) -> Reply:
        render = Asset.v5 if route.version == "v5" else Asset.v6

        def fragment(chain: str) -> bytes:  # the chain's token objects, comma-separated JSON
            return dumps([render(a) for a in self._chain_holdings(address, chain, exclude)])[1:-1]

        parts = [
            self._per_chain((route.version, exclude), address, chain, lambda chain=chain: fragment(chain))
            for chain in chains
        ]
        # The bytes envelope() would write for [{"tokenAssets": [...]}], joined from the parts.
        tokens = b",".join(part for part in parts if part)
        body = b'{"code":"0","msg":"success","data":[{"tokenAssets":[' + tokens + b"]}]}"
        return Reply(status=200, body=body, code="0")

    def _total_value(
        self, route: Route, address: str, chains: list[str], asset_type: str, exclude: bool
    ) -> Reply:
        def chain_total(chain: str) -> Decimal:
            total = Decimal(0)
            if asset_type in ("0", "1"):
                for asset in self._chain_holdings(address, chain, exclude):
                    total = EXACT.add(total, asset.usd_value())
            if asset_type in ("0", "2"):
                total = EXACT.add(total, defi_value(wallet_key(address), chain))
            return total

        total = Decimal(0)
        for chain in chains:
            key = ("total", asset_type, exclude)
            total = EXACT.add(
                total, self._per_chain(key, address, chain, lambda chain=chain: chain_total(chain))
            )
        return envelope("0", "success", [{"totalValue": plain(total)}])

    def _token_balances(
        self,
        route: Route,
        request: Request,
        unsupported: Collection[str],
        errors: ParamErrors,
        v5_flat_token_list: bool,
    ) -> Reply:
        list_name, token_field, risk = (
            ("tokenAddresses", "tokenAddress", "filter")
            if route.version == "v5"
            else ("tokenContractAddresses", "tokenContractAddress", "excludeRiskToken")
        )
        if not request.body.strip():
            raise errors.body_missing()
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise errors.body_invalid("Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors.body_invalid("Request body must be a JSON object")
        address = body.get("address")
        if not isinstance(address, str) or not address:
            raise errors.missing("address")
        entries = body.get(list_name)
        if not entries:
            raise errors.missing(list_name)
        if not isinstance(entries, list) or len(entries) > MAX_TOKENS:
            raise errors.malformed(list_name)
        wanted: dict[tuple[str, str], str] = {}
        for entry in entries:
            chain = entry.get("chainIndex") if isinstance(entry, dict) else None
            token = entry.get(token_field, "") if isinstance(entry, dict) else None
            if isinstance(chain, int) and not isinstance(chain, bool):
                chain = str(chain)
            if (
                not isinstance(chain, str)
                or not (chain.strip().isascii() and chain.strip().isdigit())
                or not isinstance(token, str)
            ):
                raise errors.malformed(list_name)
            wanted.setdefault((str(int(chain)), token_key(token)), token)
        flag = body.get(risk)
        exclude = flag01(None if flag is None else str(flag), risk, errors)
        chains = list(dict.fromkeys(chain for chain, _ in wanted))
        check_address(address, chains, unsupported, errors)
        held: dict[tuple[str, str], Asset] = {}
        for chain in chains:
            for asset in self.book.assets(address, chain):
                if not (exclude and asset.is_risk_token):
                    held.setdefault((chain, token_key(asset.token_address)), asset)
        render = Asset.v5 if route.version == "v5" else Asset.v6
        assets = [render(held[k]) for k in wanted if k in held]
        if route.version == "v5" and v5_flat_token_list:
            return envelope("0", "success", assets)
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
        self._chains.clear()


__all__ = ["ENDPOINTS", "ERRORS", "ROUTES", "BalanceApi", "ParamErrors", "Reply", "Request", "Route"]
