"""The tables of maintenance funds (住宅专项维修资金); all append-only (migration 0009d).

A metadata of their own, like the fund supervision tables. ``maintenance_dues``: the
amount due of a new-home filing, computed in the filing's transaction by the rule set in
force (none for filings made before the deployment adopted a rule set, nor for resales).
``maintenance_events``: each deposit (a bank-signed statement) or debit (a use of funds)
of a unit's account, beside its log entry (``log_index``); ``seq`` numbers the unit's
events, unique per unit, so that two writers that both skipped the unit's lock could not
both record an event read from the same balance. ``maintenance_uses``: each approved use
of funds, with the canonical record (units and amounts, no names) whose SHA-256 the log
entries of its debits carry.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

maintenance_dues = Table(
    "maintenance_dues",
    metadata,
    Column("filing_number", String(32), primary_key=True),
    Column("unit_id", Integer, nullable=False, index=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("rule_version", Text, nullable=False),
    Column("bank", Text, nullable=False),  # the designated bank of the rule set
    Column("basis", Text, nullable=False),  # how it was computed, for people
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

maintenance_events = Table(
    "maintenance_events",
    metadata,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("unit_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("filing_number", String(32), nullable=False, index=True),  # its entry's filing
    Column("kind", String(16), nullable=False),  # deposit, use
    Column("amount_fen", BigInteger, nullable=False),
    Column("document", LargeBinary, nullable=False),  # the bank's statement, or the use record
    Column("document_sha256", String(64), nullable=False),
    Column("signature", LargeBinary),  # a deposit's: DER ECDSA-SHA256 by the bank
    Column("certificate", LargeBinary),  # a deposit's: the bank's certificate (DER)
    Column("actor", Text, nullable=False),  # the bank, or the authority that recorded the use
    Column("reference", Text, nullable=False),  # the bank's reference, or the use's number
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("unit_id", "seq", name="uq_maintenance_events_seq"),
    UniqueConstraint("kind", "actor", "reference", "unit_id", name="uq_maintenance_events_ref"),
)

maintenance_uses = Table(
    "maintenance_uses",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("record", LargeBinary, nullable=False),  # canonical JSON (docs/formats.md)
    Column("record_sha256", String(64), nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

APPEND_ONLY = ("maintenance_dues", "maintenance_events", "maintenance_uses")
