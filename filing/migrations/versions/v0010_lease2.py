"""The end of an entrustment (委托终止/撤销): the authority records that the owners' entrustment
of a unit to a rental enterprise ended or was revoked, in an append-only table of its own so
that the entrustment as recorded and its end are both kept."""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, Text

from ledger.schema import append_only

revision = "0010_lease2"
down_revision = "0009e_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    m = MetaData()
    ends = Table(
        "lease_entrustment_ends",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("reference", Text, nullable=False, unique=True),
        Column("ended_on", Date, nullable=False),
        Column("reason", Text, nullable=False),
        Column("recorded_by", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    m.create_all(conn, tables=[ends], checkfirst=False)
    append_only(conn, [ends])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
