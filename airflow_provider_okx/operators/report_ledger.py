"""What the treasury report fetches and reads for its accounting sections: prices as of a
cut-off (valuation) and the transactions and opening balances of a roll-forward.

Kept apart from :mod:`~airflow_provider_okx.operators.report` (which imports it inside
``execute``) so that parsing a DAG pays for none of it; the computations are pure, in
:mod:`airflow_provider_okx.core.report.valuation` and
:mod:`airflow_provider_okx.core.report.roll_forward`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_okx.core.api.errors import OkxInvalidInputError, OkxInvalidRequestError
from airflow_provider_okx.core.chains import address_key, compatible_chains
from airflow_provider_okx.core.inputs import parse_moment

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import PricePoint, TokenBalance, Transaction
    from airflow_provider_okx.core.report.valuation import PriceKey, Valuation

OKX_HISTORY = datetime.timedelta(days=180)
"""How far back OKX's transaction history goes (about six months, per its documentation): a
roll-forward whose window starts earlier cannot be complete."""


def cutoff_valuation(
    hook: Any,
    rows: Sequence[TokenBalance],
    moment: datetime.datetime,
    period: str,
    max_age: datetime.timedelta,
    log: Any,
) -> tuple[list[TokenBalance], Valuation]:
    """``rows`` valued at OKX's historical index price as of ``moment`` (one price query per
    distinct token), and the valuation that discloses it."""
    from airflow_provider_okx.core.report.valuation import price_as_of, price_key, revalue  # at run time only

    tokens: dict[PriceKey, tuple[str, str]] = {}
    for row in rows:
        tokens.setdefault(price_key(row.chain_index, row.token_address), (row.chain_index, row.token_address))
    points: dict[PriceKey, PricePoint | None] = {}
    for key, (chain, token) in tokens.items():
        found = hook.get_historical_prices(chain, token, begin=moment - max_age, end=moment, period=period)
        points[key] = price_as_of(found, moment, max_age)
    revalued, valuation = revalue(rows, points, moment, period, max_age)
    missing = sum(1 for point in points.values() if point is None or not point.price)
    log.info(
        "Valued %d token(s) at OKX's index price as of %s (period %s); %d without a price then "
        "(listed as unpriced)",
        len(tokens),
        valuation.valuation_time,
        period,
        missing,
    )
    return revalued, valuation


def previous_fetch_time(previous: Mapping[str, Any]) -> datetime.datetime | None:
    """When the previous report's balances were fetched (the end of its fetch)."""
    timing = previous.get("snapshot_time") or {}
    for value in (timing.get("fetched_at"), previous.get("generated_at")):
        try:
            moment = parse_moment(value, "previous fetched_at")
        except OkxInvalidInputError:
            continue
        if moment is not None:
            return moment
    return None


def gather_roll_forward(
    hook: Any,
    root: Any,
    previous: Mapping[str, Any] | None,
    wallets: Mapping[str, str],
    chains: Sequence[str],
    closing: Sequence[TokenBalance],
    closing_time: datetime.datetime,
    history: datetime.timedelta,
    now: datetime.datetime,
    log: Any,
) -> dict[str, Any] | None:
    """The ``roll_forward`` section: opening balances from the previous report's
    ``balances.csv``, transactions in between from OKX; ``None`` without a previous report."""
    from airflow_provider_okx.core.report.roll_forward import (  # at run time only
        RollForwardInput,
        RollForwardWindow,
        holdings_from_csv,
        roll_forward,
    )

    if previous is None:
        log.info("Roll-forward: no previous report to roll forward from")
        return None
    opening_time = previous_fetch_time(previous)
    date = previous.get("date")
    path = root / str(date) / "balances.csv"
    if opening_time is None or not path.exists():
        log.warning("Roll-forward: the previous report (%s) has no fetch time or no balances.csv", date)
        return None
    window = RollForwardWindow(opening_time, max(closing_time, opening_time), str(date))
    previous_chains = {str(chain) for chain in previous.get("chains") or ()}
    both = [chain for chain in chains if chain in previous_chains]
    previous_wallets = {address_key(str(w.get("address"))) for w in previous.get("by_wallet") or ()}
    refused: dict[tuple[str, str], str] = {}
    transactions: list[Transaction] = []
    too_old = window.opening_time < now - history
    for address in wallets.values():
        if address_key(address) not in previous_wallets:
            refused[(address, "*")] = f"not in the previous report ({date}): no opening balance"
            continue
        if too_old:
            refused[(address, "*")] = (
                f"the window starts {window.opening_time.isoformat()}, beyond the "
                f"{history.days} days of history OKX keeps"
            )
            continue
        asked = compatible_chains(address, both)
        if not asked:
            continue
        try:
            found = hook.get_transactions(address, asked, begin=window.opening_time, end=window.closing_time)
        except (OkxInvalidRequestError, OkxInvalidInputError) as error:
            refused[(address, "*")] = f"OKX refused the window: {error}"
            log.warning("Roll-forward: %s not reconcilable: %s", address, error)
            continue
        transactions.extend(found)
    # Read in blocks and split into lines here: Airflow 2.10's ObjectStoragePath wraps the file
    # in a TrackingFileWrapper that the csv module cannot iterate. The opening balances stream
    # into the roll-forward: neither the file nor its rows are held whole (a million rows).
    with path.open("r", encoding="utf-8", newline="") as file:
        section = roll_forward(
            RollForwardInput(
                window=window,
                wallets=wallets,
                chains=both,
                opening=holdings_from_csv(_lines(file)),
                closing=closing,
                transactions=transactions,
                not_reconcilable=refused,
            )
        )
    log.info(
        "Roll-forward from %s to %s: %d rows, %d reconciled, %d unexplained, %d not reconcilable "
        "(%d transaction records)",
        section["opening_time"],
        section["closing_time"],
        section["row_count"],
        section["reconciled_count"],
        section["unexplained_count"],
        section["not_reconcilable_count"],
        section["records"],
    )
    return section


READ_BLOCK = 1 << 20
"""Characters of a previous ``balances.csv`` read at a time."""


def _lines(file: Any) -> Iterator[str]:
    """The lines of a text file opened with ``newline=""``, each with its ``\\n`` ending, read
    in blocks. Only ``\\n`` ends a line: ``str.splitlines`` would also split at U+2028, U+0085
    and other separators that a token symbol may hold (written unquoted: they are text to the
    csv module), and the next day's roll-forward would then fail on a broken row."""
    rest = ""
    while True:
        block = file.read(READ_BLOCK)
        if not block:
            break
        lines = (rest + block).split("\n")
        rest = lines.pop()
        for line in lines:
            yield line + "\n"
    if rest:
        yield rest
