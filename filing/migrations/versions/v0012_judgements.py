"""The platform's judgement of a contract's current revision (filing/judgements.py), so that
the next party's revision is judged only for what it adds."""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Text

revision = "0012_judgements"
down_revision = "0011_phone_of_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a contract accepted before this migration has no stored judgement, and its
    # next revision is judged in full.
    op.add_column("contracts", Column("judgement", Text))


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
