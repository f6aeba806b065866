"""Signing invitations: one-time links by which a party signs on a phone, without an API key.

``signing_invitations`` keeps, per invitation, the SHA-256 of its token (never the token),
the contract, field and party it is for, when it expires (with the draft), failed identity
checks, and when it was used or revoked. Nothing existed before: no rows to convert.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009c_invitations"
down_revision = "0009d_maintenance_funds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_invitations",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("identity_at", sa.DateTime(timezone=True)),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("signing_invitations_by_field", "signing_invitations", ["contract_id", "field"])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
