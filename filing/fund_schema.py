"""The tables of fund supervision (资金监管); both append-only (filing/migrations 0005).

No foreign keys: the tables live in a metadata of their own (the code writes a filing's
number only after reading that filing). ``fund_accounts``: the supervision account of a
filing, written once when its bank confirms the first deposit (it binds the account to
that bank). ``fund_events``: each
bank-signed statement the platform accepted, beside its log entry (``log_index``).
A release or a refund carries ``settlement = 'SETTLED'``, unique per filing: whatever
the code does, the database holds at most one settlement of an account. ``seq`` numbers
an account's events; unique per filing, so two writers that both skipped the lock
could not both record an event read from the same state.
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

fund_accounts = Table(
    "fund_accounts",
    metadata,
    Column("filing_number", String(32), primary_key=True),
    Column("bank", Text, nullable=False),  # the organisation of the bank's API key and certificate
    Column("account", Text, nullable=False),  # the supervision account's number
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

fund_events = Table(
    "fund_events",
    metadata,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("filing_number", String(32), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # deposit, release, refund
    Column("amount_fen", BigInteger, nullable=False),
    Column("settlement", String(16)),  # 'SETTLED' for a release or refund, else NULL
    Column("statement", LargeBinary, nullable=False),  # the bank's canonical JSON
    Column("statement_sha256", String(64), nullable=False, unique=True),
    Column("signature", LargeBinary, nullable=False),  # DER ECDSA-SHA256 over the statement
    Column("certificate", LargeBinary, nullable=False),  # the bank's certificate (DER)
    Column("bank", Text, nullable=False),
    Column("bank_reference", Text, nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False),  # the statement's time
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("filing_number", "seq", name="uq_fund_events_seq"),
    UniqueConstraint("filing_number", "settlement", name="uq_fund_events_settlement"),
    UniqueConstraint("bank", "bank_reference", name="uq_fund_events_bank_reference"),
)

APPEND_ONLY = ("fund_accounts", "fund_events")
