"""Numbers and text for people: the only place the report rounds anything.

Rounding uses its own contexts (never :data:`~airflow_provider_okx.core.models.EXACT`, which traps
any rounding): :data:`ROUND` quantizes exactly-held values to a display step, :data:`RATIO`
divides for percentages and chart geometry. Text is escaped for HTML and XML alike.
"""

from __future__ import annotations

import decimal
import html
from decimal import Decimal

from airflow_provider_okx.core.text import clean_text

ROUND = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    rounding=decimal.ROUND_HALF_UP,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Quantizing to a display step: the precision never binds, the step does."""

RATIO = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_UP)
"""Division for percentages and chart sizes (28 significant digits are plenty for pixels)."""

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)


def esc(text: object) -> str:
    """Text safe in HTML and XML content and quoted attributes.

    Characters XML forbids (control characters, lone surrogates) become U+FFFD through
    :func:`~airflow_provider_okx.core.text.clean_text`, the sanitiser the CSV uses too: token
    symbols are chosen by token deployers, and a stray control character must not break the page.
    """
    return html.escape(clean_text(text), quote=True)


def to_decimal(value: object) -> Decimal:
    """A summary amount (exact decimal string) as a ``Decimal``; ``None`` reads as zero."""
    return Decimal(0) if value is None else Decimal(str(value))


def _grouped(value: Decimal) -> str:
    """Plain notation with thousands separators, keeping ``value``'s exponent."""
    return format(value, ",f")


def usd(value: object, *, sign: bool = False) -> str:
    """``$1,234.57``: rounded half-up to cents; a nonzero value below a cent reads ``<$0.01``."""
    amount = to_decimal(value)
    cents = amount.quantize(CENT, context=ROUND)
    prefix = "+" if sign and amount > 0 else ""
    if cents == 0 and amount != 0:
        return ("-" if amount < 0 else prefix) + "<$0.01"
    text = _grouped(ROUND.abs(cents))
    return ("-" if cents < 0 else prefix) + "$" + text


def units(value: object, *, sign: bool = False) -> str:
    """A token amount people can read: 2 decimals from 1,000, 4 from 1, else 4 significant digits.

    Trailing zeros are dropped (``1.5``, not ``1.5000``); tiny amounts stay in plain notation
    (``0.000000000000000001``), never ``1E-18``.
    """
    amount = to_decimal(value)
    if amount == 0:
        return "0"
    size = ROUND.abs(amount)
    if size >= 1000:
        step = CENT
    elif size >= 1:
        step = Decimal("0.0001")
    else:
        step = Decimal(1).scaleb(size.adjusted() - 3, context=ROUND)
    rounded = amount.quantize(step, context=ROUND)
    text = _grouped(rounded)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("+" if sign and amount > 0 else "") + text


def price(value: object) -> str:
    """A unit price: cents from $1, else 4 significant digits (``$0.9684``)."""
    if value is None:
        return "mixed"
    amount = to_decimal(value)
    if amount == 0:
        return "n/a"
    if ROUND.abs(amount) >= 1:
        return usd(amount)
    return "$" + units(amount)


def share(part: object, whole: object) -> Decimal | None:
    """``part / whole`` in percent (rounded to 0.1), or ``None`` when ``whole`` is zero."""
    total = to_decimal(whole)
    if total == 0:
        return None
    return RATIO.multiply(RATIO.divide(to_decimal(part), total), HUNDRED).quantize(TENTH, context=ROUND)


def percent(part: object, whole: object, *, sign: bool = False) -> str:
    """``12.3%`` (``+12.3%`` with ``sign``), or ``-`` when ``whole`` is zero. A part that is
    not zero never reads ``0.0%``: below a rounded tenth it is ``<0.1%`` (``-<0.1%``)."""
    value = share(part, whole)
    if value is None:
        return "-"
    amount = to_decimal(part)
    positive = (amount > 0) == (to_decimal(whole) > 0)
    if value == 0 and amount != 0:
        return ("+" if sign and positive else "" if positive else "-") + "<0.1%"
    return ("+" if sign and value > 0 else "") + format(value, "f") + "%"


def rate(value: object) -> str:
    """A ratio as an exact percentage: ``0.001`` reads ``0.1%``, ``0.0005`` reads ``0.05%``."""
    return format(to_decimal(value).scaleb(2, context=ROUND).normalize(ROUND), "f") + "%"


def tone(value: object) -> str:
    """CSS class of a signed amount: ``pos``, ``neg``, ``zero``; ``""`` for nothing (``None``)."""
    if value is None:
        return ""
    amount = to_decimal(value)
    return "pos" if amount > 0 else "neg" if amount < 0 else "zero"


def short_address(address: str) -> str:
    """``0x1234...cdef`` for long addresses (the full one goes in a tooltip)."""
    return address if len(address) <= 16 else f"{address[:6]}\u2026{address[-4:]}"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
