"""Resale filings: a registered filing no longer holds its unit.

``filings.registered_at``: when the registration that completes the filing (a new home's
不动产登记, a resale's 转移登记) was recorded; NULL while it is not. The partial unique
index ``one_active_filing_per_unit`` covers only ACTIVE filings not yet registered: a
new home's filing stays ACTIVE (in force, completed by registration) for ever, and a
resale of the same unit is filed beside it. ``filings.registration`` keeps the canonical
registration record (certificate number, day, filing number: no names) whose SHA-256 the
``registered`` log entry carries.

Rows made before: a filing whose purchase an ownership record completed is registered at
that record's time; one whose unit was registered before owners were recorded (release
0.1), at its filing time (the true moment is in the unit's history, not needed here).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_resale_filings"
down_revision = "0007_lists"
branch_labels = None
depends_on = None

_ONE_ACTIVE = "one_active_filing_per_unit"
_WHERE = "status = 'ACTIVE' AND registered_at IS NULL"


def upgrade() -> None:
    conn = op.get_bind()
    op.drop_index(_ONE_ACTIVE, table_name="filings")
    op.add_column("filings", sa.Column("registered_at", sa.DateTime(timezone=True)))
    op.add_column("filings", sa.Column("registration", sa.Text))
    conn.execute(
        sa.text(
            "UPDATE filings SET registered_at = (SELECT MAX(o.at) FROM ownerships o "
            "WHERE o.filing_number = filings.number)"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE filings SET registered_at = filed_at WHERE registered_at IS NULL "
            "AND status = 'ACTIVE' AND unit_id IN "
            "(SELECT id FROM units WHERE status = 'REGISTERED')"
        )
    )
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
