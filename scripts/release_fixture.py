"""Make tests/fixtures/release-0.1/: databases exactly as release 0.1 made them.

Release 0.1 (commit f6f0762) is the last release made without schema migrations. This
script takes that commit's tree (``git archive``, no worktree), runs its own
``wangqian demo`` with it on SQLite and on PostgreSQL (the sample project loaded, a
contract filed, another filed and cancelled by agreement, the histories anchored, two
witnesses cosigning), and dumps each database, schema and data, as that dialect's tool
writes it (SQLite's ``iterdump``, ``pg_dump --inserts``):

* ``sqlite.sql.xz``, ``postgresql.sql.xz``: the dumps, in load order (tables, rows,
  then indexes, constraints and triggers). The PostgreSQL one names no schema: it
  loads into the first schema of the search path (the test's own).
* ``meta.json``: the commit, what was filed, and the log's verifier key (the old
  checkpoints are signed by it; the fixture carries no private key, so a test opens
  the database with a data directory of its own and new keys).

tests/test_migrations.py loads them, checks that ``serve`` refuses the database, runs
``wangqian admin migrate`` and files on it. The files are committed: run this again
only to make them anew (the demo's keys and times differ each run)::

    .venv/bin/python scripts/release_fixture.py [--pg postgresql://postgres@127.0.0.1:5432/test]

It needs git, pg_dump and the PostgreSQL the tests use; it runs release 0.1's code with
this virtualenv's packages (the same dependencies, alembic aside).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

REPO = Path(__file__).resolve().parents[1]
RELEASE = "f6f0762"
OUT = REPO / "tests" / "fixtures" / "release-0.1"
SCHEMA = "wangqian_release_fixture"  # the PostgreSQL schema the old demo runs in
PG_DEFAULT = os.environ.get("WANGQIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def old_tree(where: Path) -> Path:
    src = where / "src"
    src.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", RELEASE], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src


def run_old(src: Path, args: list[str], database_url: str | None) -> str:
    """Run release 0.1's command line (its code first on the path, not this checkout's)."""
    env = {k: v for k, v in os.environ.items() if k != "WANGQIAN_DATABASE_URL"}
    env["PYTHONPATH"] = str(src)
    if database_url:
        env["WANGQIAN_DATABASE_URL"] = database_url
    where = subprocess.run(
        [sys.executable, "-c", "import ledger, api.cli; print(ledger.__file__)"],
        cwd=src, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if not where.startswith(str(src)):
        raise SystemExit(f"release 0.1's code is not the one imported: {where}")
    run = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=src, env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        raise SystemExit(f"release 0.1's {args[0]} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout


def demo(src: Path, base: Path, database_url: str | None) -> tuple[str, dict[str, object]]:
    out = run_old(
        src, ["demo", "--data", str(base / "data"), "--out", str(base / "out")], database_url
    )
    trust = json.loads((base / "out" / "trust-bundle.json").read_text(encoding="utf-8"))
    story = [line for line in out.splitlines() if line.startswith(("loaded", "filed", "anchored"))]
    return out, {
        "log_vkey": trust["log"]["keys"][0]["vkey"],
        "origin": trust["log"]["origin"],
        "story": story,
    }


def dump_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump()) + "\n"


def dump_postgresql(url: str) -> str:
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    raw = subprocess.run(
        ["pg_dump", "--schema", SCHEMA, "--no-owner", "--no-privileges", "--inserts", libpq],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    lines = []
    for line in raw.splitlines():
        if line.startswith(("CREATE SCHEMA ", "SELECT pg_catalog.set_config('search_path'")):
            continue
        if line.startswith("\\"):  # psql meta-commands (\restrict in newer pg_dump)
            continue
        if line.startswith(("-- Name: ", "-- Data for Name: ")):  # they name the schema
            continue
        lines.append(line)
    dumped = "\n".join(lines) + "\n"
    # Unqualified names: the dump loads into whichever schema the search path names first.
    dumped = re.sub(rf'"?\b{SCHEMA}\b"?\.', "", dumped)
    if SCHEMA in dumped:
        raise SystemExit(f"the dump still names {SCHEMA}")
    return dumped


def write(name: str, sql: str) -> None:
    with lzma.open(OUT / name, "wt", encoding="utf-8", preset=9) as f:
        f.write(sql)
    print(f"wrote {OUT / name} ({(OUT / name).stat().st_size:,} bytes, {len(sql):,} of SQL)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=PG_DEFAULT, help="the PostgreSQL database to use")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {"release": "0.1", "made_by": "scripts/release_fixture.py"}
    with tempfile.TemporaryDirectory(prefix="wangqian-release-") as tmp:
        base = Path(tmp)
        src = old_tree(base)
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", RELEASE], check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        meta["commit"] = commit

        (base / "sqlite").mkdir()
        story, keys = demo(src, base / "sqlite", None)
        print(story)
        write("sqlite.sql.xz", dump_sqlite(base / "sqlite" / "data" / "wangqian.db"))
        meta["sqlite"] = keys

        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        try:
            url = f"{args.pg}?options=-csearch_path%3D{SCHEMA}"
            (base / "postgresql").mkdir()
            story, keys = demo(src, base / "postgresql", url)
            print(story)
            write("postgresql.sql.xz", dump_postgresql(args.pg))
            meta["postgresql"] = keys
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()
    (OUT / "meta.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {OUT / 'meta.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
