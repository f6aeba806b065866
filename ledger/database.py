"""One way to open the SQL store: SQLite (embedded default) or PostgreSQL.

Writers serialise explicitly: on SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (so two writers never both read then both write); on
PostgreSQL the caller takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

WRITE = "wangqian_write"
# Enough connections for the API's worker threads (40 by default) to wait on locks
# without waiting on the pool as well.
POOL = {"pool_size": 10, "max_overflow": 40, "pool_timeout": 60}
# A statement's parameters are the data it writes or looks for (names, ID numbers, phones):
# they stay out of exception messages, and so out of every log and answer.
SAFE = {"hide_parameters": True}


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and a generous busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, **SAFE, **POOL)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN, not the sqlite3 module.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, **SAFE, **POOL)
    raise ValueError(f"unsupported database URL (use sqlite:/// or postgresql://): {url}")


@contextmanager
def write_transaction(engine: Engine, lock_key: int | None = None) -> Iterator[Connection]:
    """A transaction that holds the database's writer lock (SQLite) or ``lock_key`` (PostgreSQL)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            if lock_key is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
            yield conn


def open_read_engine(engine: Engine) -> Engine:
    """An engine for reads of append-only data.

    On PostgreSQL it is a second pool in autocommit, which saves the BEGIN and
    ROLLBACK round trips (and the isolation-level switches) that would double
    the cost of a proof; nothing it reads ever changes once written, so a
    snapshot buys nothing. SQLite reads are local and use the engine as it is.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return create_engine(engine.url, isolation_level="AUTOCOMMIT", **SAFE)


def try_advisory_lock(conn: Connection, lock_key: int) -> bool:
    """Take a transaction-scoped advisory lock if free (SQLite: already exclusive)."""
    if conn.dialect.name != "postgresql":
        return True
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key}).scalar()
    return bool(got)


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows through the driver's fastest path (COPY on PostgreSQL).

    SQLAlchemy's per-row parameter processing costs more than the database's own
    work for the log's millions of small rows; these rows are plain tuples of
    ints and bytes, so nothing is lost by going straight to the driver.
    """
    if not rows:
        return
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def fetch(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a read written with ``?`` placeholders straight through the driver.

    The log's hot reads (a proof is a handful of tiny lookups) would otherwise spend
    most of their time building SQLAlchemy expressions of varying shape.
    """
    if conn.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    # The raw cursor of the connection's own DBAPI connection: same transaction,
    # and rows come back as plain tuples with no per-row wrapping.
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()
