"""The log's tables, and the database rules that keep them append-only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite stores an INTEGER PRIMARY KEY as the row id itself: the most compact form.
_Index = BigInteger().with_variant(Integer(), "sqlite")

leaves = Table(
    "log_leaves",
    metadata,
    Column("idx", _Index, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

# Full level-0 tiles: the 256 leaf hashes of leaves [idx * 256, (idx + 1) * 256).
tiles = Table(
    "log_tiles",
    metadata,
    Column("idx", _Index, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
)

# Complete subtrees of height >= 8: (level, idx) covers leaves [idx << level, (idx + 1) << level).
nodes = Table(
    "log_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# One row per integration batch: the tree size it reached.
integrations = Table(
    "log_integrations",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
)

checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False, index=True),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
)

cosignatures = Table(
    "log_cosignatures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("checkpoint_id", Integer, ForeignKey("log_checkpoints.id"), nullable=False, index=True),
    Column("witness", Text, nullable=False),
    Column("line", Text, nullable=False),
)

# The status map (ledger/status_map.py): every node as of each map version it changed in,
# never rewritten. ``version`` is the tree size the map had then been brought to;
# ``leaf`` is a leaf's key, index and entry hash (NULL for an inner node).
map_nodes = Table(
    "log_map_nodes",
    metadata,
    Column("depth", SmallInteger, primary_key=True, autoincrement=False),
    Column("prefix", LargeBinary, primary_key=True),
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("leaf", LargeBinary, nullable=True),
    sqlite_with_rowid=False,
)

# Each tree size the map was brought to, with its root.
map_versions = Table(
    "log_map_versions",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
)

APPEND_ONLY_TABLES = (
    "log_leaves",
    "log_tiles",
    "log_nodes",
    "log_integrations",
    "log_checkpoints",
    "log_cosignatures",
    "log_map_nodes",
    "log_map_versions",
)


def install_append_only_rules(conn: Connection) -> None:
    """Make the database itself refuse UPDATE and DELETE (and TRUNCATE) on the log."""
    append_only(conn, [metadata.tables[name] for name in APPEND_ONLY_TABLES])


def append_only(conn: Connection, tables: Sequence[Table]) -> None:
    """Make the database refuse to change or remove a row of ``tables`` once written.

    SQLite: triggers refuse UPDATE and DELETE, and an INSERT whose primary key or
    unique columns match a row already there. The last is what stops ``INSERT OR
    REPLACE`` (and ``REPLACE``): its conflict resolution deletes the old row without
    firing DELETE triggers (unless recursive triggers are on, which nothing
    guarantees), then inserts the new one. PostgreSQL: UPDATE, DELETE and TRUNCATE
    are refused; its ``INSERT ... ON CONFLICT DO UPDATE`` is an UPDATE and refused too.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for table in tables:
            name = table.name
            no_update, no_delete, no_replace = trigger_names(dialect, name)
            for trigger, op in ((no_update, "UPDATE"), (no_delete, "DELETE")):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {trigger} "
                    f"BEFORE {op} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
                )
            clashes = " OR ".join(
                f"EXISTS (SELECT 1 FROM {name} WHERE "
                + " AND ".join(f"{c} = NEW.{c}" for c in key)
                + ")"
                for key in _unique_keys(table)
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {no_replace} BEFORE INSERT ON {name} "
                f"WHEN {clashes} "
                f"BEGIN SELECT RAISE(ABORT, '{name} is append-only: no row is replaced'); END"
            )
    elif dialect == "postgresql":
        # text() escapes the '%' placeholder for the driver's paramstyle.
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION wangqian_append_only() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME "
                "USING ERRCODE = 'integrity_constraint_violation'; END $$"
            )
        )
        for table in tables:
            name = table.name
            rows, truncate = trigger_names(dialect, name)
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {rows} "
                f"BEFORE UPDATE OR DELETE ON {name} "
                f"FOR EACH ROW EXECUTE FUNCTION wangqian_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {truncate} "
                f"BEFORE TRUNCATE ON {name} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION wangqian_append_only()"
            )
    else:
        raise ValueError(f"unsupported database: {dialect}")


def trigger_names(dialect: str, table: str) -> tuple[str, ...]:
    """The triggers ``append_only`` gives ``table`` on ``dialect``.

    They are part of the schema: what checks a database's schema (filing/migrations)
    expects exactly these on every append-only table.
    """
    if dialect == "sqlite":
        return (f"{table}_no_update", f"{table}_no_delete", f"{table}_no_replace")
    if dialect == "postgresql":
        return (f"{table}_append_only", f"{table}_no_truncate")
    raise ValueError(f"unsupported database: {dialect}")


def triggers(conn: Connection) -> set[tuple[str, str]]:
    """(trigger, table) of every trigger on a table of the connection's default schema."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
        ).all()
    else:
        rows = conn.exec_driver_sql(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        ).all()
    return {(str(name), str(table)) for name, table in rows}


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    """The column sets a conflicting INSERT could match: primary key, unique constraints."""
    keys = [tuple(c.name for c in table.primary_key.columns)]
    # ``table.constraints`` is a set: sorted, so that the trigger's text is the same in every
    # process (it is compared with the migrated database's).
    uniques = [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    keys += sorted(uniques)
    keys += [(c.name,) for c in table.columns if c.unique]
    keys += [tuple(c.name for c in i.columns) for i in table.indexes if i.unique]
    return list(dict.fromkeys(k for k in keys if k))
