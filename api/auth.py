"""API keys per organisation, stored hashed, with a role each; and the access log.

A key is shown once, when created (``wangqian admin create-key``). Requests carry
it as ``Authorization: Bearer <key>``. Reads of personal data are recorded in
``access_log`` (append-only).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from api.problems import Problem
from api.ratelimit import RateLimiter

metadata = MetaData()
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
)
# The access log and its anchors (api.access_anchor) are append-only (filing/migrations).
APPEND_ONLY = ("access_log", "access_log_anchors")


class Role(enum.Enum):
    AUTHORITY = "authority"
    DEVELOPER = "developer"  # org = the developer's 统一社会信用代码
    BUYER = "buyer"  # 个人, a natural person: org = their ID number (buyer, resale seller, agent)
    AGENCY = "agency"  # 经纪机构, a brokerage: org = its filing number (经纪机构备案证明编号)
    COURT = "court"  # any filing's evidence package
    DEPARTMENT = "department"  # statistics and filing status (no personal data)
    TAX = "tax"  # price, area and parties of filed contracts
    BANK = "bank"  # banks and the provident fund: a filing's status for a loan


@dataclass(frozen=True)
class Caller:
    org: str
    role: Role


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(conn: Connection, org: str, role: Role) -> str:
    """A new key for ``org`` with ``role``; only its hash is stored."""
    if not org.strip():
        raise ValueError("an API key needs an organisation")
    key = "wq_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            key_hash=_hash(key), org=org, role=role.value, created_at=dt.datetime.now(dt.UTC)
        )
    )
    return key


def dependency(engine: Engine, limiter: RateLimiter) -> Callable[[Request], Caller]:
    """The FastAPI dependency that authenticates a request and counts it against its key."""

    def caller(request: Request) -> Caller:
        who = authenticate(engine, request)
        limiter.check(f"{who.role.value}:{who.org}")
        return who

    return caller


def authenticate(engine: Engine, request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Problem(
            401, "unauthenticated", "API key required", "send Authorization: Bearer <key>"
        )
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.org, api_keys.c.role).where(
                api_keys.c.key_hash == _hash(header[7:].strip())
            )
        ).first()
    if row is None:
        raise Problem(401, "unauthenticated", "Unknown API key")
    return Caller(row[0], Role(row[1]))


def require(caller: Caller, *roles: Role) -> None:
    if caller.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Problem(403, "forbidden", "Not allowed for this role", f"needs one of: {allowed}")


def record_access(conn: Connection, caller: Caller, action: str, subject: str) -> None:
    conn.execute(
        insert(access_log).values(
            at=dt.datetime.now(dt.UTC),
            org=caller.org,
            role=caller.role.value,
            action=action,
            subject=subject,
        )
    )
