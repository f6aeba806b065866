"""The schemas of the era before migrations, frozen: what the first revisions create.

``RELEASE_0_1`` is every table of the last release made without migrations (release
0.1, commit f6f0762), as its ``create_all`` calls made them; ``STATUS_MAP`` the two
tables of the status map that were added after it. Revisions 0001 and 0002 create
exactly these (whatever the live table definitions in ``ledger``, ``filing`` and ``api``
say by then), and ``wangqian admin migrate`` compares a database that has tables but no
revision against them before stamping it (``filing.migrations.adopt``).

Nothing here may change: a later schema change is a new revision with its own operations.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

RELEASE_0_1 = MetaData()
_m = RELEASE_0_1
_index = BigInteger().with_variant(Integer(), "sqlite")
_area = Numeric(10, 2)

# -- ledger/schema.py ------------------------------------------------------------------

Table(
    "log_leaves",
    _m,
    Column("idx", _index, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)
Table(
    "log_tiles",
    _m,
    Column("idx", _index, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
)
Table(
    "log_nodes",
    _m,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)
Table(
    "log_integrations",
    _m,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
)
Table(
    "log_checkpoints",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False, index=True),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
)
Table(
    "log_cosignatures",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("checkpoint_id", Integer, ForeignKey("log_checkpoints.id"), nullable=False, index=True),
    Column("witness", Text, nullable=False),
    Column("line", Text, nullable=False),
)

# -- filing/departments.py -------------------------------------------------------------

Table(
    "dept_households",
    _m,
    Column("id_number", Text, primary_key=True),
    Column("local", Boolean, nullable=False),
    Column("spouse", Text),
    Column("minor_children", Text, nullable=False),
)
Table(
    "dept_payments",
    _m,
    Column("id_number", Text, primary_key=True),
    Column("consecutive_months", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
)
Table(
    "dept_identities",
    _m,
    Column("id_number", Text, primary_key=True),
    Column("name", Text, nullable=False),
)
Table(
    "dept_homes",
    _m,
    Column("id_number", Text, primary_key=True),
    Column("district", Text, primary_key=True),
    Column("homes", Integer, nullable=False),
)
Table(
    "dept_loads",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("loaded_by", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
)

# -- api/auth.py, api/access_anchor.py, api/idempotency.py -----------------------------

Table(
    "api_keys",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Table(
    "access_log",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
)
Table(
    "access_log_anchors",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("from_id", Integer, nullable=False),
    Column("to_id", Integer, nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Table(
    "idempotency_keys",
    _m,
    Column("org", Text, primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer),
    Column("media_type", Text),
    Column("body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# -- filing/schema.py ------------------------------------------------------------------

Table(
    "projects",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("district", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("developer", Text, nullable=False),
    Column("developer_id", Text, nullable=False),
)
Table(
    "buildings",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
)
Table(
    "permits",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", Text, nullable=False, unique=True),
    Column("authority", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("revoked", Boolean, nullable=False),
)
Table(
    "units",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("building_id", Integer, ForeignKey("buildings.id"), nullable=False, index=True),
    Column("code", String(28), nullable=False, unique=True),
    Column("floor", Integer, nullable=False),
    Column("room", Text, nullable=False),
    Column("use", Text, nullable=False),
    Column("forecast_building", _area, nullable=False),
    Column("forecast_inner", _area, nullable=False),
    Column("forecast_shared", _area, nullable=False),
    Column("measured_building", _area),
    Column("measured_inner", _area),
    Column("measured_shared", _area),
    Column("status", String(16), nullable=False, index=True),
    Column("flags", Text, nullable=False),
    Column("mortgagee_consent", Boolean, nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("registration_certificate", Text),
    Column("permit_id", Integer, ForeignKey("permits.id")),
    Column("reserved_for", String(36)),
    Column("reserved_until", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
)
Table(
    "unit_events",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("flags", Text),
)
Table(
    "contracts",
    _m,
    Column("id", String(36), primary_key=True),
    Column("number", Text, nullable=False, unique=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("developer_id", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("eligibility", Text, nullable=False),
    Column("draft_sha256", String(64), nullable=False),
    Column("draft_pdf", LargeBinary, nullable=False),
    Column("current_pdf", LargeBinary, nullable=False),
    Column("signed_fields", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Table(
    "contract_buyers",
    _m,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("person", String(64), primary_key=True),
    Index("contract_buyers_by_person", "person"),
)
Table(
    "remote_signings",
    _m,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("field", Text, primary_key=True),
    Column("request", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Table(
    "filings",
    _m,
    Column("number", String(32), primary_key=True),
    Column("contract_id", String(36), ForeignKey("contracts.id"), nullable=False, unique=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("doc_sha256", String(64), nullable=False, index=True),
    Column("sealed_pdf", LargeBinary, nullable=False),
    Column("log_index", BigInteger, nullable=False, unique=True),
    Column("party_salt", LargeBinary(16), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Index(
        "one_active_filing_per_unit",
        "unit_id",
        unique=True,
        sqlite_where=text("status = 'ACTIVE'"),
        postgresql_where=text("status = 'ACTIVE'"),
    ),
)
Table(
    "filing_events",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("event", Text, nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
)
Table(
    "filing_changes",
    _m,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("doc_sha256", String(64), nullable=False, index=True),
    Column("sealed_pdf", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Table(
    "filing_agreements",
    _m,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("terms", Text, nullable=False),
    Column("proposed_by", Text, nullable=False),
)
Table(
    "cancellation_documents",
    _m,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("basis", String(16), nullable=False),
    Column("reference", Text, nullable=False),
    Column("doc_sha256", String(64), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Table(
    "filing_stats",
    _m,
    Column("day", Date, primary_key=True),
    Column("district", Text, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("use", Text, primary_key=True),
    Column("filings", Integer, nullable=False),
    Column("area", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("cancellations", Integer, nullable=False),
    Column("cancelled_area", BigInteger, nullable=False),
    Column("cancelled_value", BigInteger, nullable=False),
)
Table(
    "outbox",
    _m,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event", String(16), nullable=False),
    Column("filing_number", String(32), nullable=False, index=True),
    Column("log_index", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("unit", String(28), nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("ref", BigInteger),
)
Table(
    "outbox_cursors",
    _m,
    Column("name", String(64), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)
Table(
    "webhook_subscriptions",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", Text, nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Table(
    "webhook_attempts",
    _m,
    Column("subscription_id", Integer, ForeignKey("webhook_subscriptions.id"), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Table(
    "counters",
    _m,
    Column("name", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)
Table(
    "history_anchors",
    _m,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("history", String(16), nullable=False),
    Column("from_id", BigInteger, nullable=False),
    Column("to_id", BigInteger, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("history", "to_id"),
)
Table(
    "history_anchor_entries",
    _m,
    Column(
        "anchor_id",
        Integer,
        ForeignKey("history_anchors.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("log_index", BigInteger, nullable=False, unique=True),
)

# The tables the database itself keeps append-only (ledger.schema.append_only), by module.
RELEASE_0_1_APPEND_ONLY = (
    # ledger
    "log_leaves",
    "log_tiles",
    "log_nodes",
    "log_integrations",
    "log_checkpoints",
    "log_cosignatures",
    # filing
    "unit_events",
    "filing_events",
    "filing_changes",
    "filing_agreements",
    "cancellation_documents",
    "outbox",
    "history_anchors",
    "history_anchor_entries",
    # departments, api
    "dept_loads",
    "access_log",
    "access_log_anchors",
)

# -- revision 0002: the status map (ledger/status_map.py) ------------------------------

STATUS_MAP = MetaData()
Table(
    "log_map_nodes",
    STATUS_MAP,
    Column("depth", SmallInteger, primary_key=True, autoincrement=False),
    Column("prefix", LargeBinary, primary_key=True),
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("leaf", LargeBinary, nullable=True),
    sqlite_with_rowid=False,
)
Table(
    "log_map_versions",
    STATUS_MAP,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
)
STATUS_MAP_APPEND_ONLY = ("log_map_nodes", "log_map_versions")


def combined(*parts: MetaData) -> MetaData:
    """One MetaData holding copies of the tables of ``parts`` (for comparing a database)."""
    whole = MetaData()
    for part in parts:
        for table in part.sorted_tables:
            table.to_metadata(whole)
    return whole
