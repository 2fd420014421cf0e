"""Why the total moved: each USD change split into a price effect, a quantity effect, and
positions that entered or left the total. Pure and exact.

For a token ``t`` with ``Q`` units and value ``V`` in the total (priced, not a risk token) and
``P``, its reference price in the previous report:

- ``quantity = Q_now x P - V_before``: units bought, sold or moved, at the previous price;
- ``price = V_now - Q_now x P``: today's units, revalued;
- ``new = V_now`` when the token did not count in the previous report (not held, not priced,
  or a risk token then): there is no previous price to split it with;
- ``vanished = -V_before`` when it does not count today (gone, no longer priced: its value
  is now unknown, not zero; or flagged as a risk token).

When every wallet was quoted one price each day (the usual case) these are the textbook
``quantity = (Q_now - Q_before) x P_before`` and ``price = Q_now x (P_now - P_before)``. A
previous report whose wallets were quoted different prices for a token (fetched minutes
apart) has ``P = V_before / Q_before`` rounded to :data:`REFERENCE`'s 40 digits; the split
still adds up exactly, because each effect is computed from the one ``P``, in
:data:`~airflow_provider_okx.core.models.EXACT`.

A wallet uses the same ``P`` per token, over its own rows: ``quantity = sum(q_now x P) -
V_before`` and ``price = sum(q_now x p_now - q_now x P)``, with ``new`` its value in tokens
that did not count before. The previous summary keeps one total per wallet, not the wallet's
holdings, so a position a wallet closed in a token the treasury no longer holds at all is in
that wallet's ``quantity`` (tokens and chains show it as ``vanished``). Chains and the total
add up their tokens' effects.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

from airflow_provider_okx.core.models import EXACT, ZERO
from airflow_provider_okx.core.report.amounts import amount

REFERENCE = decimal.Context(
    prec=40,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""For the one inexact step: a reference price from value / units when a token had several
prices in one report. Forty significant digits exceed any price OKX quotes."""


def reference_price(price: Decimal | None, usd: Decimal, units: Decimal) -> Decimal | None:
    """A token's reference price in one report: its price when every wallet was quoted the same
    one, else ``usd / units``; ``None`` when neither is defined (no units)."""
    if price is not None:
        return price
    if units == 0:
        return None
    return REFERENCE.divide(usd, units)


@dataclass(frozen=True, slots=True)
class Effects:
    """One USD change, split. The four parts add up exactly to the change."""

    price: Decimal = ZERO
    quantity: Decimal = ZERO
    new: Decimal = ZERO
    vanished: Decimal | None = ZERO
    """``None`` for a wallet: not separable from its quantity effect (see the module docs)."""

    def __add__(self, other: Effects) -> Effects:
        add = EXACT.add
        vanished = (
            None if self.vanished is None or other.vanished is None else add(self.vanished, other.vanished)
        )
        return Effects(
            add(self.price, other.price),
            add(self.quantity, other.quantity),
            add(self.new, other.new),
            vanished,
        )

    @property
    def total(self) -> Decimal:
        add = EXACT.add
        return add(add(add(self.price, self.quantity), self.new), self.vanished or ZERO)

    @property
    def is_zero(self) -> bool:
        return self.price == 0 and self.quantity == 0 and self.new == 0 and not self.vanished

    def to_json(self) -> dict[str, str]:
        parts = {"price": amount(self.price), "quantity": amount(self.quantity), "new": amount(self.new)}
        if self.vanished is not None:
            parts["vanished"] = amount(self.vanished)
        return parts


def token_effects(
    *,
    counted_now: bool,
    usd_now: Decimal,
    units_now: Decimal,
    usd_before: Decimal,
    price_before: Decimal | None,
) -> Effects:
    """The split of one token's change.

    :param counted_now: whether the token counts in today's total (priced, not a risk token).
    :param usd_now: its value in today's total (0 when it does not count).
    :param units_now: the units behind ``usd_now``.
    :param usd_before: its value in the previous total (0 when it did not count).
    :param price_before: its previous reference price; ``None`` when it did not count then.
    """
    if not counted_now or price_before is None:
        # Nothing to revalue: it entered the total, left it (or neither: both parts are 0).
        return Effects(new=usd_now, vanished=EXACT.minus(usd_before))
    sub = EXACT.subtract
    at_previous_price = EXACT.multiply(units_now, price_before)
    return Effects(price=sub(usd_now, at_previous_price), quantity=sub(at_previous_price, usd_before))


def wallet_effects(
    *, usd_now: Decimal, at_previous_prices: Decimal, new: Decimal, usd_before: Decimal
) -> Effects:
    """The split of one wallet's change.

    :param usd_now: the wallet's value in today's total.
    :param at_previous_prices: ``sum(q_now x P)`` over its rows in tokens that counted before.
    :param new: its value today in tokens that did not count before.
    :param usd_before: its value in the previous total.
    """
    sub = EXACT.subtract
    return Effects(
        price=sub(sub(usd_now, new), at_previous_prices),
        quantity=sub(at_previous_prices, usd_before),
        new=new,
        vanished=None,
    )
