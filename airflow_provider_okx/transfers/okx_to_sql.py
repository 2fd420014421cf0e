"""``OkxBalancesToSqlOperator``: one day's balances into a SQL table, exact and idempotent.

Any database Airflow reaches through a common.sql ``DbApiHook`` (PostgreSQL, SQLite, MySQL,
Snowflake, ...). Nothing database-related is imported until the task runs.
"""

from __future__ import annotations

import datetime
import importlib
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.addresses import stored_address
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import address_key
from airflow_provider_okx.core.inputs import (
    MAX_BATCH_SIZE,
    MAX_WORKERS,
    check_conn_id,
    parse_chains,
    parse_count,
    parse_flag,
    parse_optional_count,
    parse_wallets,
)
from airflow_provider_okx.glue.compat import BaseOperator, Context
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved
from airflow_provider_okx.transfers.table_names import TABLE_NAME, check_table

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.progress import Progress
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.transfers.sql import (
        DIALECTS,
        GENERIC,
        POSTGRES,
        SQL_KEYWORDS,
        SQLITE,
        SqlDialect,
        dialect_for,
    )
    from airflow_provider_okx.transfers.transactions_to_sql import OkxTransactionsToSqlOperator

__all__ = [
    "COLUMNS",
    "DIALECTS",
    "GENERIC",
    "POSTGRES",
    "SQLITE",
    "SQL_KEYWORDS",
    "TABLE_NAME",
    "OkxBalancesToSqlOperator",
    "OkxTransactionsToSqlOperator",
    "SqlDialect",
    "check_table",
    "dialect_for",
]

# Importable from here as before, loaded on first use: a DAG file that imports this operator
# builds no SQL dialect and does not import the transactions loader.
_LAZY = {
    "DIALECTS": "airflow_provider_okx.transfers.sql",
    "GENERIC": "airflow_provider_okx.transfers.sql",
    "POSTGRES": "airflow_provider_okx.transfers.sql",
    "SQLITE": "airflow_provider_okx.transfers.sql",
    "SQL_KEYWORDS": "airflow_provider_okx.transfers.sql",
    "SqlDialect": "airflow_provider_okx.transfers.sql",
    "dialect_for": "airflow_provider_okx.transfers.sql",
    "OkxTransactionsToSqlOperator": "airflow_provider_okx.transfers.transactions_to_sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


COLUMNS = (
    "snapshot_date",
    "wallet_label",
    "address",
    "chain_index",
    "token_address",
    "symbol",
    "balance",
    "token_price",
    "usd_value",
    "is_risk_token",
    "fetched_at",
)
"""The table's columns, in order."""

DELETE_CHUNK = 500
"""Wallets per ``DELETE ... IN (...)`` statement (all in the same transaction)."""


def parse_snapshot_date(value: object, field: str = "snapshot_date") -> datetime.date:
    """A ``YYYY-MM-DD`` string (or a date) as a date."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise OkxInvalidInputError(field, value, "expected a date YYYY-MM-DD") from None


def _identity(address: str) -> str:
    """How a wallet is matched: :func:`~airflow_provider_okx.core.chains.address_key` (case
    folded only where the address family ignores it)."""
    return address_key(address)


def _batches(rows: Sequence[tuple[object, ...]], size: int) -> Iterator[Sequence[tuple[object, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class OkxBalancesToSqlOperator(TextTemplateFields, BaseOperator):
    """Load one row per wallet, chain and token into a SQL table, replacing that day's rows.

    The table (created if missing) has the columns :data:`COLUMNS`: ``snapshot_date``,
    ``wallet_label``, ``address``, ``chain_index``, ``token_address`` (``""`` for the native
    coin), ``symbol``, ``balance``, ``token_price`` (``0``: OKX has no price), ``usd_value``
    (``balance x token_price``, exact), ``is_risk_token`` and ``fetched_at`` (when the balances
    were fetched, UTC). ``address`` is the configured wallet, ``0x`` hex lower-cased (its
    identity), other addresses as given (an upper-case bech32 address stays upper-case).

    **Idempotent**: in one transaction it deletes the snapshot date's rows of these wallets and
    inserts the new ones (in ``executemany`` batches), then commits. A rerun or a backfill of a
    date replaces its rows; a failure rolls back and leaves the previous rows in place. Other
    wallets' rows and other dates are never touched. Two loads of one table at once run one
    after the other (PostgreSQL: a table lock readers do not wait for; SQLite: its write lock).

    **Exact**: amounts never pass through a float. On PostgreSQL ``balance``, ``token_price``
    and ``usd_value`` are ``NUMERIC`` without precision (bound as ``Decimal``): every digit is
    kept. On SQLite, and any other database, they are ``TEXT`` holding the exact decimal string.
    Databases whose decimals stop at 38 digits cannot hold OKX's amounts exactly (up to ~36
    decimals, and ``usd_value`` has the decimals of balance and price together): on Snowflake
    (``NUMBER(38, s)``) keep the default ``TEXT`` (``VARCHAR``) columns and cast in queries
    (``TO_DECIMAL(balance, 38, 18)`` rounds, knowingly); on BigQuery create the table yourself
    with ``STRING`` amount columns (``BIGNUMERIC`` keeps only 38 decimals) and pass
    ``create_table=False``; on MySQL (``DECIMAL`` stops at 65 digits, 30 decimals) keep
    ``TEXT``. An existing table with other column types is used as it is.

    :param sql_conn_id: an Airflow connection whose hook is a common.sql ``DbApiHook``
        (templated).
    :param table: the table, ``name`` or ``schema.name`` (templated; plain identifiers only). On
        PostgreSQL and SQLite the name is quoted, so an SQL keyword (``order``) is a valid name
        (PostgreSQL: folded to lower case, the table the unquoted name means); on other
        databases a keyword is refused before anything is fetched.
    :param wallets: addresses, or ``{label: address}`` (templated); the label is stored in
        ``wallet_label`` (the address itself when there is none).
    :param chains: chain indices or names (templated).
    :param balances: optional: the results of mapped :class:`OkxTokenBalancesOperator` tasks;
        they must cover every wallet and the same chains without dust filtering, as for the
        treasury report, or the task fails. Without it the operator fetches the balances.
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky.
    :param okx_conn_id: the ``okx`` connection used when fetching (templated).
    :param snapshot_date: the date the rows belong to, ``YYYY-MM-DD`` (templated); default: the
        run's logical date (``ds``).
    :param batch_size: rows per ``executemany`` call, 1 to 100,000.
    :param create_table: create the table (and an index on ``snapshot_date, address``) if it
        does not exist (a flag: see :func:`~airflow_provider_okx.core.inputs.parse_flag`).
    :param max_workers: OKX requests kept in flight when fetching, 1 to 64 (default: from the
        connection's rate limit).

    Returns the number of rows written.
    """

    template_fields = (
        "sql_conn_id",
        "table",
        "wallets",
        "chains",
        "balances",
        "okx_conn_id",
        "snapshot_date",
    )
    ui_color = "#e8fdf0"
    # The clock the write's progress lines are timed by; tests swap in a controlled one.
    _monotonic = staticmethod(time.monotonic)

    def __init__(
        self,
        *,
        sql_conn_id: str,
        table: str = "okx_balances",
        wallets: Any,
        chains: Any,
        balances: Any = None,
        exclude_risk_tokens: bool = True,
        okx_conn_id: str = DEFAULT_CONN_ID,
        snapshot_date: Any = None,
        batch_size: int = 1000,
        create_table: bool = True,
        max_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql_conn_id = (
            sql_conn_id if unresolved(sql_conn_id) else check_conn_id(sql_conn_id, "sql_conn_id")
        )
        self.table = table
        self.wallets = wallets
        self.chains = chains
        self.balances = balances
        self.exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        self.okx_conn_id = (
            okx_conn_id if unresolved(okx_conn_id) else check_conn_id(okx_conn_id, "okx_conn_id")
        )
        self.snapshot_date = snapshot_date
        self.batch_size = parse_count(batch_size, "batch_size", 1, MAX_BATCH_SIZE)
        self.create_table = parse_flag(create_table, "create_table")
        self.max_workers = parse_optional_count(max_workers, "max_workers", 1, MAX_WORKERS)
        if not unresolved(table):
            check_table(table)
        if not unresolved(wallets):
            parse_wallets(wallets)
        if not unresolved(chains):
            parse_chains(chains)
        if snapshot_date is not None and not unresolved(snapshot_date):
            parse_snapshot_date(snapshot_date)

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Context) -> int:
        # Rendered inputs and the database's dialect are checked before anything is fetched;
        # an input error fails the task at once (no retries spent on it).
        with failing_fast_on_permanent_errors():
            table = check_table(self.table)
            wallets = parse_wallets(self.wallets)
            chains = parse_chains(self.chains)
            day = self._snapshot_date(context)
            labels = {_identity(address): label for label, address in wallets.items()}
            if len(labels) != len(wallets):
                raise OkxInvalidInputError("wallets", self.wallets, "the same wallet is listed twice")
            stored = {_identity(address): stored_address(address) for address in wallets.values()}
            dialect, sql_hook = self._sql_hook()
            dialect.check(table)

            # 1. Everything is read before the database is touched: a failed fetch changes nothing.
            held, fetched_at = self._balances(list(wallets.values()), chains)
            rows: list[tuple[object, ...]] = []
            for balance in held:
                key = _identity(balance.address)
                if key not in labels:
                    raise OkxInvalidInputError(
                        "balances", balance.address, "a row of a wallet not in wallets"
                    )
                rows.append(
                    (
                        dialect.date(day),
                        labels[key],
                        stored[key],
                        balance.chain_index,
                        balance.token_address,
                        balance.symbol,
                        dialect.amount(balance.balance),
                        dialect.amount(balance.token_price),
                        dialect.amount(balance.usd_value),
                        dialect.flag(balance.is_risk_token),
                        dialect.moment(fetched_at.get(key) or fetched_at[""]),
                    )
                )

        # 2. One transaction: replace that date's rows of these wallets (as stored now, and as an
        # earlier version stored them: the identity, case-folded where the family ignores case).
        from airflow_provider_okx.core.progress import Progress

        progress = Progress("rows", len(rows), self._monotonic)
        replaced = sorted(set(stored.values()) | set(labels))
        self._replace(sql_hook, dialect, table, dialect.date(day), replaced, rows, progress)
        self.log.info(
            "%d rows for %d wallet(s) on %d chain(s) loaded into %s for %s (%s) in %s",
            len(rows),
            len(labels),
            len(chains),
            table,
            day.isoformat(),
            dialect.name,
            progress.took(),
        )
        return len(rows)

    # --- reading ------------------------------------------------------------------------

    def _snapshot_date(self, context: Context) -> datetime.date:
        if self.snapshot_date not in (None, ""):
            return parse_snapshot_date(self.snapshot_date)
        ds = context.get("ds")
        if ds:
            return parse_snapshot_date(ds, "ds")
        logical = context.get("logical_date")
        if logical is not None:
            return parse_snapshot_date(logical.astimezone(datetime.timezone.utc), "logical_date")
        return datetime.datetime.now(datetime.timezone.utc).date()

    def _balances(self, addresses: list[str], chains: list[str]) -> tuple[list[TokenBalance], dict[str, str]]:
        """The rows to load, and when they were fetched (per wallet; ``""``: the default)."""
        from airflow_provider_okx.core.api.signing import format_timestamp

        if self.balances is None:
            fetched = self.hook.get_wallets_token_balances(
                addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens, max_workers=self.max_workers
            )
            stamp = format_timestamp(time.time())
            rows: list[TokenBalance] = []
            for address, wallet_rows in fetched.items():
                # Rows belong to the wallet that was asked for, whatever OKX echoes back.
                rows.extend(_attributed(wallet_rows, address))
            return rows, {"": stamp}
        from airflow_provider_okx.core.snapshots import rows_from_snapshots  # not at DAG parse time

        snapshots = self.balances
        rows = rows_from_snapshots(snapshots, addresses, chains, self.exclude_risk_tokens)
        return rows, _fetch_times(snapshots)

    def _sql_hook(self) -> tuple[SqlDialect, Any]:
        from airflow_provider_okx.transfers.sql import sql_hook  # not at DAG parse time

        return sql_hook(self.sql_conn_id)

    # --- writing ------------------------------------------------------------------------

    def _replace(
        self,
        hook: Any,
        dialect: SqlDialect,
        table: str,
        day: object,
        wallet_keys: list[str],
        rows: list[tuple[object, ...]],
        progress: Progress | None = None,
    ) -> None:
        mark = hook.placeholder
        name, table = table, dialect.quote(table)
        insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
        conn = hook.get_conn()
        try:
            if getattr(hook, "supports_autocommit", False):
                hook.set_autocommit(conn, False)
            cursor = conn.cursor()
            try:
                create = dialect.create_statements(name) if self.create_table else []
                if create:  # before CREATE TABLE: see POSTGRES
                    dialect.lock_before_create(cursor, mark, name)
                if create:
                    cursor.execute(create.pop(0))  # the table
                if dialect.lock:
                    # Before the index: CREATE INDEX takes a share lock, and two loads each
                    # holding one while waiting for this lock would deadlock.
                    cursor.execute(dialect.lock.format(table=table))
                for statement in create:
                    cursor.execute(statement)
                for start in range(0, len(wallet_keys), DELETE_CHUNK):
                    chunk = wallet_keys[start : start + DELETE_CHUNK]
                    cursor.execute(
                        f"DELETE FROM {table} WHERE snapshot_date = {mark} "
                        f"AND address IN ({', '.join([mark] * len(chunk))})",
                        [day, *chunk],
                    )
                for batch in _batches(rows, self.batch_size):
                    cursor.executemany(insert, batch)
                    if progress is not None:
                        progress.advance(len(batch))
                        if progress.due():
                            self.log.info("Loading into %s: %s", name, progress.line())
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()
        finally:
            conn.close()


def _attributed(rows: Iterable[TokenBalance], address: str) -> Iterator[TokenBalance]:
    """``rows`` with ``address`` set to the queried wallet's."""
    from dataclasses import replace

    for row in rows:
        yield row if row.address == address else replace(row, address=address)


def _fetch_times(snapshots: Any) -> dict[str, str]:
    """Wallet identity -> ``fetched_at`` of the snapshot that holds it; ``""``: the earliest."""
    from airflow_provider_okx.core.snapshots import snapshot_list  # not at DAG parse time

    snapshots = snapshot_list(snapshots)
    times: dict[str, str] = {}
    for snap in snapshots:
        stamp = snap.get("fetched_at")
        if not isinstance(stamp, str) or not stamp:
            raise OkxInvalidInputError("balances", snap.get("addresses"), "a snapshot without fetched_at")
        for address in snap.get("addresses") or ():
            times.setdefault(_identity(str(address)), stamp)
    if not times:
        raise OkxInvalidInputError("balances", snapshots, "no snapshot")
    times[""] = min(times.values())
    return times
