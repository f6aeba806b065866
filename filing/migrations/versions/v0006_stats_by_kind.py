"""Statistics by transaction kind: ``filing_stats`` rows are kept per kind as well.

The day's row is keyed by (day, district, project, use, kind). Rows made before are
new-home presales (``new-presale``): no other kind could be filed before kinds existed.
SQLite cannot change a primary key in place, so there the table is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_stats_by_kind"
down_revision = "0005_fund_supervision"
branch_labels = None
depends_on = None

_COUNTS = ("filings", "area", "value", "cancellations", "cancelled_area", "cancelled_value")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.add_column(
            "filing_stats",
            sa.Column("kind", sa.String(24), nullable=False, server_default="new-presale"),
        )
        op.alter_column("filing_stats", "kind", server_default=None)
        op.drop_constraint("filing_stats_pkey", "filing_stats", type_="primary")
        op.create_primary_key(
            "filing_stats_pkey", "filing_stats", ["day", "district", "project_id", "use", "kind"]
        )
        return
    meta = sa.MetaData()
    sa.Table("projects", meta, sa.Column("id", sa.Integer, primary_key=True))
    new = sa.Table(
        "filing_stats_by_kind",
        meta,
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("district", sa.Text, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("use", sa.Text, primary_key=True),
        sa.Column("kind", sa.String(24), primary_key=True),
        *(
            sa.Column(name, sa.Integer if name in ("filings", "cancellations") else sa.BigInteger,
                      nullable=False)
            for name in _COUNTS
        ),
    )  # fmt: skip
    new.create(conn)
    columns = ", ".join(("day", "district", "project_id", "use", *_COUNTS))
    conn.execute(
        sa.text(
            f"INSERT INTO filing_stats_by_kind ({columns}, kind) "
            f"SELECT {columns}, 'new-presale' FROM filing_stats"
        )
    )
    op.drop_table("filing_stats")
    op.rename_table("filing_stats_by_kind", "filing_stats")


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
