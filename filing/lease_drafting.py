"""A lease (住房租赁合同) from the terms its drafter proposes and the register's facts.

The house, its certificate and its area are the 楼盘表's and the ownership record's, not
the request's; the request names the parties, the space (the whole unit or a room of it,
with the room's area), the term, rent, payment cycle, deposit, use and occupants. Whether
the lessors may lease it is for the lease checks (filing/lease.py) when the draft is
recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from filing.drafting import NONE
from filing.ownership import Ownership
from filing.registry import UnitFacts
from signing.contract import DisputeResolution, Party
from signing.lease import LeaseContract, LeasedHouse, PaymentCycle


@dataclass(frozen=True)
class LeaseTerms:
    unit_code: str
    number: str
    lessors: tuple[Party, ...]  # every owner of record, or the one rental enterprise
    enterprise: str | None  # the entrustment's reference when the lessor is an enterprise
    lessees: tuple[Party, ...]
    space: str  # "" for the whole unit
    room_area: Decimal | None  # the room's area when a room is leased
    start: dt.date
    end: dt.date
    rent: Decimal
    cycle: PaymentCycle
    deposit: Decimal
    purpose: str
    occupants: int
    dispute: DisputeResolution
    dispute_body: str


def compose_lease(
    terms: LeaseTerms, facts: UnitFacts, ownership: Ownership | None, now: dt.datetime
) -> LeaseContract:
    """The lease of these terms, the house as the register records it. A unit without an
    ownership record gets an empty certificate: the checks refuse it."""
    area = (facts.measured or facts.forecast).building
    return LeaseContract(
        number=terms.number,
        lessors=tuple(
            Party("lessor", p.name, p.id_type, p.id_number, p.address, p.phone)
            for p in terms.lessors
        ),
        lessees=tuple(
            Party("lessee", p.name, p.id_type, p.id_number, p.address, p.phone)
            for p in terms.lessees
        ),
        entrustment=terms.enterprise,
        house=LeasedHouse(
            code=facts.code,
            address=facts.address,
            floor=facts.floor,
            room=facts.room,
            use=facts.use,
            building_area=area,
            certificate=NONE if ownership is None else ownership.certificate,
            space=terms.space.strip(),
            leased_area=area if not terms.space.strip() else (terms.room_area or Decimal(0)),
        ),
        start=terms.start,
        end=terms.end,
        rent=terms.rent,
        cycle=terms.cycle,
        deposit=terms.deposit,
        purpose=terms.purpose,
        occupants=terms.occupants,
        dispute=terms.dispute,
        dispute_body=terms.dispute_body,
        drafted_at=now,
    )
