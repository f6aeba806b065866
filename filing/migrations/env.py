"""Alembic's environment for the deployment database (see filing/migrations/__init__.py).

``wangqian admin migrate`` and ``Deployment.open`` hand it a connection inside their own
transaction (``config.attributes["connection"]``). For writing a new revision with the
``alembic`` command (docs/operations.md), it opens the database named by ``-x url=...``
or ``$WANGQIAN_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, MetaData

from filing.migrations.revisions import models
from ledger.database import open_engine, write_transaction


def run(connection: Connection, target: list[MetaData] | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=target,
        compare_type=True,
        # SQLite alters a table by copying it: a revision that changes columns says so.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("wangqian's migrations run on a database, not as an SQL script")
given = context.config.attributes.get("connection")
if given is not None:
    run(given, None)  # upgrading needs no table definitions but the revisions'
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "WANGQIAN_DATABASE_URL"
    )
    if not url:
        raise SystemExit(
            "name the database: alembic -x url=sqlite:///... (or WANGQIAN_DATABASE_URL)"
        )
    engine = open_engine(url)
    try:
        with write_transaction(engine) as conn:
            run(conn, models())  # what autogenerate compares the database with
    finally:
        engine.dispose()
