"""The homes a family holds on the platform, for purchase limits (购房资格).

Natural resources' extract knows the homes already registered; the platform alone knows
the ones filed but not yet registered and the ones a draft holds. Both count. Two drafts
for one family must not both pass on the same count: the draft's transaction takes a
lock per family member first (PostgreSQL advisory locks; SQLite has one writer anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, and_, func, insert, literal, or_, select, text

from filing import schema
from filing.status import ContractStatus, FilingStatus, UnitStatus
from signing.contract import Contract
from signing.lease import ENTERPRISE_ID, LeaseContract
from signing.resale import ResaleContract

BACKFILL = "contract-buyers-backfilled"


def person_key(id_number: str) -> str:
    """What ``contract_buyers`` keeps of a person: a hash of the ID number."""
    return hashlib.sha256(f"wangqian-person:{id_number}".encode()).hexdigest()


def record_buyers(conn: Connection, contract_id: str, contract: Contract | ResaleContract) -> None:
    keys = sorted({person_key(b.id_number) for b in contract.buyers})
    conn.execute(
        insert(schema.contract_buyers), [{"contract_id": contract_id, "person": k} for k in keys]
    )


def party_keys(contract: Contract | ResaleContract | LeaseContract) -> set[str]:
    """Whom a contract names besides its buyers, as ``contract_parties`` keeps them: a
    resale's sellers and agent (``person_key``) and its brokerage (``agency:<filing
    number>``, policy.drafter_key). A new home's seller is its developer: none."""
    if isinstance(contract, LeaseContract):  # its lessors (not an enterprise) and lessees
        return {
            person_key(p.id_number)
            for p in (*contract.lessors, *contract.lessees)
            if p.id_type != ENTERPRISE_ID
        }
    if not isinstance(contract, ResaleContract):
        return set()
    keys = {person_key(p.id_number) for p in contract.sellers}
    b = contract.brokerage
    if b is not None:
        keys.add(f"agency:{b.filing_number}")
        if b.agent_id:
            keys.add(person_key(b.agent_id))
    return keys


def record_parties(
    conn: Connection, contract_id: str, contract: Contract | ResaleContract | LeaseContract
) -> None:
    """Index the contract under ``party_keys``: the seller's and agency's lists read it."""
    keys = sorted(party_keys(contract))
    if keys:
        conn.execute(
            insert(schema.contract_parties),
            [{"contract_id": contract_id, "party": k} for k in keys],
        )


def lock_family(conn: Connection, id_numbers: Iterable[str]) -> None:
    """Serialise drafts that concern any of these people, until the transaction ends."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted({person_key(i) for i in id_numbers}):  # one order: no deadlocks
        lock = int(key[:15], 16)  # 60 bits: a positive bigint
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})


def homes_on_platform(
    conn: Connection, id_numbers: Iterable[str], districts: frozenset[str], besides_unit: int
) -> int:
    """Units in ``districts`` other than ``besides_unit`` (the one being drafted: a home is
    not counted against itself) that these people hold on the platform: filed and not yet
    registered (an active filing of a FILED unit, or of a resale not yet transferred), or
    reserved by their draft."""
    c, u, f = schema.contracts, schema.units, schema.filings
    b, p, cb = schema.buildings, schema.projects, schema.contract_buyers
    keys = sorted({person_key(i) for i in id_numbers})
    if not keys or not districts:
        return 0
    query = (
        select(func.count(func.distinct(u.c.id)))
        .select_from(
            cb.join(c, c.c.id == cb.c.contract_id)
            .join(u, u.c.id == c.c.unit_id)
            .join(b, b.c.id == u.c.building_id)
            .join(p, p.c.id == b.c.project_id)
            .outerjoin(f, f.c.contract_id == c.c.id)
        )
        .where(
            cb.c.person.in_(keys),
            p.c.district.in_(sorted(districts)),
            u.c.id != besides_unit,
            or_(
                and_(c.c.status == literal(ContractStatus.DRAFT.value), u.c.reserved_for == c.c.id),
                and_(
                    f.c.status == literal(FilingStatus.ACTIVE.value),
                    u.c.status == literal(UnitStatus.FILED.value),
                ),
                # A resale filed and not yet transferred (转移登记): the buyers' filing holds
                # the unit, not its sellers' old one.
                and_(
                    f.c.status == literal(FilingStatus.ACTIVE.value),
                    u.c.status == literal(UnitStatus.UNDER_CONTRACT.value),
                    u.c.reserved_for == c.c.id,
                ),
            ),
        )
    )
    return int(conn.execute(query).scalar() or 0)


def backfill(conn: Connection) -> None:
    """Index the buyers of contracts drafted before ``contract_buyers`` existed (once)."""
    from filing.terms import contract_from_json

    done = conn.execute(
        select(schema.counters.c.value).where(schema.counters.c.name == BACKFILL)
    ).scalar()
    if done:
        return
    indexed = select(schema.contract_buyers.c.contract_id)
    agreements = select(schema.filing_agreements.c.contract_id)
    rows = conn.execute(
        select(schema.contracts.c.id, schema.contracts.c.data).where(
            schema.contracts.c.id.not_in(indexed), schema.contracts.c.id.not_in(agreements)
        )
    ).all()
    for contract_id, data in rows:
        record_buyers(conn, str(contract_id), contract_from_json(data))
    conn.execute(insert(schema.counters).values(name=BACKFILL, value=1))
