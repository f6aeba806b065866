"""Contract events in the outbox: a party signed, a draft was withdrawn or expired.

An integrator learns that a buyer signed from its event stream or webhook instead of
polling. These events come before any filing or log entry, so ``filing_number``,
``log_index`` and ``document_sha256`` may be NULL; ``contract_id`` names the contract and
``field`` the signature field (``seller``, ``buyer-1``: no names). Rows made before are
filing events and keep their values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import append_only

revision = "0009_contract_events"
down_revision = "0008_resale_filings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot relax NOT NULL in place: batch mode copies the table.
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("filing_number", existing_type=sa.String(32), nullable=True)
        batch.alter_column("log_index", existing_type=sa.BigInteger(), nullable=True)
        batch.alter_column("document_sha256", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("contract_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("field", sa.String(32), nullable=True))
    op.create_index("ix_outbox_contract_id", "outbox", ["contract_id"])
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # The copy dropped the outbox's append-only triggers with the old table; its key is
        # all they need to know of it.
        key_only = sa.Table("outbox", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
        append_only(conn, [key_only])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
