"""Sellers and brokerages list their resales: ``contract_parties``.

A resale's sellers and agent (by the hash of the ID number ``contract_buyers`` keeps:
``filing.holdings.party_keys``) and its brokerage (``agency:<filing number>``), indexed by
party: a seller's contract and filing lists, an agency's lists, event page and webhooks
read through it (``contract_parties_by_party``), one indexed lookup a page.

Rows made before: every resale contract (not the agreements on a filing, which are never
listed) gets its parties from its stored data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from filing.holdings import party_keys
from filing.resale_terms import resale_from_json

revision = "0009a_rights"
down_revision = "0009_contract_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_parties",
        sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), primary_key=True),
        sa.Column("party", sa.String(255), primary_key=True),
    )
    op.create_index("contract_parties_by_party", "contract_parties", ["party"])
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, data FROM contracts WHERE kind = 'resale' AND id NOT IN "
            "(SELECT contract_id FROM filing_agreements)"
        )
    ).all()
    table = sa.table("contract_parties", sa.column("contract_id"), sa.column("party"))
    for contract_id, data in rows:
        parties = sorted(party_keys(resale_from_json(data)))
        if parties:
            conn.execute(
                sa.insert(table), [{"contract_id": contract_id, "party": p} for p in parties]
            )


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
