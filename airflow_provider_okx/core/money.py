"""Exact ``Decimal`` money: the arithmetic context, the bounded readers every amount goes
through, and plain printing.

Pure and light (no dataclass, no Airflow): what checking a user's amount at DAG parse time
needs, apart from the typed results of :mod:`airflow_provider_okx.core.models`, which
re-exports every name here. Every amount is parsed from a string with ``Decimal`` (never
``float``) and every product or sum is computed in :data:`EXACT`, a context wide enough never
to round; it traps ``Inexact``, so a result that would have been rounded raises instead of
being silently wrong.

Amounts are bounded where they enter: at most :data:`MAX_AMOUNT_DIGITS` significant digits and
a magnitude within 1E+/-:data:`MAX_AMOUNT_EXPONENT` (OKX's amounts in
:mod:`airflow_provider_okx.core.models`, users' amounts in
:mod:`airflow_provider_okx.core.inputs`), so no 11-byte string can become a 280 MB report.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from decimal import Decimal
from functools import cache

__all__ = [
    "EXACT",
    "MAX_AMOUNT_DIGITS",
    "MAX_AMOUNT_EXPONENT",
    "PRINTABLE_EXPONENT",
    "ZERO",
    "amount_problem",
    "decimal_str",
    "exact_mul",
    "exact_sum",
    "parse_bounded_amount",
    "parse_decimal",
    "read_decimal",
    "shorten",
]

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


@cache
def _number() -> re.Pattern[str]:
    """A number as we read it: ASCII digits, an optional point and exponent. ``Decimal`` alone
    also takes ``"1_000"``, other scripts' digits, ``"NaN"`` and ``"Infinity"``. Compiled on
    first use, not when a DAG file imports an operator."""
    return re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


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
    if not value:  # any zero (a NaN is true, and refused below); sooner than ``value == 0``
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
        if not _number().fullmatch(text):
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
