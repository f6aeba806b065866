"""Schema migrations: one history for the deployment database, on SQLite and PostgreSQL.

A database made by release 0.1 (tests/fixtures/release-0.1, made by
scripts/release_fixture.py from commit f6f0762) is refused by ``serve``, adopted and
upgraded by ``wangqian admin migrate``, and files on; head is what the code defines, so
a change of a table without a revision fails here.
"""

from __future__ import annotations

import itertools
import json
import lzma
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.exc import DBAPIError

from api.cli import main
from filing.deployment import Deployment, DeploymentConfig
from filing.migrations import DatabaseBehind, DatabaseNotRecognised, frozen, revisions
from ledger import schema as ledger_schema
from ledger import witness
from ledger.audit import audit
from ledger.database import open_engine, write_transaction
from ledger.log import Log, LogSchemaError
from ledger.note import Verifier
from ledger.schema import append_only, trigger_names, triggers
from tests.conftest import pg_schema_url
from tests.helpers import BIN, free_port

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1"
META = json.loads((FIXTURE / "meta.json").read_text(encoding="utf-8"))
RELEASE_TABLES = frozenset(frozen.RELEASE_0_1.tables)


def dialect_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def load_release(url: str) -> None:
    """Load release 0.1's database, as its own dump wrote it, into ``url``'s database."""
    dialect = dialect_of(url)
    with lzma.open(FIXTURE / f"{dialect}.sql.xz", "rt", encoding="utf-8") as f:
        sql = f.read()
    if dialect == "sqlite":
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.executescript(sql)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(sql)  # no parameters: the simple protocol, many statements
    finally:
        engine.dispose()


@contextmanager
def database(url: str) -> Iterator[Engine]:
    engine = open_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def state(engine: Engine) -> revisions.State:
    with engine.connect() as conn:
        return revisions.state(conn)


def head_problems(conn: Connection) -> tuple[list[str], list[str]]:
    """How the database differs from what the code defines (tables and triggers)."""
    models = frozen.combined(*revisions.models())
    return revisions.compare(conn, models, revisions.append_only_models())


def trigger_sql(conn: Connection) -> dict[str, str]:
    """Every trigger's definition (and, on PostgreSQL, the function they all run)."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).all()
    else:
        rows = conn.exec_driver_sql(
            "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        ).all()
        rows += conn.exec_driver_sql(
            "SELECT proname, prosrc FROM pg_proc "
            "WHERE pronamespace = current_schema()::regnamespace"
        ).all()
        # Each database under test is a schema of its own, which the definitions name.
        here = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        rows = [(name, sql.replace(f" ON {here}.", " ON ")) for name, sql in rows]
    return {str(name): str(sql) for name, sql in rows}


@contextmanager
def another(url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same dialect."""
    if dialect_of(url) == "sqlite":
        yield f"sqlite:///{tmp_path / 'another.db'}"
        return
    urls = pg_schema_url()
    try:
        yield next(urls)
    finally:
        urls.close()


def models_triggers(url: str, tmp_path: Path) -> dict[str, str]:
    """The triggers of a database made straight from the code's definitions."""
    with another(url, tmp_path) as other, database(other) as engine:
        with write_transaction(engine) as conn:
            for metadata in revisions.models():
                metadata.create_all(conn)
            tables = {n: t for m in revisions.models() for n, t in m.tables.items()}
            append_only(conn, [tables[n] for n in revisions.append_only_models()])
        with engine.connect() as conn:
            return trigger_sql(conn)


# -- head is what the code defines ------------------------------------------------------


def test_head_is_what_the_code_defines(db_url: str, tmp_path: Path) -> None:
    """Alembic's autogenerate comparison finds nothing between head and the table
    definitions, and the append-only triggers are those the code installs: a model
    changed without a revision fails here."""
    with database(db_url) as engine:
        revisions.prepare(engine)
        with engine.connect() as conn:
            assert revisions.state(conn).revision == revisions.head()
            assert head_problems(conn) == ([], [])
            dialect = conn.dialect.name
            expected = {
                (trigger, table)
                for table in revisions.append_only_models()
                for trigger in trigger_names(dialect, table)
            }
            assert triggers(conn) == expected
            migrated = trigger_sql(conn)
    assert migrated == models_triggers(db_url, tmp_path)


def test_the_history_is_one_line_from_the_release_baseline() -> None:
    history = list(reversed(list(revisions.scripts().walk_revisions())))
    assert [s.revision for s in history][:2] == ["0001_release_0_1", "0002_status_map"]
    assert history[0].down_revision is None
    for before, after in itertools.pairwise(history):
        assert after.down_revision == before.revision
    assert revisions.head() == history[-1].revision


# -- a database made by release 0.1 -----------------------------------------------------


def test_a_release_database_is_refused_then_migrated_and_files_on(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dialect = dialect_of(db_url)
    load_release(db_url)
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=db_url).to_json())
    with database(db_url) as engine:
        assert state(engine) == revisions.State(None, RELEASE_TABLES)
        with engine.connect() as conn:
            before = {
                t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                for t in ("log_leaves", "log_checkpoints", "filings", "units", "contracts")
            }
    assert before["filings"] == 2 and before["log_leaves"] == 5

    # serve refuses, in one line that says what to run; so does opening the deployment.
    serve = subprocess.run(
        [str(BIN / "wangqian"), "serve", "--data", str(data), "--port", str(free_port()),
         "--insecure-dev-passphrase"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert serve.returncode == 1, serve.stdout + serve.stderr
    refusal = [line for line in serve.stderr.splitlines() if "WARNING" not in line]
    assert len(refusal) == 1, serve.stderr
    assert "predates schema revisions (release 0.1)" in refusal[0]
    assert f"run `wangqian admin migrate --data {data}`" in refusal[0]
    with pytest.raises(DatabaseBehind, match="admin migrate"):
        Deployment.open(data)
    with database(db_url) as engine:
        assert state(engine) == revisions.State(None, RELEASE_TABLES)  # nothing was changed

    # wangqian admin migrate: adopted as the baseline, upgraded to head; again, nothing to do.
    assert main(["admin", "migrate", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "the tables match revision 0001_release_0_1; stamped" in out
    assert f"schema revision 0001_release_0_1 -> {revisions.head()}" in out
    assert "password" not in out
    assert main(["admin", "migrate", "--data", str(data)]) == 0
    assert f"schema revision {revisions.head()}: up to date" in capsys.readouterr().out
    with database(db_url) as engine, engine.connect() as conn:
        assert revisions.state(conn).revision == revisions.head()
        assert head_problems(conn) == ([], [])
        upgraded = trigger_sql(conn)
    # The release's own triggers, and the new tables', are exactly what the code installs.
    assert upgraded == models_triggers(db_url, tmp_path)

    # It files on: the current demo, on this database (a data directory of its own, new keys).
    run = subprocess.run(
        [str(BIN / "wangqian"), "demo", "--data", str(data), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "loaded the sample project" not in run.stdout  # release 0.1 loaded it
    assert "verifies offline" in run.stdout
    with Deployment.open(data) as d:
        # The whole log, release 0.1's checkpoints (its key) and the new ones, audits clean.
        old_key = Verifier.from_vkey(META[dialect]["log_vkey"])
        report = audit(d.log, [old_key, *d.log_verifiers()])
        assert report.ok, report.problems
        assert report.entries > before["log_leaves"]
        # The status map was built over release 0.1's entries too.
        checkpoint = d.latest_witnessed_checkpoint()
        assert checkpoint is not None
        filed = d.status_map.status("CS-2026-000001", checkpoint).latest
        cancelled = d.status_map.status("CS-2026-000002", checkpoint).latest
        assert filed is not None and filed.index == 0
        assert cancelled is not None and cancelled.index == 2
        engine = d.log.engine
        with engine.connect() as conn:
            filings = conn.exec_driver_sql("SELECT count(*) FROM filings").scalar_one()
            map_rows = conn.exec_driver_sql("SELECT count(*) FROM log_map_nodes").scalar_one()
            cancelled_filings = conn.exec_driver_sql(
                "SELECT count(*) FROM filings WHERE status = 'CANCELLED'"
            ).scalar_one()
            resales = conn.exec_driver_sql(
                "SELECT count(*) FROM filings WHERE kind = 'resale'"
            ).scalar_one()
            leases = conn.exec_driver_sql(
                "SELECT count(*) FROM filings WHERE kind = 'lease'"
            ).scalar_one()
            stats = conn.exec_driver_sql(
                "SELECT kind, sum(filings), sum(cancellations) FROM filing_stats GROUP BY kind "
                "ORDER BY kind"
            ).all()
        assert filings > before["filings"] and map_rows > 0
        counted = [(k, int(f), int(c)) for k, f, c in stats]
        # The release's statistics are presales; the demo's resale and lease count as theirs.
        assert counted == [
            ("lease", leases, 0),
            ("new-presale", filings - resales - leases, cancelled_filings),
            ("resale", resales, 0),
        ]
        assert resales == 1 and leases == 1
        # The database still refuses to change or remove what it has written.
        for statement in (
            "UPDATE log_leaves SET data = data WHERE idx = 0",
            "DELETE FROM log_leaves WHERE idx = 0",
            "UPDATE log_checkpoints SET note = note",
            "DELETE FROM filing_events",
            "UPDATE log_map_nodes SET hash = hash",
            "DELETE FROM log_map_versions",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(statement)


def release_by_its_definitions(engine: Engine, tables: list[str] | None = None) -> None:
    """Tables (all, or some) made as release 0.1 made them, append-only rules and all."""
    chosen = [frozen.RELEASE_0_1.tables[n] for n in tables or frozen.RELEASE_0_1.tables]
    with write_transaction(engine) as conn:
        frozen.RELEASE_0_1.create_all(conn, tables=chosen)
        append_only(conn, [t for t in chosen if t.name in frozen.RELEASE_0_1_APPEND_ONLY])


@pytest.mark.parametrize(
    "tamper, reason",
    [
        ("DROP TRIGGER {no_delete}", "log_leaves lacks its append-only trigger(s)"),
        ("ALTER TABLE units ADD COLUMN extra TEXT", "remove_column units extra"),
        ("CREATE TABLE log_map_versions (size BIGINT PRIMARY KEY)", "remove_table log_map_"),
    ],
)
def test_adoption_refuses_what_the_release_did_not_make(
    db_url: str, tamper: str, reason: str
) -> None:
    with database(db_url) as engine:
        release_by_its_definitions(engine)
        dialect = engine.dialect.name
        no_delete = trigger_names(dialect, "log_leaves")[1 if dialect == "sqlite" else 0]
        suffix = " ON log_leaves" if dialect == "postgresql" else ""
        with engine.begin() as conn:
            conn.exec_driver_sql(tamper.format(no_delete=no_delete + suffix))
        with pytest.raises(DatabaseNotRecognised) as refused:
            revisions.migrate(engine)
        assert "does not match a release made before revisions" in str(refused.value)
        assert reason in str(refused.value)
        now = state(engine)
    assert now.revision is None  # nothing stamped, nothing created
    if "map" not in tamper:
        with database(db_url) as engine, engine.connect() as conn:
            assert not {"log_map_nodes", "log_map_versions"} & set(inspect(conn).get_table_names())


def test_a_release_database_that_never_served_is_completed(db_url: str) -> None:
    """Release 0.1 made the log's tables when a deployment was opened, the rest when the
    API first started: a deployment that never served has only the log's."""
    log_tables = [t for t in frozen.RELEASE_0_1.tables if t.startswith("log_")]
    with database(db_url) as engine:
        release_by_its_definitions(engine, log_tables)
        done = revisions.migrate(engine)
        assert done.adopted == "0001_release_0_1"
        assert set(done.created) == RELEASE_TABLES - set(log_tables)
        assert done.after == revisions.head()
        with engine.connect() as conn:
            assert head_problems(conn) == ([], [])


def test_a_database_of_the_development_code_before_migrations_is_adopted_at_0002(
    db_url: str,
) -> None:
    with database(db_url) as engine:
        release_by_its_definitions(engine)
        with write_transaction(engine) as conn:
            frozen.STATUS_MAP.create_all(conn)
            append_only(conn, list(frozen.STATUS_MAP.tables.values()))
        done = revisions.migrate(engine)
        assert (done.adopted, done.created) == ("0002_status_map", ())
        assert done.lines()[-1] == f"schema revision 0002_status_map -> {revisions.head()}"
        with engine.connect() as conn:
            assert head_problems(conn) == ([], [])


# -- opening a deployment ---------------------------------------------------------------


def test_a_deployment_opens_only_at_head(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    data = tmp_path / "data"
    with database(db_url) as engine, write_transaction(engine) as conn:  # left at the baseline
        command.upgrade(revisions.alembic_config(conn), "0001_release_0_1")
    with pytest.raises(DatabaseBehind, match="at schema revision 0001_release_0_1; this"):
        Deployment.open(data)
    with database(db_url) as engine:
        assert state(engine).revision == "0001_release_0_1"
        done = revisions.migrate(engine)
        assert (done.before, done.adopted, done.after) == (
            "0001_release_0_1",
            None,
            revisions.head(),
        )
    with Deployment.open(data) as d, d.log.engine.connect() as conn:
        assert revisions.state(conn).revision == revisions.head()

    with database(db_url) as engine:  # a newer release's database
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_future'")
        with pytest.raises(DatabaseNotRecognised, match="0099_future, which this wangqian"):
            Deployment.open(data)
        with pytest.raises(DatabaseNotRecognised):
            revisions.migrate(engine)


def test_an_empty_database_opened_at_once_by_several_is_made_once(db_url: str) -> None:
    engines = [open_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def open_one(engine: Engine) -> None:
        try:
            revisions.prepare(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert state(engines[0]).revision == revisions.head()
    finally:
        for e in engines:
            e.dispose()


def test_an_empty_deployment_upgrades_with_migrate_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert main(["admin", "migrate", "--data", str(data)]) == 0
    with database(f"sqlite:///{data / 'wangqian.db'}") as engine:
        assert state(engine).revision == revisions.head()
    assert main(["admin", "migrate", "--data", str(tmp_path / "nowhere")]) == 1


# -- the ledger on its own, and the witness's store ------------------------------------


def test_the_log_alone_makes_its_tables_only_in_a_database_without_them(
    db_url: str, tmp_path: Path
) -> None:
    log = Log.open(db_url)  # ledger-only use: tests, benchmarks
    log.close()
    with database(db_url) as engine, engine.connect() as conn:
        assert revisions.state(conn).revision is None
        assert set(ledger_schema.metadata.tables) <= set(inspect(conn).get_table_names())

    release_log = [t for t in frozen.RELEASE_0_1.tables if t.startswith("log_")]
    with another(db_url, tmp_path) as older:
        with database(older) as engine:
            release_by_its_definitions(engine, release_log)
        with pytest.raises(LogSchemaError, match="no log_map_nodes, log_map_versions"):
            Log.open(older)


def test_the_witness_store_keeps_release_0_1_schema() -> None:
    """The witness's own database has no history yet (docs/operations.md): its tables are
    those of release 0.1. Changing them needs a history of its own first."""
    tables = {
        name: [(c.name, str(c.type), c.nullable, c.primary_key) for c in t.columns]
        for name, t in witness.witness_state.metadata.tables.items()
    }
    assert tables == {
        "witness_state": [
            ("origin", "TEXT", False, True),
            ("size", "BIGINT", False, False),
            ("root", "BLOB", False, False),
            ("note", "TEXT", False, False),
        ],
        "witness_requests": [
            ("id", "INTEGER", False, True),
            ("origin", "TEXT", False, False),
            ("received_at", "BIGINT", False, False),
            ("outcome", "TEXT", False, False),
            ("body", "TEXT", False, False),
        ],
    }


def test_the_release_fixture_is_what_its_metadata_says() -> None:
    assert META["commit"].startswith("f6f0762")
    for dialect in ("sqlite", "postgresql"):
        assert META[dialect]["origin"] == "changsha.wangqian.example/filings"
        assert any(line.startswith("filed CS-2026-000001") for line in META[dialect]["story"])
