"""Reading a success's ``data`` into typed values: only OKX's documented shape is data.

Each reader takes one response's ``data`` list (the envelope was already checked) and
returns typed values, or raises :class:`~airflow_provider_okx.core.api.errors.OkxMalformedResponseError`
naming the field and the endpoint. They run inside the protocol's retry loop, so a malformed
answer is retried like a transient error and, if it persists, fails the call. Nothing we did
not read ever becomes a zero or an empty wallet.

What counts as data:

- token balances (all tokens, specific tokens): ``[{"tokenAssets": [row, ...]}, ...]``. An
  empty wallet is ``[{"tokenAssets": []}]``. ``data: []`` is **not** a read (no wrapper, so
  no statement that the wallet is empty): it is malformed. The v5 specific-token POST may
  also answer with the older flat list of rows (``[row, ...]``).
- a row: an object with ``chainIndex``, the token's address (``tokenContractAddress`` in v6,
  ``tokenAddress`` in v5; ``""`` is the native coin), ``balance`` (a non-empty numeric string)
  and ``tokenPrice`` (a numeric string; ``""`` or ``"0"``: OKX has no price). A value out of
  the model's bounds (``"1E+10000000"``) is malformed too, and so is a negative ``balance``,
  ``tokenPrice``, ``rawBalance``, ``transferAmount`` or ``availableAmount``. Rows belong to the address that
  was queried, whatever address OKX echoes.
- total value: ``[{"totalValue": "<numeric string>"}]``, never negative.
- supported chains: a non-empty list of objects, each with ``chainIndex`` (or ``chainId``).
- a transaction history page: ``[{"cursor": "<text>", "transactions": [record, ...]}]`` (v5:
  ``transactionList``). The cursor may be ``""``, ``null`` or absent (the last page: OKX's
  choice there is not documented); an empty list is an empty page. ``data: []`` is an empty
  page too (tolerated: nothing is claimed about balances by an empty history page). A record
  is read by :meth:`~airflow_provider_okx.core.models.Transaction.from_okx`.
- a historical price page: ``[{"cursor": ..., "prices": [{"time": ms, "price": "..."}]}]``.
- current prices: ``[{"chainIndex", "tokenContractAddress" (v5 also ``tokenAddress``),
  "time", "price"}, ...]``; a token OKX leaves out has no price (not a zero).

Sans-IO: no HTTP library, no Airflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.api.errors import OkxMalformedResponseError, shorten
from airflow_provider_okx.core.api.responses import kind_of
from airflow_provider_okx.core.models import (
    Chain,
    PricePoint,
    Shared,
    TokenBalance,
    Transaction,
    exact_sum,
    ms_to_datetime,
    parse_bounded_amount,
)

_TOKEN_FIELDS = ("tokenContractAddress", "tokenAddress")


def _malformed(endpoint: str, field: str, problem: str) -> OkxMalformedResponseError:
    return OkxMalformedResponseError(
        "malformed", shorten(f"{field} {problem}", 300), 200, endpoint, field=field
    )


def _rows_list(data: list[Any], endpoint: str) -> None:
    if not data:
        raise _malformed(endpoint, "data", "is an empty list: no tokenAssets, so nothing was read")


def _where(i: int, j: int | None) -> str:
    """The JSON path of a row, for an error only (not formatted for every row read)."""
    return f"data[{i}]" if j is None else f"data[{i}].tokenAssets[{j}]"


def _check_required(item: Mapping[str, Any], i: int, j: int | None, endpoint: str) -> None:
    """Raise naming the first required field of a row that is missing (or empty)."""
    get = item.get
    if get("chainIndex") in (None, ""):
        raise _malformed(endpoint, f"{_where(i, j)}.chainIndex", "is missing")
    if get(_TOKEN_FIELDS[0]) is None and get(_TOKEN_FIELDS[1]) is None:
        raise _malformed(endpoint, f"{_where(i, j)}.tokenContractAddress", "is missing")
    balance = get("balance")
    if balance is None or balance == "":
        raise _malformed(endpoint, f"{_where(i, j)}.balance", "is missing" if balance is None else "is empty")
    if get("tokenPrice") is None:
        raise _malformed(endpoint, f"{_where(i, j)}.tokenPrice", "is missing")


def _row(
    item: object, i: int, j: int | None, endpoint: str, address: str, shared: Shared | None = None
) -> TokenBalance:
    if type(item) is not dict and not isinstance(item, Mapping):  # JSON's dict first: no ABC check
        raise _malformed(endpoint, _where(i, j), f"is {kind_of(item)}, not a token object")
    # The model refuses a row without chainIndex, balance or tokenPrice, but reads a missing
    # token address as the native coin: that one is checked first, the others (for their
    # "is missing" message) only once the model has refused the row.
    if item.get(_TOKEN_FIELDS[0]) is None and item.get(_TOKEN_FIELDS[1]) is None:
        _check_required(item, i, j, endpoint)
    try:
        # The queried address owns the row.
        row = TokenBalance.from_okx(item, address=address, shared=shared)
    except (ValueError, ArithmeticError, TypeError) as error:
        _check_required(item, i, j, endpoint)
        # The model names the field first: "balance: '1E+10000000' is out of bounds".
        name = str(error).partition(":")[0].strip()
        name = name if name.isidentifier() else "value"
        raise _malformed(endpoint, f"{_where(i, j)}.{name}", f"is not a usable value ({error})") from None
    raw, transfer, available = row.raw_balance, row.transfer_amount, row.available_amount
    # One cheap test of the signs first (-0 is signed, not negative: the loop lets it pass).
    if (
        row.balance.is_signed()
        or row.token_price.is_signed()
        or (raw is not None and raw < 0)
        or (transfer is not None and transfer.is_signed())
        or (available is not None and available.is_signed())
    ):
        for name, value in (
            ("balance", row.balance),
            ("tokenPrice", row.token_price),
            ("rawBalance", raw),
            ("transferAmount", transfer),
            ("availableAmount", available),
        ):
            if value is not None and value < 0:
                raise _malformed(
                    endpoint,
                    f"{_where(i, j)}.{name}",
                    f"is negative ({item.get(name)!r}): no holding or price is",
                )
    return row


def _token_rows(
    data: list[Any], endpoint: str, address: str, *, flat: bool, shared: Shared | None = None
) -> list[TokenBalance]:
    _rows_list(data, endpoint)
    wrapped = [isinstance(entry, Mapping) and "tokenAssets" in entry for entry in data]
    if flat and not any(wrapped):
        return [_row(item, i, None, endpoint, address, shared) for i, item in enumerate(data)]
    balances: list[TokenBalance] = []
    for i, entry in enumerate(data):
        if not isinstance(entry, Mapping):
            raise _malformed(endpoint, f"data[{i}]", f"is {kind_of(entry)}, not an object")
        if "tokenAssets" not in entry:
            raise _malformed(endpoint, f"data[{i}].tokenAssets", "is missing")
        assets = entry["tokenAssets"]
        if not isinstance(assets, list):
            raise _malformed(endpoint, f"data[{i}].tokenAssets", f"is {kind_of(assets)}, not a list")
        balances.extend([_row(item, i, j, endpoint, address, shared) for j, item in enumerate(assets)])
    return balances


def token_balances(
    endpoint: str, address: str, *, flat: bool = False, shared: Shared | None = None
) -> Callable[[list[Any]], list[TokenBalance]]:
    """The reader of an all-token or specific-token balance answer for ``address``.

    :param address: the address that was queried: every row is attributed to it.
    :param flat: also accept a flat list of rows (the v5 specific-token POST's older form).
    :param shared: texts and prices kept once across the answers of one fetch
        (:class:`~airflow_provider_okx.core.models.Shared`).
    """

    def read(data: list[Any]) -> list[TokenBalance]:
        return _token_rows(data, endpoint, address, flat=flat, shared=shared)

    return read


def total_value(endpoint: str) -> Callable[[list[Any]], Decimal]:
    """The reader of a total-value answer: ``data[0].totalValue``, exact."""

    def read(data: list[Any]) -> Decimal:
        _rows_list(data, endpoint)
        entry = data[0]
        if not isinstance(entry, Mapping):
            raise _malformed(endpoint, "data[0]", f"is {kind_of(entry)}, not an object")
        raw = entry.get("totalValue")
        if raw is None or raw == "":
            problem = "is missing" if raw is None else "is empty"
            raise _malformed(endpoint, "data[0].totalValue", problem)
        if not isinstance(raw, str):
            raise _malformed(endpoint, "data[0].totalValue", f"is {kind_of(raw)}, not a numeric string")
        try:
            total = parse_bounded_amount(raw, "totalValue")
        except (ValueError, ArithmeticError) as error:
            raise _malformed(endpoint, "data[0].totalValue", f"is not a usable value ({error})") from None
        if total < 0:
            raise _malformed(
                endpoint, "data[0].totalValue", f"is negative ({raw!r}): a wallet's value is not"
            )
        return total

    return read


def sum_values(values: list[Decimal]) -> Decimal:
    """The exact sum of chunked total values."""
    return exact_sum(values)


def concat(results: list[list[TokenBalance]]) -> list[TokenBalance]:
    """Chunked token rows, in request order."""
    return [row for rows in results for row in rows]


def supported_chains(endpoint: str) -> Callable[[list[Any]], list[Chain]]:
    """The reader of a supported-chains answer."""

    def read(data: list[Any]) -> list[Chain]:
        if not data:
            raise _malformed(endpoint, "data", "is an empty list: OKX serves no chain?")
        chains = []
        for i, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise _malformed(endpoint, f"data[{i}]", f"is {kind_of(item)}, not an object")
            if item.get("chainIndex", item.get("chainId")) in (None, ""):
                raise _malformed(endpoint, f"data[{i}].chainIndex", "is missing")
            chains.append(Chain.from_okx(item))
        return chains

    return read


def first_result(results: list[Any]) -> Any:
    """The only interpreted answer of a one-request call."""
    return results[0]


# --- transaction history and index prices ---------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a cursor-paged answer: its records and the cursor to the next page
    (``""`` when OKX sent none)."""

    cursor: str
    items: list[Any]


def _field_name(error: BaseException) -> str:
    name = str(error).partition(":")[0].strip()
    return name if name.replace("[", "").replace("]", "").replace(".", "").isidentifier() else "value"


def _page_entry(data: list[Any], endpoint: str, list_fields: tuple[str, ...]) -> tuple[str, list[Any], str]:
    """``data[0]``'s cursor and records list (under the first of ``list_fields`` present)."""
    if not data:
        return "", [], list_fields[0]
    entry = data[0]
    if not isinstance(entry, Mapping):
        raise _malformed(endpoint, "data[0]", f"is {kind_of(entry)}, not an object")
    cursor = entry.get("cursor")
    if cursor is None:
        cursor = ""
    elif isinstance(cursor, int) and not isinstance(cursor, bool):
        cursor = str(cursor)
    elif not isinstance(cursor, str):
        raise _malformed(endpoint, "data[0].cursor", f"is {kind_of(cursor)}, not text")
    name = next((n for n in list_fields if n in entry), None)
    if name is None:
        raise _malformed(endpoint, f"data[0].{list_fields[0]}", "is missing")
    items = entry[name]
    if items is None:
        items = []
    if not isinstance(items, list):
        raise _malformed(endpoint, f"data[0].{name}", f"is {kind_of(items)}, not a list")
    return cursor.strip(), items, name


def transaction_page(
    endpoint: str, address: str, list_field: str = "transactions"
) -> Callable[[list[Any]], Page]:
    """The reader of one transaction history page of ``address`` (every record attributed to it).

    :param list_field: the version's name of the records list; the other generation's name is
        accepted as well.
    """
    fields = (list_field, *(n for n in ("transactions", "transactionList") if n != list_field))

    def read(data: list[Any]) -> Page:
        cursor, items, name = _page_entry(data, endpoint, fields)
        records = []
        for i, item in enumerate(items):
            where = f"data[0].{name}[{i}]"
            if not isinstance(item, Mapping):
                raise _malformed(endpoint, where, f"is {kind_of(item)}, not a transaction object")
            try:
                records.append(Transaction.from_okx(item, address=address))
            except (ValueError, ArithmeticError, TypeError) as error:
                raise _malformed(
                    endpoint, f"{where}.{_field_name(error)}", f"is not usable ({error})"
                ) from None
        return Page(cursor, records)

    return read


def historical_price_page(endpoint: str, chain_index: str, token_address: str) -> Callable[[list[Any]], Page]:
    """The reader of one historical-price page of one token: :class:`PricePoint` items."""

    def read(data: list[Any]) -> Page:
        cursor, items, name = _page_entry(data, endpoint, ("prices",))
        points = []
        for i, item in enumerate(items):
            where = f"data[0].{name}[{i}]"
            points.append(_price_point(item, where, endpoint, chain_index, token_address))
        return Page(cursor, points)

    return read


def _price_point(item: object, where: str, endpoint: str, chain_index: str, token_address: str) -> PricePoint:
    if not isinstance(item, Mapping):
        raise _malformed(endpoint, where, f"is {kind_of(item)}, not a price object")
    price = item.get("price")
    if price is None or price == "":
        raise _malformed(endpoint, f"{where}.price", "is missing" if price is None else "is empty")
    if not isinstance(price, str):
        raise _malformed(endpoint, f"{where}.price", f"is {kind_of(price)}, not a numeric string")
    try:
        return PricePoint(
            chain_index=chain_index,
            token_address=token_address,
            time=ms_to_datetime(item.get("time"), "time"),
            price=parse_bounded_amount(price, "price"),
        )
    except (ValueError, ArithmeticError) as error:
        raise _malformed(endpoint, f"{where}.{_field_name(error)}", f"is not usable ({error})") from None


def current_prices(endpoint: str) -> Callable[[list[Any]], list[PricePoint]]:
    """The reader of a current-price answer: one point per token OKX priced."""

    def read(data: list[Any]) -> list[PricePoint]:
        points = []
        for i, item in enumerate(data):
            where = f"data[{i}]"
            if not isinstance(item, Mapping):
                raise _malformed(endpoint, where, f"is {kind_of(item)}, not a price object")
            chain = item.get("chainIndex")
            if chain in (None, ""):
                raise _malformed(endpoint, f"{where}.chainIndex", "is missing")
            token = next((item[n] for n in _TOKEN_FIELDS if item.get(n) is not None), None)
            if not isinstance(token, str):
                raise _malformed(endpoint, f"{where}.tokenContractAddress", "is missing")
            points.append(_price_point(item, where, endpoint, str(chain).strip(), token.strip()))
        return points

    return read
