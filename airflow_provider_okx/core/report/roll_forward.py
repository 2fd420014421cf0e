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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, overload

from airflow_provider_okx.core.chains import address_key, chain_name
from airflow_provider_okx.core.models import EXACT, ZERO
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.csv_lines import field as csv_field
from airflow_provider_okx.core.report.csv_lines import records, write_lines
from airflow_provider_okx.core.report.snapshot import chain_order
from airflow_provider_okx.core.text import TextCache, spreadsheet_safe

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


@dataclass(slots=True, eq=False)
class _Row:
    """One (wallet, chain, token): its working sums, kept as the row itself until it is written
    (a million rows hold their decimals and shared texts, never a dict of strings each)."""

    wallet: str
    """:func:`address_key` of the wallet."""
    chain: str
    token_address: str
    symbol: str
    opening: Decimal = ZERO
    closing: Decimal = ZERO
    """The fetched balance object itself (and ``opening`` is that same object when the two are
    equal): nothing copied for an unchanged balance."""
    inflow: Decimal = ZERO
    outflow: Decimal = ZERO
    fees: Decimal = ZERO
    price: Decimal = ZERO
    """The closing valuation price (0: unpriced), for ``unexplained_usd``."""
    records: int = 0
    reason: str | None = None
    """Why the row cannot be reconciled; ``None`` when it can."""

    def moved(self) -> bool:
        return bool(self.inflow or self.outflow or self.fees)

    def unchanged(self) -> bool:
        """The balance was kept (one object for both ends) and nothing moved: most rows of a
        million, which every pass below takes by a shorter path (opening = expected = closing,
        every flow and the difference 0)."""
        return self.closing is self.opening and not (self.inflow or self.outflow or self.fees)

    def expected(self) -> Decimal:
        """``opening + inflow - outflow - fees``, exact."""
        if not self.moved():
            return self.opening
        return EXACT.subtract(EXACT.add(self.opening, self.inflow), EXACT.add(self.outflow, self.fees))

    def unexplained(self) -> Decimal:
        """``closing - expected_closing``, exact."""
        if self.unchanged():
            return ZERO
        return EXACT.subtract(self.closing, self.expected())


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
    """The ``roll_forward`` section of ``summary.json``: rows, control totals and the window.

    ``rows`` is a :class:`RollForwardRows`: a sequence of row dicts (the columns of
    :data:`CSV_COLUMNS`) made when read, so a million rows stay a million compact entries."""
    window = data.window
    labels = {address_key(address): (label or address, address) for label, address in data.wallets.items()}
    chains = {str(chain) for chain in data.chains}
    groups: dict[tuple[str, str], dict[str, _Row]] = {}  # (wallet, chain) -> token identity -> row
    add = EXACT.add
    keys = TextCache(address_key)  # address_key of each address and token, made once each
    key_of = keys.__getitem__  # a lookup in C, two million a million-row roll-forward

    def row(wallet: str, chain: str, token: str, symbol: str) -> _Row:
        group = groups.get((wallet, chain))
        if group is None:
            group = groups[(wallet, chain)] = {}
        token_key = key_of(token) if token else ""
        entry = group.get(token_key)
        if entry is None:
            entry = group[token_key] = _Row(wallet, chain, token, symbol)
        elif symbol and not entry.symbol:
            entry.symbol = symbol
        return entry

    # Closing first: its texts and amounts are the fetched rows' own objects, shared, not copied.
    for balance, group, token_key, entry in _placed(data.closing, groups, labels, key_of):
        if entry is None:
            entry = group[token_key] = _Row(
                keys[balance.address], balance.chain_index, balance.token_address, balance.symbol
            )
            entry.closing = balance.balance
        else:
            entry.closing = add(entry.closing, balance.balance)
            if balance.symbol:
                entry.symbol = balance.symbol
        entry.price = balance.token_price
    for holding, group, token_key, entry in _placed(data.opening, groups, labels, key_of):
        if entry is None:
            entry = group[token_key] = _Row(
                keys[holding.address], holding.chain_index, holding.token_address, holding.symbol
            )
            entry.opening = holding.balance
            continue
        if not entry.symbol and holding.symbol:
            entry.symbol = holding.symbol
        value = add(entry.opening, holding.balance) if entry.opening else holding.balance
        # An unchanged balance keeps one object for both ends (most of a million rows).
        entry.opening = entry.closing if value == entry.closing else value

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
        if wallet in labels and chain != "*" and (wallet, chain) not in groups:
            row(wallet, chain, "", "")

    # The order: unexplained rows first (largest difference first), then the rows that cannot
    # be reconciled, then the rest; within each, by wallet label, chain, symbol and token.
    # A key tuple per row for a million rows costs more than the rows: the (label, chain)
    # groups are sorted instead, and each group's few rows on their own (the same order).
    unexplained: list[tuple[Decimal, str, tuple[int, str], str, str, int, _Row]] = []
    refused: list[_Row] = []
    reconciled: list[_Row] = []
    buckets: dict[tuple[str, tuple[int, str]], list[dict[str, _Row]]] = {}
    for (wallet, chain), group in groups.items():
        address = labels[wallet][1]
        reason = data.not_reconcilable.get((address, chain)) or data.not_reconcilable.get((address, "*"))
        if reason is None and chain not in chains:
            reason = f"chain {chain} was not queried in both snapshots"
        if reason is not None:  # the whole (wallet, chain) cannot be reconciled
            for entry in group.values():
                entry.reason = reason
        buckets.setdefault((labels[wallet][0], chain_order(chain)), []).append(group)
    for (label, chain_key), merged in sorted(buckets.items(), key=lambda item: item[0]):
        entries = [entry for group in merged for entry in group.values()]
        entries.sort(key=_by_token)
        for entry in entries:
            if entry.reason is not None:
                refused.append(entry)
                continue
            if entry.unchanged():
                reconciled.append(entry)  # most rows, sooner
                continue
            difference = entry.unexplained()
            if difference:
                size = EXACT.abs(EXACT.multiply(difference, entry.price) if entry.price else difference)
                position = len(unexplained)
                unexplained.append(
                    (EXACT.minus(size), label, chain_key, entry.symbol, entry.token_address, position, entry)
                )
            else:
                reconciled.append(entry)
    groups.clear()
    unexplained.sort()
    counted = {
        "row_count": len(unexplained) + len(refused) + len(reconciled),
        "reconciled_count": len(reconciled),
        "unexplained_count": len(unexplained),
        "not_reconcilable_count": len(refused),
    }
    ordered = [item[-1] for item in unexplained]
    ordered += refused
    ordered += reconciled
    del unexplained, refused, reconciled
    return {
        "opening_time": _instant(window.opening_time),
        "closing_time": _instant(window.closing_time),
        "opening_date": window.opening_date,
        **counted,
        **counts,
        "fee_transactions": fee_transactions,
        "not_reconcilable": [
            {"address": address, "chain_index": chain, "reason": reason}
            for (address, chain), reason in sorted(data.not_reconcilable.items())
        ],
        "totals": control_totals(ordered),
        "rows": RollForwardRows(ordered, labels),
    }


_B = TypeVar("_B", bound=Balance)


def _placed(
    balances: Iterable[_B],
    groups: dict[tuple[str, str], dict[str, _Row]],
    labels: Mapping[str, Any],
    key_of: Callable[[str], str],
) -> Iterator[tuple[_B, dict[str, _Row], str, _Row | None]]:
    """Each balance of a wallet in ``labels``, with its (wallet, chain) group, its token's
    identity in the group and its row so far (``None`` if none yet). Balances come wallet by
    wallet and chain by chain: the group is looked up when they change, not per balance."""
    last: tuple[str, str] | None = None
    group: dict[str, _Row] | None = None
    for balance in balances:
        if last is None or balance.address != last[0] or balance.chain_index != last[1]:
            last = (balance.address, balance.chain_index)
            group = _group(groups, labels, key_of(balance.address), balance.chain_index)
        if group is None:  # not a wallet of this report
            continue
        token_key = key_of(balance.token_address)  # the native coin's "" is its own key
        yield balance, group, token_key, group.get(token_key)


def _group(
    groups: dict[tuple[str, str], dict[str, _Row]], labels: Mapping[str, Any], wallet: str, chain: str
) -> dict[str, _Row] | None:
    """The rows of (wallet, chain), made on first use; ``None`` for a wallet not in ``labels``."""
    if wallet not in labels:
        return None
    group = groups.get((wallet, chain))
    if group is None:
        group = groups[(wallet, chain)] = {}
    return group


def _by_token(entry: _Row) -> tuple[str, str]:
    return (entry.symbol, entry.token_address)


class RollForwardRows(Sequence[dict[str, Any]]):
    """The rows of a roll-forward, in order: each read as a dict of :data:`CSV_COLUMNS` (exact
    decimal strings, ``None`` for what could not be computed), made when it is read.

    A million rows as dicts of strings took about 700 bytes each; kept as their working sums
    (shared texts, one decimal object for an unchanged balance), a million-row roll-forward
    adds about 100 MB to its report (figure 5 of ``bench/RESULTS.md``: 636 MB against 532 MB
    peak). A slice is a view (the page shows the first rows of a million without making the
    rest); ``summary.json`` and ``roll_forward.csv`` are written from the entries directly
    (:meth:`json_objects`, :meth:`csv_lines`), to the bytes the dicts would give."""

    __slots__ = ("_chains", "_entries", "_labels")

    def __init__(self, entries: list[_Row], labels: Mapping[str, tuple[str, str]]) -> None:
        self._entries = entries
        self._labels = labels
        self._chains: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> RollForwardRows: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | RollForwardRows:
        if isinstance(index, slice):
            return RollForwardRows(self._entries[index], self._labels)
        return self._dict(self._entries[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for entry in self._entries:
            yield self._dict(entry)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (RollForwardRows, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<RollForwardRows: {len(self)} rows>"

    def _chain_name(self, chain: str) -> str:
        name = self._chains.get(chain)
        if name is None:
            name = self._chains[chain] = chain_name(chain)
        return name

    def _dict(self, entry: _Row) -> dict[str, Any]:
        label, address = self._labels[entry.wallet]
        return {
            "wallet_label": label,
            "address": address,
            "chain_index": entry.chain,
            "chain_name": self._chain_name(entry.chain),
            "token_address": entry.token_address,
            "symbol": entry.symbol,
            **dict(zip(_AMOUNT_COLUMNS, _amounts(entry), strict=True)),
        }

    def json_objects(self, depth: int) -> Iterator[str]:
        """Each row as ``json.dumps(row, indent=2, ensure_ascii=True)`` writes it as an item of a
        list at ``depth``: the same text, from the entries, each repeated text encoded once."""
        item = "\n" + " " * (2 * depth)
        indent = item + "  "
        text = TextCache(encode_basestring_ascii)
        statuses = {status: text[status] for status in (RECONCILED, UNEXPLAINED, NOT_RECONCILABLE)}
        heads: dict[tuple[str, str], str] = {}
        names = [f",{indent}{encode_basestring_ascii(name)}: " for name in _AMOUNT_COLUMNS]
        # An unchanged row that moved nothing (most of a million) is its balance three times
        # between constant text: what the general path below writes for it.
        still = (
            f'",{indent}"inflow": "0",{indent}"outflow": "0",{indent}"fees": "0",'
            f'{indent}"expected_closing": "'
        )
        closing_is = f'",{indent}"closing": "'
        rest = f'",{indent}"unexplained": "0",{indent}"unexplained_usd": '
        status_is = f',{indent}"status": {statuses[RECONCILED]},{indent}"reason": null,{indent}"records": '
        still_priced, still_unpriced = rest + '"0"' + status_is, rest + "null" + status_is
        for entry in self._entries:
            head = heads.get((entry.wallet, entry.chain))
            if head is None:
                label, address = self._labels[entry.wallet]
                head = heads[(entry.wallet, entry.chain)] = (
                    f'{item}{{{indent}"wallet_label": {text[label]},{indent}"address": {text[address]},'
                    f'{indent}"chain_index": {text[entry.chain]},'
                    f'{indent}"chain_name": {text[self._chain_name(entry.chain)]},'
                    f'{indent}"token_address": '
                )
            if entry.reason is None and entry.unchanged():
                balance = amount(entry.opening)
                yield (
                    f'{head}{text[entry.token_address]},{indent}"symbol": {text[entry.symbol]},'
                    f'{indent}"opening": "{balance}{still}{balance}{closing_is}{balance}'
                    f"{still_priced if entry.price else still_unpriced}{entry.records}{item}}}"
                )
                continue
            opening, inflow, outflow, fees, expected, closing, difference, usd, status, reason, records = (
                _amounts(entry)
            )
            start = f'{head}{text[entry.token_address]},{indent}"symbol": {text[entry.symbol]}'
            if reason is None:  # every amount is a string of digits, a point and a sign
                usd_text = "null" if usd is None else f'"{usd}"'
                yield (
                    f'{start},{indent}"opening": "{opening}",{indent}"inflow": "{inflow}",'
                    f'{indent}"outflow": "{outflow}",{indent}"fees": "{fees}",'
                    f'{indent}"expected_closing": "{expected}",{indent}"closing": "{closing}",'
                    f'{indent}"unexplained": "{difference}",{indent}"unexplained_usd": {usd_text},'
                    f'{indent}"status": {statuses[status]},{indent}"reason": null,'
                    f'{indent}"records": {records}{item}}}'
                )
                continue
            values = (opening, inflow, outflow, fees, expected, closing, difference, usd, status, reason)
            parts = [start]
            for name, value in zip(names[:-1], values, strict=True):
                parts.append(name + ("null" if value is None else text[value]))
            parts.append(f"{names[-1]}{records}{item}}}")
            yield "".join(parts)

    def csv_lines(self) -> Iterator[str]:
        """Each row as a line of ``roll_forward.csv`` (see :func:`write_csv`)."""
        cell = TextCache(_csv_text)
        heads: dict[tuple[str, str], str] = {}
        still_priced, still_unpriced = f"0,{cell[RECONCILED]},,", f",{cell[RECONCILED]},,"
        for entry in self._entries:
            head = heads.get((entry.wallet, entry.chain))
            if head is None:
                label, address = self._labels[entry.wallet]
                chain = entry.chain
                head = heads[(entry.wallet, chain)] = (
                    f"{cell[label]},{cell[address]},{cell[chain]},{cell[self._chain_name(chain)]},"
                )
            if entry.reason is None and entry.unchanged():  # what the path below writes, sooner
                balance = amount(entry.opening)
                yield (
                    f"{head}{cell[entry.token_address]},{cell[entry.symbol]},{balance},0,0,0,{balance},"
                    f"{balance},0,{still_priced if entry.price else still_unpriced}{entry.records}\n"
                )
                continue
            opening, inflow, outflow, fees, expected, closing, difference, usd, status, reason, records = (
                _amounts(entry)
            )
            start = f"{head}{cell[entry.token_address]},{cell[entry.symbol]},{opening},"
            if reason is None:
                yield (
                    f"{start}{inflow},{outflow},{fees},{expected},{closing},{difference},"
                    f"{'' if usd is None else usd},{cell[status]},,{records}\n"
                )
            else:  # the flows could not be computed: empty cells
                yield f"{start},,,,{closing},,,{cell[status]},{cell[reason]},{records}\n"


def _csv_text(value: str) -> str:
    return csv_field(spreadsheet_safe(value))


_AMOUNT_COLUMNS = CSV_COLUMNS[6:]
"""The columns after the row's identity: the amounts, status, reason and records."""
_EXACT_CELLS = frozenset((*FLOWS, "unexplained_usd", "records"))
"""Cells written as they are (exact decimal strings and counts): never text to neutralise."""


def _amounts(entry: _Row) -> tuple[Any, ...]:
    """The values of :data:`_AMOUNT_COLUMNS` for ``entry``: exact strings (``None`` where the row
    cannot be reconciled), its status, reason and record count."""
    opening = amount(entry.opening)
    same = entry.closing is entry.opening
    closing = opening if same else amount(entry.closing)
    if entry.reason is not None:
        return (
            opening,
            None,
            None,
            None,
            None,
            closing,
            None,
            None,
            NOT_RECONCILABLE,
            entry.reason,
            entry.records,
        )
    if entry.unchanged():  # most rows
        return (
            opening,
            "0",
            "0",
            "0",
            opening,
            opening,
            "0",
            "0" if entry.price else None,
            RECONCILED,
            None,
            entry.records,
        )
    if entry.inflow or entry.outflow or entry.fees:
        expected_value = entry.expected()
        inflow, outflow, fees = amount(entry.inflow), amount(entry.outflow), amount(entry.fees)
        expected = amount(expected_value)
        difference = EXACT.subtract(entry.closing, expected_value)
    else:
        inflow = outflow = fees = "0"
        expected = opening
        difference = EXACT.subtract(entry.closing, entry.opening)
    if not entry.price:
        usd = None
    elif not difference:
        usd = "0"  # amount() of any zero product, sooner
    else:
        usd = amount(EXACT.multiply(difference, entry.price))
    status = RECONCILED if difference == 0 else UNEXPLAINED
    return (
        opening,
        inflow,
        outflow,
        fees,
        expected,
        closing,
        amount(difference),
        usd,
        status,
        None,
        entry.records,
    )


def control_totals(entries: Iterable[_Row]) -> list[dict[str, Any]]:
    """Per (chain, token), the exact sums over the reconcilable rows of every amount column,
    and the count of rows summed: the sums must obey the same identity as each row
    (``expected_closing = opening + inflow - outflow - fees``), which a reader can check."""
    # [chain, token, symbol, count, *FLOWS sums, sum of the unchanged rows' balances]: a row
    # that kept its balance and moved nothing adds that balance to opening, expected_closing
    # and closing alike, so it is summed once and added to the three at the end (exact sums:
    # the same values, in a third of the additions for most of a million rows).
    totals: dict[tuple[str, str], list[Any]] = {}
    keys = TextCache(address_key)  # address_key of each token, made once each
    add = EXACT.add
    for entry in entries:
        if entry.reason is not None:
            continue
        token_key = keys[entry.token_address]
        total = totals.get((entry.chain, token_key))
        if total is None:
            total = totals[(entry.chain, token_key)] = [
                entry.chain,
                entry.token_address,
                entry.symbol,
                0,
                *(ZERO,) * len(FLOWS),
                ZERO,
            ]
        total[3] += 1
        opening, closing = entry.opening, entry.closing
        if entry.unchanged():
            total[11] = add(total[11], opening)
            continue
        if entry.inflow or entry.outflow or entry.fees:
            total[5] = add(total[5], entry.inflow)
            total[6] = add(total[6], entry.outflow)
            total[7] = add(total[7], entry.fees)
            total[8] = add(total[8], entry.expected())
            total[10] = add(total[10], entry.unexplained())
        else:
            if opening:
                total[8] = add(total[8], opening)  # expected_closing is the opening
            if closing is not opening:
                total[10] = add(total[10], EXACT.subtract(closing, opening))
        if opening:
            total[4] = add(total[4], opening)
        if closing:
            total[9] = add(total[9], closing)

    for total in totals.values():
        unchanged = total.pop()
        if unchanged:
            for at in (4, 8, 9):  # opening, expected_closing, closing
                total[at] = add(total[at], unchanged)

    def order(total: list[Any]) -> tuple[Any, ...]:
        return (chain_order(total[0]), total[2], keys[total[1]])

    return [
        {
            "chain_index": total[0],
            "token_address": total[1],
            "symbol": total[2],
            "row_count": total[3],
            **{name: amount(value) for name, value in zip(FLOWS, total[4:], strict=True)},
        }
        for total in sorted(totals.values(), key=order)
    ]


def _instant(moment: datetime.datetime) -> str:
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def write_csv(section: Mapping[str, Any], out: Any) -> None:
    """``roll_forward.csv``: the section's rows, text cells made spreadsheet-safe, amounts exact
    (an empty cell is a value that could not be computed: a not reconcilable row)."""
    rows = section.get("rows") or ()
    out.write(",".join(CSV_COLUMNS) + "\n")
    if isinstance(rows, RollForwardRows):
        write_lines(out, rows.csv_lines())
    else:  # rows read back as dicts (from a summary.json)
        write_lines(
            out, (",".join(_dict_cell(name, row[name]) for name in CSV_COLUMNS) + "\n" for row in rows)
        )


def _dict_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    return str(value) if name in _EXACT_CELLS else _csv_text(str(value))


class Holding(NamedTuple):
    """One balance of a previous report (a row of its ``balances.csv``)."""

    address: str
    chain_index: str
    token_address: str
    symbol: str
    balance: Decimal
    token_price: Decimal = ZERO


HOLDING_COLUMNS = ("address", "chain_index", "token_address", "symbol", "balance")


def holdings_from_csv(lines: Iterable[str]) -> Iterator[Holding]:
    """The rows of a previous report's ``balances.csv`` (any version: columns are found by
    name). An amount that does not read is an error naming the row, never a zero. Repeated
    texts (addresses, chains, tokens, symbols) come back as one object each."""
    from airflow_provider_okx.core.money import PRINTABLE_EXPONENT, _number, parse_decimal

    reader = records(lines)  # csv.reader's records; plain lines split by hand
    header = next(reader, None)
    if header is None:
        return
    where = {name: n for n, name in enumerate(header)}  # a repeated name: the last, as DictReader
    missing = [name for name in HOLDING_COLUMNS if name not in where]
    columns = [where.get(name, -1) for name in HOLDING_COLUMNS]
    texts = TextCache(_uncell)  # a cell as written -> its text, one object per distinct cell
    address, chain, token, symbol, balance = columns
    width = max(columns) + 1
    number_text = _number().fullmatch
    for number, cells in enumerate(reader, start=2):
        if not cells:  # a blank line, as csv.DictReader skips it
            continue
        if missing:
            raise ValueError(f"balances.csv line {number}: no column {missing[0]!r}")
        if len(cells) < width:  # cells missing at the end read as empty, as csv.DictReader does
            cells += [""] * (width - len(cells))  # (an empty balance is an error below)
        cell = cells[balance]
        # The amount as parse_decimal reads it; the label of its error made only for an error.
        value = Decimal(cell) if number_text(cell) else None
        if value is None or not -PRINTABLE_EXPONENT <= value.adjusted() <= PRINTABLE_EXPONENT:
            value = parse_decimal(cell, f"balances.csv line {number}: balance")
        yield _new_holding(  # the fields in order, without Holding's Python-level __new__
            Holding,
            (
                texts[cells[address]],
                texts[cells[chain]],
                texts[cells[token]],
                texts[cells[symbol]],
                value,
                ZERO,
            ),
        )


_new_holding = tuple.__new__


def _uncell(text: str | None) -> str:
    """A text cell as written before :func:`~airflow_provider_okx.core.text.spreadsheet_safe`
    guarded it (a leading ``'`` before a formula character)."""
    text = text or ""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r\n":
        return text[1:]
    return text
