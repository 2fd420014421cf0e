"""The simulator's ledger: dated transactions that move a wallet's balances.

A wallet's balances are its **opening** holdings (the deterministic portfolio, with any test
override of :class:`~.wallet_book.WalletBook` applied) plus the movements of its ledger up to
the simulator's "now" (:attr:`Ledger.now`, the wall clock unless set). The same entries are
served as the transaction history, so a roll-forward over the simulator reconciles to zero:

- ``success``: an ``in`` adds ``amount`` of its token, an ``out`` removes it, a ``self``
  moves nothing; the sender (``out``/``self``) pays ``fee`` in the native coin;
- ``fail``: only the sender's fee;
- ``pending``: nothing yet (it shows in the history, but moves no balance);
- a fee is paid once per ``(chain, tx_hash)``, however many records the transaction has;
- an entry after "now" has not happened: it moves nothing and is not in the history.

A hidden entry (:meth:`Ledger.hide`) still moves the balances but is left out of the
history: a roll-forward then shows exactly its amount (and fee) as unexplained.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal

from airflow_provider_okx.core.chains import address_families
from airflow_provider_okx.core.models import (
    EPOCH,
    MAX_EPOCH_MS,
    amount_problem,
    datetime_to_ms,
    read_decimal,
    shorten,
)
from airflow_provider_okx.testing.assets import EXACT, display_address, token_key, wallet_key

DIRECTIONS = ("in", "out", "self")
STATUSES = ("success", "fail", "pending")


@dataclass(frozen=True)
class LedgerEntry:
    """One record of one wallet's history: one asset moved by one transaction."""

    seq: int
    """Order of addition: breaks ties between records of one millisecond."""
    address: str
    chain_index: str
    tx_hash: str
    time_ms: int
    token_address: str
    symbol: str
    amount: Decimal
    direction: str
    counterparty: str
    fee: Decimal
    status: str
    item_type: str
    hidden: bool = False

    @property
    def can_lower_a_balance(self) -> bool:
        """Whether adding this record may take some balance lower at some time (an outflow,
        or a fee the wallet pays)."""
        return self.status != "pending" and self.direction != "in"

    @property
    def sent(self) -> bool:
        """Whether the wallet sent this transaction (and so paid its fee)."""
        return self.direction in ("out", "self")

    def delta(self) -> Decimal:
        """What this record moves of its token (the fee aside)."""
        if self.status != "success" or self.direction == "self":
            return Decimal(0)
        return self.amount if self.direction == "in" else EXACT.minus(self.amount)

    def okx_record(self, version: str) -> dict[str, object]:
        """The record as OKX's history route returns it (v6, or v5's field names)."""
        amount = _plain(self.amount)
        wallet = {"address": display_address(self.address), "amount": amount}
        other = {"address": self.counterparty, "amount": amount}
        senders, receivers = {
            "in": ([other], [wallet]),
            "out": ([wallet], [other]),
            "self": ([wallet], [dict(wallet)]),
        }[self.direction]
        record: dict[str, object] = {
            "chainIndex": self.chain_index,
            "txHash": self.tx_hash,
            ("itype" if version == "v6" else "iType"): self.item_type,
            "methodId": "" if self.item_type == "0" else "0xa9059cbb",
            "nonce": "",
            "txTime": str(self.time_ms),
            "from": senders,
            "to": receivers,
            ("tokenContractAddress" if version == "v6" else "tokenAddress"): self.token_address,
            "amount": amount,
            "symbol": self.symbol,
            "txFee": _plain(self.fee),
            "txStatus": self.status,
            "hitBlacklist": False,
            "tag": "",
        }
        return record


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _decimal(raw: object, field: str, *, positive: bool) -> Decimal:
    if isinstance(raw, float):
        raise ValueError(f"{field}: refusing the float {raw!r} (amounts are exact decimal strings)")
    try:
        value = read_decimal(raw)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None
    problem = amount_problem(value)
    if problem:
        raise ValueError(f"{field}: {shorten(raw)}: {problem}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{field}: {shorten(raw)} must be {'> 0' if positive else '>= 0'}")
    return value


def parse_time(raw: object, field: str = "time") -> int:
    """An instant as ms since the epoch: an aware ``datetime``, an ISO 8601 string with a zone
    (``2026-12-01T00:00:00Z``) or an int of milliseconds. Naive times are refused."""
    if isinstance(raw, datetime):
        if raw.tzinfo is None or raw.utcoffset() is None:
            raise ValueError(f"{field}: {raw!r} is naive: give a time zone")
        when = raw
    elif isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw <= MAX_EPOCH_MS:
            raise ValueError(f"{field}: {raw} is not milliseconds since 1970")
        return raw
    elif isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{field}: {shorten(raw)} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError(f"{field}: {shorten(raw)} has no time zone (add Z or an offset)")
    else:
        raise ValueError(f"{field}: expected an ISO 8601 time with a zone, not {type(raw).__name__}")
    if when < EPOCH:
        raise ValueError(f"{field}: {shorten(str(raw))} is before 1970")
    return datetime_to_ms(when)


def ms_iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC with ``Z``."""
    when = datetime.fromtimestamp(ms // 1000, tz=timezone.utc).replace(microsecond=(ms % 1000) * 1000)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hash_for(address: str, chain: str, seq: int, time_ms: int) -> str:
    digest = hashlib.sha256(f"okx-sim-tx\x1f{wallet_key(address)}\x1f{chain}\x1f{seq}\x1f{time_ms}".encode())
    return "0x" + digest.hexdigest()


def _counterparty_for(address: str, chain: str, seq: int) -> str:
    digest = hashlib.sha256(f"okx-sim-peer\x1f{wallet_key(address)}\x1f{chain}\x1f{seq}".encode())
    return "0x" + digest.hexdigest()[:40]


class Ledger:
    """Every wallet's dated entries, and the simulator's "now". Thread-safe.

    :param clock: the wall clock (epoch seconds) used while :attr:`now` is not set.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], list[LedgerEntry]] = {}
        self._fees: dict[tuple[str, str], dict[str, Decimal]] = {}
        self._seq = 0
        self._now_ms: int | None = None
        self.clock = clock

    # --- "now" ------------------------------------------------------------------------------

    def set_now(self, when: object) -> int | None:
        """Fix the simulator's "now" (an aware datetime, ISO 8601 text or ms); ``None``
        follows the wall clock again. Returns the new "now" in ms (``None``: the clock)."""
        self._now_ms = None if when is None else parse_time(when, "now")
        return self._now_ms

    def now_ms(self) -> int:
        """The simulator's "now" in ms since the epoch."""
        fixed = self._now_ms
        return fixed if fixed is not None else int(self.clock() * 1000)

    @property
    def now_is_fixed(self) -> bool:
        return self._now_ms is not None

    # --- entries ------------------------------------------------------------------------------

    def build(
        self,
        address: object,
        chain_index: str,
        token_address: object,
        amount: object,
        direction: object,
        *,
        time: object = None,
        tx_hash: object = None,
        counterparty: object = None,
        fee: object = "0",
        status: object = "success",
        symbol: object = None,
        item_type: object = None,
    ) -> LedgerEntry:
        """A checked entry (not yet added): raises ``ValueError`` naming the field."""
        if not isinstance(address, str) or not address.strip():
            raise ValueError("address: expected a wallet address")
        address = address.strip()
        if not address_families(address):
            raise ValueError(f"address: {shorten(address)} is not an address of any known family")
        if not isinstance(token_address, str):
            raise ValueError("token_address: expected text ('' for the native coin)")
        token_address = token_address.strip()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction: {shorten(direction)} is not one of {', '.join(DIRECTIONS)}")
        if status not in STATUSES:
            raise ValueError(f"status: {shorten(status)} is not one of {', '.join(STATUSES)}")
        value = _decimal(amount, "amount", positive=True)
        fee_value = _decimal("0" if fee is None else fee, "fee", positive=False)
        time_ms = self.now_ms() if time is None else parse_time(time, "time")
        for name, text in (("tx_hash", tx_hash), ("counterparty", counterparty), ("symbol", symbol)):
            if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > 200):
                raise ValueError(f"{name}: expected non-empty text of at most 200 characters")
        if item_type is not None and item_type not in ("0", "1", "2"):
            raise ValueError(f"item_type: {shorten(item_type)} is not one of 0, 1, 2")
        with self._lock:
            self._seq += 1
            seq = self._seq
        peer = (
            counterparty.strip()
            if isinstance(counterparty, str)
            else _counterparty_for(address, chain_index, seq)
        )
        return LedgerEntry(
            seq=seq,
            address=address,
            chain_index=chain_index,
            tx_hash=tx_hash.strip()
            if isinstance(tx_hash, str)
            else _hash_for(address, chain_index, seq, time_ms),
            time_ms=time_ms,
            token_address=token_address,
            symbol=symbol.strip() if isinstance(symbol, str) else "",
            amount=value,
            direction=str(direction),
            counterparty=peer,
            fee=fee_value,
            status=str(status),
            item_type=str(item_type) if item_type is not None else ("0" if token_address == "" else "2"),
        )

    def entries(self, address: str, chain: str) -> list[LedgerEntry]:
        """The wallet's entries on ``chain`` (every one: hidden and future ones included)."""
        with self._lock:
            return list(self._entries.get((wallet_key(address), chain), ()))

    def check_fee(self, entry: LedgerEntry) -> None:
        """Refuse a record whose fee differs from another record of the same transaction."""
        with self._lock:
            other = self._fees.get((wallet_key(entry.address), entry.chain_index), {}).get(entry.tx_hash)
        if other is not None and other != entry.fee:
            raise ValueError(
                f"fee: {_plain(entry.fee)} differs from {_plain(other)}, the fee of the other "
                f"record(s) of transaction {entry.tx_hash}"
            )

    def add(self, entry: LedgerEntry) -> None:
        key = (wallet_key(entry.address), entry.chain_index)
        with self._lock:
            self._entries.setdefault(key, []).append(entry)
            self._fees.setdefault(key, {}).setdefault(entry.tx_hash, entry.fee)

    def hide(self, address: str, chain: str, tx_hash: str) -> int:
        """Leave every record of ``tx_hash`` out of the wallet's history (balances keep them).
        Returns how many records were hidden."""
        key = (wallet_key(address), chain)
        with self._lock:
            entries = self._entries.get(key, [])
            hidden = 0
            for i, entry in enumerate(entries):
                if entry.tx_hash == tx_hash and not entry.hidden:
                    entries[i] = replace(entry, hidden=True)
                    hidden += 1
            return hidden

    def clear(self) -> None:
        """Drop every entry (and let "now" follow the clock again)."""
        with self._lock:
            self._entries.clear()
            self._fees.clear()
            self._now_ms = None

    def chains_of(self, address: str) -> list[str]:
        """The chains on which the wallet has entries."""
        key = wallet_key(address)
        with self._lock:
            return sorted({chain for (wallet, chain) in self._entries if wallet == key}, key=int)

    def touches(self, address: str, chains: Iterable[str]) -> bool:
        key = wallet_key(address)
        with self._lock:
            return any((key, chain) in self._entries for chain in chains)

    # --- what the entries mean ----------------------------------------------------------------

    @staticmethod
    def movements(entries: Iterable[LedgerEntry], until_ms: int) -> dict[str, tuple[str, str, Decimal]]:
        """Token key -> (token address, symbol, net movement) of the entries up to ``until_ms``
        (inclusive), fees included (once per transaction the wallet sent, on the native coin)."""
        moved: dict[str, tuple[str, str, Decimal]] = {}
        fees: dict[str, Decimal] = {}
        for entry in entries:
            if entry.time_ms > until_ms or entry.status == "pending":
                continue
            key = token_key(entry.token_address)
            token, symbol, total = moved.get(key, (entry.token_address, entry.symbol, Decimal(0)))
            moved[key] = (token, symbol or entry.symbol, EXACT.add(total, entry.delta()))
            if entry.sent:
                fees[entry.tx_hash] = entry.fee
        if fees:
            token, symbol, total = moved.get("", ("", "", Decimal(0)))
            for fee in fees.values():
                total = EXACT.subtract(total, fee)
            moved[""] = (token, symbol, total)
        return moved

    def lowest_balances(
        self, entries: list[LedgerEntry], opening: dict[str, Decimal]
    ) -> dict[str, tuple[Decimal, int]]:
        """Token key -> (lowest running balance, when) over all entries, from ``opening``."""
        running = dict(opening)
        lowest: dict[str, tuple[Decimal, int]] = {}
        charged: set[str] = set()
        for entry in sorted(entries, key=lambda e: (e.time_ms, e.seq)):
            if entry.status == "pending":
                continue
            changes = [(token_key(entry.token_address), entry.delta())]
            if entry.sent and entry.tx_hash not in charged:
                charged.add(entry.tx_hash)
                changes.append(("", EXACT.minus(entry.fee)))
            for key, delta in changes:
                running[key] = EXACT.add(running.get(key, Decimal(0)), delta)
                if key not in lowest or running[key] < lowest[key][0]:
                    lowest[key] = (running[key], entry.time_ms)
        return lowest

    def history(self, address: str, chains: Iterable[str], until_ms: int) -> list[LedgerEntry]:
        """The visible records on ``chains`` up to ``until_ms``, newest first (OKX's order)."""
        key = wallet_key(address)
        with self._lock:
            entries = [
                entry
                for chain in chains
                for entry in self._entries.get((key, chain), ())
                if entry.time_ms <= until_ms and not entry.hidden
            ]
        entries.sort(key=lambda e: (e.time_ms, e.seq), reverse=True)
        return entries


def generated_history(
    address: str,
    chain: str,
    count: int,
    *,
    begin_ms: int,
    end_ms: int,
    tokens: list[str],
) -> list[dict[str, object]]:
    """``count`` deterministic records for a wallet, evenly spread over ``[begin_ms, end_ms)``
    (for benchmarks and demos): in cycles of four, native coin in, a token in, half of that
    native amount out and half of that token out (each out with a fee), so no balance ever
    falls below its opening. ``tokens``: contracts to move (the native coin when empty)."""
    if count < 0 or end_ms <= begin_ms:
        raise ValueError("count: must be >= 0, and end after begin")
    step = max(1, (end_ms - begin_ms) // max(count, 1))
    records: list[dict[str, object]] = []
    came_in: dict[int, tuple[str, str]] = {}
    for i in range(count):
        seed = hashlib.sha256(f"okx-sim-history\x1f{wallet_key(address)}\x1f{chain}\x1f{i}".encode()).digest()
        kind = i % 4
        token = tokens[seed[0] % len(tokens)] if tokens and kind in (1, 3) else ""
        record: dict[str, object] = {"time": begin_ms + i * step, "token_address": token}
        if kind in (0, 1):
            amount = _plain(Decimal(1000 + int.from_bytes(seed[1:5], "big") % 999_000).scaleb(-6))
            came_in[kind] = (token, amount)
            record.update(amount=amount, direction="in")
        else:
            token, amount = came_in[kind - 2]
            half = _plain(EXACT.divide(Decimal(amount), Decimal(2)))
            record.update(token_address=token, amount=half, direction="out", fee="0.00001")
        records.append(record)
    return records
