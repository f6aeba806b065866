"""房源核验: is this unit sellable now? Each failure has a stable reason code."""

from __future__ import annotations

import datetime as dt
import enum
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
    NO_REGISTRATION_CERTIFICATE = "NO_REGISTRATION_CERTIFICATE"
    # 存量房 (resale) checks: filing/resale.py
    UNIT_NOT_REGISTERED = "UNIT_NOT_REGISTERED"
    NO_OWNERSHIP_RECORD = "NO_OWNERSHIP_RECORD"
    SELLERS_NOT_OWNERS = "SELLERS_NOT_OWNERS"
    MORTGAGE_NOT_RECORDED = "MORTGAGE_NOT_RECORDED"
    OTHER_LIVE_CONTRACT = "OTHER_LIVE_CONTRACT"
    RESALE_RESTRICTED = "RESALE_RESTRICTED"


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
    Reason.NO_REGISTRATION_CERTIFICATE: "a completed home needs its registration certificate",
    Reason.UNIT_NOT_REGISTERED: "only a home whose ownership is registered can be resold",
    Reason.NO_OWNERSHIP_RECORD: "no owners of record are known for the unit",
    Reason.SELLERS_NOT_OWNERS: "the sellers must be exactly the owners of record (every co-owner)",
    Reason.MORTGAGE_NOT_RECORDED: "the unit is flagged mortgaged but no mortgage is on record",
    Reason.OTHER_LIVE_CONTRACT: "another contract on the unit is still live",
    Reason.RESALE_RESTRICTED: "the home may not be resold yet (限售)",
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
    """What the check needs to know about a unit, read in the caller's transaction."""

    status: UnitStatus
    flags: frozenset[UnitFlag]
    reserved_for: str | None  # the contract holding the reservation
    mortgagee_consent: bool
    completed: bool  # a completed home is sold on its registration certificate, not a permit
    registration_certificate: str | None
    permit: PermitView | None


def check_sellable(
    unit: UnitView, today: dt.date, contract: str | None = None
) -> list[CheckFailure]:
    """Every reason the unit cannot be sold now; empty if it can.

    ``contract``: the contract asking. A unit reserved for that very contract is
    sellable to it (that is what the reservation is for).
    """
    failures: list[Reason] = []
    status_reasons = {
        UnitStatus.NOT_RELEASED: Reason.UNIT_NOT_RELEASED,
        UnitStatus.FILED: Reason.UNIT_ALREADY_FILED,
        UnitStatus.REGISTERED: Reason.UNIT_REGISTERED,
    }
    if unit.status in status_reasons:
        failures.append(status_reasons[unit.status])
    elif unit.status is UnitStatus.RESERVED and (contract is None or unit.reserved_for != contract):
        failures.append(Reason.UNIT_RESERVED)
    if UnitFlag.SEIZED in unit.flags:
        failures.append(Reason.UNIT_SEIZED)
    if UnitFlag.MORTGAGED in unit.flags and not unit.mortgagee_consent:
        failures.append(Reason.UNIT_MORTGAGED_WITHOUT_CONSENT)
    if UnitFlag.NOT_FOR_SALE in unit.flags:
        failures.append(Reason.UNIT_NOT_FOR_SALE)
    if unit.completed:
        if not unit.registration_certificate:
            failures.append(Reason.NO_REGISTRATION_CERTIFICATE)
    elif unit.permit is None:
        failures.append(Reason.NO_PRESALE_PERMIT)
    elif unit.permit.revoked:
        failures.append(Reason.PERMIT_REVOKED)
    elif today < unit.permit.valid_from:
        failures.append(Reason.PERMIT_NOT_YET_VALID)
    elif unit.permit.valid_until is not None and today > unit.permit.valid_until:
        failures.append(Reason.PERMIT_EXPIRED)
    return [CheckFailure(r) for r in failures]
