"""Maintenance funds (住宅专项维修资金): amounts due, a unit's deposits and uses.

Three append-only tables, and ``outbox.event`` widened to 32 characters for the event
stream's ``maintenance-deposited`` (21). The definitions are frozen here (an upgrade reads no live
table definition); ``filing/maintenance_schema.py`` holds the live ones and
tests/test_migrations.py keeps them equal. Filings made before have no amount due, so
their registration waits for no deposit.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.schema import append_only

revision = "0009d_maintenance_funds"
# Chained after main's 0009_contract_events when merging main (the brief said 0008; the
# lead re-chains the parallel helpers' revisions at merge).
down_revision = "0009a_rights"
branch_labels = None
depends_on = None

TABLES = ("maintenance_dues", "maintenance_events", "maintenance_uses")


def _tables() -> MetaData:
    m = MetaData()
    Table(
        "maintenance_dues",
        m,
        Column("filing_number", String(32), primary_key=True),
        Column("unit_id", Integer, nullable=False, index=True),
        Column("amount_fen", BigInteger, nullable=False),
        Column("rule_version", Text, nullable=False),
        Column("bank", Text, nullable=False),
        Column("basis", Text, nullable=False),
        Column("computed_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "maintenance_events",
        m,
        Column("log_index", BigInteger, primary_key=True, autoincrement=False),
        Column("unit_id", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("filing_number", String(32), nullable=False, index=True),
        Column("kind", String(16), nullable=False),
        Column("amount_fen", BigInteger, nullable=False),
        Column("document", LargeBinary, nullable=False),
        Column("document_sha256", String(64), nullable=False),
        Column("signature", LargeBinary),
        Column("certificate", LargeBinary),
        Column("actor", Text, nullable=False),
        Column("reference", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("unit_id", "seq", name="uq_maintenance_events_seq"),
        UniqueConstraint("kind", "actor", "reference", "unit_id", name="uq_maintenance_events_ref"),
    )
    Table(
        "maintenance_uses",
        m,
        Column("number", String(32), primary_key=True),
        Column("record", LargeBinary, nullable=False),
        Column("record_sha256", String(64), nullable=False),
        Column("recorded_by", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    return m


def upgrade() -> None:
    conn = op.get_bind()
    m = _tables()
    new = [m.tables[name] for name in TABLES]
    m.create_all(conn, tables=new, checkfirst=False)
    append_only(conn, new)
    wide, narrow = String(32), String(16)
    if conn.dialect.name == "postgresql":  # binary-compatible: no rewrite, no trigger fires
        op.alter_column(
            "outbox", "event", type_=wide, existing_type=narrow, existing_nullable=False
        )
        return
    # SQLite cannot alter a column in place: batch mode copies the table, which drops its
    # append-only triggers; they are made again over the copy (its key: ``id``).
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("event", type_=wide, existing_type=narrow, existing_nullable=False)
    append_only(conn, [Table("outbox", MetaData(), Column("id", Integer, primary_key=True))])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
