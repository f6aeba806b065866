"""Ownership of record: registered units' certificates and owners, mortgages, consents.

Five new append-only tables (filing/schema.py, filing/ownership_records.py); nothing
existing changes. Units registered before this revision have no ownership record: the
authority records theirs (``POST /v1/units/{code}/ownership``) before they can be resold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import append_only

revision = "0004_ownership"
down_revision = "0003_contract_kinds"
branch_labels = None
depends_on = None


def _recorded() -> list[sa.Column[object]]:
    return [
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    ownerships = op.create_table(
        "ownerships",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("co_ownership", sa.String(length=8), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column(
            "filing_number", sa.String(length=32), sa.ForeignKey("filings.number"), nullable=True
        ),
        *_recorded(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate"),
    )
    op.create_index("ix_ownerships_unit_id", "ownerships", ["unit_id"])
    owners = op.create_table(
        "ownership_owners",
        sa.Column("ownership_id", sa.Integer(), sa.ForeignKey("ownerships.id"), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_type", sa.Text(), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("share", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("ownership_id", "position"),
    )
    op.create_index("ix_ownership_owners_person", "ownership_owners", ["person"])
    mortgages = op.create_table(
        "mortgages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("mortgagee", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        *_recorded(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_mortgages_unit_id", "mortgages", ["unit_id"])
    consents = op.create_table(
        "mortgage_consents",
        sa.Column(
            "mortgage_id",
            sa.Integer(),
            sa.ForeignKey("mortgages.id"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        *_recorded(),
        sa.PrimaryKeyConstraint("mortgage_id"),
    )
    discharges = op.create_table(
        "mortgage_discharges",
        sa.Column(
            "mortgage_id",
            sa.Integer(),
            sa.ForeignKey("mortgages.id"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=False),
        *_recorded(),
        sa.PrimaryKeyConstraint("mortgage_id"),
    )
    append_only(op.get_bind(), [ownerships, owners, mortgages, consents, discharges])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
