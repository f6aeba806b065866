"""One way to open the SQL store: SQLite (embedded default) or PostgreSQL.

Writers serialise explicitly: on SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (so two writers never both read then both write); on
PostgreSQL the caller takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

WRITE = "wangqian_write"


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and a generous busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

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
        return create_engine(url, pool_pre_ping=True)
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


def try_advisory_lock(conn: Connection, lock_key: int) -> bool:
    """Take a transaction-scoped advisory lock if free (SQLite: already exclusive)."""
    if conn.dialect.name != "postgresql":
        return True
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key}).scalar()
    return bool(got)
