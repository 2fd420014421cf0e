"""What every loader into a SQL table shares: the table name rule, and per family of databases
the column types and how values are bound (exactly: amounts never pass through a float).

Nothing database-related is imported here; the loaders reach the database through a common.sql
``DbApiHook`` when their task runs.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.models import decimal_str

TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}\Z")
"""``table``, ``schema.table`` or ``database.schema.table``: plain identifiers, never quoted SQL."""


@dataclass(frozen=True)
class SqlDialect:
    """Column types and bound values for one family of databases.

    ``native``: the driver binds ``Decimal``, ``date``, ``datetime`` and ``bool`` exactly (and
    the column types take them); otherwise every value is bound as text (booleans as 0/1), which
    every database stores as given.
    """

    name: str
    date_type: str
    amount_type: str
    flag_type: str
    moment_type: str
    native: bool
    index: bool  # CREATE INDEX IF NOT EXISTS is understood
    lock: str = ""  # taken before the delete, so that two loads of one table run one after the other

    def create_statements(self, table: str) -> list[str]:
        amount, text = self.amount_type, "TEXT"
        columns = [
            f"snapshot_date {self.date_type} NOT NULL",
            f"wallet_label {text} NOT NULL",
            f"address {text} NOT NULL",
            f"chain_index {text} NOT NULL",
            f"token_address {text} NOT NULL",
            f"symbol {text} NOT NULL",
            f"balance {amount} NOT NULL",
            f"token_price {amount} NOT NULL",
            f"usd_value {amount} NOT NULL",
            f"is_risk_token {self.flag_type} NOT NULL",
            f"fetched_at {self.moment_type} NOT NULL",
        ]
        statements = [f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})"]
        if self.index:
            name = table.rsplit(".", 1)[-1] + "_snapshot_idx"
            statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} (snapshot_date, address)")
        return statements

    def date(self, day: datetime.date) -> object:
        return day if self.native else day.isoformat()

    def amount(self, value: Decimal) -> object:
        return value if self.native else decimal_str(value)

    def flag(self, value: bool) -> object:
        return value if self.native else int(value)

    def moment(self, text: str) -> object:
        if not self.native:
            return text
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


POSTGRES = SqlDialect(
    "postgresql",
    "DATE",
    "NUMERIC",
    "BOOLEAN",
    "TIMESTAMPTZ",
    native=True,
    index=True,
    lock="LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE",
)
"""PostgreSQL: ``NUMERIC`` without precision keeps every digit OKX sends. Under READ COMMITTED
two concurrent loads of one date would each delete before the other inserted; the table lock
(which readers do not wait for) makes the second wait and then replace the first's rows."""
SQLITE = SqlDialect("sqlite", "TEXT", "TEXT", "INTEGER", "TEXT", native=False, index=True)
"""SQLite: amounts as ``TEXT`` (a ``NUMERIC`` or ``REAL`` column would turn them into doubles)."""
GENERIC = SqlDialect("generic", "TEXT", "TEXT", "INTEGER", "TEXT", native=False, index=False)
"""Anything else: text, which loses nothing (see the operator's docstring for 38-digit decimals)."""

DIALECTS = {"postgres": POSTGRES, "postgresql": POSTGRES, "sqlite": SQLITE}


def dialect_for(conn_type: str | None) -> SqlDialect:
    """The dialect of an Airflow connection type (``postgres``, ``sqlite``; others: generic)."""
    return DIALECTS.get((conn_type or "").lower(), GENERIC)


def check_table(table: object) -> str:
    """``table`` if it is a plain (optionally schema-qualified) identifier, else a clear error."""
    if not isinstance(table, str) or not TABLE_NAME.match(table):
        raise OkxInvalidInputError(
            "table", table, "expected a plain name such as okx_balances or analytics.okx_balances"
        )
    return table


def column_type(dialect: SqlDialect, kind: str) -> str:
    """The column type of ``kind`` (``text``, ``amount``, ``date``, ``flag``, ``moment``)."""
    return {
        "text": "TEXT",
        "amount": dialect.amount_type,
        "date": dialect.date_type,
        "flag": dialect.flag_type,
        "moment": dialect.moment_type,
    }[kind]


def sql_hook(sql_conn_id: str) -> tuple[SqlDialect, Any]:
    """The dialect and the common.sql ``DbApiHook`` of an Airflow connection (imported when the
    task runs); a connection that is not a SQL database is refused, naming it."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_okx.glue.compat import BaseHook

    connection = BaseHook.get_connection(sql_conn_id)
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise OkxInvalidInputError(
            "sql_conn_id", sql_conn_id, f"a {connection.conn_type} connection is not a SQL database"
        )
    return dialect_for(connection.conn_type), hook
