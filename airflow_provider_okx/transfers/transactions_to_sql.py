"""``OkxTransactionsToSqlOperator``: wallets' transaction history into a SQL table, exact,
idempotent and incremental.

Table schema, version 1 (:data:`SCHEMA_VERSION`; columns :data:`COLUMNS`, named as the fields of
:class:`~airflow_provider_okx.core.models.Transaction`):

=================  ==========================  ==============================================
column             PostgreSQL / SQLite         meaning
=================  ==========================  ==============================================
movement_id        TEXT, primary key           ``Transaction.movement_id``: SHA-256 (hex) of the
                                               record's ``movement_key`` (wallet, chain, hash,
                                               itype, token, direction, counterparties, amount;
                                               not the status): one row per movement
wallet_label       TEXT                        the wallet's label (its address when unlabelled)
address            TEXT                        the queried wallet (``0x`` hex lower-cased)
chain_index        TEXT                        OKX chain index
tx_hash            TEXT                        transaction hash (not a key: OKX splits one
                                               transaction into records by asset)
tx_time            TIMESTAMPTZ / TEXT          block time, UTC (SQLite: ``...T...mmmZ``)
token_address      TEXT                        ``""``: the chain's native coin
symbol             TEXT
amount             NUMERIC / TEXT              magnitude moved, exact, never negative
tx_fee             NUMERIC / TEXT              the transaction's fee in the native coin
status             TEXT                        ``success``, ``fail`` or ``pending``
direction          TEXT                        ``in``, ``out`` or ``self`` (for ``address``)
from_addresses     TEXT                        JSON array of senders
to_addresses       TEXT                        JSON array of receivers
item_type          TEXT, nullable              OKX's ``itype`` (0 native, 1 internal, 2 token)
loaded_at          TIMESTAMPTZ / TEXT          when this run wrote the row
=================  ==========================  ==============================================

A later schema version adds columns at the end; it never renames one.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import address_key, compatible_chains
from airflow_provider_okx.core.inputs import parse_chains, parse_moment, parse_wallets
from airflow_provider_okx.glue.compat import BaseOperator
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved
from airflow_provider_okx.transfers.table_names import check_table

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import Transaction
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.transfers.sql import SqlDialect

SCHEMA_VERSION = 1

COLUMNS = (
    "movement_id",
    "wallet_label",
    "address",
    "chain_index",
    "tx_hash",
    "tx_time",
    "token_address",
    "symbol",
    "amount",
    "tx_fee",
    "status",
    "direction",
    "from_addresses",
    "to_addresses",
    "item_type",
    "loaded_at",
)
"""The table's columns, in order (schema version :data:`SCHEMA_VERSION`)."""

_KINDS = {"tx_time": "moment", "loaded_at": "moment", "amount": "amount", "tx_fee": "amount"}

DEFAULT_OVERLAP = datetime.timedelta(hours=1)
"""How far before its watermark a later run asks again: blocks OKX indexes late (a
re-organisation, a slow indexer) land in the table on the next run. Rows asked twice are
replaced, never duplicated."""

PROGRESS_SECONDS = 30.0
"""At most this long between two progress lines in the task log."""


GROUP_SPAN = datetime.timedelta(days=1)
"""Chains of one wallet whose watermarks lie within this span are asked in one request (OKX
pages 100 records for several chains, 20 for one): each re-reads at most this much more."""


def plan_windows(
    wallet: str,
    chains: Sequence[str],
    marks: dict[tuple[str, str], datetime.datetime],
    begin: datetime.datetime | None,
    overlap: datetime.timedelta,
) -> list[tuple[list[str], datetime.datetime | None]]:
    """The requests for one wallet: ``(chains, begin)`` each. Chains with no row yet are asked
    together from ``begin``; chains with a watermark, grouped by :data:`GROUP_SPAN`, from their
    group's earliest watermark minus ``overlap`` (never before ``begin``)."""
    fresh = [chain for chain in chains if (wallet, chain) not in marks]
    plans: list[tuple[list[str], datetime.datetime | None]] = [(fresh, begin)] if fresh else []
    known = sorted((marks[(wallet, chain)], chain) for chain in chains if (wallet, chain) in marks)
    group: list[str] = []
    first: datetime.datetime | None = None
    for mark, chain in known:
        if first is not None and mark - first > GROUP_SPAN:
            plans.append((group, _later(begin, first - overlap)))
            group, first = [], None
        if first is None:
            first = mark
        group.append(chain)
    if first is not None:
        plans.append((group, _later(begin, first - overlap)))
    return plans


def _later(begin: datetime.datetime | None, start: datetime.datetime) -> datetime.datetime:
    return start if begin is None else max(begin, start)


def _instant_text(moment: datetime.datetime) -> str:
    """Fixed-width UTC text that sorts as time does (SQLite and other text columns)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class OkxTransactionsToSqlOperator(TextTemplateFields, BaseOperator):
    """Load every transaction record of ``wallets`` on ``chains`` into a SQL table.

    **Idempotent**: the table's primary key is ``movement_id`` (one movement of one wallet);
    each page of records replaces the rows with the same keys and inserts the new ones, in the
    same transaction: a rerun adds no row, and a record that changed (``pending`` became
    ``success``) is updated in place.

    **Incremental**: per wallet and chain, a run asks OKX only from its *watermark*, the latest
    ``tx_time`` stored for that wallet and chain (or the earliest still ``pending``, when one
    is), minus ``overlap`` (default one hour, :data:`DEFAULT_OVERLAP`), and never before
    ``begin``. A wallet's chains are asked together where they can be (OKX pages 100 records
    for several chains, 20 for one): chains with no row yet in one request from ``begin``, and
    chains whose watermarks lie within a day (:data:`GROUP_SPAN`) in one request from the
    earliest of them: a later run usually costs one or two requests per wallet. Each request's
    records are committed together once all its pages are written: a failed run keeps what it
    finished, and the next run resumes from there. The first run asks from ``begin`` (or all
    the history OKX keeps, about six months).

    **Exact**: ``amount`` and ``tx_fee`` are ``NUMERIC`` on PostgreSQL (bound as ``Decimal``)
    and exact decimal text elsewhere, as in
    :class:`~airflow_provider_okx.transfers.okx_to_sql.OkxBalancesToSqlOperator`, whose notes
    on 38-digit databases apply here too. The schema is in this module's documentation.

    Records are streamed page by page (memory does not grow with the history).

    :param wallets: addresses, or ``{label: address}`` (templated).
    :param chains: chain indices or names (templated); each wallet is asked only for the chains
        of its family.
    :param table: the table, ``name`` or ``schema.name`` (templated; plain identifiers only). On
        PostgreSQL and SQLite the name is quoted, so an SQL keyword (``order``) is a valid name
        (PostgreSQL: folded to lower case, the table the unquoted name means); on other
        databases a keyword is refused before OKX is asked.
    :param sql_conn_id: an Airflow connection whose hook is a common.sql ``DbApiHook`` (templated).
    :param okx_conn_id: the ``okx`` connection (templated).
    :param begin: the earliest ``tx_time`` to load: an aware datetime or ISO 8601 text, e.g.
        ``"{{ data_interval_start }}"`` (templated); default: all OKX keeps.
    :param end: load ``tx_time`` before this (exclusive: ``[begin, end)`` windows tile, so
        consecutive months share no record; templated); default: up to now. The watermark only
        counts rows before ``end``, so loading an earlier month later works.
    :param overlap: how far before the watermark to ask again (a ``timedelta`` or seconds).
    :param batch_size: rows per ``executemany`` call.
    :param create_table: create the table (and an index on ``address, chain_index, tx_time``)
        if it does not exist.

    Returns ``{"table", "records", "inserted", "updated", "windows"}``: records fetched, rows
    new to the table, rows replaced, and the (wallet, chain) windows asked.
    """

    template_fields = ("wallets", "chains", "table", "sql_conn_id", "okx_conn_id", "begin", "end")
    ui_color = "#e8fdf0"

    def __init__(
        self,
        *,
        wallets: Any,
        chains: Any,
        table: str = "okx_transactions",
        sql_conn_id: str,
        okx_conn_id: str = DEFAULT_CONN_ID,
        begin: Any = None,
        end: Any = None,
        overlap: datetime.timedelta | float = DEFAULT_OVERLAP,
        batch_size: int = 1000,
        create_table: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wallets = wallets
        self.chains = chains
        self.table = table
        self.sql_conn_id = sql_conn_id
        self.okx_conn_id = okx_conn_id
        self.begin = begin
        self.end = end
        if not isinstance(overlap, datetime.timedelta):
            if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or overlap < 0:
                raise OkxInvalidInputError("overlap", overlap, "expected a timedelta or seconds >= 0")
            overlap = datetime.timedelta(seconds=overlap)
        if overlap < datetime.timedelta(0):
            raise OkxInvalidInputError("overlap", overlap, "expected a duration >= 0")
        self.overlap = overlap
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise OkxInvalidInputError("batch_size", batch_size, "expected a positive integer")
        self.batch_size = batch_size
        self.create_table = create_table
        if not unresolved(table):
            check_table(table)
        if not unresolved(wallets):
            parse_wallets(wallets)
        if not unresolved(chains):
            parse_chains(chains)
        for name in ("begin", "end"):
            value = getattr(self, name)
            if not unresolved(value):
                parse_moment(value, name)

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        table = check_table(self.table)
        wallets = parse_wallets(self.wallets)
        chains = parse_chains(self.chains)
        begin, end = parse_moment(self.begin, "begin"), parse_moment(self.end, "end")
        if begin and end and end < begin:
            raise OkxInvalidInputError("end", self.end, f"before begin ({self.begin})")
        labels = {address_key(address): label for label, address in wallets.items()}
        if len(labels) != len(wallets):
            raise OkxInvalidInputError("wallets", self.wallets, "the same wallet is listed twice")
        from airflow_provider_okx.glue.lineage import OkxRead
        from airflow_provider_okx.transfers.sql import sql_hook

        self.okx_read = OkxRead.of(self.hook, list(wallets.values()), chains)  # lineage inputs
        dialect, hook = sql_hook(self.sql_conn_id)
        dialect.check(table)  # before anything is asked of OKX
        loaded_at = datetime.datetime.now(datetime.timezone.utc)
        conn = hook.get_conn()
        try:
            if getattr(hook, "supports_autocommit", False):
                hook.set_autocommit(conn, False)
            self._prepare(conn, hook.placeholder, dialect, table)
            quoted = dialect.quote(table)
            marks = self._watermarks(conn, hook.placeholder, dialect, quoted, sorted(labels), end)
            windows = [
                (label, address, group_chains, start)
                for label, address in wallets.items()
                for group_chains, start in plan_windows(
                    address_key(address), compatible_chains(address, chains), marks, begin, self.overlap
                )
            ]
            progress = _Progress(self.log, len(windows))
            for label, address, group_chains, start in windows:
                if start is not None and end is not None and start >= end:
                    progress.window_done()  # an empty window: nothing to ask
                    continue
                with failing_fast_on_permanent_errors():
                    pages = self.hook.iter_transaction_pages(address, group_chains, begin=start, end=end)
                    self._load_window(
                        conn,
                        hook.placeholder,
                        dialect,
                        quoted,
                        (label, address),
                        pages,
                        loaded_at,
                        progress,
                    )
                progress.window_done()
        finally:
            conn.close()
        self.log.info(
            "%d transaction records of %d wallet(s) on %d chain(s) into %s (%s): %d new rows, %d "
            "replaced, %.1f records/s",
            progress.records,
            len(labels),
            len(chains),
            table,
            dialect.name,
            progress.inserted,
            progress.updated,
            progress.rate(),
        )
        return {
            "table": table,
            "records": progress.records,
            "inserted": progress.inserted,
            "updated": progress.updated,
            "windows": [
                {
                    "address": address,
                    "chains": group_chains,
                    "begin": None if start is None else _instant_text(start),
                    "end": None if end is None else _instant_text(end),
                }
                for _, address, group_chains, start in windows
            ],
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one input per wallet read (as the balances operator reports them)."""
        from airflow_provider_okx.glue.lineage import operator_lineage

        return operator_lineage(getattr(self, "okx_read", None))

    # --- the table ------------------------------------------------------------------------

    def _prepare(self, conn: Any, mark: str, dialect: SqlDialect, table: str) -> None:
        """Create the table and its index if asked, committed before any load. The name is
        quoted where the dialect quotes (an SQL keyword such as ``order`` is a valid name there),
        and concurrent first loads into a new PostgreSQL table create it once (see POSTGRES)."""
        from airflow_provider_okx.transfers.sql import column_type

        if not self.create_table:
            return
        columns = []
        for name in COLUMNS:
            nullable = name == "item_type"
            sql_type = column_type(dialect, _KINDS.get(name, "text"))
            columns.append(f"{name} {sql_type}{'' if nullable else ' NOT NULL'}")
        columns.append("PRIMARY KEY (movement_id)")
        statements = [f"CREATE TABLE IF NOT EXISTS {dialect.quote(table)} ({', '.join(columns)})"]
        if dialect.index:
            watermark = "address, chain_index, tx_time"
            statements.append(dialect.index_statement(table, "watermark_idx", watermark))
        cursor = conn.cursor()
        try:
            dialect.lock_before_create(cursor, mark, table)
            for statement in statements:
                cursor.execute(statement)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cursor.close()

    def _watermarks(
        self,
        conn: Any,
        mark: str,
        dialect: SqlDialect,
        table: str,
        wallet_keys: Sequence[str],
        end: datetime.datetime | None,
    ) -> dict[tuple[str, str], datetime.datetime]:
        """``(wallet, chain) -> watermark``: the latest ``tx_time`` stored (before ``end``), or the
        earliest still pending when that is earlier."""
        query = (
            f"SELECT address, chain_index, MAX(tx_time), "
            f"MIN(CASE WHEN status = 'pending' THEN tx_time END) FROM {table} "
            f"WHERE address IN ({', '.join([mark] * len(wallet_keys))})"
        )
        params: list[object] = list(wallet_keys)
        if end is not None:
            query += f" AND tx_time < {mark}"
            params.append(self._moment_value(dialect, end))
        query += " GROUP BY address, chain_index"
        cursor = conn.cursor()
        try:
            cursor.execute(query, params)
            found = cursor.fetchall()
            conn.commit()  # ends the read transaction (PostgreSQL)
        finally:
            cursor.close()
        marks = {}
        for address, chain, latest, pending in found:
            times = [parse_moment(value, "tx_time") for value in (latest, pending) if value is not None]
            moments = [moment for moment in times if moment is not None]
            if moments:
                marks[(address, chain)] = min(moments)
        return marks

    @staticmethod
    def _moment_value(dialect: SqlDialect, moment: datetime.datetime) -> object:
        return moment if dialect.native else _instant_text(moment)

    def _load_window(
        self,
        conn: Any,
        mark: str,
        dialect: SqlDialect,
        table: str,
        wallet_of: tuple[str, str],
        pages: Iterable[list[Transaction]],
        loaded_at: datetime.datetime,
        progress: _Progress,
    ) -> None:
        """Write every page of one window (a wallet, some chains), then commit (a failure rolls
        back this window only)."""
        insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
        label, address = wallet_of
        wallet = address_key(address)
        stamp = self._moment_value(dialect, loaded_at)
        cursor = conn.cursor()
        try:
            if dialect.lock:
                cursor.execute(dialect.lock.format(table=table))
            for page in pages:
                rows = {}
                for record in page:
                    key = record.movement_id  # SHA-256 of movement_key, which includes the wallet
                    rows[key] = (
                        key,
                        label,
                        wallet,
                        record.chain_index,
                        record.tx_hash,
                        self._moment_value(dialect, record.tx_time),
                        record.token_address,
                        record.symbol,
                        dialect.amount(record.amount),
                        dialect.amount(record.tx_fee),
                        record.status,
                        record.direction,
                        json.dumps(list(record.from_addresses)),
                        json.dumps(list(record.to_addresses)),
                        record.item_type,
                        stamp,
                    )
                keys = list(rows)
                replaced = 0
                for start in range(0, len(keys), self.batch_size):
                    chunk = keys[start : start + self.batch_size]
                    cursor.execute(
                        f"DELETE FROM {table} WHERE movement_id IN ({', '.join([mark] * len(chunk))})", chunk
                    )
                    replaced += max(cursor.rowcount, 0)
                    cursor.executemany(insert, [rows[key] for key in chunk])
                progress.page(len(page), len(rows) - replaced, replaced)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cursor.close()


class _Progress:
    """Counts, and a log line at most every :data:`PROGRESS_SECONDS`."""

    def __init__(self, log: Any, windows: int) -> None:
        self.log = log
        self.pairs = windows
        self.done = 0
        self.records = self.inserted = self.updated = 0
        self.started = self.logged = time.monotonic()

    def page(self, records: int, inserted: int, updated: int) -> None:
        self.records += records
        self.inserted += inserted
        self.updated += updated
        now = time.monotonic()
        if now - self.logged >= PROGRESS_SECONDS:
            self.logged = now
            self.log.info(
                "Progress: %d of %d windows done, %d records so far (%.1f/s)",
                self.done,
                self.pairs,
                self.records,
                self.rate(),
            )

    def window_done(self) -> None:
        self.done += 1

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.records / elapsed if elapsed > 0 else 0.0
