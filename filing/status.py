"""A unit's status through its life, and the blocking flags kept apart from it.

Pure state transitions: the repository applies them and records each as an event.
"""

from __future__ import annotations

import enum


class UnitStatus(enum.Enum):
    NOT_RELEASED = "NOT_RELEASED"  # built or planned, not yet offered
    AVAILABLE = "AVAILABLE"  # offered for sale
    RESERVED = "RESERVED"  # held for a draft contract until it expires
    FILED = "FILED"  # signed and filed (网签备案)
    REGISTERED = "REGISTERED"  # ownership registered (不动产登记)


class ContractStatus(enum.StrEnum):
    """A contract's (or an agreement's) status; stored as its value."""

    DRAFT = "DRAFT"  # drafted, the unit held; parties sign in order
    FILED = "FILED"  # every party signed: filed (an agreement: carried out)
    WITHDRAWN = "WITHDRAWN"  # withdrawn by the developer before filing
    EXPIRED = "EXPIRED"  # its reservation ran out before every party signed


class FilingStatus(enum.StrEnum):
    """A filing's status; stored as its value."""

    ACTIVE = "ACTIVE"  # in force
    CANCELLED = "CANCELLED"  # 注销, by agreement or judgment


class FilingEvent(enum.StrEnum):
    """A line of a filing's history (``filing_events``), beside its log entry."""

    FILED = "FILED"
    CHANGED = "CHANGED"
    CANCELLED = "CANCELLED"


class UnitFlag(enum.Enum):
    SEIZED = "SEIZED"  # 查封 by a court
    MORTGAGED = "MORTGAGED"  # 抵押; sellable only with the mortgagee's consent
    NOT_FOR_SALE = "NOT_FOR_SALE"  # withheld by the developer or the authority


class UnitEvent(enum.Enum):
    RELEASE = "RELEASE"
    WITHDRAW = "WITHDRAW"  # back to NOT_RELEASED
    RESERVE = "RESERVE"
    RELEASE_RESERVATION = "RELEASE_RESERVATION"  # draft withdrawn or expired
    FILE = "FILE"
    CANCEL_FILING = "CANCEL_FILING"  # 注销: back on the market
    REGISTER = "REGISTER"


class InvalidTransition(ValueError):
    """The event does not apply to a unit in this status."""


TRANSITIONS: dict[tuple[UnitStatus, UnitEvent], UnitStatus] = {
    (UnitStatus.NOT_RELEASED, UnitEvent.RELEASE): UnitStatus.AVAILABLE,
    (UnitStatus.AVAILABLE, UnitEvent.WITHDRAW): UnitStatus.NOT_RELEASED,
    (UnitStatus.AVAILABLE, UnitEvent.RESERVE): UnitStatus.RESERVED,
    (UnitStatus.RESERVED, UnitEvent.RELEASE_RESERVATION): UnitStatus.AVAILABLE,
    (UnitStatus.RESERVED, UnitEvent.FILE): UnitStatus.FILED,
    (UnitStatus.FILED, UnitEvent.CANCEL_FILING): UnitStatus.AVAILABLE,
    (UnitStatus.FILED, UnitEvent.REGISTER): UnitStatus.REGISTERED,
}


def transition(status: UnitStatus, event: UnitEvent) -> UnitStatus:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} does not apply to a {status.value} unit") from None
