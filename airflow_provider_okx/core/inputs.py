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

from airflow_provider_okx.core.addresses import token_address_problem
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import (
    address_key,
    compatible_chains,
    normalize_chains,
    shown,
    validate_address,
)
from airflow_provider_okx.core.conditions import CONDITIONS, METRICS
from airflow_provider_okx.core.money import amount_problem, read_decimal

MAX_TEXT = 256
"""Longer text is refused before it is parsed (an amount, a label, a token address)."""


# --- rendered templates ---------------------------------------------------------------------


class RepeatedKeyError(ValueError):
    """A rendered mapping names one key twice (JSON and Python literals keep only the last)."""

    def __init__(self, key: object) -> None:
        super().__init__(f"the key {key!r} is written twice")
        self.key = key


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, item in pairs:
        if key in result:
            raise RepeatedKeyError(key)
        result[key] = item
    return result


def _check_literal_keys(tree: ast.AST) -> None:
    """Refuse a Python dict literal that writes one key twice (``literal_eval`` keeps the last)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            seen: set[object] = set()
            for key in node.keys:
                if key is None:
                    continue  # ``**spread``: literal_eval refuses it anyway
                try:
                    value = ast.literal_eval(key)
                    hash(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                if value in seen:
                    raise RepeatedKeyError(value)
                seen.add(value)


def literal(text: str) -> object:
    """A rendered list or dict back as a value: JSON first, then a Python literal
    (``render_template_as_native_obj`` off renders ``['0x..']``). Raises ``ValueError``;
    :class:`RepeatedKeyError` when a mapping writes one key twice (either syntax would silently
    keep only the last one)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except RepeatedKeyError:
        raise
    except (ValueError, RecursionError):
        pass
    try:
        tree = ast.parse(text.strip(), mode="eval")
        _check_literal_keys(tree)
        return ast.literal_eval(tree)
    except RepeatedKeyError:
        raise
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"not a JSON or Python literal: {text[:80]!r}") from None


def _rendered(text: str, field: str, expected: str) -> object:
    try:
        return literal(text)
    except RepeatedKeyError as error:
        raise OkxInvalidInputError(
            field, shown(error.key), "this label is written twice in the mapping: a wallet would be dropped"
        ) from None
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
    _refuse_mangled(value, field)
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


NATIVE_MANGLED = (
    "render_template_as_native_obj=True turned the addresses into numbers (Jinja's native mode reads "
    "'0xabc,0xdef' as a tuple of hex integers), so what was written is lost: pass the field to an "
    "OKX operator (they render it as text), quote it in the template, or render it as a JSON list"
)


def _refuse_mangled(value: object, field: str) -> None:
    """Refuse a number where an address belongs: Jinja's native rendering made it from ``0x..``
    text, and neither its case nor its leading zeros can be read back."""
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if isinstance(item, (int, float, complex)) and not isinstance(item, bool):
            number = (
                item
                if not isinstance(item, int)
                else (hex(item) if item.bit_length() <= 512 else "a huge int")
            )
            raise OkxInvalidInputError(field, f"{number} (a number)", NATIVE_MANGLED)


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
        _refuse_mangled(raw_address, field)
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
    if problem := token_address_problem(text):
        raise OkxInvalidInputError(field, text, problem)
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


FLAG_WORDS = {"true": True, "false": False}
"""The only text a flag accepts (any case, surrounding blanks ignored): what a template such as
``"{{ params.publish }}"`` renders a boolean Param to. ``"yes"``/``"no"``/``"1"``/``"0"`` are
refused on purpose: a word that is not the boolean's own name is a guess (``"no"`` was once
read as True), and one spelling per value keeps every DAG readable."""


def parse_flag(value: object, field: str) -> bool:
    """A boolean parameter: ``True``/``False``, or the text ``"true"``/``"false"`` in any case
    (what Airflow renders a boolean to). Anything else (``"no"``, ``"1"``, ``"flase"``, ``""``,
    ``None``, ``0``, ``1.0``) is refused naming ``field``: ``bool("false")`` is ``True``, so
    nothing is guessed. The one rule for every flag of every operator, sensor, trigger and the
    hook."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = FLAG_WORDS.get(value.strip().lower())
        if word is not None:
            return word
    raise OkxInvalidInputError(field, shown(value), "expected True or False (or the text 'true'/'false')")


# --- counts and durations ----------------------------------------------------------------------

MAX_WORKERS = 64
"""``max_workers`` (OKX requests in flight) is 1 to this."""
MAX_BATCH_SIZE = 100_000
"""``batch_size`` (rows per ``executemany``) is 1 to this."""
MAX_INTERVAL = 7 * 86400.0
"""``poll_interval`` / ``poke_interval``: more than 0 and at most a week, in seconds."""
MAX_DURATION = 3650 * 86400.0
"""``max_snapshot_lag`` and a sensor's ``timeout``: at most ten years, in seconds."""
MAX_EPOCH = 253402300799.0
"""``end_at``: epoch seconds up to 9999-12-31T23:59:59Z (what a ``datetime`` can hold)."""
DEFAULT_MAX_SNAPSHOT_LAG = datetime.timedelta(days=1)
"""The treasury report's ``max_snapshot_lag``: a daily run fetches minutes after its day ends; a
day's slack covers retries, queues and a manual run triggered late in the day, not a backfill
(see :mod:`airflow_provider_okx.core.report_time`)."""


def parse_count(value: object, field: str, least: int, most: int) -> int:
    """A whole number within ``least..most``: an ``int`` or the text of one (a template renders
    ``"4"``); ``True``, ``2.5``, ``"4.0"`` and out-of-range values are refused naming ``field``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (
        isinstance(value, str)
        and value.strip().isascii()
        and value.strip().isdigit()
        and len(value.strip()) <= 18
    ):
        number = int(value.strip())
    if number is None:
        raise OkxInvalidInputError(
            field, shown(value), f"expected a whole number from {least} to {most}, not {type(value).__name__}"
        )
    if not least <= number <= most:
        raise OkxInvalidInputError(field, shown(value), f"must be from {least} to {most}")
    return number


def parse_optional_count(value: object, field: str, least: int, most: int) -> int | None:
    """:func:`parse_count`, with ``None`` (or a blank template) meaning "the default"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_count(value, field, least, most)


def parse_seconds(value: object, field: str, most: float, *, least: float = 0.0, zero: bool = False) -> float:
    """A duration in seconds: a number (``int``, finite ``float``, ``Decimal``, or its text) or a
    ``timedelta``; more than 0 (``zero``: 0 allowed; ``least``: at least that), at most ``most``.
    Checked before anything converts it, so ``10**20`` is an error naming ``field``, never an
    ``OverflowError``."""
    import datetime
    import math

    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise OkxInvalidInputError(
            field, shown(value), f"expected a number of seconds or a timedelta, not {type(value).__name__}"
        )
    elif isinstance(value, int):
        if value.bit_length() > 64:
            raise OkxInvalidInputError(field, shown(value), f"must be at most {most:g} seconds")
        seconds = float(value)
    else:
        try:
            seconds = float(value.strip() if isinstance(value, str) and len(value) <= MAX_TEXT else value)
        except (ValueError, TypeError, OverflowError):
            raise OkxInvalidInputError(field, shown(value), "not a number of seconds") from None
    if not math.isfinite(seconds):
        raise OkxInvalidInputError(field, shown(value), "must be a finite number of seconds")
    if seconds > most:
        raise OkxInvalidInputError(field, shown(value), f"must be at most {most:g} seconds")
    if seconds < least or seconds < 0 or (seconds == 0 and not zero):
        floor = f"at least {least:g}" if least else ("0 or more" if zero else "more than 0")
        raise OkxInvalidInputError(field, shown(value), f"must be {floor} seconds")
    return seconds


def parse_lag(value: object) -> datetime.timedelta:
    """``max_snapshot_lag``: a ``timedelta`` or a number of seconds, from 1 second to ten years
    (:data:`~airflow_provider_okx.core.inputs.MAX_DURATION`); anything else is refused naming the
    parameter (``10**20`` too, which ``timedelta`` cannot even hold)."""
    seconds = parse_seconds(value, "max_snapshot_lag", MAX_DURATION, least=1)
    return value if isinstance(value, datetime.timedelta) else datetime.timedelta(seconds=seconds)


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


MAX_CONN_ID = 250
"""Airflow's longest connection id."""


def check_conn_id(value: object, field: str) -> str:
    """A connection id: non-blank printable text of at most :data:`MAX_CONN_ID` characters,
    stripped."""
    if not isinstance(value, str):
        raise OkxInvalidInputError(
            field, shown(value), f"expected a connection id as text, not {type(value).__name__}"
        )
    text = value.strip()
    if not text or len(text) > MAX_CONN_ID or not text.isprintable():
        raise OkxInvalidInputError(
            field, shown(value), f"a connection id is printable text of 1 to {MAX_CONN_ID} characters"
        )
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
