"""Transaction kinds on contracts and filings; building completions and measured areas.

* ``contracts.kind`` and ``filings.kind`` (filing/kinds.py ``Kind``): rows made before
  are new-home sales, presale (``new-presale``) or 现售 (``new-completed``) by the model
  text their contract data names (GF-2014-0171 / 0172); a filing's is its contract's.
* ``building_completions`` (竣工验收 and the survey report, recorded by the authority)
  and ``unit_area_changes`` (each unit's measured areas before and after a record), both
  append-only.

The tables are defined here as this revision creates them, not read from the live code.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from ledger.schema import append_only

revision = "0003_contract_kinds"
down_revision = "0002_status_map"
branch_labels = None
depends_on = None

_area = sa.Numeric(10, 2)
_meta = sa.MetaData()
# The tables referred to, as far as the new ones need them (they exist already).
sa.Table("buildings", _meta, sa.Column("id", sa.Integer, primary_key=True))
sa.Table("units", _meta, sa.Column("id", sa.Integer, primary_key=True))
COMPLETIONS = sa.Table(
    "building_completions",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("building_id", sa.Integer, sa.ForeignKey("buildings.id"), nullable=False, index=True),
    sa.Column("acceptance_record", sa.Text, nullable=False),
    sa.Column("survey_report", sa.Text, nullable=False),
    sa.Column("correction", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
AREA_CHANGES = sa.Table(
    "unit_area_changes",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "completion_id",
        sa.Integer,
        sa.ForeignKey("building_completions.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False, index=True),
    sa.Column("old_building", _area),
    sa.Column("old_inner", _area),
    sa.Column("old_shared", _area),
    sa.Column("new_building", _area, nullable=False),
    sa.Column("new_inner", _area, nullable=False),
    sa.Column("new_shared", _area, nullable=False),
)

# The values of filing.kinds.Kind this revision knows, by the template enum's name that
# contract data stores (signing.contract.Template).
_BY_TEMPLATE = {"PRESALE": "new-presale", "COMPLETED": "new-completed"}


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("contracts", "filings"):
        # NOT NULL needs a value for the rows there; every insert names its kind.
        op.add_column(
            table,
            sa.Column("kind", sa.String(24), nullable=False, server_default="new-presale"),
        )
        if conn.dialect.name == "postgresql":  # SQLite cannot drop a default in place
            op.alter_column(table, "kind", server_default=None)
    completed = [
        str(cid)
        for cid, data in conn.execute(sa.text("SELECT id, data FROM contracts"))
        if _BY_TEMPLATE[json.loads(data)["template"]] == "new-completed"
    ]
    if completed:
        conn.execute(
            sa.text("UPDATE contracts SET kind = 'new-completed' WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": completed},
        )
    conn.execute(
        sa.text(
            "UPDATE filings SET kind = "
            "(SELECT c.kind FROM contracts c WHERE c.id = filings.contract_id)"
        )
    )
    _meta.create_all(conn, tables=[COMPLETIONS, AREA_CHANGES], checkfirst=False)
    append_only(conn, [COMPLETIONS, AREA_CHANGES])


def downgrade() -> None:
    raise NotImplementedError("a deployment is upgraded, never downgraded: restore its backup")
