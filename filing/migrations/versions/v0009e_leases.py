"""Leases (租赁备案): entrustments of units to rental enterprises, and each lease's space
and term; a lease filing is no sale, so the partial unique index that allows one active
unregistered filing per unit leaves lease filings out (a leased home may be sold)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from ledger.schema import append_only

revision = "0009e_leases"
down_revision = "0009c_invitations"
branch_labels = None
depends_on = None

_ONE_ACTIVE = "one_active_filing_per_unit"
_WHERE = "status = 'ACTIVE' AND registered_at IS NULL AND kind NOT IN ('lease', 'lease-entrusted')"


def _tables() -> MetaData:
    m = MetaData()
    Table(
        "lease_entrustments",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("reference", Text, nullable=False, unique=True),
        Column("unit_id", Integer, nullable=False, index=True),
        Column("enterprise", Text, nullable=False),
        Column("enterprise_name", Text, nullable=False),
        Column("valid_from", Date, nullable=False),
        Column("valid_until", Date, nullable=False),
        Column("recorded_by", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "leases",
        m,
        Column("contract_id", String(36), primary_key=True),
        Column("unit_id", Integer, nullable=False),
        Column("space", Text, nullable=False),
        Column("starts_on", Date, nullable=False),
        Column("ends_on", Date, nullable=False),
        Column("occupants", Integer, nullable=False),
        Column("leased_area", Numeric(10, 2), nullable=False),
        Column("rent", Numeric(14, 2), nullable=False),
        Column("filing_number", String(32), unique=True),
        Column("ended_on", Date),
        Column("end_reason", Text),
        Column("certificate_pdf", LargeBinary),
        Index("leases_by_unit", "unit_id", "starts_on"),
    )
    return m


def upgrade() -> None:
    conn = op.get_bind()
    m = _tables()
    m.create_all(conn, tables=list(m.tables.values()), checkfirst=False)
    append_only(conn, [m.tables["lease_entrustments"]])
    op.drop_index(_ONE_ACTIVE, table_name="filings")
    op.create_index(
        _ONE_ACTIVE,
        "filings",
        ["unit_id"],
        unique=True,
        sqlite_where=sa.text(_WHERE),
        postgresql_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
