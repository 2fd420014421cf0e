"""Typed results: token balances, chains, transactions and prices, with exact ``Decimal`` money.

Pure: no Airflow, no HTTP. Every amount is parsed from OKX's string with ``Decimal`` (never
``float``) and every product or sum is computed in :data:`EXACT`, a context wide enough never
to round; it traps ``Inexact``, so a result that would have been rounded raises instead of
being silently wrong.

Amounts are bounded where they enter: at most :data:`MAX_AMOUNT_DIGITS` significant digits and
a magnitude within 1E+/-:data:`MAX_AMOUNT_EXPONENT` (OKX's amounts here, users' amounts in
:mod:`airflow_provider_okx.core.inputs`), so no 11-byte string can become a 280 MB report.

The context, the bounds and the readers live in :mod:`airflow_provider_okx.core.money` (light:
what checking a user's amount at DAG parse time needs) and are re-exported here; this module's
dataclasses are built when the task runs, not when a DAG file imports an operator.
"""

from __future__ import annotations

import decimal
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.chains import address_key
from airflow_provider_okx.core.money import (
    _MAX_INT_BITS,
    EXACT,
    MAX_AMOUNT_DIGITS,
    MAX_AMOUNT_EXPONENT,
    PRINTABLE_EXPONENT,
    ZERO,
    amount_problem,
    decimal_str,
    exact_mul,
    exact_sum,
    parse_bounded_amount,
    parse_decimal,
    read_decimal,
    shorten,
)

__all__ = [  # the money helpers are re-exported: this was their home, and it still names them
    "DIRECTIONS",
    "EPOCH",
    "EXACT",
    "MAX_AMOUNT_DIGITS",
    "MAX_AMOUNT_EXPONENT",
    "MAX_EPOCH_MS",
    "PRINTABLE_EXPONENT",
    "STATUSES",
    "ZERO",
    "Chain",
    "PricePoint",
    "TokenBalance",
    "Transaction",
    "amount_problem",
    "datetime_to_ms",
    "decimal_str",
    "exact_mul",
    "exact_sum",
    "iso_z",
    "ms_to_datetime",
    "parse_bounded_amount",
    "parse_decimal",
    "parse_iso_z",
    "read_decimal",
    "shorten",
    "sort_key",
    "total_usd",
]

_RAW_UNITS = re.compile(rf"-?[0-9]{{1,{MAX_AMOUNT_DIGITS}}}", re.ASCII)


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


class Shared:
    """Values that many rows of one fetch repeat, kept once: chain indices, token addresses and
    symbols (the same tokens recur across wallets) and prices (one per token). Pass one to
    :meth:`TokenBalance.from_okx` for every answer of a fetch: a million rows then hold each
    repeated text and price once instead of a million times. Decimals and strings are
    immutable, so sharing them changes no value. Thread-safe (``dict.setdefault`` is atomic);
    it lives as long as its holder (a hook call), not for the process.
    """

    __slots__ = ("prices", "texts")

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.prices: dict[str, Decimal] = {}

    def text(self, value: str) -> str:
        return self.texts.setdefault(value, value)

    def price(self, raw: object, field: str) -> Decimal:
        """``raw`` read by :func:`_bounded_amount` once per distinct text."""
        if type(raw) is not str:
            return _bounded_amount(raw, field)
        value = self.prices.get(raw)
        if value is None:
            value = self.prices.setdefault(raw, _bounded_amount(raw, field))
        return value


@dataclass(frozen=True, slots=True)
class TokenBalance:
    """One token held by one address on one chain, as OKX reported it.

    A slotted dataclass (no per-row ``__dict__``): a report holds a million of them.
    """

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
    def from_okx(
        cls, item: Mapping[str, Any], *, address: str = "", shared: Shared | None = None
    ) -> TokenBalance:
        """Parse one ``tokenAssets`` entry of either API version.

        :param address: the address that was queried. The row belongs to it, whatever OKX
            echoes in its ``address`` field (a case or format change there must not split a
            wallet); without it, the echo is used.
        :param shared: keep repeated texts and prices once across rows (:class:`Shared`).

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
        chain = _chain_index(get("chainIndex"))
        token = token if type(token) is str else _text(token)
        symbol = symbol if type(symbol) is str else _text(symbol)
        owner = address or _text(get("address"))
        balance = _bounded_amount(get("balance"), "balance")  # in field order: errors name the first
        raw_balance = None if raw == "" else _raw_units(raw, "rawBalance")
        if shared is not None:
            text = shared.text
            chain, token, symbol = text(chain), text(token), text(symbol)
            token_price = ZERO if price == "" else shared.price(price, "tokenPrice")
        else:
            token_price = ZERO if price == "" else _bounded_amount(price, "tokenPrice")
        row = _new_balance(cls)
        # Figure 1 of bench/RESULTS.md: the frozen dataclass __init__ pays object.__setattr__
        # per field, half the cost of a row. The slots' own setters give an equal object.
        _SET_CHAIN(row, chain)
        _SET_TOKEN(row, token)
        _SET_ADDRESS(row, owner)
        _SET_SYMBOL(row, symbol)
        _SET_BALANCE(row, balance)
        _SET_RAW(row, raw_balance)
        _SET_PRICE(row, token_price)
        _SET_TYPE(row, None if token_type in (None, "") else str(token_type))
        _SET_TRANSFER(row, None if transfer in (None, "") else _bounded_amount(transfer, "transferAmount"))
        _SET_AVAILABLE(
            row, None if available in (None, "") else _bounded_amount(available, "availableAmount")
        )
        _SET_RISK(row, risk if risk is True or risk is False else _bool(risk))
        return row


_new_balance = object.__new__
(
    _SET_CHAIN,
    _SET_TOKEN,
    _SET_ADDRESS,
    _SET_SYMBOL,
    _SET_BALANCE,
    _SET_RAW,
    _SET_PRICE,
    _SET_TYPE,
    _SET_TRANSFER,
    _SET_AVAILABLE,
    _SET_RISK,
) = (
    TokenBalance.__dict__[name].__set__
    for name in (
        "chain_index",
        "token_address",
        "address",
        "symbol",
        "balance",
        "raw_balance",
        "token_price",
        "token_type",
        "transfer_amount",
        "available_amount",
        "is_risk_token",
    )
)
"""The slot setters of :class:`TokenBalance`, in field order (``from_okx``'s fast path)."""


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


# --- transactions and prices ------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

MAX_EPOCH_MS = 253402300799999
"""9999-12-31T23:59:59.999Z: the last instant a ``datetime`` holds."""

STATUSES = ("success", "fail", "pending")
DIRECTIONS = ("in", "out", "self")

_STATUS_SPELLINGS = {
    "success": "success",
    "fail": "fail",
    "failed": "fail",
    "pending": "pending",
    # The detail route's table documents 1 pending / 2 success / 3 fail.
    "1": "pending",
    "2": "success",
    "3": "fail",
}


def ms_to_datetime(raw: object, field: str) -> datetime:
    """Milliseconds since the epoch (an int or ASCII digits) as an aware UTC datetime, exactly.

    Raises ``ValueError`` naming ``field`` for anything else (a float, a negative, text).
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"{field}: {shorten(raw)} is not milliseconds since the epoch")
    text = raw.strip() if isinstance(raw, str) else str(raw)
    if not (text.isascii() and text.isdigit() and len(text) <= 15) or int(text) > MAX_EPOCH_MS:
        raise ValueError(f"{field}: {shorten(raw)} is not milliseconds since the epoch")
    return EPOCH + timedelta(milliseconds=int(text))


def datetime_to_ms(value: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch, rounded down (exact arithmetic)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso_z(value: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with ``Z`` (milliseconds kept when present)."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_iso_z(raw: object, field: str) -> datetime:
    """Inverse of :func:`iso_z`: an ISO 8601 string with a zone (``Z`` or an offset) as aware UTC."""
    if not isinstance(raw, str):
        raise ValueError(f"{field}: {shorten(raw)} is not an ISO 8601 time")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field}: {shorten(raw)} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ValueError(f"{field}: {shorten(raw)} has no time zone")
    return value.astimezone(timezone.utc)


def _addresses(raw: object, field: str) -> tuple[str, ...]:
    """OKX's ``from``/``to``: a list of ``{address, amount}``; a multisig's signers are
    comma-joined in one ``address``. Returns the addresses, split, in order, without repeats."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{field}: {shorten(raw)} is not a list of {{address, amount}}")
    out: list[str] = []
    for i, entry in enumerate(raw):
        text = entry.get("address") if isinstance(entry, Mapping) else entry  # or a bare address
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValueError(f"{field}[{i}].address: {shorten(text)} is not text")
        for part in text.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def _direction(address: str, senders: tuple[str, ...], receivers: tuple[str, ...]) -> str | None:
    key = address_key(address)
    sent = any(address_key(a) == key for a in senders)
    received = any(address_key(a) == key for a in receivers)
    if sent and received:
        return "self"
    if sent:
        return "out"
    if received:
        return "in"
    return None


def _status(raw: object) -> str:
    text = str(raw).strip().lower() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    status = _STATUS_SPELLINGS.get(text)
    if status is None:
        raise ValueError(f"txStatus: {shorten(raw)} is not success, fail or pending")
    return status


@dataclass(frozen=True, slots=True)
class Transaction:
    """One record of OKX's transaction history of an address: one asset's movement in one
    transaction, relative to the queried address.

    OKX splits a transaction into several records by asset (a swap is a token-out record and a
    token-in record sharing one ``tx_hash``), so ``(chain_index, tx_hash)`` is not a key: see
    :attr:`movement_key`. ``tx_fee`` is the whole transaction's fee in the chain's native coin
    (paid by the sender; a record the wallet received shows the sender's fee): count it once
    per ``(chain_index, tx_hash)`` and only where the wallet sent it.
    """

    chain_index: str
    tx_hash: str
    tx_time: datetime
    """When the transaction was made: aware UTC, to the millisecond."""
    address: str
    """The queried address, as the user wrote it."""
    token_address: str
    """The token's contract; ``""`` is the chain's native coin."""
    symbol: str
    amount: Decimal
    """The magnitude moved (never negative); the sign is :attr:`direction`."""
    tx_fee: Decimal
    """The transaction's fee in the chain's native coin, exact."""
    status: str
    """``"success"``, ``"fail"`` or ``"pending"``."""
    direction: str
    """``"in"``, ``"out"`` or ``"self"`` (sent to itself), relative to :attr:`address`."""
    from_addresses: tuple[str, ...]
    to_addresses: tuple[str, ...]
    item_type: str | None = None
    """OKX's ``itype``: ``"0"`` outer native transfer, ``"1"`` native transfer inside a
    contract, ``"2"`` token transfer; ``None`` when OKX did not say."""

    @property
    def movement_key(self) -> tuple[str, str, str, str, str, str, tuple[str, ...], tuple[str, ...], Decimal]:
        """What identifies one record: the wallet, chain, hash, ``itype``, token, direction,
        the counterparties and the amount (OKX names no record id; its docs identify a
        sub-transaction by chain, hash, ``itype``, token, ``from``, ``to`` and amount).

        Addresses and the token are folded where their family ignores case
        (:func:`~airflow_provider_okx.core.chains.address_key`), so a case change in OKX's
        echo is the same record; the amount compares by value (``"1.0"`` == ``"1"``). Two
        records equal in all of these are one movement: OKX repeating a record across a page
        boundary is counted once.
        """
        return (
            address_key(self.address),
            self.chain_index,
            self.tx_hash.lower() if self.tx_hash.startswith("0x") else self.tx_hash,
            self.item_type or "",
            address_key(self.token_address),
            self.direction,
            tuple(sorted(address_key(a) for a in self.from_addresses)),
            tuple(sorted(address_key(a) for a in self.to_addresses)),
            self.amount.normalize(EXACT) if self.amount else ZERO,
        )

    @property
    def movement_id(self) -> str:
        """:attr:`movement_key` as 64 hex digits (SHA-256): a stable text key for a table."""
        key = self.movement_key
        parts = [*key[:6], ",".join(key[6]), ",".join(key[7]), decimal_str(key[8])]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: decimals as exact strings, the time as ISO 8601 UTC with ``Z``."""
        return {
            "chain_index": self.chain_index,
            "tx_hash": self.tx_hash,
            "tx_time": iso_z(self.tx_time),
            "address": self.address,
            "token_address": self.token_address,
            "symbol": self.symbol,
            "amount": decimal_str(self.amount),
            "tx_fee": decimal_str(self.tx_fee),
            "status": self.status,
            "direction": self.direction,
            "from_addresses": list(self.from_addresses),
            "to_addresses": list(self.to_addresses),
            "item_type": self.item_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming the field."""
        status = _text(data.get("status"))
        if status not in STATUSES:
            raise ValueError(f"status: {shorten(status)} is not one of {', '.join(STATUSES)}")
        direction = _text(data.get("direction"))
        if direction not in DIRECTIONS:
            raise ValueError(f"direction: {shorten(direction)} is not one of {', '.join(DIRECTIONS)}")
        amount = parse_bounded_amount(data.get("amount"), "amount")
        if amount < 0:
            raise ValueError(f"amount: {shorten(data.get('amount'))} is negative (a magnitude is expected)")
        item_type = data.get("item_type")
        return cls(
            chain_index=_chain_index(data.get("chain_index")),
            tx_hash=_required_text(data.get("tx_hash"), "tx_hash"),
            tx_time=parse_iso_z(data.get("tx_time"), "tx_time"),
            address=_required_text(data.get("address"), "address"),
            token_address=_text(data.get("token_address")),
            symbol=_text(data.get("symbol")),
            amount=amount,
            tx_fee=parse_bounded_amount(data.get("tx_fee"), "tx_fee"),
            status=status,
            direction=direction,
            from_addresses=tuple(_text(a) for a in data.get("from_addresses") or ()),
            to_addresses=tuple(_text(a) for a in data.get("to_addresses") or ()),
            item_type=None if item_type in (None, "") else _text(item_type),
        )

    @classmethod
    def from_okx(cls, item: Mapping[str, Any], *, address: str) -> Transaction:
        """Parse one record of the history of ``address`` (v6 ``transactions`` or v5
        ``transactionList``). Raises ``ValueError`` naming the OKX field.

        Required: ``chainIndex``, ``txHash``, ``txTime`` (ms), the token (``tokenContractAddress``
        in v6, ``tokenAddress`` in v5; ``""`` = native), ``amount``, ``txFee`` and ``txStatus``,
        and ``address`` in ``from`` or ``to`` (compared case-insensitively where its family
        ignores case). ``itype`` (v5 docs: ``iType``) and ``symbol`` may be absent. A negative
        ``amount`` (not documented) reads as its magnitude: the direction carries the sign.
        """
        if not isinstance(item, Mapping):
            raise ValueError(f"transaction: expected an object, got {type(item).__name__}")
        get = item.get
        token = get("tokenContractAddress")
        if token is None:
            token = get("tokenAddress")
        if token is None:
            raise ValueError("tokenContractAddress: missing")
        if not isinstance(token, str):
            raise ValueError(f"tokenContractAddress: {shorten(token)} is not text")
        senders = _addresses(get("from"), "from")
        receivers = _addresses(get("to"), "to")
        direction = _direction(address, senders, receivers)
        if direction is None:
            raise ValueError(f"from: the queried address {address} is neither in from nor in to")
        amount = _bounded_amount(get("amount"), "amount")
        item_type = get("itype")
        if item_type is None:
            item_type = get("iType")
        return cls(
            chain_index=_chain_index(get("chainIndex")),
            tx_hash=_required_text(get("txHash"), "txHash"),
            tx_time=ms_to_datetime(get("txTime"), "txTime"),
            address=address,
            token_address=token.strip(),
            symbol=_text(get("symbol")),
            amount=EXACT.copy_abs(amount),
            tx_fee=_bounded_amount(get("txFee"), "txFee"),
            status=_status(get("txStatus")),
            direction=direction,
            from_addresses=senders,
            to_addresses=receivers,
            item_type=None if item_type in (None, "") else _text(item_type),
        )


def _required_text(raw: object, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{field}: {'missing' if raw in (None, '') else shorten(raw) + ' is not text'}")
    return raw.strip()


@dataclass(frozen=True, slots=True)
class PricePoint:
    """OKX's index price (USD) of one token at one instant (historical or current)."""

    chain_index: str
    token_address: str
    """``""`` is the chain's native coin."""
    time: datetime
    """The instant the price is for: aware UTC."""
    price: Decimal
    """USD, exact."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_index": self.chain_index,
            "token_address": self.token_address,
            "time": iso_z(self.time),
            "price": decimal_str(self.price),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PricePoint:
        return cls(
            chain_index=_chain_index(data.get("chain_index")),
            token_address=_text(data.get("token_address")),
            time=parse_iso_z(data.get("time"), "time"),
            price=parse_bounded_amount(data.get("price"), "price"),
        )
