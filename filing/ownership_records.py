"""Ownership of record in SQL: registration, import, mortgages and consents; resale facts.

The use-cases (``import_ownership``, ``record_mortgage``, ``record_consent``,
``discharge_mortgage``) each run in one write transaction, record the unit's history and
store their answer with their work (filing/completion.py). ``register_in`` and
``resale_facts`` take the caller's connection, for a transaction that does more (a
registration is also a log entry of the filing it completes: ``FilingService.register``).

* Registering a FILED new-home unit (REGISTER) makes its filing's buyers the owners of
  record under the certificate the authority issued; registering an UNDER_CONTRACT unit
  (TRANSFER, 转移登记) does the same with its resale filing's buyers.
* An existing home that never passed through the platform has its record imported
  (IMPORT_REGISTRATION), as does a unit registered before ownership was recorded.
* A mortgage sets the unit's MORTGAGED flag; each consent and discharge is recorded
  against it; the flag and ``units.mortgagee_consent`` follow the records.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from filing import holdings, registry, schema
from filing.access_log import AccessLog, record_access
from filing.completion import completed
from filing.lease_schema import LEASE_KINDS
from filing.ownership import (
    CoOwnership,
    Mortgage,
    Owner,
    Ownership,
    ownership_of,
)
from filing.policy import Caller
from filing.resale import ResaleFacts
from filing.resale_terms import resale_from_json
from filing.statistics import CITY_TIME
from filing.status import (
    ContractStatus,
    FilingStatus,
    InvalidTransition,
    UnitEvent,
    UnitFlag,
    UnitStatus,
)
from filing.terms import contract_from_json
from ledger.database import write_transaction


class OwnershipRecordError(Exception):
    """An ownership record cannot be written."""


class CertificateTaken(OwnershipRecordError):
    """Another record already has this certificate number."""


class OwnershipExists(OwnershipRecordError):
    """The unit has owners of record: they change only by a registration of a sale."""


class NoOwnershipRecord(OwnershipRecordError):
    """The unit has no owners of record (a mortgage needs them)."""


class NothingToRegister(OwnershipRecordError):
    """The unit is FILED or UNDER_CONTRACT, but no active filing holds it."""


class MortgageExists(OwnershipRecordError):
    """A mortgage with this reference is recorded already."""


class UnknownMortgage(OwnershipRecordError, LookupError):
    pass


class MortgageDischarged(OwnershipRecordError):
    """The mortgage was discharged: nothing more is recorded against it."""


class ConsentExists(OwnershipRecordError):
    """The mortgagee's consent to a sale is recorded already."""


class NotTheMortgagee(OwnershipRecordError):
    """A bank records consent only to a sale of what is mortgaged to it."""


class Basis(enum.Enum):
    FILING = "filing"  # a new home's filed purchase, registered (REGISTER)
    TRANSFER = "transfer"  # a resale's filed purchase, registered (TRANSFER, 转移登记)
    IMPORT = "import"  # from the register, for a home that never passed through here


@dataclass(frozen=True)
class OwnershipRecord:
    ownership: Ownership
    basis: Basis
    filing_number: str | None  # the filed purchase the registration completed
    recorded_at: dt.datetime


# -- reads --------------------------------------------------------------------------------


def current(conn: Connection, unit_id: int) -> OwnershipRecord | None:
    """The unit's current ownership record: its latest."""
    o, w = schema.ownerships.c, schema.ownership_owners.c
    row = conn.execute(
        select(schema.ownerships).where(o.unit_id == unit_id).order_by(o.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    owners = conn.execute(
        select(w.name, w.id_type, w.id_number, w.share)
        .where(w.ownership_id == row.id)
        .order_by(w.position)
    ).all()
    ownership = Ownership(
        row.certificate,
        tuple(Owner(n, t, i, None if s is None else Fraction(s)) for n, t, i, s in owners),
        CoOwnership[row.co_ownership],
        row.registered_on,
        row.acquired_on,
    )
    return OwnershipRecord(ownership, Basis(row.basis), row.filing_number, _aware(row.at))


def mortgages(conn: Connection, unit_id: int) -> tuple[Mortgage, ...]:
    """The unit's mortgages not discharged, oldest first, with their consents."""
    m, c, d = schema.mortgages, schema.mortgage_consents, schema.mortgage_discharges
    rows = conn.execute(
        select(m.c.id, m.c.mortgagee, m.c.reference, m.c.registered_on, c.c.reference)
        .select_from(
            m.outerjoin(c, c.c.mortgage_id == m.c.id).outerjoin(d, d.c.mortgage_id == m.c.id)
        )
        .where(m.c.unit_id == unit_id, d.c.mortgage_id.is_(None))
        .order_by(m.c.id)
    ).all()
    return tuple(Mortgage(int(i), mg, ref, on, consent) for i, mg, ref, on, consent in rows)


def live_contracts(conn: Connection, unit_id: int) -> tuple[str, ...]:
    """Contracts still live on the unit: a draft its reservation holds, or an active sale
    filing that no registration has completed (a registered purchase is done, not live)."""
    c, f, u, o = schema.contracts, schema.filings, schema.units, schema.ownerships
    drafts = conn.execute(
        select(c.c.id)
        .join(u, u.c.id == c.c.unit_id)
        .where(
            c.c.unit_id == unit_id,
            c.c.status == ContractStatus.DRAFT.value,
            u.c.reserved_for == c.c.id,
        )
    ).scalars()
    completed_filings = select(o.c.filing_number).where(
        o.c.unit_id == unit_id, o.c.filing_number.is_not(None)
    )
    filed = conn.execute(
        select(f.c.contract_id).where(
            f.c.unit_id == unit_id,
            f.c.status == FilingStatus.ACTIVE.value,
            f.c.number.not_in(completed_filings),
            f.c.kind.not_in(LEASE_KINDS),  # a lease is no sale: a leased home may be sold
        )
    ).scalars()
    return tuple(sorted({*map(str, drafts), *map(str, filed)}))


def resale_facts(conn: Connection, code: str) -> ResaleFacts:
    """What filing/resale.py checks, read in the caller's transaction."""
    unit = registry.unit(conn, code)
    record = current(conn, unit.id)
    return ResaleFacts(
        status=unit.status,
        flags=unit.flags,
        reserved_for=unit.reserved_for,
        district=unit.district,
        ownership=None if record is None else record.ownership,
        mortgages=mortgages(conn, unit.id),
        live_contracts=live_contracts(conn, unit.id),
    )


def read(engine: Engine, code: str) -> tuple[OwnershipRecord | None, tuple[Mortgage, ...]]:
    """The unit's current ownership record and its mortgages not discharged."""
    with engine.connect() as conn:
        unit = registry.unit(conn, code)
        return current(conn, unit.id), mortgages(conn, unit.id)


# -- registration -------------------------------------------------------------------------


def _insert(
    conn: Connection,
    unit_id: int,
    ownership: Ownership,
    basis: Basis,
    filing_number: str | None,
    actor: str,
) -> OwnershipRecord:
    o = schema.ownerships.c
    taken = conn.execute(select(o.id).where(o.certificate == ownership.certificate)).first()
    if taken is not None:
        raise CertificateTaken(f"certificate {ownership.certificate} is recorded already")
    at = registry.now()
    try:
        pk = conn.execute(
            insert(schema.ownerships).values(
                unit_id=unit_id,
                certificate=ownership.certificate,
                co_ownership=ownership.co_ownership.name,
                registered_on=ownership.registered_on,
                acquired_on=ownership.acquired_on,
                basis=basis.value,
                filing_number=filing_number,
                recorded_by=actor,
                at=at,
            )
        ).inserted_primary_key
    except IntegrityError as exc:  # the only unique column a new row can clash on
        raise CertificateTaken(f"certificate {ownership.certificate} is recorded already") from exc
    assert pk is not None
    conn.execute(
        insert(schema.ownership_owners),
        [
            {
                "ownership_id": int(pk[0]),
                "position": n,
                "name": owner.name,
                "id_type": owner.id_type,
                "id_number": owner.id_number,
                "person": holdings.person_key(owner.id_number),
                "share": None if owner.share is None else str(owner.share),
            }
            for n, owner in enumerate(ownership.owners, start=1)
        ],
    )
    return OwnershipRecord(ownership, basis, filing_number, at)


def register_in(
    conn: Connection,
    code: str,
    certificate: str,
    actor: str,
    registered_on: dt.date | None = None,
    shares: Sequence[str] | None = None,
) -> OwnershipRecord:
    """Register the purchase that holds the unit: a FILED new home (REGISTER) or a resale
    UNDER_CONTRACT (TRANSFER, 转移登记). Its buyers become the owners of record."""
    unit = registry.unit(conn, code)
    if unit.status is UnitStatus.FILED:
        event, basis, words = UnitEvent.REGISTER, Basis.FILING, "不动产登记"
    elif unit.status is UnitStatus.UNDER_CONTRACT:
        event, basis, words = UnitEvent.TRANSFER, Basis.TRANSFER, "转移登记"
    else:
        raise InvalidTransition(f"REGISTER does not apply to a {unit.status.value} unit")
    f, c = schema.filings.c, schema.contracts.c
    row = conn.execute(
        select(f.number, f.filed_at, c.data)
        .join(schema.contracts, c.id == f.contract_id)
        .where(
            f.unit_id == unit.id,
            f.contract_id == unit.reserved_for,
            f.status == FilingStatus.ACTIVE.value,
        )
    ).first()
    if row is None:
        raise NothingToRegister(f"no active filing holds unit {code}")
    if basis is Basis.FILING:
        buyers = [(b.name, b.id_type, b.id_number) for b in contract_from_json(row.data).buyers]
    else:
        buyers = [(b.name, b.id_type, b.id_number) for b in resale_from_json(row.data).buyers]
    ownership = ownership_of(
        certificate, buyers, registered_on or city_today(), _aware(row.filed_at).date(), shares
    )
    registry.apply(conn, code, event, actor, f"{words} {ownership.certificate}")
    return _insert(conn, unit.id, ownership, basis, row.number, actor)


def import_ownership(
    engine: Engine, code: str, ownership: Ownership, actor: str
) -> OwnershipRecord:
    """Record the owners of an existing home from the register: a unit never offered here
    (NOT_RELEASED → REGISTERED), or one registered before ownership was recorded."""
    with write_transaction(engine) as conn:
        unit = registry.unit(conn, code)
        if unit.status is UnitStatus.REGISTERED:
            if current(conn, unit.id) is not None:
                raise OwnershipExists(
                    f"unit {code} has owners of record; they change by a registered sale"
                )
            # No status changes: claim the unit's version, so that racing imports of a
            # unit registered before owners were recorded cannot both write one.
            u = schema.units.c
            claimed = conn.execute(
                update(schema.units)
                .where(u.id == unit.id, u.version == unit.version)
                .values(version=unit.version + 1)
            ).rowcount
            if claimed != 1:
                raise registry.StaleUnit(f"unit {code} changed concurrently")
            registry.note(
                conn, code, actor, "OWNERSHIP_RECORDED", f"不动产权证书 {ownership.certificate}"
            )
        else:
            registry.apply(
                conn,
                code,
                UnitEvent.IMPORT_REGISTRATION,
                actor,
                f"登记簿导入 不动产权证书 {ownership.certificate}",
            )
        record = _insert(conn, unit.id, ownership, Basis.IMPORT, None, actor)
        completed(conn, record)
    return record


# -- mortgages ----------------------------------------------------------------------------


def record_mortgage(
    engine: Engine, code: str, mortgagee: str, reference: str, registered_on: dt.date, actor: str
) -> Mortgage:
    with write_transaction(engine) as conn:
        unit = registry.unit(conn, code)
        if current(conn, unit.id) is None:
            raise NoOwnershipRecord(f"unit {code} has no owners of record to mortgage it")
        m = schema.mortgages.c
        if conn.execute(select(m.id).where(m.reference == reference)).first() is not None:
            raise MortgageExists(f"mortgage {reference} is recorded already")
        try:
            pk = conn.execute(
                insert(schema.mortgages).values(
                    unit_id=unit.id,
                    mortgagee=mortgagee,
                    reference=reference,
                    registered_on=registered_on,
                    recorded_by=actor,
                    at=registry.now(),
                )
            ).inserted_primary_key
        except IntegrityError as exc:
            raise MortgageExists(f"mortgage {reference} is recorded already") from exc
        assert pk is not None
        registry.note(conn, code, actor, "MORTGAGE", f"抵押登记 {reference}，抵押权人 {mortgagee}")
        _follow(conn, code, actor)
        mortgage = Mortgage(int(pk[0]), mortgagee, reference, registered_on)
        completed(conn, mortgage)
    return mortgage


def _mortgage(conn: Connection, code: str, reference: str) -> tuple[Mortgage, bool]:
    """The unit's mortgage with this reference, and whether it was discharged."""
    unit = registry.unit(conn, code)
    m, c, d = schema.mortgages, schema.mortgage_consents, schema.mortgage_discharges
    row = conn.execute(
        select(
            m.c.id,
            m.c.mortgagee,
            m.c.reference,
            m.c.registered_on,
            c.c.reference,
            d.c.mortgage_id,
        )
        .select_from(
            m.outerjoin(c, c.c.mortgage_id == m.c.id).outerjoin(d, d.c.mortgage_id == m.c.id)
        )
        .where(and_(m.c.unit_id == unit.id, m.c.reference == reference))
    ).first()
    if row is None:
        raise UnknownMortgage(f"unit {code} has no mortgage {reference}")
    return Mortgage(int(row[0]), row[1], row[2], row[3], row[4]), row[5] is not None


def record_consent(
    engine: Engine,
    code: str,
    mortgage_reference: str,
    reference: str,
    given_on: dt.date,
    actor: str,
    mortgagee: str | None = None,
) -> Mortgage:
    """Record the mortgagee's consent to a sale (抵押权人同意转让). ``mortgagee``: when the
    mortgagee records it itself, who it is (it must be the mortgage's)."""
    with write_transaction(engine) as conn:
        mortgage, discharged = _mortgage(conn, code, mortgage_reference)
        if mortgagee is not None and mortgagee != mortgage.mortgagee:
            raise NotTheMortgagee(f"mortgage {mortgage_reference} is not {mortgagee}'s")
        if discharged:
            raise MortgageDischarged(f"mortgage {mortgage_reference} was discharged")
        if mortgage.consented:
            raise ConsentExists(f"the consent to a sale under {mortgage_reference} is recorded")
        try:
            conn.execute(
                insert(schema.mortgage_consents).values(
                    mortgage_id=mortgage.id,
                    reference=reference,
                    given_on=given_on,
                    recorded_by=actor,
                    at=registry.now(),
                )
            )
        except IntegrityError as exc:
            raise ConsentExists(f"the consent under {mortgage_reference} is recorded") from exc
        registry.note(
            conn,
            code,
            actor,
            "MORTGAGEE_CONSENT",
            f"抵押权人同意转让 {reference}（{mortgage_reference}）",
        )
        _follow(conn, code, actor)
        consented = Mortgage(
            mortgage.id, mortgage.mortgagee, mortgage.reference, mortgage.registered_on, reference
        )
        completed(conn, consented)
    return consented


def discharge_mortgage(
    engine: Engine,
    code: str,
    mortgage_reference: str,
    reference: str,
    discharged_on: dt.date,
    actor: str,
) -> Mortgage:
    with write_transaction(engine) as conn:
        mortgage, discharged = _mortgage(conn, code, mortgage_reference)
        if discharged:
            raise MortgageDischarged(f"mortgage {mortgage_reference} was discharged already")
        try:
            conn.execute(
                insert(schema.mortgage_discharges).values(
                    mortgage_id=mortgage.id,
                    reference=reference,
                    discharged_on=discharged_on,
                    recorded_by=actor,
                    at=registry.now(),
                )
            )
        except IntegrityError as exc:
            raise MortgageDischarged(f"mortgage {mortgage_reference} was discharged") from exc
        registry.note(
            conn,
            code,
            actor,
            "MORTGAGE_DISCHARGE",
            f"抵押权注销 {reference}（{mortgage_reference}）",
        )
        _follow(conn, code, actor)
        completed(conn, mortgage)
    return mortgage


def _follow(conn: Connection, code: str, actor: str) -> None:
    """Make the unit's MORTGAGED flag and ``mortgagee_consent`` say what the records say,
    so that every check (房源核验 of new homes too) sees the same."""
    unit = registry.unit(conn, code)
    active = mortgages(conn, unit.id)
    if (UnitFlag.MORTGAGED in unit.flags) != bool(active):
        reason = "抵押登记" if active else "抵押权均已注销"
        registry.set_flag(conn, code, UnitFlag.MORTGAGED, bool(active), actor, reason)
        unit = registry.unit(conn, code)
    consent = bool(active) and all(m.consented for m in active)
    u = schema.units.c
    row = conn.execute(select(u.mortgagee_consent).where(u.id == unit.id)).one()
    if bool(row[0]) != consent:
        changed = conn.execute(
            update(schema.units)
            .where(u.id == unit.id, u.version == unit.version)
            .values(mortgagee_consent=consent, version=unit.version + 1)
        ).rowcount
        if changed != 1:
            raise registry.StaleUnit(f"unit {code} changed concurrently")


def city_today() -> dt.date:
    """Today in the city (UTC+8): the day a registration is dated by default."""
    return registry.now().astimezone(CITY_TIME).date()


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class OwnershipRegister:
    """The ownership use-cases of one deployment: reads (on record when they name owners),
    registration, imports from the register, mortgages, consents and discharges."""

    def __init__(self, engine: Engine, access: AccessLog) -> None:
        self.engine = engine
        self.access = access

    def read(self, code: str) -> tuple[OwnershipRecord | None, tuple[Mortgage, ...]]:
        return read(self.engine, code)

    def record_read(self, caller: Caller, code: str) -> None:
        with self.engine.begin() as conn:
            record_access(conn, caller, "read-ownership", code, self.access.clock)

    # Registration is the filing service's (``FilingService.register``): it is also a log
    # entry of the filing it completes.

    def import_ownership(self, code: str, ownership: Ownership, actor: str) -> OwnershipRecord:
        return import_ownership(self.engine, code, ownership, actor)

    def record_mortgage(
        self, code: str, mortgagee: str, reference: str, registered_on: dt.date, actor: str
    ) -> Mortgage:
        return record_mortgage(self.engine, code, mortgagee, reference, registered_on, actor)

    def record_consent(
        self,
        code: str,
        mortgage: str,
        reference: str,
        given_on: dt.date,
        actor: str,
        bank: str | None,
    ) -> Mortgage:
        return record_consent(self.engine, code, mortgage, reference, given_on, actor, bank)

    def discharge_mortgage(
        self, code: str, mortgage: str, reference: str, discharged_on: dt.date, actor: str
    ) -> Mortgage:
        return discharge_mortgage(self.engine, code, mortgage, reference, discharged_on, actor)
