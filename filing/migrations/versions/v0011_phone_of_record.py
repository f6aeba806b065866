"""The mobile number of record in the police's identity extract: the platform sends a
party's signing invitation there, so that the drafter never holds it."""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Text

revision = "0011_phone_of_record"
down_revision = "0010_lease2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable): no batch rebuild on SQLite, nothing else touched.
    op.add_column("dept_identities", Column("phone", Text))
    op.add_column("signing_invitations", Column("sent_to", Text))


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
