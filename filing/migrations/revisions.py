"""Running the revisions: open, migrate, adopt, compare (see filing/migrations/__init__.py)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeEngine

from filing.migrations import DatabaseBehind, DatabaseNotRecognised, SchemaError, frozen
from ledger.database import write_transaction
from ledger.log import SCHEMA_LOCK
from ledger.schema import append_only, trigger_names, triggers

HERE = Path(__file__).resolve().parent
REMEDY = "run `wangqian admin migrate`"


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision: what this wangqian's code expects."""
    revision = scripts().get_current_head()
    assert revision is not None
    return revision


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if conn is not None:
        # env.py runs the revisions on this connection, inside its transaction.
        config.attributes["connection"] = conn
    return config


# The tables of the era before revisions: a database with any of them and no revision
# was made then. (Tables of other applications sharing the database are not wangqian's.)
BEFORE_REVISIONS = frozenset(frozen.RELEASE_0_1.tables) | frozenset(frozen.STATUS_MAP.tables)


@dataclass(frozen=True)
class State:
    revision: str | None  # alembic_version's, None if it has none
    tables: frozenset[str]  # those of BEFORE_REVISIONS that the database has

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.tables


def state(conn: Connection) -> State:
    revision = MigrationContext.configure(conn).get_current_revision()
    present = set(inspect(conn).get_table_names()) & BEFORE_REVISIONS
    return State(revision, frozenset(present))


def describe(engine: Engine) -> str:
    """The database's URL without its password."""
    return make_url(engine.url).render_as_string(hide_password=True)


def prepare(engine: Engine, remedy: str = REMEDY) -> None:
    """Bring an empty database to head; accept one at head; refuse any other."""
    with engine.connect() as conn:
        now = state(conn)
    if now.revision == head():
        return
    if now.empty:
        with write_transaction(engine, SCHEMA_LOCK) as conn:
            now = state(conn)  # another process may have been first
            if now.empty:
                command.upgrade(alembic_config(conn), "head")
                return
        if now.revision == head():
            return
    raise _refusal(engine, now, remedy)


def _refusal(engine: Engine, now: State, remedy: str) -> SchemaError:
    where = describe(engine)
    if now.revision is None:
        return DatabaseBehind(
            f"the database {where} predates schema revisions (release 0.1); this wangqian "
            f"needs revision {head()}: back it up, then {remedy}"
        )
    if not _known(now.revision):
        return DatabaseNotRecognised(
            f"the database {where} is at schema revision {now.revision}, which this wangqian "
            f"does not know (a newer release's?); it runs on {head()}"
        )
    return DatabaseBehind(
        f"the database {where} is at schema revision {now.revision}; this wangqian needs "
        f"{head()}: back it up, then {remedy}"
    )


def _known(revision: str) -> bool:
    return any(s.revision == revision for s in scripts().walk_revisions())


@dataclass(frozen=True)
class Migration:
    before: str | None  # the revision found (None: empty, or made before revisions)
    adopted: str | None  # the revision a database made before revisions was stamped with
    created: tuple[str, ...]  # tables such a database lacked, created on adoption
    after: str

    def lines(self) -> list[str]:
        out = []
        if self.adopted is not None:
            out.append(f"no schema revision: the tables match revision {self.adopted}; stamped")
            if self.created:
                out.append(
                    f"created what that revision has and it lacked: {', '.join(self.created)}"
                )
        before = self.adopted or self.before or "(empty)"
        if before == self.after:
            out.append(f"schema revision {self.after}: up to date")
        else:
            out.append(f"schema revision {before} -> {self.after}")
        return out


def migrate(engine: Engine) -> Migration:
    """Upgrade the database to head (``wangqian admin migrate``); idempotent.

    Every step runs in one transaction under the schema lock: on SQLite and PostgreSQL
    alike a failure leaves the database as it was.
    """
    with write_transaction(engine, SCHEMA_LOCK) as conn:
        now = state(conn)
        if now.revision is not None and not _known(now.revision):
            raise _refusal(engine, now, REMEDY)
        adopted: str | None = None
        created: tuple[str, ...] = ()
        if now.revision is None and now.tables:
            adopted, created = adopt(conn)
            command.stamp(alembic_config(conn), adopted)
        command.upgrade(alembic_config(conn), "head")
        after = MigrationContext.configure(conn).get_current_revision()
    assert after is not None
    return Migration(now.revision, adopted, created, after)


@dataclass(frozen=True)
class Shape:
    """What the database looked like at a revision of the era before migrations."""

    revision: str
    metadata: MetaData
    append_only: tuple[str, ...]


# Oldest first: a database is adopted at the first it matches.
SHAPES = (
    Shape("0001_release_0_1", frozen.RELEASE_0_1, frozen.RELEASE_0_1_APPEND_ONLY),
    # The development code between release 0.1 and migrations had the status map too.
    Shape(
        "0002_status_map",
        frozen.combined(frozen.RELEASE_0_1, frozen.STATUS_MAP),
        frozen.RELEASE_0_1_APPEND_ONLY + frozen.STATUS_MAP_APPEND_ONLY,
    ),
)


def adopt(conn: Connection) -> tuple[str, tuple[str, ...]]:
    """The revision of a database made before migrations, and the tables it lacked.

    Release 0.1 made its tables as each part first ran (the log's when the deployment
    was opened, the rest when the API first started), so a database may lack whole
    tables of its revision: they are created here as that revision would. Every table
    it has must match the revision's, with its append-only triggers; else nothing is
    changed and the differences are reported (DatabaseNotRecognised).
    """
    known = set(BEFORE_REVISIONS)
    reasons = []
    for shape in SHAPES:
        problems, missing = compare(conn, shape.metadata, shape.append_only, known)
        if not problems:
            tables = [shape.metadata.tables[name] for name in missing]
            shape.metadata.create_all(conn, tables=tables)
            append_only(conn, [t for t in tables if t.name in shape.append_only])
            return shape.revision, tuple(sorted(missing))
        reasons.append(f"not {shape.revision}: {'; '.join(problems[:5])}")
    raise DatabaseNotRecognised(
        "the database has wangqian tables but no schema revision, and does not match a "
        "release made before revisions: " + " | ".join(reasons)
    )


def compare(
    conn: Connection,
    metadata: MetaData,
    append_only_tables: Sequence[str],
    known: set[str] | None = None,
) -> tuple[list[str], list[str]]:
    """How the database differs from ``metadata``: (problems, tables it lacks entirely).

    Tables, columns, types, nullability, keys, indexes and unique constraints (Alembic's
    autogenerate comparison), and the append-only triggers of the tables it has. Tables
    named in neither ``metadata`` nor ``known`` are someone else's and not looked at.
    """
    names = set(metadata.tables) | (known or set())

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return type_ != "table" or name in names

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": include_name}
    )
    diffs = compare_metadata(context, metadata)
    missing = [d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "add_table"]
    # A table it lacks comes with its indexes: nothing more to say about them.
    problems = [
        _describe(d)
        for d in diffs
        if not (
            isinstance(d, tuple) and d[0] in ("add_table", "add_index") and _table(d) in missing
        )
    ]
    have = triggers(conn)
    dialect = conn.dialect.name
    for name in sorted(set(append_only_tables) - set(missing)):
        absent = [t for t in trigger_names(dialect, name) if (t, name) not in have]
        if absent:
            problems.append(f"{name} lacks its append-only trigger(s) {', '.join(absent)}")
    return problems, missing


def _table(diff: tuple[object, ...]) -> str | None:
    thing = diff[1]
    table = getattr(thing, "table", thing)
    name = getattr(table, "name", None)
    return name if isinstance(name, str) else None


def _describe(diff: Any) -> str:
    """One of Alembic's differences, readably: the operation and what it names."""
    steps = diff if isinstance(diff, list) else [diff]
    return ", ".join(" ".join(w for w in map(_word, step) if w) for step in steps)


def _word(thing: object) -> str:
    if thing is None or isinstance(thing, dict):
        return ""
    if isinstance(thing, TypeEngine):
        return str(thing)
    name = getattr(thing, "name", None)
    return name if isinstance(name, str) else str(thing)


def models() -> list[MetaData]:
    """The live table definitions of every table the deployment database holds.

    Head must match them (tests/test_migrations.py); ``alembic revision --autogenerate``
    compares against them.
    """
    from filing import (
        access_log,
        api_keys,
        departments,
        fund_schema,
        idempotency,
        lease_schema,
        maintenance_schema,
        schema,
    )
    from ledger import schema as ledger_schema

    assert api_keys.api_keys.metadata is access_log.metadata
    return [
        ledger_schema.metadata,
        schema.metadata,
        departments.metadata,
        fund_schema.metadata,
        maintenance_schema.metadata,
        lease_schema.metadata,
        access_log.metadata,
        idempotency.metadata,
    ]


def append_only_models() -> list[str]:
    """The tables the live code keeps append-only, as ``models`` names them."""
    from filing import (
        access_log,
        departments,
        fund_schema,
        lease_schema,
        maintenance_schema,
        schema,
    )
    from ledger import schema as ledger_schema

    return [
        *ledger_schema.APPEND_ONLY_TABLES,
        *schema.APPEND_ONLY,
        *departments.APPEND_ONLY,
        *fund_schema.APPEND_ONLY,
        *maintenance_schema.APPEND_ONLY,
        *lease_schema.APPEND_ONLY,
        *access_log.APPEND_ONLY,
    ]
