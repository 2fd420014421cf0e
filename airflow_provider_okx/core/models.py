"""Typed results: token balances and chains, with exact ``Decimal`` money.

Pure: no Airflow, no HTTP. Every amount is parsed from OKX's string with ``Decimal`` (never
``float``) and every product or sum is computed in :data:`EXACT`, a context wide enough never
to round; it traps ``Inexact``, so a result that would have been rounded raises instead of
being silently wrong.

Amounts are bounded where they enter: at most :data:`MAX_AMOUNT_DIGITS` significant digits and
a magnitude within 1E+/-:data:`MAX_AMOUNT_EXPONENT` (OKX's amounts here, users' amounts in
:mod:`airflow_provider_okx.core.inputs`), so no 11-byte string can become a 280 MB report.
"""

from __future__ import annotations

import decimal
import re
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

MAX_AMOUNT_DIGITS = 80
"""At most this many significant digits (as written) in an amount OKX or a user gives us.

OKX sends up to about 36 decimals (``"172.895057177065864522056725546579939398"``); 10^30 raw
units of an 18-decimal token is a 31-digit balance. 80 holds both at once."""

MAX_AMOUNT_EXPONENT = 60
"""A non-zero amount lies within ``1E-60 <= |x| < 1E+61`` (adjusted exponent within +/-60).

Real balances and prices sit far inside (an 18-decimal token's smallest unit is 1E-18, a meme
token's supply about 1E+15). Unbounded, the 11-byte ``"1E+10000000"`` is a ten-million-digit
number once printed: it made a 280 MB ``report.html``."""

PRINTABLE_EXPONENT = 1000
""":func:`decimal_str` and :func:`parse_decimal` refuse magnitudes beyond 1E+/-1000.

Products and sums of bounded amounts stay far inside (about 1E+122 and 1E-280 at the
extremes): this is the safety net that keeps a plain string from being an exponent's worth of
zeros."""

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
"""A number as we read it: ASCII digits, an optional point and exponent. ``Decimal`` alone also
takes ``"1_000"``, other scripts' digits, ``"NaN"`` and ``"Infinity"``."""

_RAW_UNITS = re.compile(rf"-?[0-9]{{1,{MAX_AMOUNT_DIGITS}}}", re.ASCII)

_MAX_INT_BITS = 3400
"""About 1,000 decimal digits: larger ints are refused before ``Decimal(int)`` converts them."""


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
    """A plain (non-scientific) decimal string that round-trips exactly through ``Decimal``.

    Raises ``ValueError`` rather than print a value that is not finite or lies beyond
    1E+/-:data:`PRINTABLE_EXPONENT` (bounded amounts and their products never get there).
    """
    if value == 0:
        return "0"
    if not value.is_finite() or not -PRINTABLE_EXPONENT <= value.adjusted() <= PRINTABLE_EXPONENT:
        raise ValueError(f"refusing to print {value!r} in plain notation (beyond 1E+/-{PRINTABLE_EXPONENT})")
    return format(value, "f")


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages."""
    text = repr(value) if not isinstance(value, str) or len(value) <= limit else repr(value[:limit])
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def amount_problem(value: Decimal) -> str | None:
    """Why ``value`` is not an acceptable amount, or ``None`` when it is one: finite, at most
    :data:`MAX_AMOUNT_DIGITS` significant digits, ``0`` or within 1E+/-:data:`MAX_AMOUNT_EXPONENT`."""
    if not value.is_finite():
        return "not a finite number"
    _, digits, exponent = value.as_tuple()
    if len(digits) > MAX_AMOUNT_DIGITS:
        return f"more than {MAX_AMOUNT_DIGITS} significant digits"
    adjusted = value.adjusted()
    if adjusted > MAX_AMOUNT_EXPONENT:
        return f"out of bounds (1E+{MAX_AMOUNT_EXPONENT + 1} or more)"
    if value and adjusted < -MAX_AMOUNT_EXPONENT:
        return f"out of bounds (non-zero and below 1E-{MAX_AMOUNT_EXPONENT})"
    if not value and int(exponent) < -(MAX_AMOUNT_DIGITS + MAX_AMOUNT_EXPONENT):
        return f"a zero with more than {MAX_AMOUNT_DIGITS + MAX_AMOUNT_EXPONENT} decimal places"
    return None


def read_decimal(raw: object) -> Decimal:
    """An exact, finite ``Decimal`` from a numeric string, an int or a ``Decimal``; raises
    ``ValueError`` saying why not (the callers name the field: :func:`parse_decimal` for OKX's
    data, :func:`airflow_provider_okx.core.inputs.parse_amount` for users).

    Refused: a missing value (``None`` or ``""``: a value we did not read is never a zero), a
    float (it has already lost digits), a bool, text that is not an ASCII number, and
    magnitudes beyond 1E+/-:data:`PRINTABLE_EXPONENT`.
    """
    if raw is None or raw == "":
        raise ValueError("missing (a value we did not read is not a zero)")
    if isinstance(raw, (float, bool)):
        raise ValueError(f"refusing {type(raw).__name__} {raw!r}: amounts are exact strings")
    if isinstance(raw, str):
        text = raw.strip()
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"{shorten(raw)} is not a number")
        value = Decimal(text)
    elif isinstance(raw, int):
        if raw.bit_length() > _MAX_INT_BITS:
            raise ValueError(f"an integer of {raw.bit_length()} bits is out of bounds")
        value = Decimal(raw)
    elif isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValueError(f"{raw!r} is not a finite number")
        value = raw
    else:
        raise ValueError(f"expected a numeric string, not {type(raw).__name__}")
    if not -PRINTABLE_EXPONENT <= value.adjusted() <= PRINTABLE_EXPONENT:
        raise ValueError(f"{shorten(raw)} is out of bounds (beyond 1E+/-{PRINTABLE_EXPONENT})")
    return value


def parse_decimal(raw: object, field: str) -> Decimal:
    """:func:`read_decimal`, raising ``ValueError`` that names ``field``. Amounts as OKX sends
    them go through :func:`parse_bounded_amount` (tighter bounds); this looser one is for exact
    totals we computed ourselves and read back (a summary's sums of products)."""
    try:
        return read_decimal(raw)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None


def parse_bounded_amount(raw: object, field: str) -> Decimal:
    """An amount as OKX sends it (``balance``, ``tokenPrice``, ``totalValue``...) or as our
    XCom carries it: :func:`parse_decimal` within the bounds of :func:`amount_problem`. Raises
    ``ValueError`` naming ``field``."""
    value = parse_decimal(raw, field)
    problem = amount_problem(value)
    if problem:
        raise ValueError(f"{field}: {shorten(raw)}: {problem}")
    return value


def _optional_amount(raw: object, field: str) -> Decimal | None:
    return None if raw is None or raw == "" else parse_bounded_amount(raw, field)


def _raw_units(raw: object, field: str) -> int | None:
    """A balance in the token's smallest unit: ``""``/missing is ``None`` (OKX has none on some
    chains); otherwise ASCII digits, at most :data:`MAX_AMOUNT_DIGITS` of them."""
    if raw is None or raw == "":
        return None
    if type(raw) is str and raw.isdigit() and raw.isascii() and len(raw) <= MAX_AMOUNT_DIGITS:
        return int(raw)  # the usual case, first
    if isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw) if raw.bit_length() <= _MAX_INT_BITS else ""
    else:
        text = raw.strip() if isinstance(raw, str) else ""
    if not _RAW_UNITS.fullmatch(text):
        raise ValueError(
            f"{field}: {shorten(raw)} is not an integer of at most {MAX_AMOUNT_DIGITS} ASCII digits"
        )
    return int(text)


def _bool(raw: object) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1")
    return bool(raw)


def _chain_index(raw: object) -> str:
    if type(raw) is str and raw.isdigit() and raw.isascii() and len(raw) <= 18:
        return raw  # the usual case, first
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ValueError(f"chainIndex: {shorten(raw)} is not a chain index")
    return text


def _text(raw: object) -> str:
    return "" if raw is None else raw if isinstance(raw, str) else str(raw)


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
        """Inverse of :meth:`to_dict` (``usd_value`` is derived, so it is ignored). Amounts are
        held to the same bounds as OKX's; raises ``ValueError`` naming the field."""
        return cls(
            chain_index=_chain_index(data.get("chain_index")),
            token_address=_text(data.get("token_address")),
            address=_text(data.get("address")),
            symbol=_text(data.get("symbol")),
            balance=parse_bounded_amount(data.get("balance"), "balance"),
            raw_balance=_raw_units(data.get("raw_balance"), "raw_balance"),
            token_price=parse_bounded_amount(data.get("token_price"), "token_price"),
            token_type=data.get("token_type"),
            transfer_amount=_optional_amount(data.get("transfer_amount"), "transfer_amount"),
            available_amount=_optional_amount(data.get("available_amount"), "available_amount"),
            is_risk_token=_bool(data.get("is_risk_token")),
        )

    @classmethod
    def from_okx(cls, item: Mapping[str, Any], *, address: str = "") -> TokenBalance:
        """Parse one ``tokenAssets`` entry of either API version.

        :param address: the address that was queried. The row belongs to it, whatever OKX
            echoes in its ``address`` field (a case or format change there must not split a
            wallet); without it, the echo is used.

        v6 names the contract ``tokenContractAddress``, v5 ``tokenAddress``. ``chainIndex``,
        ``balance`` and ``tokenPrice`` are required (missing or ``null`` is an error, never a
        zero); ``tokenPrice: ""`` reads as unpriced (``0``, as OKX's ``"0"``). ``rawBalance``,
        ``transferAmount``, ``availableAmount`` and ``tokenType`` may be ``""`` or absent
        (``None``). Amounts are bounded (:func:`amount_problem`). Raises ``ValueError`` naming
        the OKX field.
        """
        if type(item) is not dict and not isinstance(item, Mapping):
            raise ValueError(f"tokenAssets: expected an object per token, got {type(item).__name__}")
        get = item.get
        token = get("tokenContractAddress")
        if token is None:
            token = get("tokenAddress")
        symbol = get("symbol")
        raw = get("rawBalance")
        price = get("tokenPrice")
        if price is None:
            raise ValueError("tokenPrice: missing (a value we did not read is not a zero)")
        token_type = get("tokenType")
        transfer = get("transferAmount")
        available = get("availableAmount")
        risk = get("isRiskToken", False)
        balance = object.__new__(cls)
        # Figure 1 of bench/RESULTS.md: the frozen dataclass __init__ pays object.__setattr__
        # per field, half the cost of a row. Filling __dict__ once gives an equal object:
        # 182 -> 89 us for OKX's 31-token example.
        balance.__dict__.update(
            chain_index=_chain_index(get("chainIndex")),
            token_address=token if type(token) is str else _text(token),
            address=address or _text(get("address")),
            symbol=symbol if type(symbol) is str else _text(symbol),
            balance=_bounded_amount(get("balance"), "balance"),
            raw_balance=None if raw == "" else _raw_units(raw, "rawBalance"),
            token_price=ZERO if price == "" else _bounded_amount(price, "tokenPrice"),
            token_type=None if token_type in (None, "") else str(token_type),
            transfer_amount=None if transfer in (None, "") else _bounded_amount(transfer, "transferAmount"),
            available_amount=None
            if available in (None, "")
            else _bounded_amount(available, "availableAmount"),
            is_risk_token=risk if risk is True or risk is False else _bool(risk),
        )
        return balance


def _bounded_amount(raw: object, field: str) -> Decimal:
    """:func:`parse_bounded_amount` with a fast path for the usual case: a short ASCII numeric
    string whose magnitude is in bounds (at most 80 characters, so at most 80 digits)."""
    if type(raw) is str and 0 < len(raw) <= MAX_AMOUNT_DIGITS and raw.isascii() and "_" not in raw:
        try:
            value = Decimal(raw)
        except decimal.InvalidOperation:
            raise ValueError(f"{field}: {shorten(raw)} is not a number") from None
        if value.is_finite() and -MAX_AMOUNT_EXPONENT <= value.adjusted() <= MAX_AMOUNT_EXPONENT:
            return value
    return parse_bounded_amount(raw, field)


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


def sort_key(balance: TokenBalance) -> tuple[str, str, int, str, Decimal, str, str]:
    """Stable row order: address, chain (numeric), then USD value descending, then token.

    Addresses sort case-insensitively; the address as written breaks ties, so two base58
    wallets that differ only in case (two wallets) never interleave.
    """
    index = balance.chain_index
    chain = int(index) if index.isascii() and index.isdigit() else -1
    usd_desc = EXACT.minus(balance.usd_value)
    address = balance.address
    return (address.lower(), address, chain, index, usd_desc, balance.symbol, balance.token_address)
