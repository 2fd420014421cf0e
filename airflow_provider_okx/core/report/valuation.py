"""Cut-off valuation: holdings valued at OKX's index price as of a stated time.

By default a report values each holding at the price OKX returned with the balance (its live
price when the balances were fetched). With a *valuation time* (a month-end cut-off, 00:00 UTC)
each token is valued at OKX's historical index price as of that time: the latest point at or
before it, no older than ``max_age``. A token without such a point is *unpriced* (its value is
unknown, not zero): it is listed apart and counts in no total.

Every row discloses its ``price_time`` (the price point's time) and ``price_source``, in
``balances.csv`` and in ``summary.json`` (``valuation``, and each token entry).

Pure: no Airflow, no HTTP; the report operator fetches the price points.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_okx.core.chains import address_key
from airflow_provider_okx.core.models import ZERO

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import PricePoint, TokenBalance

PriceKey = tuple[str, str]
"""(chain index, token identity)."""

LIVE = "live"
CUTOFF = "cutoff"
LIVE_SOURCE = "OKX all-token-balances tokenPrice (live price when the balances were fetched)"
"""OKX does not say when its live ``tokenPrice`` was set: a live row's ``price_time`` is empty
(the summary's ``valuation.valuation_time`` says when the balances were fetched), which also
keeps ``balances.csv`` byte-identical when a date is rerun over the same data."""


def instant(moment: datetime.datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def price_key(chain_index: str, token_address: str) -> PriceKey:
    return (chain_index, address_key(token_address) if token_address else "")


def price_as_of(
    points: Iterable[PricePoint], moment: datetime.datetime, max_age: datetime.timedelta
) -> PricePoint | None:
    """The latest point at or before ``moment`` and not older than ``max_age``; ``None``
    when there is none (OKX's answers are filtered here: its ``begin`` is not reliable)."""
    best: PricePoint | None = None
    earliest = moment - max_age
    for point in points:
        if earliest <= point.time <= moment and (best is None or point.time > best.time):
            best = point
    return best


@dataclass(frozen=True)
class Valuation:
    """How a report's holdings are valued.

    :param mode: :data:`LIVE` (OKX's price with the balance) or :data:`CUTOFF`.
    :param valuation_time: the cut-off (``CUTOFF``), or when the balances were fetched (``LIVE``).
    :param price_source: what the prices are, in words a reader can check.
    :param price_times: ``CUTOFF``: (chain, token identity) -> the time of the point used, for
        every priced token; a token not in it is unpriced at the cut-off.
    """

    mode: str
    valuation_time: str
    price_source: str
    price_times: Mapping[PriceKey, str] = dataclasses.field(default_factory=dict)
    period: str | None = None
    max_age_seconds: int | None = None

    @classmethod
    def live(cls, fetched_at: str) -> Valuation:
        return cls(LIVE, fetched_at, LIVE_SOURCE)

    def price_time(self, chain_index: str, token_address: str, priced: bool) -> str:
        """The ``price_time`` of a row: ``""`` when it has no price, or a live price (OKX gives
        no time with it)."""
        if not priced or self.mode == LIVE:
            return ""
        return self.price_times.get(price_key(chain_index, token_address), "")

    def to_dict(self, unpriced: int) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "valuation_time": self.valuation_time,
            "price_source": self.price_source,
            "period": self.period,
            "max_age_seconds": self.max_age_seconds,
            "priced_token_count": len(self.price_times) if self.mode == CUTOFF else None,
            "unpriced_token_count": unpriced,
        }


def cutoff_source(period: str, max_age: datetime.timedelta) -> str:
    return (
        f"OKX index historical-price, period {period}: the latest point at or before the valuation "
        f"time, at most {int(max_age.total_seconds())} s before it"
    )


def revalue(
    rows: Sequence[TokenBalance],
    points: Mapping[PriceKey, PricePoint | None],
    moment: datetime.datetime,
    period: str,
    max_age: datetime.timedelta,
) -> tuple[list[TokenBalance], Valuation]:
    """``rows`` with ``token_price`` replaced by the price as of ``moment`` (``0``: unpriced, the
    model's word for "no price"), and the :class:`Valuation` that discloses it.

    :param points: (chain, token identity) -> the point chosen by :func:`price_as_of` (``None``:
        no price at the cut-off) for every token of ``rows``.
    """
    times: MutableMapping[PriceKey, str] = {}
    for key, point in points.items():
        if point is not None and point.price:
            times[key] = instant(point.time)
    out = []
    for row in rows:
        point = points.get(price_key(row.chain_index, row.token_address))
        price = point.price if point is not None else ZERO
        out.append(row if row.token_price == price else dataclasses.replace(row, token_price=price))
    source = cutoff_source(period, max_age)
    seconds = int(max_age.total_seconds())
    valuation = Valuation(CUTOFF, instant(moment), source, dict(times), period, seconds)
    return out, valuation


def disclose(summary: MutableMapping[str, Any], valuation: Valuation) -> None:
    """Add ``valuation`` to ``summary``, and ``price_time``/``price_source`` to each token entry
    (``by_token``, ``unpriced``, ``risk_tokens``)."""
    summary["valuation"] = valuation.to_dict(len(summary.get("unpriced") or ()))
    for section, priced in (("by_token", True), ("unpriced", False), ("risk_tokens", None)):
        for entry in summary.get(section) or ():
            has_price = priced if priced is not None else entry.get("price") != "0"  # None: mixed prices
            token = (entry["chain_index"], entry["token_address"])
            entry["price_time"] = valuation.price_time(*token, has_price)
            entry["price_source"] = valuation.price_source
