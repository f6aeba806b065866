"""The lease use-cases besides the pipeline's (draft, sign, file, end: filing/service.py):
entrustments recorded by the authority, a unit's lease status, a lease's sealed
租赁登记备案证明, each read as the caller's role allows (filing/policy.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from filing import kinds, lease_records, registry, schema
from filing.access_log import AccessLog
from filing.clock import Clock
from filing.lease import Entrustment
from filing.lease_records import EntrustmentEnded as EntrustmentEnded
from filing.lease_records import EntrustmentTaken as EntrustmentTaken
from filing.lease_records import UnknownEntrustment as UnknownEntrustment
from filing.policy import Caller, sees_lease_certificate
from filing.statistics import city_day
from ledger.database import write_transaction


class NoCertificate(LookupError):
    """No lease filing of this number, or not one the caller may read."""


class InvalidEntrustment(ValueError):
    pass


@dataclass(frozen=True)
class UnitLease:
    """One filed lease of a unit, as its lease status shows it: no names."""

    filing: str
    space: str  # "" the whole unit
    starts_on: dt.date
    ends_on: dt.date
    occupants: int
    status: str  # LEASED, NOT-STARTED, ENDED
    ended_on: dt.date | None
    end_reason: str | None


class Leases:
    def __init__(self, engine: Engine, access: AccessLog, clock: Clock) -> None:
        self.engine = engine
        self.access = access
        self.clock = clock

    def record_entrustment(
        self,
        code: str,
        reference: str,
        enterprise: str,
        enterprise_name: str,
        valid_from: dt.date,
        valid_until: dt.date,
        actor: str,
    ) -> Entrustment:
        with write_transaction(self.engine) as conn:
            try:
                return lease_records.record_entrustment(
                    conn,
                    code,
                    reference,
                    enterprise,
                    enterprise_name,
                    valid_from,
                    valid_until,
                    actor,
                    self.clock.now(),
                )
            except EntrustmentTaken:
                raise
            except ValueError as exc:  # ends before it begins, or no owners of record
                raise InvalidEntrustment(str(exc)) from exc

    def end_entrustment(
        self, code: str, reference: str, ended_on: dt.date, reason: str, actor: str
    ) -> Entrustment:
        """Record the entrustment's end (revocation): the enterprise drafts no new lease
        under it; leases filed under it stand. Raises ``UnknownUnit``,
        ``UnknownEntrustment``, ``EntrustmentEnded``, ``InvalidEntrustment``."""
        with write_transaction(self.engine) as conn:
            try:
                return lease_records.end_entrustment(
                    conn, code, reference, ended_on, reason, actor, self.clock.now()
                )
            except (EntrustmentEnded, UnknownEntrustment):
                raise
            except ValueError as exc:  # outside the entrustment's term
                raise InvalidEntrustment(str(exc)) from exc

    def entrustments(self, code: str) -> list[Entrustment]:
        """The unit's entrustments, ended ones too (raises ``UnknownUnit``)."""
        with self.engine.connect() as conn:
            unit = registry.unit(conn, code)
            return list(lease_records.entrustments(conn, unit.id))

    def of_unit(self, code: str) -> list[UnitLease]:
        """The unit's filed leases and their status today (raises ``UnknownUnit``)."""
        today = city_day(self.clock.now())
        with self.engine.connect() as conn:
            unit = registry.unit(conn, code)
            states = lease_records.leases_of_unit(conn, unit.id)
        return [
            UnitLease(
                str(s.filing_number),
                s.space,
                s.starts_on,
                s.ends_on,
                s.occupants,
                s.status(today),
                s.ended_on,
                s.end_reason,
            )
            for s in states
        ]

    def certificate(self, number: str, caller: Caller) -> bytes:
        """The sealed 租赁登记备案证明 of lease filing ``number``; the read is on record."""
        f, c = schema.filings.c, schema.contracts.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.kind, c.data, c.developer_id)
                .join(schema.filings, f.contract_id == c.id)
                .where(f.number == number)
            ).first()
            pdf = lease_records.certificate(conn, number)
        if row is None or pdf is None:
            raise NoCertificate(f"no lease filing {number}")
        kind = kinds.get(row.kind)
        people = {p.id_number for _, p in kind.signers(kinds.load(row.kind, row.data)).values()}
        if not sees_lease_certificate(caller, str(row.developer_id), people):
            raise NoCertificate(f"no lease filing {number}")  # another's: not told it exists
        self.access.record(caller, "read-lease-certificate", number)
        return pdf
