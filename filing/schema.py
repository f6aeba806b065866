"""The filing domain's tables: 楼盘表, permits, contracts, filings, and their histories.

A deployment's database gets them, and every change of them, from its migrations
(filing/migrations): a change here needs a revision there.
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
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("district", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("developer", Text, nullable=False),  # the developer organisation's name
    Column("developer_id", Text, nullable=False),  # 统一社会信用代码
)

buildings = Table(
    "buildings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
)

permits = Table(
    "permits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", Text, nullable=False, unique=True),
    Column("authority", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("revoked", Boolean, nullable=False, default=False),
)

_area = Numeric(10, 2)

units = Table(
    "units",
    metadata,
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
    Column("flags", Text, nullable=False, default=""),  # comma-separated UnitFlag values
    Column("mortgagee_consent", Boolean, nullable=False, default=False),
    Column("completed", Boolean, nullable=False, default=False),
    Column("registration_certificate", Text),
    Column("permit_id", Integer, ForeignKey("permits.id")),
    Column("reserved_for", String(36)),  # contract id
    Column("reserved_until", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=0),
)

# Every change of a unit, with time, actor and reason: the unit's history. Append-only.
unit_events = Table(
    "unit_events",
    metadata,
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

# 竣工验收 and 实测: the authority records a building's completion (the acceptance record and
# the survey report) with the measured areas of its units; a later record may correct them,
# with a reason. Append-only: the units' previous areas are in ``unit_area_changes``.
building_completions = Table(
    "building_completions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("building_id", Integer, ForeignKey("buildings.id"), nullable=False, index=True),
    Column("acceptance_record", Text, nullable=False),  # 竣工验收备案号
    Column("survey_report", Text, nullable=False),  # 房产实测报告编号
    Column("correction", Text, nullable=False),  # why measured areas are corrected; or empty
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Each unit's measured areas as one completion record set them: old (NULL: none) and new.
unit_area_changes = Table(
    "unit_area_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "completion_id", Integer, ForeignKey("building_completions.id"), nullable=False, index=True
    ),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("old_building", _area),
    Column("old_inner", _area),
    Column("old_shared", _area),
    Column("new_building", _area, nullable=False),
    Column("new_inner", _area, nullable=False),
    Column("new_shared", _area, nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", Text, nullable=False, unique=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("developer_id", Text, nullable=False),
    Column("status", String(16), nullable=False),  # DRAFT, FILED, WITHDRAWN, EXPIRED
    Column("kind", String(24), nullable=False),  # the transaction kind (filing/kinds.py Kind)
    Column("data", Text, nullable=False),  # the contract's structured data (JSON)
    Column("eligibility", Text, nullable=False),  # the decisions, with rule-set versions and inputs
    Column("draft_sha256", String(64), nullable=False),
    Column("draft_pdf", LargeBinary, nullable=False),
    Column("current_pdf", LargeBinary, nullable=False),  # the draft plus signatures so far
    Column("signed_fields", Text, nullable=False, default=""),  # comma-separated, in order
    # The platform's judgement of current_pdf (filing/judgements.py), for the next revision's.
    Column("judgement", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # The lists' orders (filing/listing.py): everyone's, and one developer's, by creation.
    Index("contracts_by_created", "created_at", "id"),
    Index("contracts_by_developer", "developer_id", "created_at", "id"),
)

# Who buys under each contract, by a hash of the ID number (filing/holdings.py): purchase
# limits count a family's filed and drafted homes through it.
contract_buyers = Table(
    "contract_buyers",
    metadata,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("person", String(64), primary_key=True),
    Index("contract_buyers_by_person", "person"),
)

# Who else a resale names, for the lists and event scopes (filing/listing.py, outbox.py):
# its sellers and agent by the same hash of the ID number as ``contract_buyers``, its
# brokerage as ``agency:<filing number>`` (policy.drafter_key). No purchase limit reads it.
contract_parties = Table(
    "contract_parties",
    metadata,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("party", String(255), primary_key=True),
    Index("contract_parties_by_party", "party"),
)

remote_signings = Table(
    "remote_signings",
    metadata,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("field", Text, primary_key=True),
    Column("request", Text, nullable=False),  # RemoteSigningRequest, JSON with base64 fields
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One-time signing invitations (a link per person party, delivered out of band): only the
# token's SHA-256 is kept. ``id_number``: the party the invitation is for; ``attempts``:
# failed identity checks; ``identity_at``: when the identity check passed.
signing_invitations = Table(
    "signing_invitations",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("contract_id", String(36), ForeignKey("contracts.id"), nullable=False),
    Column("field", Text, nullable=False),
    Column("id_number", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("identity_at", DateTime(timezone=True)),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    # The phone it was sent to, masked (138****5678); null: no phone of record, not sent.
    Column("sent_to", Text),
    Index("signing_invitations_by_field", "contract_id", "field"),
)

# A filing holds its unit while it is an ACTIVE sale not yet registered; leases never do.
_ONE_ACTIVE_SALE = (
    "status = 'ACTIVE' AND registered_at IS NULL AND kind NOT IN ('lease', 'lease-entrusted')"
)

filings = Table(
    "filings",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("contract_id", String(36), ForeignKey("contracts.id"), nullable=False, unique=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE, CANCELLED
    Column("kind", String(24), nullable=False),  # its contract's transaction kind
    Column("doc_sha256", String(64), nullable=False, index=True),
    Column("sealed_pdf", LargeBinary, nullable=False),
    Column("log_index", BigInteger, nullable=False, unique=True),
    Column("party_salt", LargeBinary(16), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    # When the registration completing it (不动产登记, 转移登记) was recorded, and that
    # record in canonical JSON (the ``registered`` log entry's ``doc`` is its hash).
    Column("registered_at", DateTime(timezone=True)),
    Column("registration", Text),
    # At most one active sale filing per unit not yet completed by a registration, whatever
    # the application does (a registered new home's filing stays ACTIVE beside its resale's;
    # a lease is no sale: its filings stand beside them, filing/lease.py checks overlaps).
    Index(
        "one_active_filing_per_unit",
        "unit_id",
        unique=True,
        sqlite_where=text(_ONE_ACTIVE_SALE),
        postgresql_where=text(_ONE_ACTIVE_SALE),
    ),
    # The lists' orders (filing/listing.py): by filing time, and a unit's by filing time.
    Index("filings_by_filed", "filed_at", "number"),
    Index("filings_by_unit", "unit_id", "filed_at", "number"),
)

filing_events = Table(
    "filing_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("event", Text, nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

# 变更: a change agreement signed by the parties, sealed by the platform, logged as its own entry.
filing_changes = Table(
    "filing_changes",
    metadata,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("doc_sha256", String(64), nullable=False, index=True),
    Column("sealed_pdf", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# 注销 and 变更 by agreement: the parties' agreement is drafted and signed like a contract (a
# row of ``contracts`` whose unit it does not reserve); this links it to its filing.
filing_agreements = Table(
    "filing_agreements",
    metadata,
    Column("contract_id", String(36), ForeignKey("contracts.id"), primary_key=True),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # cancellation | change (AgreementKind)
    Column("reason", Text, nullable=False),
    Column("terms", Text, nullable=False),  # a change's agreed changes; empty otherwise
    Column("proposed_by", Text, nullable=False),
)

# What each cancellation rests on, as its log entry's ``doc`` names it: the sealed agreement
# every party signed, or the judgment or decision document the authority or a court recorded.
cancellation_documents = Table(
    "cancellation_documents",
    metadata,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("filing_number", String(32), ForeignKey("filings.number"), nullable=False, index=True),
    Column("basis", String(16), nullable=False),  # agreement | judgment
    Column("reference", Text, nullable=False),  # the agreement's number, or the judgment's
    Column("doc_sha256", String(64), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Daily totals per (district, project, use), kept in the filing and cancelling transactions
# (filing/statistics.py). Amounts in hundredths: fen, and hundredths of a m².
filing_stats = Table(
    "filing_stats",
    metadata,
    Column("day", Date, primary_key=True),
    Column("district", Text, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("use", Text, primary_key=True),
    Column("kind", String(24), primary_key=True),  # filing/kinds.py Kind
    Column("filings", Integer, nullable=False),
    Column("area", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("cancellations", Integer, nullable=False),
    Column("cancelled_area", BigInteger, nullable=False),
    Column("cancelled_value", BigInteger, nullable=False),
)

# The outbox (filing/outbox.py): one row per filing or contract event, written in its transaction.
outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event", String(32), nullable=False),  # 32 since 0009d (maintenance-deposited)
    # NULL for a contract's events (a party signed, a draft withdrawn or expired): they
    # come before any filing or log entry.
    Column("filing_number", String(32), nullable=True, index=True),
    Column("log_index", BigInteger, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("unit", String(28), nullable=False),
    Column("document_sha256", String(64), nullable=True),
    Column("ref", BigInteger),
    Column("contract_id", String(36), nullable=True, index=True),
    Column("field", String(32), nullable=True),  # contract-signed: the signature field
)

outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("name", String(64), primary_key=True),  # e.g. "redis-stream"
    Column("last_id", BigInteger, nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", Text, nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("cursor", BigInteger, nullable=False),  # last event delivered or dead-lettered
    # A developer's subscription: only the events of its own filings (NULL: every event).
    Column("developer", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("subscription_id", Integer, ForeignKey("webhook_subscriptions.id"), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("status", String(16), nullable=False),  # RETRY, DELIVERED, DEAD, REDELIVER
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# The digest chains of the two histories above, whose heads enter the filing log
# (filing/history.py): an anchor covers the rows from_id..to_id of one history.
history_anchors = Table(
    "history_anchors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("history", String(16), nullable=False),  # unit_events or filing_events
    Column("from_id", BigInteger, nullable=False),
    Column("to_id", BigInteger, nullable=False),
    Column("prev", String(64), nullable=False),  # the previous anchor's digest (64 zeros first)
    Column("digest", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("history", "to_id"),
)

# An anchor's log entry, appended after the anchor (see filing/history.py for why).
history_anchor_entries = Table(
    "history_anchor_entries",
    metadata,
    Column(
        "anchor_id",
        Integer,
        ForeignKey("history_anchors.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("log_index", BigInteger, nullable=False, unique=True),
)

# Ownership of record (filing/ownership.py, filing/ownership_records.py): a registered unit's
# 不动产权证书 and owners, its mortgages (抵押), the mortgagees' consents to a sale and the
# discharges. All append-only: a unit's current record is its latest, and a mortgage ends
# with a discharge row, never an update.
ownerships = Table(
    "ownerships",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("certificate", Text, nullable=False, unique=True),  # 不动产权证书 number
    Column("co_ownership", String(8), nullable=False),  # CoOwnership: SOLE, JOINT, SHARES
    Column("registered_on", Date, nullable=False),
    Column("acquired_on", Date, nullable=False),  # what a resale restriction counts from
    Column("basis", String(16), nullable=False),  # filing, transfer or import
    Column("filing_number", String(32), ForeignKey("filings.number")),  # the purchase it ends
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The owners of a record, in the register's order. Personal data: only the authority, a
# court and the owners themselves read names and ID numbers (filing.ownership.owner_views).
ownership_owners = Table(
    "ownership_owners",
    metadata,
    Column("ownership_id", Integer, ForeignKey("ownerships.id"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("id_type", Text, nullable=False),
    Column("id_number", Text, nullable=False),
    Column("person", String(64), nullable=False, index=True),  # holdings.person_key
    Column("share", String(32)),  # "1/3" when owned by shares
)

mortgages = Table(
    "mortgages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False, index=True),
    Column("mortgagee", Text, nullable=False),
    Column("reference", Text, nullable=False, unique=True),  # 不动产登记证明 number
    Column("registered_on", Date, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

mortgage_consents = Table(
    "mortgage_consents",
    metadata,
    Column(
        "mortgage_id", Integer, ForeignKey("mortgages.id"), primary_key=True, autoincrement=False
    ),
    Column("reference", Text, nullable=False),  # the consent document's reference
    Column("given_on", Date, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

mortgage_discharges = Table(
    "mortgage_discharges",
    metadata,
    Column(
        "mortgage_id", Integer, ForeignKey("mortgages.id"), primary_key=True, autoincrement=False
    ),
    Column("reference", Text, nullable=False),  # 抵押权注销登记
    Column("discharged_on", Date, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

OWNERSHIP_APPEND_ONLY = (
    "ownerships",
    "ownership_owners",
    "mortgages",
    "mortgage_consents",
    "mortgage_discharges",
)

# Kept append-only by the database itself (ledger.schema.append_only), as every revision
# that creates one of them says (filing/migrations).
APPEND_ONLY = (
    "unit_events",
    "filing_events",
    "filing_changes",
    "filing_agreements",
    "cancellation_documents",
    "outbox",
    "history_anchors",
    "history_anchor_entries",
    "building_completions",
    "unit_area_changes",
    *OWNERSHIP_APPEND_ONLY,
)
