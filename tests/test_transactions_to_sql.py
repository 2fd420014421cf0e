"""``OkxTransactionsToSqlOperator`` against a real PostgreSQL server and SQLite: exact, idempotent
(a rerun adds no row), incremental (a later run asks from its watermark minus the overlap).

The databases are real; OKX is either the simulator over HTTP (the ``*_simulator`` tests) or,
to check exactly which windows the operator asks, a recorded history (:class:`History`) that
serves ``iter_transaction_pages`` from a list and records each call.
"""

from __future__ import annotations

import datetime
import itertools
import json
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.models import Transaction
from airflow_provider_okx.transfers.okx_to_sql import OkxTransactionsToSqlOperator as Reexported
from airflow_provider_okx.transfers.transactions_to_sql import (
    COLUMNS,
    DEFAULT_OVERLAP,
    OkxTransactionsToSqlOperator,
)
from tests.concurrent_runs import run_at_once
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 (fixture)

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 11, 1, tzinfo=UTC)
COLD = "0x" + "a1" * 20
HOT = "0x" + "b2" * 20
OTHER = "0x" + "99" * 20
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
_tables = itertools.count()


def record(
    wallet: str,
    n: int,
    *,
    chain: str = "1",
    status: str = "success",
    amount: str = "1.000000000000000001",
    fee: str = "0.000021",
    token: str = "",
) -> Transaction:
    return Transaction(
        chain_index=chain,
        tx_hash=f"0x{n:064x}",
        tx_time=START + datetime.timedelta(hours=n),
        address=wallet,
        token_address=token,
        symbol="ETH" if not token else "USDC",
        amount=Decimal(amount),
        tx_fee=Decimal(fee),
        status=status,
        direction="out",
        from_addresses=(wallet,),
        to_addresses=(OTHER,),
        item_type="0" if not token else "2",
    )


class History:
    """OKX's history of some wallets, served as the hook serves it (pages of ``page_size``,
    filtered to ``[begin, end)``); every call is recorded."""

    def __init__(self, records: list[Transaction], page_size: int = 3) -> None:
        self.records = records
        self.page_size = page_size
        self.calls: list[tuple[str, tuple[str, ...], datetime.datetime | None, datetime.datetime | None]] = []

    def iter_transaction_pages(self, address, chains, *, begin=None, end=None, token_address=None):
        self.calls.append((address, tuple(chains), begin, end))
        found = [
            r
            for r in self.records
            if r.address == address
            and r.chain_index in chains
            and (begin is None or r.tx_time >= begin)
            and (end is None or r.tx_time < end)
        ]
        found.sort(key=lambda r: r.tx_time, reverse=True)
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]


def loader(conn_id: str, table: str, history: History, **kwargs: Any) -> OkxTransactionsToSqlOperator:
    kwargs.setdefault("wallets", {"cold": COLD, "hot": HOT})
    kwargs.setdefault("chains", "1")
    operator = OkxTransactionsToSqlOperator(task_id="load", sql_conn_id=conn_id, table=table, **kwargs)
    operator.hook = history  # type: ignore[assignment]  (the recorded history stands in for OKX)
    return operator


def run(operator: OkxTransactionsToSqlOperator) -> dict[str, Any]:
    execute = getattr(type(operator).execute, "__wrapped__", type(operator).execute)
    return execute(operator, {})


@pytest.fixture
def pg(postgres_server: PostgresServer, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AIRFLOW_CONN_OKX_TX_PG", postgres_server.uri())

    def rows(table: str) -> list[tuple]:
        return postgres_server.query(
            f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY tx_time, movement_id"
        )

    return "okx_tx_pg", rows


@pytest.fixture
def lite(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_TX_LITE", json.dumps({"conn_type": "sqlite", "host": str(path)}))

    def rows(table: str) -> list[tuple]:
        with sqlite3.connect(path) as conn:
            return conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY tx_time, movement_id"
            ).fetchall()

    return "okx_tx_lite", rows


@pytest.fixture(params=["sqlite", "postgres"])
def db(request):
    return request.getfixturevalue("lite" if request.param == "sqlite" else "pg")


def test_reexported_from_okx_to_sql():
    assert Reexported is OkxTransactionsToSqlOperator


def test_idempotent_and_exact(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    history = History(
        [record(COLD, n) for n in range(7)] + [record(HOT, n, token=USDC, amount="2.5") for n in range(2)]
    )
    first = run(loader(conn_id, table, history))
    assert (first["records"], first["inserted"], first["updated"]) == (9, 9, 0)
    stored = rows(table)
    again = run(loader(conn_id, table, history))
    assert again["inserted"] == 0  # a rerun adds no row
    assert len(rows(table)) == len(stored) == 9
    by_column = [dict(zip(COLUMNS, row, strict=True)) for row in stored]
    for row in by_column:
        assert Decimal(str(row["amount"])) in (Decimal("1.000000000000000001"), Decimal("2.5"))
        assert format(Decimal(str(row["tx_fee"])), "f") == "0.000021"
        assert json.loads(row["to_addresses"]) == [OTHER]
    assert {row["wallet_label"] for row in by_column} == {"cold", "hot"}
    cold = next(row for row in by_column if row["address"] == COLD)
    if isinstance(cold["amount"], Decimal):  # PostgreSQL: NUMERIC, every digit
        assert format(cold["amount"], "f") == "1.000000000000000001"
    else:  # SQLite: exact text
        assert cold["amount"] == "1.000000000000000001"
    assert len({row["movement_id"] for row in by_column}) == 9


def test_incremental_from_the_watermark_minus_the_overlap(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    history = History([record(COLD, n) for n in range(5)])
    run(loader(conn_id, table, history, wallets=[COLD]))
    assert history.calls == [(COLD, ("1",), None, None)]  # the first run asks for everything
    watermark = START + datetime.timedelta(hours=4)
    history.records.append(record(COLD, 10))
    history.calls.clear()
    result = run(loader(conn_id, table, history, wallets=[COLD]))
    assert history.calls == [(COLD, ("1",), watermark - DEFAULT_OVERLAP, None)]
    assert (result["records"], result["inserted"], result["updated"]) == (3, 1, 2)  # the overlap: replaced
    assert len(rows(table)) == 6


def test_a_pending_record_holds_the_watermark_and_is_updated_when_it_settles(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    history = History([record(COLD, 0), record(COLD, 2, status="pending"), record(COLD, 5)])
    run(loader(conn_id, table, history, wallets=[COLD]))
    history.records[1] = record(COLD, 2, status="success")
    history.calls.clear()
    result = run(loader(conn_id, table, history, wallets=[COLD]))
    assert history.calls[0][2] == START + datetime.timedelta(hours=2) - DEFAULT_OVERLAP
    assert result["inserted"] == 0
    statuses = [dict(zip(COLUMNS, r, strict=True))["status"] for r in rows(table)]
    assert statuses == ["success", "success", "success"]


def test_begin_and_end_bound_the_window_and_the_watermark(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    history = History([record(COLD, n) for n in range(0, 100, 10)])
    end = START + datetime.timedelta(hours=45)
    run(loader(conn_id, table, history, wallets=[COLD], end=end.isoformat()))
    assert len(rows(table)) == 5  # hours 0..40
    history.calls.clear()
    # A later month: the watermark of rows up to its own end (none yet), so from its begin.
    begin = START + datetime.timedelta(hours=50)
    run(
        loader(conn_id, table, history, wallets=[COLD], begin=begin, end=begin + datetime.timedelta(hours=30))
    )
    assert history.calls == [(COLD, ("1",), begin, begin + datetime.timedelta(hours=30))]
    assert len(rows(table)) == 8  # and hours 50, 60, 70 ([begin, end))
    history.calls.clear()
    # The earlier month again: from its own watermark (hour 40), not the later month's.
    run(loader(conn_id, table, history, wallets=[COLD], end=end))
    assert history.calls == [(COLD, ("1",), START + datetime.timedelta(hours=40) - DEFAULT_OVERLAP, end)]


def test_a_failed_page_rolls_back_that_wallet_only(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"

    class Failing(History):
        def iter_transaction_pages(self, address, chains, **kwargs):
            yield from itertools.islice(super().iter_transaction_pages(address, chains, **kwargs), 1)
            if address == HOT:
                raise ConnectionError("OKX went away")

    history = Failing([record(COLD, n) for n in range(2)] + [record(HOT, n) for n in range(6)])
    with pytest.raises(ConnectionError):
        run(loader(conn_id, table, history))
    stored = [dict(zip(COLUMNS, r, strict=True))["address"] for r in rows(table)]
    assert stored == [COLD, COLD]  # the finished wallet is kept, the failed one rolled back


def test_bad_input_fails_before_any_request():
    with pytest.raises(OkxInvalidInputError, match="table"):
        OkxTransactionsToSqlOperator(
            task_id="t", wallets=[COLD], chains="1", table="x; drop", sql_conn_id="c"
        )
    with pytest.raises(OkxInvalidInputError, match="time zone"):
        OkxTransactionsToSqlOperator(
            task_id="t", wallets=[COLD], chains="1", sql_conn_id="c", begin="2026-11-01T00:00"
        )
    with pytest.raises(OkxInvalidInputError, match="overlap"):
        OkxTransactionsToSqlOperator(task_id="t", wallets=[COLD], chains="1", sql_conn_id="c", overlap=-1)


def test_chains_of_a_wallet_are_asked_together_by_watermark(db):
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    history = History(
        [record(COLD, n) for n in range(3)] + [record(COLD, n, chain="8453") for n in range(3, 5)]
    )
    run(loader(conn_id, table, history, wallets=[COLD], chains="1,8453,42161"))
    assert history.calls == [(COLD, ("1", "8453", "42161"), None, None)]  # one request for all
    assert len(rows(table)) == 5
    history.calls.clear()
    run(loader(conn_id, table, history, wallets=[COLD], chains="1,8453,42161"))
    # 42161 has no row: from the start; 1 and 8453 (watermarks 2 h apart): together, from the
    # earlier one minus the overlap
    assert history.calls == [
        (COLD, ("42161",), None, None),
        (COLD, ("1", "8453"), START + datetime.timedelta(hours=2) - DEFAULT_OVERLAP, None),
    ]
    assert len(rows(table)) == 5


# --- over the simulator (real HTTP) ----------------------------------------------------------


def test_idempotent_and_incremental_over_the_simulator(okx_simulator_connection, db):
    sim = okx_simulator_connection
    conn_id, rows = db
    table = f"okx_tx_t{next(_tables)}"
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    sim.set_now(now)
    for n in range(45):  # more than two pages of one chain (20 a page), two chains
        when = now - datetime.timedelta(days=10) + datetime.timedelta(hours=n)
        sim.add_transaction(COLD, "1" if n % 3 else "8453", "", f"0.{n + 1:018d}", "in", time=when)
    sim.add_transaction(COLD, "1", "", "0.5", "out", time=now - datetime.timedelta(days=1), fee="0.000021")

    def load() -> dict[str, Any]:
        operator = OkxTransactionsToSqlOperator(
            task_id="load", sql_conn_id=conn_id, table=table, wallets={"cold": COLD}, chains="1,8453"
        )
        return run(operator)

    first = load()
    assert (first["records"], first["inserted"]) == (46, 46)
    assert len(rows(table)) == 46
    fee = [
        dict(zip(COLUMNS, r, strict=True)) for r in rows(table) if str(r[COLUMNS.index("direction")]) == "out"
    ]
    assert Decimal(str(fee[0]["tx_fee"])) == Decimal("0.000021") and Decimal(
        str(fee[0]["amount"])
    ) == Decimal("0.5")
    before = sim.count(endpoint="transactions")
    again = load()
    assert again["inserted"] == 0 and len(rows(table)) == 46  # a rerun adds no row
    assert sim.count(endpoint="transactions") - before <= 2  # from the watermark: one short window
    late = now + datetime.timedelta(minutes=30)
    sim.set_now(late)
    sim.add_transaction(COLD, "8453", "", "3", "in", time=late - datetime.timedelta(minutes=5))
    third = load()
    assert third["inserted"] == 1 and len(rows(table)) == 47


# --- table names as the balances loader takes them: keywords quoted, schemas, first loads at once --


@pytest.mark.parametrize("keyword", ["order", "select", "Group"])
def test_sql_keyword_tables_work(db, keyword, postgres_server):  # noqa: F811
    conn_id, rows = db
    if conn_id == "okx_tx_pg":
        postgres_server.query(f'DROP TABLE IF EXISTS "{keyword.lower()}"')
    history = History([record(COLD, n) for n in range(5)])
    assert run(loader(conn_id, keyword, history))["inserted"] == 5
    assert run(loader(conn_id, keyword, history))["inserted"] == 0  # a rerun adds no row
    quoted = f'"{keyword.lower()}"' if conn_id == "okx_tx_pg" else f'"{keyword}"'
    assert len(rows(quoted)) == 5


def test_schema_qualified_table_in_sqlite(lite):
    conn_id, rows = lite
    history = History([record(COLD, n) for n in range(4)])
    assert run(loader(conn_id, "main.okx_tx_schema", history))["inserted"] == 4  # CREATE INDEX main.<idx>
    assert run(loader(conn_id, "main.okx_tx_schema", history))["inserted"] == 0
    assert len(rows("main.okx_tx_schema")) == 4


def test_sql_keyword_refused_before_any_request_on_other_databases(tmp_path, monkeypatch):
    """Where identifiers are not quoted (any other database), a keyword fails before OKX is asked."""
    from airflow_provider_okx.transfers import sql

    path = tmp_path / "generic.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_TX_GENERIC", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    monkeypatch.setitem(sql.DIALECTS, "sqlite", sql.GENERIC)  # a database whose names are not quoted
    history = History([record(COLD, 1)])
    with pytest.raises(OkxInvalidInputError, match="SQL keyword"):
        run(loader("okx_tx_generic", "order", history))
    assert history.calls == []


def test_concurrent_first_loads_into_a_new_postgres_table(postgres_server, pg):  # noqa: F811
    """Four first loads at once into a table that does not exist: all succeed (two concurrent
    CREATE TABLE IF NOT EXISTS collide on pg_type without the advisory lock), one copy of the rows."""

    conn_id, rows = pg
    table = f"okx_tx_first{next(_tables)}"
    postgres_server.query(f"DROP TABLE IF EXISTS {table}")
    records = [record(COLD, n) for n in range(6)]
    assert run_at_once(lambda: run(loader(conn_id, table, History(records))), 4) == []  # all at once
    assert len(rows(table)) == 6
