"""Fund supervision (资金监管): supervision accounts and the banks' signed statements.

Two append-only tables, written beside each fund event's log entry. The definitions are
frozen here (an upgrade reads no live table definition); ``filing/fund_schema.py`` holds
the live ones and tests/test_migrations.py keeps them equal.
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

revision = "0005_fund_supervision"
down_revision = "0004_ownership"
branch_labels = None
depends_on = None


def _tables() -> MetaData:
    m = MetaData()
    Table(
        "fund_accounts",
        m,
        Column("filing_number", String(32), primary_key=True),
        Column("bank", Text, nullable=False),
        Column("account", Text, nullable=False),
        Column("opened_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "fund_events",
        m,
        Column("log_index", BigInteger, primary_key=True, autoincrement=False),
        Column("filing_number", String(32), nullable=False, index=True),
        Column("seq", Integer, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("amount_fen", BigInteger, nullable=False),
        Column("settlement", String(16)),
        Column("statement", LargeBinary, nullable=False),
        Column("statement_sha256", String(64), nullable=False, unique=True),
        Column("signature", LargeBinary, nullable=False),
        Column("certificate", LargeBinary, nullable=False),
        Column("bank", Text, nullable=False),
        Column("bank_reference", Text, nullable=False),
        Column("booked_at", DateTime(timezone=True), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("filing_number", "seq", name="uq_fund_events_seq"),
        UniqueConstraint("filing_number", "settlement", name="uq_fund_events_settlement"),
        UniqueConstraint("bank", "bank_reference", name="uq_fund_events_bank_reference"),
    )
    return m


def upgrade() -> None:
    conn = op.get_bind()
    m = _tables()
    new = [m.tables["fund_accounts"], m.tables["fund_events"]]
    m.create_all(conn, tables=new, checkfirst=False)
    append_only(conn, new)


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
