"""A client for a running simulator's admin API (:mod:`.admin`), standard library only.

    from airflow_provider_okx.testing import AdminClient

    admin = AdminClient("http://127.0.0.1:8555")
    admin.set_balance("0x...", "1", "", "12.5", price="3000")
    admin.inject(status=503, times=2, endpoint="all_token_balances")
    seen = admin.requests(since=0)["requests"]

Every call is one HTTP request with a timeout; a refused call raises :class:`AdminCallError`
with the status and the simulator's message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any


class AdminCallError(Exception):
    """The admin API refused a call (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"admin API answered {status}: {message}" if status else message)
        self.status = status
        self.message = message


def _amount(value: str | int | Decimal, name: str) -> str:
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"{name} must be a decimal string, an int or a Decimal, not {type(value).__name__}")
    return str(value)


class AdminClient:
    """Calls ``<url>/_admin/...`` of a running simulator.

    :param url: the simulator's base URL (``http://127.0.0.1:8555``).
    :param timeout: seconds to wait for each answer.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        # No proxy from the environment: the simulator is normally on this machine's loopback.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"AdminClient({self.url!r})"

    def call(self, method: str, route: str, payload: dict[str, Any] | None = None) -> Any:
        """``method /_admin/<route>`` with a JSON body; the decoded JSON answer."""
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}/_admin/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                message = json.loads(body).get("error") or body.decode("utf-8", "replace")
            except (ValueError, AttributeError):
                message = body.decode("utf-8", "replace")[:500]
            raise AdminCallError(error.code, message) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AdminCallError(0, f"cannot reach {self.url}: {reason}") from None

    def state(self) -> dict[str, Any]:
        """``{"requests", "faults", "rate_limit_rps", "latency"}``."""
        return self._ok(self.call("GET", "state"))

    def requests(self, since: int = 0) -> dict[str, Any]:
        """``{"requests": [...], "next": M}``: the log from position ``since`` on."""
        return self._ok(self.call("GET", f"requests?since={int(since)}"))

    def clear_requests(self) -> dict[str, Any]:
        return self._ok(self.call("DELETE", "requests"))

    def set_balance(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        balance: str | int | Decimal,
        *,
        price: str | int | Decimal | None = None,
        symbol: str | None = None,
    ) -> dict[str, Any]:
        """One wallet's balance of one token; ``price`` sets that token's price for every wallet."""
        payload: dict[str, Any] = {
            "address": address,
            "chain_index": str(chain_index),
            "token_address": token_address,
            "balance": _amount(balance, "balance"),
        }
        if price is not None:
            payload["price"] = _amount(price, "price")
        if symbol is not None:
            payload["symbol"] = symbol
        return self._ok(self.call("PUT", "balances", payload))

    def set_price(
        self, chain_index: str | int, token_address: str, price: str | int | Decimal
    ) -> dict[str, Any]:
        """One token's price for every wallet."""
        payload = {
            "chain_index": str(chain_index),
            "token_address": token_address,
            "price": _amount(price, "price"),
        }
        return self._ok(self.call("PUT", "prices", payload))

    def clear_balances(self) -> dict[str, Any]:
        """Drop every balance and price override, and every portfolio of :meth:`set_portfolio`."""
        return self._ok(self.call("DELETE", "balances"))

    def set_portfolio(
        self, address: str, chains: str | list[str | int] | tuple[str | int, ...], tokens: int
    ) -> dict[str, Any]:
        """Give a wallet ``tokens`` generated tokens spread evenly over ``chains`` (a list, or
        ``"1,56"``) in place of its usual handful, as ``OkxSimulator.set_portfolio`` does; 0 gives
        the usual portfolio back. ``{"ok", "address", "tokens", "chains": {chain: count}}``."""
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise TypeError(f"tokens must be an int, not {type(tokens).__name__}")
        listed: str | list[str | int] = chains if isinstance(chains, str) else list(chains)
        payload = {"address": address, "chains": listed, "tokens": tokens}
        return self._ok(self.call("PUT", "portfolios", payload))

    def clear_portfolios(self) -> dict[str, Any]:
        """Every wallet's usual portfolio again (balance and price overrides stay)."""
        return self._ok(self.call("DELETE", "portfolios"))

    def inject(self, **fault: Any) -> dict[str, Any]:
        """Queue a fault (the :class:`~.faults.Fault` fields): ``{"pending": n}``."""
        return self._ok(self.call("POST", "faults", fault))

    def clear_faults(self) -> dict[str, Any]:
        return self._ok(self.call("DELETE", "faults"))

    def reset(self) -> dict[str, Any]:
        """Forget requests, faults, overrides, the ledger and rate-limit state."""
        return self._ok(self.call("POST", "reset"))

    def add_transaction(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        amount: str | int | Decimal,
        direction: str,
        *,
        time: str | int | None = None,
        tx_hash: str | None = None,
        counterparty: str | None = None,
        fee: str | int | Decimal | None = None,
        status: str | None = None,
        symbol: str | None = None,
        item_type: str | None = None,
    ) -> dict[str, Any]:
        """Add one record to a wallet's ledger: ``{"ok", "transaction": {...}}``.

        :param time: ISO 8601 with a zone (``"2026-12-01T00:00:00Z"``) or ms; default "now".
        """
        payload: dict[str, Any] = {
            "address": address,
            "chain_index": str(chain_index),
            "token_address": token_address,
            "amount": _amount(amount, "amount"),
            "direction": direction,
        }
        if fee is not None:
            payload["fee"] = _amount(fee, "fee")
        optional = {"time": time, "tx_hash": tx_hash, "counterparty": counterparty, "status": status}
        optional.update(symbol=symbol, item_type=item_type)
        payload.update({name: value for name, value in optional.items() if value is not None})
        return self._ok(self.call("POST", "transactions", payload))

    def hide_transaction(self, address: str, chain_index: str | int, tx_hash: str) -> dict[str, Any]:
        """Leave ``tx_hash`` out of the wallet's history (its balances keep it): ``{"hidden": n}``."""
        payload = {"address": address, "chain_index": str(chain_index), "tx_hash": tx_hash}
        return self._ok(self.call("POST", "transactions/hide", payload))

    def generate_history(
        self,
        address: str,
        chain_index: str | int,
        count: int,
        *,
        begin: str | int,
        end: str | int | None = None,
    ) -> dict[str, Any]:
        """Add ``count`` deterministic records over ``[begin, end)`` (default end: now): ``{"added": n}``."""
        payload: dict[str, Any] = {
            "address": address,
            "chain_index": str(chain_index),
            "count": count,
            "begin": begin,
        }
        if end is not None:
            payload["end"] = end
        return self._ok(self.call("POST", "transactions/generate", payload))

    def clear_transactions(self) -> dict[str, Any]:
        """Drop the whole ledger."""
        return self._ok(self.call("DELETE", "transactions"))

    def now(self) -> dict[str, Any]:
        """``{"now": ISO 8601 Z, "fixed": bool}``: the simulator's "now"."""
        return self._ok(self.call("GET", "now"))

    def set_now(self, now: str | int | None) -> dict[str, Any]:
        """Fix "now" (ISO 8601 with a zone, or ms); ``None`` follows the clock again."""
        return self._ok(self.call("PUT", "now", {"now": now}))

    @staticmethod
    def _ok(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise AdminCallError(0, f"unexpected answer {answer!r}")
        return answer
