"""The tables of lease filing (租赁备案), in a metadata of their own (filing/migrations 0009e).

``lease_entrustments``: the owners' entrustments of units to rental enterprises (住房租赁企业),
as the authority records them; append-only, as is ``lease_entrustment_ends`` (an
entrustment's revocation or early end, 0010). ``leases``: the space and term of each lease
contract, written at its draft (``contract_id``), given its filing number when filed, and
its end (``ended_on``, ``end_reason``) when terminated early or expired. The overlap check
reads it; the filing itself, its log entry and history live with every other filing.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

# The stored names (``filings.kind``) of the lease kinds (filing/kinds.py ``Kind``): a lease
# filing is no sale, and the sale-only rules on filings leave these out.
LEASE_KINDS = ("lease", "lease-entrusted")

lease_entrustments = Table(
    "lease_entrustments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", Text, nullable=False, unique=True),  # 委托登记编号
    Column("unit_id", Integer, nullable=False, index=True),
    Column("enterprise", Text, nullable=False),  # its 统一社会信用代码
    Column("enterprise_name", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The end of an entrustment (0010): revoked by the owners, or ended by agreement before its
# term; one per entrustment, never changed. Leases filed under it stand; new drafts by the
# enterprise under it are refused (filing/lease.py ``Entrustment.covers``).
lease_entrustment_ends = Table(
    "lease_entrustment_ends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", Text, nullable=False, unique=True),  # the entrustment's
    Column("ended_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("unit_id", Integer, nullable=False),
    Column("space", Text, nullable=False),  # "" for the whole unit
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),  # the term's last day (a renewal moves it)
    Column("occupants", Integer, nullable=False),
    Column("leased_area", Numeric(10, 2), nullable=False),
    Column("rent", Numeric(14, 2), nullable=False),  # per month
    Column("filing_number", String(32), unique=True),  # once filed
    Column("ended_on", Date),  # terminated early or expired
    Column("end_reason", Text),  # agreement, judgment, expired
    # The sealed 租赁登记备案证明, issued in the filing's transaction.
    Column("certificate_pdf", LargeBinary),
    Index("leases_by_unit", "unit_id", "starts_on"),
)

APPEND_ONLY = ("lease_entrustments", "lease_entrustment_ends")
