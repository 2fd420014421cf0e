"""The roll-forward: why each quantity changed between two snapshots.

For every (wallet, chain, token) held at either snapshot or moved in between::

    expected_closing = opening + inflow - outflow - fees
    unexplained      = closing - expected_closing

``opening`` is the balance in the previous snapshot, ``closing`` the balance in this one, and
``inflow``, ``outflow`` and ``fees`` come from the wallet's transactions whose ``tx_time`` lies in
``[opening_time, closing_time)`` (half-open, as the hook's windows: consecutive roll-forwards
tile the history, no record counted twice or lost). Every amount is exact
(:data:`~airflow_provider_okx.core.models.EXACT`) and written as a decimal string.

The rules (those of treasury subledgers, applied to OKX's records):

- **Pending** records move nothing yet (counted in ``pending_records``).
- **Failed** records move nothing but their fee.
- **Fees** are in the chain's native coin (``token_address`` ``""``) and count once per
  ``(chain, tx_hash)``, only for a transaction the wallet sent (the wallet is among the record's
  ``from_addresses``, or the record's direction is ``out`` or ``self``), also when it failed.
  OKX does not say whether each record of a transaction repeats the fee or only one carries it:
  the largest ``tx_fee`` among the records of that hash is taken, which is right either way.
- **Self** transfers (the wallet on both sides) move nothing but their fee.
- A token that came in and went out between the snapshots gets its row (opening and closing 0).
- A wallet and chain that cannot be reconciled (OKX keeps less history than the window needs,
  OKX refused the window, no opening balance) has every row marked ``not_reconcilable`` with the
  reason, and ``null`` flows, expected closing and unexplained: never zeros.

Pure: no Airflow, no HTTP, no I/O; the report operator fetches and passes the data in.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow_provider_okx.core.chains import address_key, chain_name
from airflow_provider_okx.core.models import EXACT, ZERO
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.snapshot import chain_order

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import Transaction

RowKey = tuple[str, str, str]
"""(wallet identity, chain index, token identity): :func:`address_key` of the addresses."""

RECONCILED = "reconciled"
UNEXPLAINED = "unexplained"
NOT_RECONCILABLE = "not_reconcilable"

FLOWS = ("opening", "inflow", "outflow", "fees", "expected_closing", "closing", "unexplained")
"""The amount columns of a row, in order (``roll_forward.csv`` and the page use this order)."""

CSV_COLUMNS = (
    "wallet_label",
    "address",
    "chain_index",
    "chain_name",
    "token_address",
    "symbol",
    *FLOWS,
    "unexplained_usd",
    "status",
    "reason",
    "records",
)


class Balance(Protocol):
    """What a roll-forward reads of a balance: a ``TokenBalance``, or a :class:`Holding` read
    back from a previous report."""

    @property
    def address(self) -> str: ...
    @property
    def chain_index(self) -> str: ...
    @property
    def token_address(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def balance(self) -> Decimal: ...
    @property
    def token_price(self) -> Decimal: ...


@dataclass(slots=True)
class _Row:
    opening: Decimal = ZERO
    closing: Decimal = ZERO
    inflow: Decimal = ZERO
    outflow: Decimal = ZERO
    fees: Decimal = ZERO
    records: int = 0
    symbol: str = ""
    token_address: str = ""
    price: Decimal = ZERO
    """The closing valuation price (0: unpriced), for ``unexplained_usd``."""


@dataclass(slots=True)
class _Fee:
    amount: Decimal = ZERO
    sent: bool = False


@dataclass(frozen=True)
class RollForwardWindow:
    """The two snapshots' times: transactions in ``[opening_time, closing_time)`` count."""

    opening_time: datetime.datetime
    closing_time: datetime.datetime
    opening_date: str | None = None
    """The previous report's date (``YYYY-MM-DD``), shown on the page."""

    def __post_init__(self) -> None:
        for name in ("opening_time", "closing_time"):
            value = getattr(self, name)
            if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
                raise ValueError(f"{name}={value!r}: expected an aware datetime")
        if self.closing_time < self.opening_time:
            raise ValueError(f"closing_time {self.closing_time} is before opening_time {self.opening_time}")

    def holds(self, moment: datetime.datetime) -> bool:
        return self.opening_time <= moment < self.closing_time


@dataclass
class RollForwardInput:
    """Everything one roll-forward needs, gathered by the caller.

    :param window: the two snapshots' times.
    :param wallets: label -> address of the wallets to roll forward.
    :param chains: chain indices queried in both snapshots.
    :param opening: the previous snapshot's balances.
    :param closing: this snapshot's balances (with the price they are valued at).
    :param transactions: the wallets' transaction records; those outside the window are ignored.
    :param not_reconcilable: ``(wallet address, chain) -> reason`` for pairs that cannot be
        reconciled (a ``chain`` of ``"*"`` means every chain of that wallet).
    """

    window: RollForwardWindow
    wallets: Mapping[str, str]
    chains: Iterable[str]
    opening: Iterable[Balance]
    closing: Iterable[Balance]
    transactions: Iterable[Transaction]
    not_reconcilable: Mapping[tuple[str, str], str] = field(default_factory=dict)


def _sent_by(record: Transaction, wallet: str) -> bool:
    if record.direction in ("out", "self"):
        return True
    return any(address_key(sender) == wallet for part in record.from_addresses for sender in part.split(","))


def roll_forward(data: RollForwardInput) -> dict[str, Any]:
    """The ``roll_forward`` section of ``summary.json``: rows, control totals and the window."""
    window = data.window
    labels = {address_key(address): (label or address, address) for label, address in data.wallets.items()}
    chains = [str(chain) for chain in data.chains]
    rows: dict[RowKey, _Row] = {}
    add, sub = EXACT.add, EXACT.subtract
    keys: dict[str, str] = {}  # address_key of each address and token, computed once each

    def key_of(text: str) -> str:
        found = keys.get(text)
        if found is None:
            found = keys[text] = address_key(text)
        return found

    def row(wallet: str, chain: str, token: str, symbol: str) -> _Row:
        key = (wallet, chain, key_of(token) if token else "")
        entry = rows.get(key)
        if entry is None:
            entry = rows[key] = _Row(symbol=symbol, token_address=token)
        elif symbol and not entry.symbol:
            entry.symbol = symbol
        return entry

    for balance in data.opening:
        wallet = key_of(balance.address)
        if wallet in labels:
            entry = row(wallet, balance.chain_index, balance.token_address, balance.symbol)
            entry.opening = add(entry.opening, balance.balance)
    for balance in data.closing:
        wallet = key_of(balance.address)
        if wallet in labels:
            entry = row(wallet, balance.chain_index, balance.token_address, balance.symbol)
            entry.closing = add(entry.closing, balance.balance)
            entry.symbol = balance.symbol or entry.symbol
            entry.price = balance.token_price

    counts = {"records": 0, "pending_records": 0, "failed_records": 0, "outside_window": 0}
    fees: dict[tuple[str, str, str], _Fee] = {}
    seen: set[tuple[Any, ...]] = set()
    for record in data.transactions:
        wallet = address_key(record.address)
        if wallet not in labels:
            continue
        if not window.holds(record.tx_time):
            counts["outside_window"] += 1
            continue
        identity = (wallet, *record.movement_key)
        if identity in seen:  # the same record fetched twice (overlapping windows)
            continue
        seen.add(identity)
        counts["records"] += 1
        if record.status == "pending":
            counts["pending_records"] += 1
            continue
        fee_key = (wallet, record.chain_index, record.tx_hash)
        fee = fees.get(fee_key)
        if fee is None:
            fee = fees[fee_key] = _Fee()
        if record.tx_fee > fee.amount:
            fee.amount = record.tx_fee
        fee.sent = fee.sent or _sent_by(record, wallet)
        if record.status == "fail":
            counts["failed_records"] += 1
            continue
        entry = row(wallet, record.chain_index, record.token_address, record.symbol)
        entry.records += 1
        if record.direction == "in":
            entry.inflow = add(entry.inflow, record.amount)
        elif record.direction == "out":
            entry.outflow = add(entry.outflow, record.amount)
    fee_transactions = 0
    for (wallet, chain, _), fee in fees.items():
        if fee.sent and fee.amount:
            fee_transactions += 1
            entry = row(wallet, chain, "", "")
            entry.fees = add(entry.fees, fee.amount)

    # A pair that cannot be reconciled shows, even when nothing was held or moved there.
    for address, chain in data.not_reconcilable:
        wallet = address_key(address)
        if wallet in labels and chain != "*" and not any(k[0] == wallet and k[1] == chain for k in rows):
            row(wallet, chain, "", "")

    out: list[dict[str, Any]] = []
    while rows:  # each row's working entry goes as its output row is made (a million of them)
        (wallet, chain, _token_key), entry = rows.popitem()
        label, address = labels[wallet]
        reason = data.not_reconcilable.get((address, chain)) or data.not_reconcilable.get((address, "*"))
        if reason is None and chain not in chains:
            reason = f"chain {chain} was not queried in both snapshots"
        values: dict[str, Any] = {
            "wallet_label": label,
            "address": address,
            "chain_index": chain,
            "chain_name": chain_name(chain),
            "token_address": entry.token_address,
            "symbol": entry.symbol,
            "opening": amount(entry.opening),
            "closing": amount(entry.closing),
        }
        if reason is not None:
            values.update(
                inflow=None,
                outflow=None,
                fees=None,
                expected_closing=None,
                unexplained=None,
                unexplained_usd=None,
                status=NOT_RECONCILABLE,
                reason=reason,
                records=entry.records,
            )
        else:
            expected = sub(add(entry.opening, entry.inflow), add(entry.outflow, entry.fees))
            unexplained = sub(entry.closing, expected)
            values.update(
                inflow=amount(entry.inflow),
                outflow=amount(entry.outflow),
                fees=amount(entry.fees),
                expected_closing=amount(expected),
                unexplained=amount(unexplained),
                unexplained_usd=amount(EXACT.multiply(unexplained, entry.price)) if entry.price else None,
                status=RECONCILED if unexplained == 0 else UNEXPLAINED,
                reason=None,
                records=entry.records,
            )
        values = {name: values[name] for name in CSV_COLUMNS}
        out.append(values)
    out.sort(key=_order)
    return {
        "opening_time": _instant(window.opening_time),
        "closing_time": _instant(window.closing_time),
        "opening_date": window.opening_date,
        "row_count": len(out),
        "reconciled_count": sum(1 for r in out if r["status"] == RECONCILED),
        "unexplained_count": sum(1 for r in out if r["status"] == UNEXPLAINED),
        "not_reconcilable_count": sum(1 for r in out if r["status"] == NOT_RECONCILABLE),
        **counts,
        "fee_transactions": fee_transactions,
        "not_reconcilable": [
            {"address": address, "chain_index": chain, "reason": reason}
            for (address, chain), reason in sorted(data.not_reconcilable.items())
        ],
        "totals": control_totals(out),
        "rows": out,
    }


def _order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Unexplained rows first (largest difference first), then not reconcilable, then the rest;
    within each, by wallet, chain and token."""
    status = row["status"]
    rank = {UNEXPLAINED: 0, NOT_RECONCILABLE: 1}.get(status, 2)
    size = ZERO
    if rank == 0:
        size = EXACT.minus(EXACT.abs(Decimal(row["unexplained_usd"] or row["unexplained"] or 0)))
    return (
        rank,
        size,
        row["wallet_label"],
        chain_order(row["chain_index"]),
        row["symbol"],
        row["token_address"],
    )


def control_totals(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (chain, token), the exact sums over the reconcilable rows of every amount column,
    and the count of rows summed: the sums must obey the same identity as each row
    (``expected_closing = opening + inflow - outflow - fees``), which a reader can check."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] == NOT_RECONCILABLE:
            continue
        key = (row["chain_index"], address_key(row["token_address"]) if row["token_address"] else "")
        total = totals.get(key)
        if total is None:
            total = totals[key] = {
                "chain_index": row["chain_index"],
                "token_address": row["token_address"],
                "symbol": row["symbol"],
                "row_count": 0,
                **dict.fromkeys(FLOWS, ZERO),
            }
        total["row_count"] += 1
        for name in FLOWS:
            value = row[name]
            if value != "0":  # most flows are zero: nothing to add
                total[name] = EXACT.add(total[name], Decimal(value))

    def order(item: tuple[tuple[str, str], dict[str, Any]]) -> tuple[Any, ...]:
        (chain, token), total = item
        return (chain_order(chain), total["symbol"], token)

    return [
        {**total, **{name: amount(total[name]) for name in FLOWS}}
        for _, total in sorted(totals.items(), key=order)
    ]


def _instant(moment: datetime.datetime) -> str:
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def write_csv(section: Mapping[str, Any], out: Any) -> None:
    """``roll_forward.csv``: the section's rows, text cells made spreadsheet-safe, amounts exact
    (an empty cell is a value that could not be computed: a not reconcilable row)."""
    import csv

    from airflow_provider_okx.core.text import spreadsheet_safe

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    amounts = {*FLOWS, "unexplained_usd", "records"}

    def cell(name: str, value: Any) -> str:
        if value is None:
            return ""
        return str(value) if name in amounts else spreadsheet_safe(str(value))

    for row in section.get("rows") or ():
        writer.writerow([cell(name, row[name]) for name in CSV_COLUMNS])


class Holding(NamedTuple):
    """One balance of a previous report (a row of its ``balances.csv``)."""

    address: str
    chain_index: str
    token_address: str
    symbol: str
    balance: Decimal
    token_price: Decimal = ZERO


def holdings_from_csv(lines: Iterable[str]) -> Iterator[Holding]:
    """The rows of a previous report's ``balances.csv`` (any version: columns are found by
    name). An amount that does not read is an error naming the row, never a zero."""
    import csv

    from airflow_provider_okx.core.models import parse_decimal

    reader = csv.DictReader(lines)
    for number, row in enumerate(reader, start=2):
        try:
            yield Holding(
                _uncell(row["address"]),
                _uncell(row["chain_index"]),
                _uncell(row["token_address"]),
                _uncell(row["symbol"]),
                parse_decimal(row["balance"], f"balances.csv line {number}: balance"),
            )
        except KeyError as missing:
            raise ValueError(f"balances.csv line {number}: no column {missing}") from None


def _uncell(text: str | None) -> str:
    """A text cell as written before :func:`~airflow_provider_okx.core.text.spreadsheet_safe`
    guarded it (a leading ``'`` before a formula character)."""
    text = text or ""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r\n":
        return text[1:]
    return text
