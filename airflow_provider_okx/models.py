"""Typed results: token balances and chains, with exact ``Decimal`` money.

Pure: no Airflow, no HTTP. Every amount is parsed from OKX's string with ``Decimal`` (never
``float``) and every product or sum is computed in :data:`EXACT`, a context wide enough never
to round; it traps ``Inexact``, so a result that would have been rounded raises instead of
being silently wrong.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Arithmetic context for money: unbounded precision, and a trap on any rounding.

Precision costs nothing until digits exist: libmpdec sizes results by their real digits.
"""

ZERO = Decimal(0)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (``0`` for none)."""
    total = ZERO
    add = EXACT.add
    for value in values:
        total = add(total, value)
    return total


def exact_mul(a: Decimal, b: Decimal) -> Decimal:
    """The exact product of two decimals."""
    return EXACT.multiply(a, b)


def decimal_str(value: Decimal) -> str:
    """A plain (non-scientific) decimal string that round-trips exactly through ``Decimal``."""
    if value == 0:
        return "0"
    return format(value, "f")


def parse_decimal(raw: object, field: str) -> Decimal:
    """Parse an OKX numeric string (or int) into a ``Decimal``; ``""``/missing is zero.

    Floats are refused: by the time a number is a float it has already lost its digits.
    """
    if raw is None or raw == "":
        return ZERO
    if isinstance(raw, (float, bool)):
        raise ValueError(f"{field}: refusing float {raw!r}; OKX sends amounts as strings")
    try:
        value = Decimal(raw) if isinstance(raw, (str, int)) else Decimal(str(raw))
    except decimal.InvalidOperation:
        raise ValueError(f"{field}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{field}: {raw!r} is not a finite number")
    return value


def _optional_decimal(raw: object, field: str) -> Decimal | None:
    return None if raw is None or raw == "" else parse_decimal(raw, field)


def _optional_int(raw: object, field: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    try:
        return int(str(raw))
    except ValueError:
        raise ValueError(f"{field}: {raw!r} is not an integer") from None


def _bool(raw: object) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1")
    return bool(raw)


@dataclass(frozen=True)
class TokenBalance:
    """One token held by one address on one chain, as OKX reported it."""

    chain_index: str
    token_address: str
    """Token contract (or inscription id); ``""`` is the chain's native coin."""
    address: str
    symbol: str
    balance: Decimal
    raw_balance: int | None
    """Balance in the token's smallest unit; ``None`` where OKX does not provide it."""
    token_price: Decimal
    """USD price; ``0`` means OKX has no price (unpriced), not that the token is worthless."""
    token_type: str | None = None
    """v5 only: ``"1"`` token, ``"2"`` inscription."""
    transfer_amount: Decimal | None = None
    available_amount: Decimal | None = None
    is_risk_token: bool = False

    @property
    def usd_value(self) -> Decimal:
        """``balance x token_price``, exact."""
        return EXACT.multiply(self.balance, self.token_price)

    @property
    def is_priced(self) -> bool:
        return self.token_price != 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: decimals as exact strings, never floats."""
        return {
            "chain_index": self.chain_index,
            "token_address": self.token_address,
            "address": self.address,
            "symbol": self.symbol,
            "balance": decimal_str(self.balance),
            "raw_balance": None if self.raw_balance is None else str(self.raw_balance),
            "token_price": decimal_str(self.token_price),
            "token_type": self.token_type,
            "transfer_amount": None if self.transfer_amount is None else decimal_str(self.transfer_amount),
            "available_amount": None if self.available_amount is None else decimal_str(self.available_amount),
            "is_risk_token": self.is_risk_token,
            "usd_value": decimal_str(self.usd_value),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenBalance:
        """Inverse of :meth:`to_dict` (``usd_value`` is derived, so it is ignored)."""
        return cls(
            chain_index=str(data["chain_index"]),
            token_address=str(data.get("token_address") or ""),
            address=str(data.get("address") or ""),
            symbol=str(data.get("symbol") or ""),
            balance=parse_decimal(data.get("balance"), "balance"),
            raw_balance=_optional_int(data.get("raw_balance"), "raw_balance"),
            token_price=parse_decimal(data.get("token_price"), "token_price"),
            token_type=data.get("token_type"),
            transfer_amount=_optional_decimal(data.get("transfer_amount"), "transfer_amount"),
            available_amount=_optional_decimal(data.get("available_amount"), "available_amount"),
            is_risk_token=_bool(data.get("is_risk_token")),
        )

    @classmethod
    def from_okx(cls, item: Mapping[str, Any], *, address: str = "") -> TokenBalance:
        """Parse one ``tokenAssets`` entry of either API version.

        v6 names the contract ``tokenContractAddress`` and has no inscription fields; v5 says
        ``tokenAddress``. ``""`` and missing fields become ``None`` (or zero for amounts).
        """
        get = item.get  # this runs once per token of every response: kept lean
        token = get("tokenContractAddress")
        if token is None:
            token = get("tokenAddress")
        token_type = get("tokenType")
        transfer = get("transferAmount")
        available = get("availableAmount")
        risk = get("isRiskToken", False)
        balance = object.__new__(cls)
        # The frozen dataclass __init__ pays object.__setattr__ per field: half the cost of
        # a row. Filling __dict__ once gives an equal object for half the CPU.
        balance.__dict__.update(
            chain_index=str(get("chainIndex", "")),
            token_address=token or "",
            address=get("address") or address,
            symbol=get("symbol") or "",
            balance=_amount(get("balance"), "balance"),
            raw_balance=_optional_int(get("rawBalance"), "rawBalance"),
            token_price=_amount(get("tokenPrice"), "tokenPrice"),
            token_type=None if token_type in (None, "") else str(token_type),
            transfer_amount=None if transfer in (None, "") else _amount(transfer, "transferAmount"),
            available_amount=None if available in (None, "") else _amount(available, "availableAmount"),
            is_risk_token=risk if risk is True or risk is False else _bool(risk),
        )
        return balance


def _amount(raw: object, field: str) -> Decimal:
    """:func:`parse_decimal` with a fast path for the usual case, a non-empty numeric string."""
    if type(raw) is str and raw:
        try:
            value = Decimal(raw)
        except decimal.InvalidOperation:
            raise ValueError(f"{field}: {raw!r} is not a number") from None
        if value.is_finite():
            return value
    return parse_decimal(raw, field)


@dataclass(frozen=True)
class Chain:
    """A chain as OKX's supported-chains endpoint lists it."""

    chain_index: str
    name: str
    short_name: str = ""
    logo_url: str = ""

    @classmethod
    def from_okx(cls, item: Mapping[str, Any]) -> Chain:
        return cls(
            chain_index=str(item.get("chainIndex", item.get("chainId", ""))),
            name=str(item.get("name") or ""),
            short_name=str(item.get("shortName") or ""),
            logo_url=str(item.get("logoUrl") or ""),
        )


def total_usd(balances: Iterable[TokenBalance]) -> Decimal:
    """The exact USD total of ``balances``."""
    return exact_sum(b.usd_value for b in balances)


def sort_key(balance: TokenBalance) -> tuple[str, int, str, Decimal, str, str]:
    """Stable row order: address, chain (numeric), then USD value descending, then token."""
    index = balance.chain_index
    chain = int(index) if index.isascii() and index.isdigit() else -1
    usd_desc = EXACT.minus(balance.usd_value)
    return (balance.address.lower(), chain, index, usd_desc, balance.symbol, balance.token_address)
