"""The lease records (filing/lease_schema.py): entrustments, each lease's space and term,
and what the lease checks (filing/lease.py) read, in the caller's transaction.

A lease is live while its draft is being signed (its reservation not run out) or while it
is filed and has not ended (early termination or expiry). Live leases are what the
overlap check compares against; the unit's own status is never touched by a lease.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, or_, select, update

from filing import lease_schema, ownership_records, registry, schema
from filing.lease import Entrustment, LeaseFacts, LiveLease
from filing.status import ContractStatus, FilingStatus
from signing.lease import LeaseContract


class EntrustmentTaken(ValueError):
    """An entrustment with this reference is recorded already."""


class UnknownEntrustment(LookupError):
    """No entrustment of this reference on this unit."""


class EntrustmentEnded(ValueError):
    """The entrustment's end is recorded already."""


class LeaseEndReason:
    AGREEMENT = "agreement"  # both parties agreed to end it early
    JUDGMENT = "judgment"  # a court or arbitration ended it
    EXPIRED = "expired"  # its term ran out


@dataclass(frozen=True)
class LeaseState:
    """One lease of a unit, as the unit's lease status shows it (no names)."""

    filing_number: str | None
    space: str
    starts_on: dt.date
    ends_on: dt.date
    occupants: int
    ended_on: dt.date | None
    end_reason: str | None

    def status(self, today: dt.date) -> str:
        """LEASED (in force today), NOT-STARTED (filed, its term ahead), ENDED."""
        if self.ended_on is not None:
            return "ENDED"
        return "LEASED" if self.starts_on <= today else "NOT-STARTED"


def lock_unit(conn: Connection, unit_id: int) -> None:
    """Lease drafts and filings of one unit take turns (FOR UPDATE on PostgreSQL; SQLite's
    writer lock already serialises): two drafts racing for one room cannot both pass."""
    u = schema.units
    conn.execute(select(u.c.id).where(u.c.id == unit_id).with_for_update()).first()


def live_leases(conn: Connection, unit_id: int, now: dt.datetime) -> tuple[LiveLease, ...]:
    le, c, f = lease_schema.leases.c, schema.contracts.c, schema.filings.c
    drafting = and_(c.status == ContractStatus.DRAFT.value, c.expires_at >= now)
    filed = and_(
        le.filing_number.is_not(None),
        le.ended_on.is_(None),
        f.status == FilingStatus.ACTIVE.value,
    )
    rows = conn.execute(
        select(le.contract_id, le.space, le.starts_on, le.ends_on)
        .join(schema.contracts, c.id == le.contract_id)
        .outerjoin(schema.filings, f.number == le.filing_number)
        .where(le.unit_id == unit_id, or_(drafting, filed))
    ).all()
    return tuple(LiveLease(str(r[0]), r[1], r[2], r[3]) for r in rows)


def entrustments(
    conn: Connection, unit_id: int, since: dt.datetime | None = None
) -> tuple[Entrustment, ...]:
    """The unit's entrustments as recorded, oldest first, each with its end if recorded;
    only those recorded at or after ``since``, if given: those its current owners gave
    (``since``: when their ownership was recorded). A former owner's entrustment ends with
    the ownership that gave it: it does not let an enterprise lease the buyer's home after
    the transfer."""
    e, x = lease_schema.lease_entrustments.c, lease_schema.lease_entrustment_ends.c
    rows = conn.execute(
        select(e.reference, e.enterprise, e.valid_from, e.valid_until, x.ended_on, e.at)
        .outerjoin(lease_schema.lease_entrustment_ends, x.reference == e.reference)
        .where(e.unit_id == unit_id)
        .order_by(e.id)
    ).all()
    return tuple(
        Entrustment(r[0], r[1], r[2], r[3], r[4])
        for r in rows
        if since is None or _aware(r[5]) >= _aware(since)
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def facts(conn: Connection, code: str, now: dt.datetime) -> LeaseFacts:
    unit = registry.unit(conn, code)
    lock_unit(conn, unit.id)
    record = ownership_records.current(conn, unit.id)
    use = conn.execute(select(schema.units.c.use).where(schema.units.c.id == unit.id)).scalar_one()
    return LeaseFacts(
        status=unit.status,
        flags=unit.flags,
        use=str(use),
        ownership=None if record is None else record.ownership,
        live_leases=live_leases(conn, unit.id, now),
        entrustments=()
        if record is None
        else entrustments(conn, unit.id, since=record.recorded_at),
    )


def hold(conn: Connection, contract_id: str, unit_id: int, lease: LeaseContract) -> None:
    """The draft's space and term: live (for the overlap check) while it is signed."""
    conn.execute(
        insert(lease_schema.leases).values(
            contract_id=contract_id,
            unit_id=unit_id,
            space=lease.house.space,
            starts_on=lease.start,
            ends_on=lease.end,
            occupants=lease.occupants,
            leased_area=lease.house.leased_area,
            rent=lease.rent,
        )
    )


def filed(conn: Connection, contract_id: str, number: str) -> None:
    conn.execute(
        update(lease_schema.leases)
        .where(lease_schema.leases.c.contract_id == contract_id)
        .values(filing_number=number)
    )


def renew(conn: Connection, number: str, until: dt.date) -> None:
    """续订: the filed lease's term now ends on ``until``."""
    le = lease_schema.leases
    conn.execute(update(le).where(le.c.filing_number == number).values(ends_on=until))


def keep_certificate(conn: Connection, number: str, pdf: bytes) -> None:
    conn.execute(
        update(lease_schema.leases)
        .where(lease_schema.leases.c.filing_number == number)
        .values(certificate_pdf=pdf)
    )


def certificate(conn: Connection, number: str) -> bytes | None:
    le = lease_schema.leases.c
    pdf = conn.execute(select(le.certificate_pdf).where(le.filing_number == number)).scalar()
    return None if pdf is None else bytes(pdf)


class EndedAlready(ValueError):
    """The lease ended meanwhile (an expiry, a cancellation): nothing more to end."""


def end(conn: Connection, number: str, on: dt.date, reason: str) -> None:
    """The lease ends (early, or at its term): no longer live, its space free after ``on``."""
    le = lease_schema.leases
    done = conn.execute(
        update(le)
        .where(le.c.filing_number == number, le.c.ended_on.is_(None))
        .values(ended_on=on, end_reason=reason)
    ).rowcount
    if done != 1:  # another ended it first (PostgreSQL re-reads the row it waited for)
        raise EndedAlready(f"lease {number} has ended already")


def lease_of(conn: Connection, number: str) -> LeaseState | None:
    le = lease_schema.leases.c
    r = conn.execute(select(lease_schema.leases).where(le.filing_number == number)).first()
    return None if r is None else _state(r)


def _state(r: object) -> LeaseState:
    m = r._mapping  # type: ignore[attr-defined]
    return LeaseState(
        m["filing_number"],
        m["space"],
        m["starts_on"],
        m["ends_on"],
        int(m["occupants"]),
        m["ended_on"],
        m["end_reason"],
    )


def leases_of_unit(conn: Connection, unit_id: int) -> list[LeaseState]:
    """The unit's filed leases, newest term first (drafts are nobody's business yet)."""
    le = lease_schema.leases.c
    rows = conn.execute(
        select(lease_schema.leases)
        .where(le.unit_id == unit_id, le.filing_number.is_not(None))
        .order_by(le.starts_on.desc(), le.filing_number)
    ).all()
    return [_state(r) for r in rows]


def due_to_expire(conn: Connection, today: dt.date) -> list[str]:
    """Filed leases whose term ended before ``today`` and that have not ended yet."""
    le = lease_schema.leases.c
    return [
        str(n)
        for (n,) in conn.execute(
            select(le.filing_number)
            .where(le.filing_number.is_not(None), le.ended_on.is_(None), le.ends_on < today)
            .order_by(le.filing_number)
        )
    ]


def record_entrustment(
    conn: Connection,
    code: str,
    reference: str,
    enterprise: str,
    enterprise_name: str,
    valid_from: dt.date,
    valid_until: dt.date,
    actor: str,
    at: dt.datetime,
) -> Entrustment:
    """The authority records the owners' entrustment of the unit to a rental enterprise
    (the owners' signed entrustment contract is checked at the counter, not here)."""
    if valid_until < valid_from:
        raise ValueError("an entrustment ends after it begins")
    unit = registry.unit(conn, code)
    if ownership_records.current(conn, unit.id) is None:
        raise ValueError("only a unit whose owners of record are known is entrusted")
    e = lease_schema.lease_entrustments
    if conn.execute(select(e.c.id).where(e.c.reference == reference)).first() is not None:
        raise EntrustmentTaken(f"entrustment {reference} is recorded already")
    conn.execute(
        insert(e).values(
            reference=reference,
            unit_id=unit.id,
            enterprise=enterprise,
            enterprise_name=enterprise_name,
            valid_from=valid_from,
            valid_until=valid_until,
            recorded_by=actor,
            at=at,
        )
    )
    return Entrustment(reference, enterprise, valid_from, valid_until)


def end_entrustment(
    conn: Connection,
    code: str,
    reference: str,
    ended_on: dt.date,
    reason: str,
    actor: str,
    at: dt.datetime,
) -> Entrustment:
    """The authority records that the entrustment ended on ``ended_on`` (revoked by the
    owners, or ended by agreement): a row of its own, the entrustment's kept as it was."""
    unit = registry.unit(conn, code)
    lock_unit(conn, unit.id)  # a draft under it and its end take turns
    found = [x for x in entrustments(conn, unit.id) if x.reference == reference]
    if not found:
        raise UnknownEntrustment(f"no entrustment {reference} of unit {code}")
    [held] = found
    if held.ended_on is not None:
        raise EntrustmentEnded(f"entrustment {reference} ended on {held.ended_on.isoformat()}")
    if not held.valid_from <= ended_on <= held.valid_until:
        raise ValueError("an entrustment ends within its term")
    conn.execute(
        insert(lease_schema.lease_entrustment_ends).values(
            reference=reference, ended_on=ended_on, reason=reason, recorded_by=actor, at=at
        )
    )
    return Entrustment(held.reference, held.enterprise, held.valid_from, held.valid_until, ended_on)
