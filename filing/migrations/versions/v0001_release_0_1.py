"""Baseline: the schema of release 0.1 (commit f6f0762), the last made without migrations.

Every table of the log, the filing domain, the department extracts and the API, with
their keys, indexes and the database's append-only rules, as that release's
``create_all`` calls made them (``filing.migrations.frozen``). A database that release
made is not created again: ``wangqian admin migrate`` checks it matches and stamps it.
"""

from __future__ import annotations

from alembic import op

from filing.migrations import frozen
from ledger.schema import append_only

revision = "0001_release_0_1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    frozen.RELEASE_0_1.create_all(conn, checkfirst=False)
    tables = frozen.RELEASE_0_1.tables
    append_only(conn, [tables[name] for name in frozen.RELEASE_0_1_APPEND_ONLY])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
