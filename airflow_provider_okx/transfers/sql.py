"""What every loader into a SQL table shares: the table name rule, and per family of databases
the column types and how values are bound (exactly: amounts never pass through a float).

Nothing database-related is imported here; the loaders reach the database through a common.sql
``DbApiHook`` when their task runs.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.money import decimal_str

# The table name rule lives apart (the loaders check it at DAG parse time, without this
# module's dataclass); re-exported here.
from airflow_provider_okx.transfers.table_names import TABLE_NAME, check_table

__all__ = [
    "DIALECTS",
    "GENERIC",
    "POSTGRES",
    "SQLITE",
    "SQL_KEYWORDS",
    "TABLE_NAME",
    "SqlDialect",
    "check_table",
    "column_type",
    "dialect_for",
    "sql_hook",
]


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
    quoted: bool = False  # identifiers double-quoted (PostgreSQL, SQLite): `order` is a table name
    folds_lower: bool = False  # unquoted names fold to lower case (PostgreSQL): quote them folded
    qualified_index: bool = False  # SQLite: CREATE INDEX schema.index ON table (no schema there)
    create_lock: str = ""  # taken before CREATE TABLE: two first loads create the table once

    def quote(self, table: str) -> str:
        """``table`` as this dialect's SQL names it: each part double-quoted where the dialect
        quotes (folded to lower case first where unquoted names fold, so the quoted name is the
        very table the unquoted one named), left as written elsewhere."""
        if not self.quoted:
            return table
        return ".".join(f'"{part.lower() if self.folds_lower else part}"' for part in table.split("."))

    def check(self, table: str) -> str:
        """``table`` checked for this dialect before anything is fetched: at most
        ``schema.name`` where names are quoted; no SQL keyword where they are not (a generic
        database would fail on it, after the fetch)."""
        parts = table.split(".")
        if self.quoted and len(parts) > 2:
            raise OkxInvalidInputError("table", table, f"{self.name} takes name or schema.name")
        if not self.quoted:
            keywords = [part for part in parts if part.upper() in SQL_KEYWORDS]
            if keywords:
                raise OkxInvalidInputError(
                    "table",
                    table,
                    f"{keywords[0]!r} is an SQL keyword, which this database would refuse unquoted: "
                    "choose another name (such as okx_balances)",
                )
        return table

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
        statements = [f"CREATE TABLE IF NOT EXISTS {self.quote(table)} ({', '.join(columns)})"]
        if self.index:
            statements.append(self.index_statement(table, "snapshot_idx", "snapshot_date, address"))
        return statements

    def index_statement(self, table: str, suffix: str, columns: str) -> str:
        """``CREATE INDEX IF NOT EXISTS <table>_<suffix>`` on ``columns`` of ``table`` (which may
        be schema-qualified), as this dialect writes it."""
        schema, _, name = table.rpartition(".")
        index = self.quote(f"{name}_{suffix}")
        if self.qualified_index and schema:  # SQLite: the index names the schema, ON does not
            index, on = f"{self.quote(schema)}.{index}", self.quote(name)
        else:  # PostgreSQL: the index lives in its table's schema and is named without it
            on = self.quote(table)
        return f"CREATE INDEX IF NOT EXISTS {index} ON {on} ({columns})"

    def lock_before_create(self, cursor: Any, mark: str, table: str) -> None:
        """Where the dialect needs it (see :data:`POSTGRES`), the lock that lets concurrent
        first loads into a new ``table`` create it once; taken inside the caller's transaction."""
        if self.create_lock:
            cursor.execute(self.create_lock.format(mark=mark), [lock_key(self.quote(table))])

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
    quoted=True,
    folds_lower=True,
    create_lock="SELECT pg_advisory_xact_lock({mark})",
)
"""PostgreSQL: ``NUMERIC`` without precision keeps every digit OKX sends. Under READ COMMITTED
two concurrent loads of one date would each delete before the other inserted; the table lock
(which readers do not wait for) makes the second wait and then replace the first's rows. An
advisory lock on the table's name, taken before ``CREATE TABLE``, lets two first loads into a
new table create it once (two concurrent ``CREATE TABLE IF NOT EXISTS`` collide on ``pg_type``)."""
SQLITE = SqlDialect(
    "sqlite", "TEXT", "TEXT", "INTEGER", "TEXT", native=False, index=True, quoted=True, qualified_index=True
)
"""SQLite: amounts as ``TEXT`` (a ``NUMERIC`` or ``REAL`` column would turn them into doubles)."""
GENERIC = SqlDialect("generic", "TEXT", "TEXT", "INTEGER", "TEXT", native=False, index=False)
"""Anything else: text, which loses nothing (see the operator's docstring for 38-digit decimals)."""

DIALECTS = {"postgres": POSTGRES, "postgresql": POSTGRES, "sqlite": SQLITE}

_KEYWORDS = """
    ALL ALTER ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC AUTHORIZATION BETWEEN BINARY BOTH CASE CAST
    CHECK COLLATE COLUMN CONSTRAINT CREATE CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER DATABASE DEFAULT DELETE DESC DISTINCT DO DROP ELSE END EXCEPT EXISTS FALSE FETCH
    FOR FOREIGN FROM FULL GRANT GROUP HAVING IF ILIKE IN INDEX INNER INSERT INTERSECT INTO IS JOIN
    KEY LATERAL LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF OFFSET
    ON ONLY OR ORDER OUTER OVERLAPS PRIMARY QUALIFY REFERENCES REGEXP RETURNING RIGHT ROW ROWS
    SAMPLE SCHEMA SELECT SESSION_USER SET SHOW SOME START SYMMETRIC TABLE TABLESAMPLE THEN TO
    TRAILING TRIGGER TRUE UNION UNIQUE UPDATE USER USING VALUES VIEW WHEN WHERE WINDOW WITH
"""
SQL_KEYWORDS = frozenset(_KEYWORDS.split())
"""Reserved words of SQL and of the common warehouses (Snowflake, MySQL, BigQuery...): refused as
table names where identifiers are not quoted (the generic dialect), before the fetch."""


def lock_key(table: str) -> int:
    """A signed 64-bit advisory lock key for ``table`` (stable across processes and versions)."""
    import hashlib

    digest = hashlib.sha256(f"airflow-provider-okx:{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def dialect_for(conn_type: str | None) -> SqlDialect:
    """The dialect of an Airflow connection type (``postgres``, ``sqlite``; others: generic)."""
    return DIALECTS.get((conn_type or "").lower(), GENERIC)


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
