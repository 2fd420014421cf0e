"""``OkxBalancesToSqlOperator``: one day's balances into a SQL table, exact and idempotent.

Any database Airflow reaches through a common.sql ``DbApiHook`` (PostgreSQL, SQLite, MySQL,
Snowflake, ...). Nothing database-related is imported until the task runs.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import address_key, normalize_chains
from airflow_provider_okx.core.inputs import parse_wallets
from airflow_provider_okx.core.snapshots import rows_from_snapshots
from airflow_provider_okx.glue.compat import BaseHook, BaseOperator
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved
from airflow_provider_okx.transfers.sql import (
    DIALECTS,
    GENERIC,
    POSTGRES,
    SQLITE,
    TABLE_NAME,
    SqlDialect,
    check_table,
    dialect_for,
)
from airflow_provider_okx.transfers.transactions_to_sql import OkxTransactionsToSqlOperator

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.hooks.okx import OkxHook

__all__ = [
    "COLUMNS",
    "DIALECTS",
    "GENERIC",
    "POSTGRES",
    "SQLITE",
    "TABLE_NAME",
    "OkxBalancesToSqlOperator",
    "OkxTransactionsToSqlOperator",
    "SqlDialect",
    "check_table",
    "dialect_for",
]

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
    """How a wallet is matched and stored: :func:`~airflow_provider_okx.core.chains.address_key`
    (case folded only where the address family ignores it)."""
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
    identity), other addresses as given.

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
    :param table: the table, ``name`` or ``schema.name`` (templated; plain identifiers only).
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
    :param batch_size: rows per ``executemany`` call.
    :param create_table: create the table (and an index on ``snapshot_date, address``) if it
        does not exist.
    :param max_workers: OKX requests kept in flight when fetching (default: from the
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
        self.sql_conn_id = sql_conn_id
        self.table = table
        self.wallets = wallets
        self.chains = chains
        self.balances = balances
        self.exclude_risk_tokens = exclude_risk_tokens
        self.okx_conn_id = okx_conn_id
        self.snapshot_date = snapshot_date
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise OkxInvalidInputError("batch_size", batch_size, "expected a positive integer")
        self.batch_size = batch_size
        self.create_table = create_table
        self.max_workers = max_workers
        if not unresolved(table):
            check_table(table)
        if not unresolved(wallets):
            parse_wallets(wallets)
        if not unresolved(chains):
            normalize_chains(chains)
        if snapshot_date is not None and not unresolved(snapshot_date):
            parse_snapshot_date(snapshot_date)

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Any) -> int:
        table = check_table(self.table)
        wallets = parse_wallets(self.wallets)
        chains = normalize_chains(self.chains)
        day = self._snapshot_date(context)
        labels = {_identity(address): label for label, address in wallets.items()}
        if len(labels) != len(wallets):
            raise OkxInvalidInputError("wallets", self.wallets, "the same wallet is listed twice")

        # 1. Everything is read before the database is touched: a failed fetch changes nothing.
        with failing_fast_on_permanent_errors():  # a refused key fails now, not after retries
            held, fetched_at = self._balances(list(wallets.values()), chains)
        dialect, sql_hook = self._sql_hook()
        rows: list[tuple[object, ...]] = []
        for balance in held:
            key = _identity(balance.address)
            if key not in labels:
                raise OkxInvalidInputError("balances", balance.address, "a row of a wallet not in wallets")
            rows.append(
                (
                    dialect.date(day),
                    labels[key],
                    key,
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

        # 2. One transaction: replace that date's rows of these wallets.
        self._replace(sql_hook, dialect, table, dialect.date(day), sorted(labels), rows)
        self.log.info(
            "%d rows for %d wallet(s) on %d chain(s) loaded into %s for %s (%s)",
            len(rows),
            len(labels),
            len(chains),
            table,
            day.isoformat(),
            dialect.name,
        )
        return len(rows)

    # --- reading ------------------------------------------------------------------------

    def _snapshot_date(self, context: Any) -> datetime.date:
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
            import time

            fetched = self.hook.get_wallets_token_balances(
                addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens, max_workers=self.max_workers
            )
            stamp = format_timestamp(time.time())
            rows: list[TokenBalance] = []
            for address, wallet_rows in fetched.items():
                # Rows belong to the wallet that was asked for, whatever OKX echoes back.
                rows.extend(_attributed(wallet_rows, address))
            return rows, {"": stamp}
        snapshots = self.balances
        rows = rows_from_snapshots(snapshots, addresses, chains, self.exclude_risk_tokens)
        return rows, _fetch_times(snapshots)

    def _sql_hook(self) -> tuple[SqlDialect, Any]:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        connection = BaseHook.get_connection(self.sql_conn_id)
        hook = connection.get_hook()
        if not isinstance(hook, DbApiHook):
            raise OkxInvalidInputError(
                "sql_conn_id", self.sql_conn_id, f"a {connection.conn_type} connection is not a SQL database"
            )
        return dialect_for(connection.conn_type), hook

    # --- writing ------------------------------------------------------------------------

    def _replace(
        self,
        hook: Any,
        dialect: SqlDialect,
        table: str,
        day: object,
        wallet_keys: list[str],
        rows: list[tuple[object, ...]],
    ) -> None:
        mark = hook.placeholder
        insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
        conn = hook.get_conn()
        try:
            if getattr(hook, "supports_autocommit", False):
                hook.set_autocommit(conn, False)
            cursor = conn.cursor()
            try:
                create = dialect.create_statements(table) if self.create_table else []
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
    if isinstance(snapshots, dict):
        snapshots = [snapshots]
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
