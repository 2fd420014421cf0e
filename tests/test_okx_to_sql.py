"""``OkxBalancesToSqlOperator`` against a real PostgreSQL server and SQLite.

The PostgreSQL server is started by the suite on loopback (``tests/postgres_server.py``);
balances come from the OKX simulator over real HTTP. The seed wallet's 31 rows must read back
from each database equal to OKX's documented strings, digit for digit.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.glue.compat import AirflowFailException
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.testing import SEED_ADDRESS, OkxSimulator
from airflow_provider_okx.transfers.okx_to_sql import (
    COLUMNS,
    GENERIC,
    POSTGRES,
    SQLITE,
    OkxBalancesToSqlOperator,
    dialect_for,
)
from tests.concurrent_runs import run_at_once
from tests.postgres_server import PostgresServer, postgres_server, sqlstate  # noqa: F401 (fixture)
from tests.test_dags import ROOT

SEED = json.loads((ROOT / "airflow_provider_okx" / "testing" / "seed_example.json").read_text())
SEED_TOKENS: list[dict[str, Any]] = SEED["response"]["data"][0]["tokenAssets"]
HOT = "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063"
SOL = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
DAY = "2026-11-23"

_tables = itertools.count()


def fresh_table() -> str:
    """A table name of its own for each test (they share one PostgreSQL database)."""
    return f"okx_balances_t{next(_tables)}"


def load(conn_id: str, table: str, *, ds: str = DAY, **kwargs: Any) -> int:
    kwargs.setdefault("wallets", {"treasury-cold": SEED_ADDRESS})
    kwargs.setdefault("chains", "1")
    operator = OkxBalancesToSqlOperator(task_id="load", sql_conn_id=conn_id, table=table, **kwargs)
    # Airflow 2's guard against calling execute() outside a task keeps its state per thread and
    # breaks in other threads: the concurrency test calls the operator's own method.
    execute = getattr(OkxBalancesToSqlOperator.execute, "__wrapped__", OkxBalancesToSqlOperator.execute)
    return execute(operator, {"ds": ds})


# --- the databases ---------------------------------------------------------------------------


@pytest.fixture
def pg(postgres_server: PostgresServer, monkeypatch):  # noqa: F811 (the fixture above)
    monkeypatch.setenv("AIRFLOW_CONN_OKX_WAREHOUSE_PG", postgres_server.uri())
    return "okx_warehouse_pg"


def pg_rows(server: PostgresServer, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[tuple]:
    return server.query(
        f"SELECT {', '.join(COLUMNS)} FROM {table} {where} ORDER BY address, chain_index, token_address",
        params,
    )


@pytest.fixture
def lite(tmp_path, monkeypatch):
    path = tmp_path / "warehouse" / "okx.sqlite"
    path.parent.mkdir()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_WAREHOUSE_LITE", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return "okx_warehouse_lite", path


def lite_rows(path: Path, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {table} {where} ORDER BY address, chain_index, token_address",
            params,
        ).fetchall()


def seed_by_token() -> dict[str, dict[str, Any]]:
    return {t["tokenAddress"]: t for t in SEED_TOKENS}


# --- exact: the documented example, digit for digit ----------------------------------------------


def test_seed_wallet_exact_in_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    table = fresh_table()
    assert load(pg, table) == 31
    rows = pg_rows(postgres_server, table)
    assert len(rows) == 31
    expected = seed_by_token()
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        okx = expected[record["token_address"]]
        assert str(record["snapshot_date"]) == DAY
        assert (record["wallet_label"], record["address"]) == ("treasury-cold", SEED_ADDRESS.lower())
        assert (record["chain_index"], record["symbol"]) == ("1", okx["symbol"])
        for column, field in (("balance", "balance"), ("token_price", "tokenPrice")):
            value = record[column]
            assert isinstance(value, Decimal), column  # NUMERIC, never a double
            assert Fraction(value) == Fraction(okx[field])
            assert format(value, "f") == okx[field]  # NUMERIC keeps OKX's digits and scale
        assert Fraction(record["usd_value"]) == Fraction(okx["balance"]) * Fraction(okx["tokenPrice"])
        assert record["is_risk_token"] is False
        assert record["fetched_at"].tzinfo is not None
    # the hard case of the design notes: 47042180.520700015 x 0.968391562089677097, not rounded
    pt = next(r for r in rows if r[COLUMNS.index("symbol")] == "PT-sUSDE-27FEB2025")
    assert format(pt[COLUMNS.index("usd_value")], "f") == "45555250.678545267044919755753056455"
    types = dict(
        postgres_server.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)
        )
    )
    assert types["balance"] == types["token_price"] == types["usd_value"] == "numeric"
    assert types["snapshot_date"] == "date" and types["is_risk_token"] == "boolean"


def test_seed_wallet_exact_in_sqlite(okx_simulator_connection, lite):
    conn_id, path = lite
    assert load(conn_id, "okx_balances") == 31
    rows = lite_rows(path, "okx_balances")
    expected = seed_by_token()
    assert len(rows) == 31
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        okx = expected[record["token_address"]]
        assert record["snapshot_date"] == DAY
        assert (record["balance"], record["token_price"]) == (okx["balance"], okx["tokenPrice"])  # text
        assert Fraction(record["usd_value"]) == Fraction(okx["balance"]) * Fraction(okx["tokenPrice"])
        assert record["is_risk_token"] == 0
        assert record["fetched_at"].endswith("Z")
    with sqlite3.connect(path) as conn:
        stored = conn.execute(
            "SELECT DISTINCT typeof(balance), typeof(token_price) FROM okx_balances"
        ).fetchall()
        assert stored == [("text", "text")]  # never REAL
        indexes = [r[1] for r in conn.execute("PRAGMA index_list(okx_balances)").fetchall()]
        assert "okx_balances_snapshot_idx" in indexes


# --- idempotent ------------------------------------------------------------------------------


def test_rerun_and_backfill_never_duplicate_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    sim: OkxSimulator = okx_simulator_connection
    table = fresh_table()
    wallets = {"treasury-cold": SEED_ADDRESS, "treasury-hot": HOT}
    first = load(pg, table, wallets=wallets)
    assert first > 31
    assert load(pg, table, wallets=wallets) == first  # rerun of the same date
    assert len(pg_rows(postgres_server, table)) == first
    load(pg, table, wallets=wallets, ds="2026-11-22")  # a backfill of the day before
    assert len(pg_rows(postgres_server, table)) == 2 * first
    # a rerun sees today's balances and replaces that date's rows only
    sim.set_balance(SEED_ADDRESS, 1, "", "1.5")
    load(pg, table, wallets=wallets)
    eth = pg_rows(
        postgres_server, table, "WHERE token_address = '' AND address = %s", (SEED_ADDRESS.lower(),)
    )
    assert [(str(r[0]), format(r[COLUMNS.index("balance")], "f")) for r in eth] == [
        ("2026-11-22", "8.135546539084933"),
        (DAY, "1.5"),
    ]
    assert len(pg_rows(postgres_server, table)) == 2 * first
    # another wallet set on the same date leaves these wallets' rows alone
    load(pg, table, wallets={"sol": SOL}, chains="501")
    assert len(pg_rows(postgres_server, table, "WHERE address = %s", (SOL,))) > 0
    assert len(pg_rows(postgres_server, table, "WHERE address <> %s", (SOL,))) == 2 * first
    # the address is the wallet's identity: a checksummed spelling replaces, never duplicates
    load(
        pg,
        table,
        wallets={"treasury-cold": SEED_ADDRESS.lower(), "treasury-hot": HOT.upper().replace("0X", "0x")},
    )
    assert len(pg_rows(postgres_server, table, "WHERE address <> %s", (SOL,))) == 2 * first


def test_rerun_never_duplicates_sqlite(okx_simulator_connection, lite):
    conn_id, path = lite
    for _ in range(3):
        assert load(conn_id, "okx_balances") == 31
    assert len(lite_rows(path, "okx_balances")) == 31
    load(conn_id, "okx_balances", ds="2026-11-24")
    with sqlite3.connect(path) as conn:
        counts = conn.execute(
            "SELECT snapshot_date, COUNT(*) FROM okx_balances GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert counts == [(DAY, 31), ("2026-11-24", 31)]


def test_concurrent_loads_of_one_date_never_duplicate_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    table = fresh_table()
    assert load(pg, table) == 31
    # slow every insert down so that two loads overlap inside the database
    postgres_server.query(
        "CREATE OR REPLACE FUNCTION okx_slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$"
    )
    postgres_server.query(
        f"CREATE TRIGGER slow BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION okx_slow()"
    )
    assert run_at_once(lambda: load(pg, table, batch_size=5), 3, together=False) == []
    assert len(pg_rows(postgres_server, table)) == 31


def test_failed_insert_keeps_the_previous_rows_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    sim: OkxSimulator = okx_simulator_connection
    table = fresh_table()
    load(pg, table)
    before = pg_rows(postgres_server, table)
    # the database refuses one row of the rerun, after the delete and several batches went through
    postgres_server.query(f"ALTER TABLE {table} ADD CONSTRAINT no_boom CHECK (symbol <> 'BOOM')")
    sim.set_balance(SEED_ADDRESS, 1, "0x" + "b0" * 20, "1", price="1", symbol="BOOM")
    sim.set_balance(SEED_ADDRESS, 1, "", "999")
    with pytest.raises(Exception) as info:
        load(pg, table, batch_size=4)
    assert sqlstate(info.value) == "23514"  # check_violation, from the server
    assert pg_rows(postgres_server, table) == before


def test_failed_insert_keeps_the_previous_rows_sqlite(okx_simulator_connection, lite):
    sim: OkxSimulator = okx_simulator_connection
    conn_id, path = lite
    load(conn_id, "okx_balances")
    before = lite_rows(path, "okx_balances")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER no_boom BEFORE INSERT ON okx_balances WHEN NEW.symbol = 'BOOM' "
            "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
        )
    sim.set_balance(SEED_ADDRESS, 1, "0x" + "b0" * 20, "1", price="1", symbol="BOOM")
    sim.set_balance(SEED_ADDRESS, 1, "", "999")
    with pytest.raises(sqlite3.IntegrityError, match="boom refused"):
        load(conn_id, "okx_balances", batch_size=4)
    assert lite_rows(path, "okx_balances") == before


def test_a_failed_fetch_touches_nothing(okx_simulator_connection, lite):
    from airflow_provider_okx.testing import Fault

    sim: OkxSimulator = okx_simulator_connection
    conn_id, path = lite
    load(conn_id, "okx_balances")
    before = lite_rows(path, "okx_balances")
    sim.inject(Fault(status=401, code="50113", msg="Invalid Sign", times=None))
    with pytest.raises(Exception, match="50113"):
        load(conn_id, "okx_balances")
    assert lite_rows(path, "okx_balances") == before


# --- mapped snapshots (balances=) ---------------------------------------------------------------


def snapshot(address: Any, chains: str = "1,8453") -> dict[str, Any]:
    return OkxTokenBalancesOperator(task_id="b", address=address, chains=chains).execute({})


def test_mapped_snapshots_with_labels_and_fetch_times(okx_simulator_connection, lite):
    conn_id, path = lite
    snaps = [snapshot(SEED_ADDRESS), snapshot([HOT])]
    wallets = {"cold": SEED_ADDRESS, "hot": HOT}
    count = load(conn_id, "okx_balances", wallets=wallets, chains="1,8453", balances=snaps)
    rows = lite_rows(path, "okx_balances")
    assert count == len(rows) == sum(s["token_count"] for s in snaps)
    labels = {r[COLUMNS.index("address")]: r[COLUMNS.index("wallet_label")] for r in rows}
    assert labels == {SEED_ADDRESS.lower(): "cold", HOT: "hot"}
    fetched = {r[COLUMNS.index("address")]: r[COLUMNS.index("fetched_at")] for r in rows}
    assert fetched == {SEED_ADDRESS.lower(): snaps[0]["fetched_at"], HOT: snaps[1]["fetched_at"]}
    total = sum(Fraction(r[COLUMNS.index("usd_value")]) for r in rows)
    assert total == sum(Fraction(s["total_usd"]) for s in snaps)
    # the sim was asked once per wallet: the loader did not fetch again
    assert okx_simulator_connection.count(endpoint="all_token_balances") == 2


def test_incomplete_snapshots_fail_before_the_database(okx_simulator_connection, lite):
    conn_id, path = lite
    from airflow_provider_okx.glue.compat import AirflowFailException

    snaps = [snapshot(SEED_ADDRESS)]
    # Invalid input is permanent: the task fails at once, the input error as its cause.
    with pytest.raises(AirflowFailException, match="no snapshot for these wallets") as info:
        load(conn_id, "okx_balances", wallets=[SEED_ADDRESS, HOT], chains="1,8453", balances=snaps)
    assert isinstance(info.value.__cause__, OkxInvalidInputError)
    with pytest.raises(AirflowFailException, match="other chains"):
        load(conn_id, "okx_balances", wallets=[SEED_ADDRESS], chains="1", balances=snaps)
    with sqlite3.connect(path) as conn:  # not even the table was created
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


# --- inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table", ["okx; DROP TABLE x", "okx balances", "1okx", "a.b.c.d", "okx.", '"okx"', "okx--", ""]
)
def test_table_names_are_plain_identifiers(table):
    with pytest.raises(OkxInvalidInputError) as info:
        OkxBalancesToSqlOperator(task_id="t", sql_conn_id="x", table=table, wallets=[HOT], chains="1")
    assert info.value.field == "table"


def test_templated_table_is_checked_at_run_time(okx_simulator_connection, lite):
    conn_id, path = lite
    operator = OkxBalancesToSqlOperator(
        task_id="t", sql_conn_id=conn_id, table="{{ params.table }}", wallets=[SEED_ADDRESS], chains="1"
    )
    operator.table = "x;DELETE FROM okx_balances"  # what a rendered template could hold
    with pytest.raises(AirflowFailException) as info:  # an input error: no task retry spent on it
        operator.execute({"ds": DAY})
    assert isinstance(info.value.__cause__, OkxInvalidInputError) and info.value.__cause__.field == "table"
    assert okx_simulator_connection.count() == 0  # refused before any request
    operator.table = "analytics_okx"
    assert operator.execute({"ds": DAY}) == 31
    assert len(lite_rows(path, "analytics_okx")) == 31


def test_snapshot_date_default_explicit_and_invalid(okx_simulator_connection, lite):
    conn_id, path = lite
    load(conn_id, "okx_balances", snapshot_date="2025-12-31")
    assert {r[0] for r in lite_rows(path, "okx_balances")} == {"2025-12-31"}
    with pytest.raises(OkxInvalidInputError) as info:
        OkxBalancesToSqlOperator(
            task_id="t", sql_conn_id=conn_id, wallets=[HOT], chains="1", snapshot_date="31/12/2025"
        )
    assert info.value.field == "snapshot_date"
    import pendulum

    operator = OkxBalancesToSqlOperator(task_id="t", sql_conn_id=conn_id, wallets=[SEED_ADDRESS], chains="1")
    operator.execute({"logical_date": pendulum.datetime(2026, 2, 3, 23, 30, tz="America/New_York")})
    assert "2026-02-04" in {r[0] for r in lite_rows(path, "okx_balances")}  # the UTC date


def test_a_non_sql_connection_is_refused(okx_simulator_connection, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", okx_simulator_connection.connection_json())
    with pytest.raises(AirflowFailException, match="not a SQL database") as info:
        load("not_sql", "okx_balances")
    assert isinstance(info.value.__cause__, OkxInvalidInputError)
    assert okx_simulator_connection.count() == 0  # refused before the fetch


def test_dialects():
    assert dialect_for("postgres") is POSTGRES and dialect_for("sqlite") is SQLITE
    assert dialect_for("snowflake") is GENERIC and dialect_for(None) is GENERIC
    (create,) = GENERIC.create_statements("analytics.okx_balances")
    assert "NUMERIC" not in create and "balance TEXT" in create and "usd_value TEXT" in create
    create, index = POSTGRES.create_statements("analytics.okx_balances")
    assert "balance NUMERIC NOT NULL" in create
    assert index == (
        'CREATE INDEX IF NOT EXISTS "okx_balances_snapshot_idx" '
        'ON "analytics"."okx_balances" (snapshot_date, address)'
    )
    (_, index) = SQLITE.create_statements("main.okx_balances")  # SQLite: the schema is the index's
    assert index == (
        'CREATE INDEX IF NOT EXISTS "main"."okx_balances_snapshot_idx" '
        'ON "okx_balances" (snapshot_date, address)'
    )
    assert GENERIC.amount(Decimal("1E-18")) == "0.000000000000000001"  # text is plain, never 1E-18


# --- parse time, provider info, the example DAG -----------------------------------------------------


def test_importing_the_operator_loads_no_database_code():
    code = (
        "import sys\n"
        "import airflow_provider_okx.operators.report\n"  # what a DAG with the report loads anyway
        "before = set(sys.modules)\n"
        "import airflow_provider_okx.transfers.okx_to_sql\n"
        "new = set(sys.modules) - before\n"
        "drivers = ['psycopg', 'psycopg2', 'airflow.providers.common.sql.hooks.sql',\n"
        "           'airflow.providers.postgres.hooks.postgres', 'airflow.providers.sqlite.hooks.sqlite']\n"
        "heavy = [m for m in drivers if m in new]\n"  # Airflow 3.1 itself loads psycopg2 at start
        "heavy += sorted(m for m in new if m.split('.')[0] in ('requests', 'httpx', 'sqlalchemy')\n"
        "                or m.startswith(('airflow_provider_okx.hooks', 'airflow_provider_okx.testing')))\n"
        "print(','.join(heavy) or '-')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1:] == ["-"], result.stdout + result.stderr[-2000:]


def test_provider_info_registers_the_transfer():
    import airflow
    import jsonschema

    from airflow_provider_okx import get_provider_info

    info = get_provider_info()
    assert info["transfers"] == [
        {
            "source-integration-name": "OKX Web3",
            "target-integration-name": "Common SQL",
            "python-module": "airflow_provider_okx.transfers.okx_to_sql",
        }
    ]
    schema_path = Path(airflow.__file__).with_name("provider_info.schema.json")
    if schema_path.exists():
        jsonschema.validate(info, json.loads(schema_path.read_text()))


def test_a_refused_key_fails_the_load_at_once_and_touches_nothing(okx_simulator, monkeypatch, lite):
    from airflow_provider_okx.glue.compat import AirflowFailException

    conn_id, path = lite
    bad = json.loads(okx_simulator.connection_json(rate_limit_rps=0))
    bad["password"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", json.dumps(bad))
    with pytest.raises(AirflowFailException, match="50113"):  # no task retries spent on it
        load(conn_id, fresh_table())
    assert okx_simulator.count() == 1
    assert not path.exists()  # nothing was written


# --- trust, round two: table names, concurrent first loads, stored addresses ----------------------


def test_schema_qualified_table_in_sqlite(okx_simulator_connection, lite):
    conn_id, path = lite
    assert load(conn_id, "main.okx_balances") == 31  # crashed on CREATE INDEX after the fetch
    assert load(conn_id, "main.okx_balances") == 31  # and again: replaced, not duplicated
    assert len(lite_rows(path, "okx_balances")) == 31
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA main.index_list(okx_balances)")}
    assert "okx_balances_snapshot_idx" in indexes


def test_schema_qualified_table_in_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    postgres_server.query("CREATE SCHEMA IF NOT EXISTS analytics_t2")
    table = f"analytics_t2.{fresh_table()}"
    assert load(pg, table) == 31
    assert load(pg, table.upper()) == 31  # unquoted names fold to lower case: the same table
    assert len(pg_rows(postgres_server, table)) == 31
    schema, name = table.split(".")
    (index,) = postgres_server.query(
        "SELECT schemaname FROM pg_indexes WHERE tablename = %s AND indexname = %s",
        (name, f"{name}_snapshot_idx"),
    )
    assert index == (schema,)


@pytest.mark.parametrize("keyword", ["order", "select", "Group"])
def test_sql_keyword_tables_work_in_sqlite(okx_simulator_connection, lite, keyword):
    conn_id, path = lite
    assert load(conn_id, keyword) == 31
    assert len(lite_rows(path, f'"{keyword}"')) == 31


def test_sql_keyword_table_works_in_postgres(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    postgres_server.query('DROP TABLE IF EXISTS "order"')
    assert load(pg, "order") == 31
    assert load(pg, "ORDER") == 31  # the same table, replaced
    assert len(pg_rows(postgres_server, '"order"')) == 31


def test_sql_keyword_refused_before_the_fetch_on_other_databases(okx_simulator_connection, lite, monkeypatch):
    """Where identifiers are not quoted (any other database), a keyword fails before OKX is asked."""
    conn_id, _ = lite
    monkeypatch.setattr("airflow_provider_okx.transfers.sql.dialect_for", lambda conn_type: GENERIC)
    with pytest.raises(AirflowFailException, match="SQL keyword") as info:
        load(conn_id, "order")
    assert info.value.__cause__.field == "table"
    assert okx_simulator_connection.count() == 0
    assert GENERIC.check("okx_balances") == "okx_balances"
    with pytest.raises(OkxInvalidInputError):
        POSTGRES.check("db.schema.okx_balances")  # PostgreSQL takes name or schema.name


def test_concurrent_first_loads_into_a_new_postgres_table(okx_simulator_connection, postgres_server, pg):  # noqa: F811
    """Two first loads at once: both succeed (CREATE TABLE ran before the lock and collided on
    pg_type), and the table holds one copy of the rows."""

    table = fresh_table()
    postgres_server.query(f"DROP TABLE IF EXISTS {table}")
    assert run_at_once(lambda: load(pg, table), 4) == []  # all four start their load together
    assert len(pg_rows(postgres_server, table)) == 31


BECH32_UPPER = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"  # BIP-173's valid upper-case vector


def test_upper_case_bech32_is_stored_as_written(okx_simulator_connection, lite):
    conn_id, path = lite
    rows = load(
        conn_id,
        "okx_balances",
        wallets={"btc": BECH32_UPPER, "evm": HOT.upper().replace("0X", "0x")},
        chains="0,1",
    )
    assert rows > 0
    stored = {r[2] for r in lite_rows(path, "okx_balances")}
    assert stored == {BECH32_UPPER, HOT}  # 0x hex lower-cased (its identity), bech32 as written
    assert load(conn_id, "okx_balances", wallets={"btc": BECH32_UPPER, "evm": HOT}, chains="0,1") == rows
    assert len(lite_rows(path, "okx_balances")) == rows  # a rerun replaces, never duplicates


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exclude_risk_tokens", "false "),
        ("create_table", "FALSE"),
        ("exclude_risk_tokens", "no"),
        ("create_table", "0"),
        ("create_table", None),
        ("batch_size", "4.0"),
        ("batch_size", 0),
        ("batch_size", 10**20),
        ("max_workers", "4"),
        ("max_workers", 2.5),
        ("max_workers", -1),
        ("max_workers", 0),
    ],
)
def test_flags_and_counts_are_parsed_strictly(field, value):
    kwargs = {"task_id": "t", "sql_conn_id": "x", "wallets": [HOT], "chains": "1", field: value}
    accepted = {"false ": False, "FALSE": False, "4": 4}
    if value in accepted:
        assert getattr(OkxBalancesToSqlOperator(**kwargs), field) == accepted[value]
        return
    with pytest.raises(OkxInvalidInputError) as info:
        OkxBalancesToSqlOperator(**kwargs)
    assert info.value.field == field


def test_rendered_input_errors_fail_fast(okx_simulator_connection, lite):
    """After templating, an input error fails the task at once (no retries), before any request."""
    conn_id, _ = lite
    operator = OkxBalancesToSqlOperator(
        task_id="t", sql_conn_id=conn_id, wallets="{{ params.w }}", chains="{{ params.c }}"
    )
    for wallets, chains, field in [
        (f'{{"a": "{HOT}", "a": "{SEED_ADDRESS}"}}', "1", "wallets"),
        ([HOT], "middle-earth", "chains"),
        ("0xnot-an-address", "1", "wallets"),
    ]:
        operator.wallets, operator.chains = wallets, chains
        with pytest.raises(AirflowFailException) as info:
            operator.execute({"ds": DAY})
        assert info.value.__cause__.field == field
    assert okx_simulator_connection.count() == 0


def test_a_long_write_logs_progress_then_one_closing_line(okx_simulator_connection, lite, monkeypatch):
    """A controlled clock that moves 4 s per reading: a progress line every few batches, the
    closing line with the write time; nothing per row."""
    import logging

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    now = [0.0]

    def clock() -> float:
        now[0] += 4.0
        return now[0]

    monkeypatch.setattr(OkxBalancesToSqlOperator, "_monotonic", staticmethod(clock))
    conn_id, _ = lite
    operator = OkxBalancesToSqlOperator(
        task_id="load", sql_conn_id=conn_id, wallets={"cold": SEED_ADDRESS}, chains="1", batch_size=5
    )
    logger = logging.getLogger("test_okx_to_sql.progress")
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.addHandler(lines)
    # The task logger Airflow would give it, capturable on every version.
    monkeypatch.setattr(OkxBalancesToSqlOperator, "log", property(lambda self: logger))
    execute = getattr(OkxBalancesToSqlOperator.execute, "__wrapped__", OkxBalancesToSqlOperator.execute)
    assert execute(operator, {"ds": DAY}) == 31
    progress = [line for line in lines.lines if line.startswith("Loading into okx_balances: ")]
    # 7 batches of 5 rows, 4 s per batch: a line every third batch or so, never per batch.
    assert 1 <= len(progress) < 7
    assert all("/31 rows (" in line and "ETA" in line and "requests" not in line for line in progress)
    assert lines.lines[-1].startswith("31 rows for 1 wallet(s) on 1 chain(s) loaded into okx_balances")
    assert lines.lines[-1].endswith(" s")
