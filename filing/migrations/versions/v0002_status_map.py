"""The status map: every filing's latest event, committed in each checkpoint.

Two append-only tables (ledger/status_map.py, ledger/status_store.py). The map of an
existing log is built from its entries by the sequencer, not here: from the next
checkpoint on, every checkpoint commits to it.
"""

from __future__ import annotations

from alembic import op

from filing.migrations import frozen
from ledger.schema import append_only

revision = "0002_status_map"
down_revision = "0001_release_0_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    frozen.STATUS_MAP.create_all(conn, checkfirst=False)
    tables = frozen.STATUS_MAP.tables
    append_only(conn, [tables[name] for name in frozen.STATUS_MAP_APPEND_ONLY])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
