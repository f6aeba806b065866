"""API keys per organisation, stored hashed, with a role each.

A key is shown once, when created (``wangqian admin create-key``); only its SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
)

from filing.access_log import metadata
from filing.clock import SYSTEM, Clock
from filing.policy import Caller, Role
from ledger.database import write_transaction

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(conn: Connection, org: str, role: Role, clock: Clock = SYSTEM) -> str:
    """A new key for ``org`` with ``role``; only its hash is stored."""
    if not org.strip():
        raise ValueError("an API key needs an organisation")
    key = "wq_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            key_hash=_hash(key), org=org, role=role.value, created_at=clock.now()
        )
    )
    return key


class KeyStore:
    """The deployment's API keys: who a presented key stands for."""

    def __init__(self, engine: Engine, clock: Clock = SYSTEM) -> None:
        self.engine = engine
        self.clock = clock

    def caller(self, key: str) -> Caller | None:
        """The caller the key was issued to; None for an unknown key."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.org, api_keys.c.role).where(api_keys.c.key_hash == _hash(key))
            ).first()
        return None if row is None else Caller(row[0], Role(row[1]))

    def create(self, org: str, role: Role) -> str:
        """A new key, committed."""
        with write_transaction(self.engine) as conn:
            return create_key(conn, org, role, self.clock)
