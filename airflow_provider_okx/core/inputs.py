"""Everything a DAG author types, checked in one place.

Operators and sensors call these in ``__init__`` for what is known at DAG parse time (a bad
DAG fails at parse, not at 3 a.m.) and again in ``execute`` once templates are rendered. Each
refusal is an :class:`~airflow_provider_okx.core.api.errors.OkxInvalidInputError` naming the field,
the value and the reason.

Identity rules (see :func:`airflow_provider_okx.core.chains.address_key`): an address is one wallet
however it is written where its family ignores case (``0x`` hex, bech32, TON raw); base58
addresses (Solana, Tron, legacy Bitcoin) are case-sensitive, so two spellings are two wallets.
A list naming one wallet twice keeps it once, as first written; a mapping naming it under two
labels is refused.

Amounts (thresholds, ``min_usd_value``, tolerances) are exact: strings, ints or ``Decimal``,
never floats, and bounded like OKX's amounts (:func:`airflow_provider_okx.core.models.amount_problem`).
"""

from __future__ import annotations

import ast
import datetime
import json
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import (
    address_key,
    compatible_chains,
    normalize_chains,
    shown,
    validate_address,
)
from airflow_provider_okx.core.conditions import CONDITIONS, METRICS
from airflow_provider_okx.core.models import amount_problem, read_decimal

MAX_TEXT = 256
"""Longer text is refused before it is parsed (an amount, a label, a token address)."""


# --- rendered templates ---------------------------------------------------------------------


def literal(text: str) -> object:
    """A rendered list or dict back as a value: JSON first, then a Python literal
    (``render_template_as_native_obj`` off renders ``['0x..']``). Raises ``ValueError``."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"not a JSON or Python literal: {text[:80]!r}") from None


def _rendered(text: str, field: str, expected: str) -> object:
    try:
        return literal(text)
    except ValueError:
        raise OkxInvalidInputError(field, shown(text), f"not {expected}") from None


def _is_rendered_container(text: str) -> bool:
    return text[:1] in ("[", "(", "{")


# --- addresses and wallets ------------------------------------------------------------------


def parse_addresses(value: object, field: str = "address") -> list[str]:
    """Wallet addresses from one address, a list or tuple, a comma-separated string, a
    ``{label: address}`` mapping, or the rendered string of a list or mapping.

    A wallet written twice (``0xAbC...`` and ``0xabc...``) is kept once, as first written.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            return list(parse_wallets(text, field).values())
        if _is_rendered_container(text):
            value = _rendered(text, field, "a list of addresses")
        else:
            value = [part for part in text.split(",") if part.strip()] or [text]
    if isinstance(value, Mapping):
        return list(parse_wallets(value, field).values())
    if isinstance(value, (set, frozenset)):
        raise OkxInvalidInputError(field, shown(value), "a set has no order: pass a list")
    if not isinstance(value, (list, tuple)):
        raise OkxInvalidInputError(
            field, shown(value), f"expected an address or a list of addresses, not {type(value).__name__}"
        )
    if not value:
        raise OkxInvalidInputError(field, shown(value), "at least one address is required")
    kept: dict[str, str] = {}
    for item in value:
        address = validate_address(item, field)
        kept.setdefault(address_key(address), address)
    return list(kept.values())


def parse_wallets(value: object, field: str = "wallets") -> dict[str, str]:
    """``label -> address`` from a mapping, from addresses (each labelled by itself, see
    :func:`parse_addresses`), or from their rendered string form.

    In a mapping, labels are text (or ints, written as text) without control characters,
    stripped; two labels that are the same once written as text (``1`` and ``"1"``) and one
    wallet under two labels (in any case or format) are refused, naming both labels.
    """
    if isinstance(value, str) and value.strip().startswith("{"):
        value = _rendered(value.strip(), field, "a mapping of label to address")
    if not isinstance(value, Mapping):
        return {address: address for address in parse_addresses(value, field)}
    if not value:
        raise OkxInvalidInputError(field, shown(value), "at least one wallet is required")
    wallets: dict[str, str] = {}
    given: dict[str, object] = {}  # label -> the label as given
    owner: dict[str, str] = {}  # address identity -> label
    for raw_label, raw_address in value.items():
        label = _label(raw_label, field)
        if label in wallets:
            raise OkxInvalidInputError(
                field,
                label,
                f"labels {given[label]!r} and {raw_label!r} are the same once written as text",
            )
        address = validate_address(raw_address, field)
        key = address_key(address)
        if key in owner:
            raise OkxInvalidInputError(
                field, shown(address), f"one wallet is listed under two labels: {owner[key]!r} and {label!r}"
            )
        wallets[label], given[label], owner[key] = address, raw_label, label
    return wallets


def _label(label: object, field: str) -> str:
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise OkxInvalidInputError(field, shown(label), f"a wallet label is text, not {type(label).__name__}")
    text = str(label).strip() if isinstance(label, str) else str(label)
    if not text:
        raise OkxInvalidInputError(field, shown(label), "a wallet label cannot be empty")
    if len(text) > MAX_TEXT or not text.isprintable():
        raise OkxInvalidInputError(
            field, shown(text), f"a wallet label is printable text of at most {MAX_TEXT} characters"
        )
    return text


def check_chains_fit(addresses: Iterable[str], chains: list[str]) -> None:
    """Refuse an address that none of ``chains`` can hold (an EVM wallet with only Solana)."""
    for address in addresses:
        if not compatible_chains(address, chains):
            raise OkxInvalidInputError(
                "chains", ",".join(chains), f"none of these chains can hold address {address}"
            )


# --- chains and tokens ----------------------------------------------------------------------


def parse_chains(value: object) -> list[str]:
    """Chain indices from ints, digits, names, comma-separated strings, lists, or a rendered
    list (``"['1', 'base']"``): :func:`airflow_provider_okx.core.chains.normalize_chains`."""
    if isinstance(value, str) and _is_rendered_container(value.strip()):
        value = _rendered(value.strip(), "chains", "a list of chains")
    return normalize_chains(value)


def parse_token_address(value: object, field: str = "token_address") -> str:
    """A token contract (or inscription id), stripped; ``None`` or ``""`` is the native coin."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OkxInvalidInputError(
            field,
            shown(value),
            f"expected a token address as text ('' for the native coin), not {type(value).__name__}",
        )
    text = value.strip()
    if len(text) > MAX_TEXT or any(c.isspace() or not c.isprintable() for c in text):
        raise OkxInvalidInputError(field, shown(text), "not a token address (spaces or control characters)")
    return text


# --- amounts, flags and choices -------------------------------------------------------------


def parse_amount(value: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """An exact amount from a string, int or ``Decimal`` (floats are refused: they have
    already lost digits), within the amount bounds; non-negative unless ``allow_negative``."""
    if isinstance(value, float):
        raise OkxInvalidInputError(
            field, shown(value), f"floats lose digits; pass '{value!r}' as a string or a Decimal"
        )
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, Decimal)):
        raise OkxInvalidInputError(
            field, shown(value), f"expected a number as a string, int or Decimal, not {type(value).__name__}"
        )
    if isinstance(value, str) and len(value.strip()) > MAX_TEXT:
        raise OkxInvalidInputError(
            field, shown(value.strip()), f"{len(value.strip())} characters: longer than any amount"
        )
    try:
        amount = read_decimal(value)
    except ValueError as error:
        reason = str(error)
        if isinstance(value, str) and "," in value:
            reason += " (write it without thousands separators: '1000000.5')"
        raise OkxInvalidInputError(field, shown(value), reason) from None
    problem = amount_problem(amount)
    if problem:
        raise OkxInvalidInputError(field, shown(value), problem)
    if amount < 0 and not allow_negative:
        raise OkxInvalidInputError(field, shown(value), "must not be negative")
    return amount


def parse_optional_amount(value: object, field: str) -> Decimal | None:
    """:func:`parse_amount`, with ``None`` or a blank string (an empty template) meaning none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_amount(value, field)


def parse_flag(value: object, field: str) -> bool:
    """``True``/``False`` (or the strings ``"true"``/``"false"``, any case): ``bool("False")``
    is ``True``, so nothing else is guessed."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OkxInvalidInputError(field, shown(value), "expected True or False")


def check_condition(condition: object) -> str:
    """One of ``>= > <= < ==``."""
    text = condition.strip() if isinstance(condition, str) else None
    if text not in CONDITIONS:
        raise OkxInvalidInputError("condition", shown(condition), f"expected one of {' '.join(CONDITIONS)}")
    return text


def check_metric(metric: object) -> str:
    """One of ``balance``, ``usd_value``, ``total_usd``."""
    text = metric.strip() if isinstance(metric, str) else None
    if text not in METRICS:
        raise OkxInvalidInputError("metric", shown(metric), f"expected one of {', '.join(METRICS)}")
    return text


def check_output_uri(value: object, field: str = "output_uri") -> str:
    """Where a report goes: a non-blank URI or path (``str`` or path-like), stripped."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise OkxInvalidInputError(
            field, shown(value), f"expected a URI or path as text, not {type(value).__name__}"
        )
    text = value.strip()
    if not text:
        raise OkxInvalidInputError(field, shown(value), "where should the report be written? (it is blank)")
    if not text.isprintable():
        raise OkxInvalidInputError(field, shown(text), "contains control characters")
    return text


def parse_moment(value: object, field: str) -> datetime.datetime | None:
    """An aware UTC datetime from a datetime or ISO 8601 text (``...Z`` or an offset), e.g. a
    rendered ``{{ data_interval_end }}``; ``None``/``""``: none. A time without its zone is
    refused (it would silently mean the worker's local time)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise OkxInvalidInputError(field, value, "expected an ISO 8601 date and time") from None
    if moment.utcoffset() is None:
        raise OkxInvalidInputError(field, value, "expected a time with its time zone (UTC: ...Z)")
    # A plain datetime: pendulum's (what Airflow renders) loses a datetime.timezone on arithmetic.
    utc = moment.astimezone(datetime.timezone.utc)
    return datetime.datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=datetime.timezone.utc)
