"""Integrators' lists and events: indexes for the contract and filing lists, and a
developer's webhook subscription scoped to its own filings.

The lists page by (created_at, id) and (filed_at, number), everyone's or one developer's
or one unit's (filing/listing.py); a subscription with ``developer`` set receives only the
events of that developer's filings (NULL, as every earlier one: every event).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_lists"
down_revision = "0006_stats_by_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("contracts_by_created", "contracts", ["created_at", "id"])
    op.create_index("contracts_by_developer", "contracts", ["developer_id", "created_at", "id"])
    op.create_index("filings_by_filed", "filings", ["filed_at", "number"])
    op.create_index("filings_by_unit", "filings", ["unit_id", "filed_at", "number"])
    op.add_column("webhook_subscriptions", sa.Column("developer", sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
