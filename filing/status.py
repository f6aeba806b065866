"""A unit's status through its life, and the blocking flags kept apart from it.

Pure state transitions: the repository applies them and records each as an event.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class UnitStatus(enum.Enum):
    NOT_RELEASED = "NOT_RELEASED"  # built or planned, not yet offered
    AVAILABLE = "AVAILABLE"  # offered for sale
    RESERVED = "RESERVED"  # held for a draft contract until it expires
    FILED = "FILED"  # signed and filed (网签备案)
    REGISTERED = "REGISTERED"  # ownership registered (不动产登记); owners of record known
    # 存量房 (resale) of a REGISTERED unit: its own two statuses, so that undoing a resale
    # step returns the unit to REGISTERED (its owners unchanged), never to AVAILABLE.
    RESALE_RESERVED = "RESALE_RESERVED"  # held for a resale draft until it expires
    UNDER_CONTRACT = "UNDER_CONTRACT"  # a resale contract filed; awaiting 转移登记

    @property
    def holds_contract(self) -> bool:
        """Whether a contract holds the unit in this status (``units.reserved_for``)."""
        return self in _HOLDING


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
    ENDED = "ENDED"  # a lease whose term ran out (期满终止): it was in force until then


class FilingEvent(enum.StrEnum):
    """A line of a filing's history (``filing_events``), beside its log entry."""

    FILED = "FILED"
    CHANGED = "CHANGED"
    CANCELLED = "CANCELLED"
    REGISTERED = "REGISTERED"  # 不动产登记 / 转移登记 completed it (its ``registered`` entry)
    EXPIRED = "EXPIRED"  # a lease's term ran out (its ``expired`` entry)
    FUNDS_DEPOSITED = "FUNDS-DEPOSITED"  # 资金监管: the bank confirmed a deposit
    FUNDS_RELEASED = "FUNDS-RELEASED"  # ... released the balance to the seller
    FUNDS_REFUNDED = "FUNDS-REFUNDED"  # ... refunded the balance to the buyer
    MAINTENANCE_DEPOSITED = "MAINTENANCE-DEPOSITED"  # 维修资金: the designated bank confirmed
    MAINTENANCE_USED = "MAINTENANCE-USED"  # ... an approved use debited the filing's unit
    MAINTENANCE_REFUNDED = "MAINTENANCE-REFUNDED"  # ... refunded the cancelled filing's deposits


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
    REGISTER = "REGISTER"  # the new home's buyers become its owners of record
    # An existing home that never passed through the platform: its owners of record are
    # imported from the real-estate register (登记簿).
    IMPORT_REGISTRATION = "IMPORT_REGISTRATION"
    # Resale (存量房买卖) of a REGISTERED unit: the same steps as a new home's, under their
    # own names, so that no new-home step can move a registered unit and back.
    RESERVE_RESALE = "RESERVE_RESALE"
    RELEASE_RESALE_RESERVATION = "RELEASE_RESALE_RESERVATION"  # resale draft withdrawn/expired
    FILE_RESALE = "FILE_RESALE"
    CANCEL_RESALE_FILING = "CANCEL_RESALE_FILING"  # 注销 of a resale filing: owners unchanged
    TRANSFER = "TRANSFER"  # 转移登记: the resale's buyers become the owners of record


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
    (UnitStatus.NOT_RELEASED, UnitEvent.IMPORT_REGISTRATION): UnitStatus.REGISTERED,
    (UnitStatus.REGISTERED, UnitEvent.RESERVE_RESALE): UnitStatus.RESALE_RESERVED,
    (UnitStatus.RESALE_RESERVED, UnitEvent.RELEASE_RESALE_RESERVATION): UnitStatus.REGISTERED,
    (UnitStatus.RESALE_RESERVED, UnitEvent.FILE_RESALE): UnitStatus.UNDER_CONTRACT,
    (UnitStatus.UNDER_CONTRACT, UnitEvent.CANCEL_RESALE_FILING): UnitStatus.REGISTERED,
    (UnitStatus.UNDER_CONTRACT, UnitEvent.TRANSFER): UnitStatus.REGISTERED,
}

_HOLDING = frozenset(
    {
        UnitStatus.RESERVED,
        UnitStatus.FILED,
        UnitStatus.REGISTERED,
        UnitStatus.RESALE_RESERVED,
        UnitStatus.UNDER_CONTRACT,
    }
)


@dataclass(frozen=True)
class Lifecycle:
    """The unit events a kind of transaction applies at each step of the pipeline.

    A transaction kind (filing/kinds.py) declares one; the pipeline applies
    ``reserve`` at the draft, ``release`` when a draft is withdrawn or expires,
    ``file`` at the last signature, ``cancel`` at a cancellation (注销) and
    ``complete`` at the registration that ends the transaction.
    """

    reserve: UnitEvent
    release: UnitEvent
    file: UnitEvent
    cancel: UnitEvent
    complete: UnitEvent

    @property
    def sellable_from(self) -> UnitStatus:
        """The status a unit must be in for a draft of this kind."""
        return next(before for (before, event) in TRANSITIONS if event is self.reserve)


NEW_HOME = Lifecycle(
    reserve=UnitEvent.RESERVE,
    release=UnitEvent.RELEASE_RESERVATION,
    file=UnitEvent.FILE,
    cancel=UnitEvent.CANCEL_FILING,
    complete=UnitEvent.REGISTER,
)
RESALE = Lifecycle(
    reserve=UnitEvent.RESERVE_RESALE,
    release=UnitEvent.RELEASE_RESALE_RESERVATION,
    file=UnitEvent.FILE_RESALE,
    cancel=UnitEvent.CANCEL_RESALE_FILING,
    complete=UnitEvent.TRANSFER,
)


def transition(status: UnitStatus, event: UnitEvent) -> UnitStatus:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} does not apply to a {status.value} unit") from None
