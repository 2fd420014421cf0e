"""The transaction history and index price routes of both API generations, from the ledger.

Pure request -> reply logic like :mod:`.endpoints`; :mod:`.simulator` authenticates and
rate-limits first.

- **History** (``transactions-by-address``): the wallet's visible ledger records up to "now",
  newest first, ``limit`` per page (OKX's maxima: 20 for one chain, 100 for several, v5 20; a
  larger limit is cut down silently), a cursor to the next page and ``""`` after the last.
  ``begin``/``end`` (ms) are both exclusive ("after begin", "before end"), so a client that
  sends its own bounds unwidened loses the records at exactly ``begin``.
- **Historical prices**: one point per ``period`` (aligned to the epoch), at most 400 days
  back, newest first, both bounds inclusive, at most 200 a page (more is a parameter error).
  The point at or after "now"'s period is the token's current price; earlier points move it
  by up to 1%, derived from SHA-256 of the token and the time, 18 decimals as OKX writes them.
- **Current prices**: the price the balance routes show for each token, left out for a token
  with no price (unknown, or ``"0"``).
"""

from __future__ import annotations

import decimal
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qs

from airflow_provider_okx.testing.assets import EXACT, token_key
from airflow_provider_okx.testing.endpoints import (
    CURRENT_PRICE,
    ERRORS,
    HISTORICAL_PRICE,
    ParamError,
    ParamErrors,
    Reply,
    Request,
    Route,
    chain_list,
    check_address,
    envelope,
    query_param,
)
from airflow_provider_okx.testing.ledger import LedgerEntry
from airflow_provider_okx.testing.wallet_book import WalletBook

PERIODS_MS = {"1m": 60_000, "5m": 300_000, "30m": 1_800_000, "1h": 3_600_000, "1d": 86_400_000}
MAX_PRICE_POINTS = 200
DEFAULT_PRICE_POINTS = 50
MAX_PRICE_TOKENS = 100
PRICE_DEPTH_MS = 400 * 86_400_000
"""How far back historical prices go."""
_PRICE_DECIMALS = Decimal("1E-18")


@dataclass(frozen=True)
class HistoryOptions:
    """How the history route pages (set on the simulator to test a client's tolerance).

    :param repeat_boundary: each page after the first starts with the previous page's last
        record again (OKX may repeat a record across a page boundary).
    :param trailing_empty_page: the last full page still carries a cursor, and the page it
        leads to is empty with a cursor (OKX's last page is not documented).
    """

    repeat_boundary: bool = False
    trailing_empty_page: bool = False


def _digits(value: str | None, name: str, errors: ParamErrors) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 15):
        raise errors.malformed(name)
    return int(value)


def _token_param(params: Mapping[str, list[str]]) -> str | None:
    """The token filter under either generation's name (absent: ``None``)."""
    for name in ("tokenContractAddress", "tokenAddress"):
        if name in params:
            return params[name][0].strip()
    return None


class HistoryApi:
    """Answers the history and index price routes from a :class:`WalletBook` and its ledger."""

    def __init__(self, book: WalletBook) -> None:
        self.book = book

    def answer(
        self, route: Route, request: Request, unsupported: Collection[str], options: HistoryOptions
    ) -> Reply:
        errors = ERRORS[route.version]
        try:
            if route.name == CURRENT_PRICE:
                return self._current_prices(request, errors)
            params = parse_qs(request.query, keep_blank_values=True)
            if route.name == HISTORICAL_PRICE:
                return self._historical_prices(params, errors)
            return self._transactions(route, params, unsupported, errors, options)
        except ParamError as error:
            return error.reply

    # --- transaction history -------------------------------------------------------------

    def _transactions(
        self,
        route: Route,
        params: Mapping[str, list[str]],
        unsupported: Collection[str],
        errors: ParamErrors,
        options: HistoryOptions,
    ) -> Reply:
        address = query_param(params, "address")
        if not address:
            raise errors.missing("address")
        chains_text = query_param(params, "chains")
        if chains_text is None and route.version == "v6":
            chains = self.book.ledger.chains_of(address)
        else:
            chains = chain_list(chains_text, errors)
        if chains:
            check_address(address, chains, unsupported, errors)
        begin = _digits(query_param(params, "begin"), "begin", errors)
        end = _digits(query_param(params, "end"), "end", errors)
        limit = _digits(query_param(params, "limit"), "limit", errors)
        most = 20 if len(chains) <= 1 or route.version == "v5" else 100
        limit = most if limit is None or limit == 0 else min(limit, most)
        token = _token_param(params)
        cursor = self._cursor(query_param(params, "cursor"), errors)

        records: list[LedgerEntry] = []
        for entry in self.book.ledger.history(address, chains, self.book.ledger.now_ms()):
            if begin is not None and entry.time_ms <= begin:
                continue
            if end is not None and entry.time_ms >= end:
                continue
            if token is not None and token_key(entry.token_address) != token_key(token):
                continue
            position = (entry.time_ms, entry.seq)
            if cursor is not None and (
                position > cursor or (position == cursor and not options.repeat_boundary)
            ):
                continue
            records.append(entry)
            if len(records) > limit:
                break
        page, more = records[:limit], len(records) > limit
        if more or (options.trailing_empty_page and page):
            last = page[-1]
            next_cursor = f"{last.time_ms}-{last.seq}"
        else:
            next_cursor = ""
        if options.trailing_empty_page and cursor is not None and not page:
            next_cursor = f"{cursor[0]}-{cursor[1]}"
        name = "transactions" if route.version == "v6" else "transactionList"
        data = {"cursor": next_cursor, name: [entry.okx_record(route.version) for entry in page]}
        return envelope("0", "success", [data])

    @staticmethod
    def _cursor(text: str | None, errors: ParamErrors) -> tuple[int, int] | None:
        if not text:
            return None
        time_ms, sep, seq = text.partition("-")
        if not (sep and time_ms.isascii() and time_ms.isdigit() and seq.isascii() and seq.isdigit()):
            raise errors.malformed("cursor")
        return int(time_ms), int(seq)

    # --- index prices ----------------------------------------------------------------------

    def price_at(self, chain: str, token: str, time_ms: int, period_ms: int) -> str | None:
        """The index price of a token at the point ``time_ms`` (``None``: no price)."""
        current = self.book.price(chain, token)
        if current is None or Decimal(current) == 0:
            return None
        now_point = self.book.ledger.now_ms() // period_ms * period_ms
        value = Decimal(current)
        if time_ms < now_point:
            seed = f"okx-sim-index\x1f{chain}\x1f{token_key(token)}\x1f{time_ms}".encode()
            step = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % 20_001 - 10_000
            value = EXACT.multiply(value, Decimal(1_000_000 + step).scaleb(-6))
        value = value.quantize(
            _PRICE_DECIMALS, rounding=decimal.ROUND_DOWN, context=decimal.Context(prec=200)
        )
        return format(value, "f")

    def _historical_prices(self, params: Mapping[str, list[str]], errors: ParamErrors) -> Reply:
        chain_text = query_param(params, "chainIndex")
        if not chain_text:
            raise errors.missing("chainIndex")
        chain = chain_list(chain_text, errors)
        if len(chain) != 1:
            raise errors.malformed("chainIndex")
        token = _token_param(params) or ""
        period = query_param(params, "period") or "1d"
        if period not in PERIODS_MS:
            raise errors.malformed("period")
        step = PERIODS_MS[period]
        limit = _digits(query_param(params, "limit"), "limit", errors) or DEFAULT_PRICE_POINTS
        if limit > MAX_PRICE_POINTS:
            raise errors.malformed("limit")
        now = self.book.ledger.now_ms()
        begin = _digits(query_param(params, "begin"), "begin", errors)
        end = _digits(query_param(params, "end"), "end", errors)
        cursor = _digits(query_param(params, "cursor"), "cursor", errors)
        newest = min(now, end if end is not None else now)
        if cursor is not None:
            newest = min(newest, cursor - 1)
        oldest = max(now - PRICE_DEPTH_MS, begin if begin is not None else 0)
        points: list[dict[str, str]] = []
        at = newest // step * step
        while at >= oldest and len(points) <= limit and at >= 0:
            price = self.price_at(chain[0], token, at, step)
            if price is None:
                break
            points.append({"time": str(at), "price": price})
            at -= step
        page, more = points[:limit], len(points) > limit
        data = {"cursor": page[-1]["time"] if more else "", "prices": page}
        return envelope("0", "success", [data])

    def _current_prices(self, request: Request, errors: ParamErrors) -> Reply:
        if not request.body.strip():
            raise errors.body_missing()
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise errors.body_invalid("Request body is not valid JSON") from None
        if not isinstance(body, list) or not body:
            raise errors.body_invalid("Request body must be a JSON array")
        if len(body) > MAX_PRICE_TOKENS:
            raise errors.malformed("tokens")
        now = self.book.ledger.now_ms() // 60_000 * 60_000
        data = []
        for entry in body:
            if not isinstance(entry, dict):
                raise errors.malformed("chainIndex")
            chain = entry.get("chainIndex")
            chain = str(chain) if isinstance(chain, int) and not isinstance(chain, bool) else chain
            if not isinstance(chain, str) or not (chain.isascii() and chain.isdigit()) or len(chain) > 18:
                raise errors.malformed("chainIndex")
            name = "tokenContractAddress" if "tokenContractAddress" in entry else "tokenAddress"
            token = entry.get(name)
            if not isinstance(token, str):
                raise errors.missing(name)
            price = self.book.price(str(int(chain)), token)
            if price is None or Decimal(price) == 0:
                continue  # unpriced: left out
            data.append({"chainIndex": str(int(chain)), name: token, "time": str(now), "price": price})
        return envelope("0", "success", data)


__all__ = ["HistoryApi", "HistoryOptions"]
