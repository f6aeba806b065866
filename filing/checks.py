"""房源核验: is this unit sellable now? Each failure has a stable reason code.

Each requirement is a check of its own; a transaction kind (filing/kinds.py) declares
which it runs, and ``filing.kinds.sellable`` runs those of the kind the unit's facts decide.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from filing.status import UnitFlag, UnitStatus


class Reason(enum.Enum):
    UNIT_NOT_RELEASED = "UNIT_NOT_RELEASED"
    UNIT_RESERVED = "UNIT_RESERVED"
    UNIT_ALREADY_FILED = "UNIT_ALREADY_FILED"
    UNIT_REGISTERED = "UNIT_REGISTERED"
    UNIT_SEIZED = "UNIT_SEIZED"
    UNIT_MORTGAGED_WITHOUT_CONSENT = "UNIT_MORTGAGED_WITHOUT_CONSENT"
    UNIT_NOT_FOR_SALE = "UNIT_NOT_FOR_SALE"
    NO_PRESALE_PERMIT = "NO_PRESALE_PERMIT"
    PERMIT_NOT_YET_VALID = "PERMIT_NOT_YET_VALID"
    PERMIT_EXPIRED = "PERMIT_EXPIRED"
    PERMIT_REVOKED = "PERMIT_REVOKED"
    BUILDING_NOT_COMPLETED = "BUILDING_NOT_COMPLETED"
    NO_MEASURED_AREAS = "NO_MEASURED_AREAS"
    # 存量房 (resale) checks: filing/resale.py
    UNIT_NOT_REGISTERED = "UNIT_NOT_REGISTERED"
    NO_OWNERSHIP_RECORD = "NO_OWNERSHIP_RECORD"
    SELLERS_NOT_OWNERS = "SELLERS_NOT_OWNERS"
    CERTIFICATE_MISMATCH = "CERTIFICATE_MISMATCH"
    MORTGAGE_NOT_RECORDED = "MORTGAGE_NOT_RECORDED"
    OTHER_LIVE_CONTRACT = "OTHER_LIVE_CONTRACT"
    RESALE_RESTRICTED = "RESALE_RESTRICTED"
    # 租赁备案 (lease) checks: filing/lease.py
    NOT_HOUSING = "NOT_HOUSING"
    LESSORS_NOT_OWNERS = "LESSORS_NOT_OWNERS"
    NOT_ENTRUSTED = "NOT_ENTRUSTED"
    LEASE_OVERLAPS = "LEASE_OVERLAPS"
    AREA_PER_OCCUPANT = "AREA_PER_OCCUPANT"


MESSAGES = {
    Reason.UNIT_NOT_RELEASED: "the unit has not been released for sale",
    Reason.UNIT_RESERVED: "the unit is reserved for another contract",
    Reason.UNIT_ALREADY_FILED: "the unit already has a filed contract",
    Reason.UNIT_REGISTERED: "the unit's ownership is already registered",
    Reason.UNIT_SEIZED: "the unit is seized (查封)",
    Reason.UNIT_MORTGAGED_WITHOUT_CONSENT: "the unit is mortgaged without the mortgagee's consent",
    Reason.UNIT_NOT_FOR_SALE: "the unit is withheld from sale",
    Reason.NO_PRESALE_PERMIT: "no presale permit covers the unit",
    Reason.PERMIT_NOT_YET_VALID: "the presale permit is not valid yet",
    Reason.PERMIT_EXPIRED: "the presale permit has expired",
    Reason.PERMIT_REVOKED: "the presale permit was revoked",
    Reason.BUILDING_NOT_COMPLETED: "no completion (竣工验收) is recorded for the unit's building",
    Reason.NO_MEASURED_AREAS: "a completed home is sold on measured areas (实测面积): none",
    Reason.UNIT_NOT_REGISTERED: "only a home whose ownership is registered can be resold",
    Reason.NO_OWNERSHIP_RECORD: "no owners of record are known for the unit",
    Reason.SELLERS_NOT_OWNERS: "the sellers must be exactly the owners of record (every co-owner)",
    Reason.CERTIFICATE_MISMATCH: "the 不动产权证书 number given is not this unit's certificate of "
    "record: give it as printed on the owners' certificate",
    Reason.MORTGAGE_NOT_RECORDED: "the unit is flagged mortgaged but no mortgage is on record",
    Reason.OTHER_LIVE_CONTRACT: "another contract on the unit is still live",
    Reason.RESALE_RESTRICTED: "the home may not be resold yet (限售)",
    Reason.NOT_HOUSING: "only registered, lawful housing (住宅) is leased and filed",
    Reason.LESSORS_NOT_OWNERS: "the lessors must be exactly the owners of record",
    Reason.NOT_ENTRUSTED: "the rental enterprise holds no entrustment of the unit for the term",
    Reason.LEASE_OVERLAPS: "another live lease covers this space in the term",
    Reason.AREA_PER_OCCUPANT: "the area per occupant is below the minimum in force",
}


@dataclass(frozen=True)
class CheckFailure:
    reason: Reason
    detail: str = ""  # e.g. which seller, or from when: never a name or an ID number

    @property
    def code(self) -> str:
        return self.reason.value

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


@dataclass(frozen=True)
class PermitView:
    number: str
    valid_from: dt.date
    valid_until: dt.date | None
    revoked: bool = False


@dataclass(frozen=True)
class UnitView:
    """What the checks need to know about a unit, read in the caller's transaction."""

    status: UnitStatus
    flags: frozenset[UnitFlag]
    reserved_for: str | None  # the contract holding the reservation
    mortgagee_consent: bool
    completed: bool  # its building's completion (竣工验收) is recorded
    permit: PermitView | None
    measured: bool = False  # measured areas (实测面积) are recorded


# A check of one requirement: the reasons it fails (none if it holds). Transaction kinds
# (filing/kinds.py) declare which of these they run before a draft.
Check = Callable[[UnitView, dt.date, str | None], list[Reason]]


def unit_free(unit: UnitView, today: dt.date, contract: str | None) -> list[Reason]:
    """Released, not filed or registered, and not reserved for another contract.

    ``contract``: the contract asking. A unit reserved for that very contract is free
    for it (that is what the reservation is for).
    """
    status_reasons = {
        UnitStatus.NOT_RELEASED: Reason.UNIT_NOT_RELEASED,
        UnitStatus.FILED: Reason.UNIT_ALREADY_FILED,
        UnitStatus.REGISTERED: Reason.UNIT_REGISTERED,
    }
    if unit.status in status_reasons:
        return [status_reasons[unit.status]]
    if unit.status is UnitStatus.RESERVED and (contract is None or unit.reserved_for != contract):
        return [Reason.UNIT_RESERVED]
    return []


def unencumbered(unit: UnitView, today: dt.date, contract: str | None) -> list[Reason]:
    """Not seized, not mortgaged without the mortgagee's consent, not withheld."""
    failures = []
    if UnitFlag.SEIZED in unit.flags:
        failures.append(Reason.UNIT_SEIZED)
    if UnitFlag.MORTGAGED in unit.flags and not unit.mortgagee_consent:
        failures.append(Reason.UNIT_MORTGAGED_WITHOUT_CONSENT)
    if UnitFlag.NOT_FOR_SALE in unit.flags:
        failures.append(Reason.UNIT_NOT_FOR_SALE)
    return failures


def presale_permit(unit: UnitView, today: dt.date, contract: str | None) -> list[Reason]:
    """A presale permit covers the unit and is in force on ``today`` (预售, GF-2014-0171)."""
    if unit.permit is None:
        return [Reason.NO_PRESALE_PERMIT]
    if unit.permit.revoked:
        return [Reason.PERMIT_REVOKED]
    if today < unit.permit.valid_from:
        return [Reason.PERMIT_NOT_YET_VALID]
    if unit.permit.valid_until is not None and today > unit.permit.valid_until:
        return [Reason.PERMIT_EXPIRED]
    return []


def completed_and_measured(unit: UnitView, today: dt.date, contract: str | None) -> list[Reason]:
    """The building's completion is recorded and the unit has measured areas (现售, 0172)."""
    failures = []
    if not unit.completed:
        failures.append(Reason.BUILDING_NOT_COMPLETED)
    if not unit.measured:
        failures.append(Reason.NO_MEASURED_AREAS)
    return failures


def run(
    checks: Sequence[Check], unit: UnitView, today: dt.date, contract: str | None = None
) -> list[CheckFailure]:
    """Every reason the unit fails ``checks``, in their order; empty if it passes."""
    return [CheckFailure(r) for check in checks for r in check(unit, today, contract)]
