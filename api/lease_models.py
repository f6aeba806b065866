"""The requests of the lease routes (api/lease_routes.py): a lease (住房租赁) as its drafter
proposes it, and an entrustment to a rental enterprise as the authority records it.

The house, its 不动产权证书 and its area are not asked for: the platform reads them from the
楼盘表 and the ownership record (filing/lease_drafting.py ``compose_lease``).
"""

# No "from __future__ import annotations": FastAPI must see the models' annotations.

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from api.ownership_routes import PLAIN
from api.resale_models import PersonIn
from filing.lease_drafting import LeaseTerms
from signing.contract import DisputeResolution, Party
from signing.lease import ENTERPRISE_ID, PaymentCycle


class EnterpriseIn(BaseModel):
    """The rental enterprise (住房租赁企业) that leases as the owners' entrusted lessor."""

    name: str = Field(pattern=PLAIN, min_length=1, max_length=100)
    credit_code: str = Field(
        pattern=PLAIN, min_length=1, max_length=40, description="统一社会信用代码 (its key's org)"
    )
    entrustment: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="the recorded entrustment"
    )
    address: str = Field(pattern=PLAIN, default="", max_length=200)
    phone: str = Field(pattern=PLAIN, default="", max_length=30)


class LeaseIn(BaseModel):
    unit_code: str = Field(min_length=28, max_length=28, examples=["430104001001GB00001F00010203"])
    number: str = Field(pattern=PLAIN, min_length=1, max_length=40, examples=["ZL-2026-000001"])
    lessors: list[PersonIn] = Field(
        default_factory=list, max_length=4, description="every owner of record, as recorded"
    )
    enterprise: EnterpriseIn | None = Field(
        default=None, description="instead of the owners: the rental enterprise they entrusted"
    )
    lessees: list[PersonIn] = Field(min_length=1, max_length=4)
    space: str = Field(
        pattern=PLAIN, default="", max_length=40, description="empty: the whole unit; a room's name"
    )
    room_area: Decimal | None = Field(
        default=None, gt=0, lt=Decimal(10000), description="m², when a room is leased"
    )
    start: dt.date
    end: dt.date
    rent: Decimal = Field(gt=0, lt=Decimal("1e9"), description="yuan per month")
    cycle: Literal["MONTHLY", "QUARTERLY", "HALF_YEARLY", "YEARLY"] = "MONTHLY"
    deposit: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("1e9"))
    purpose: str = Field(pattern=PLAIN, default="居住", min_length=1, max_length=20)
    occupants: int = Field(ge=1, le=50)
    dispute: Literal["COURT", "ARBITRATION"] = "COURT"
    dispute_body: str = Field(pattern=PLAIN, min_length=1, max_length=100)


class RenewalIn(BaseModel):
    reason: str = Field(pattern=PLAIN, min_length=1, max_length=500, examples=["续租一年"])
    end: dt.date = Field(description="the renewed term's last day")


class EntrustmentIn(BaseModel):
    reference: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="委托登记编号, unique"
    )
    enterprise: str = Field(
        pattern=PLAIN, min_length=1, max_length=40, description="统一社会信用代码"
    )
    enterprise_name: str = Field(pattern=PLAIN, min_length=1, max_length=100)
    valid_from: dt.date
    valid_until: dt.date


def _party(role: str, p: PersonIn) -> Party:
    return Party(role, p.name, p.id_type, p.id_number, p.address, p.phone)


def lease_terms(data: LeaseIn) -> LeaseTerms:
    e = data.enterprise
    lessors: tuple[Party, ...]
    if e is not None:
        lessors = (Party("lessor", e.name, ENTERPRISE_ID, e.credit_code, e.address, e.phone),)
    else:
        lessors = tuple(_party("lessor", p) for p in data.lessors)
    return LeaseTerms(
        unit_code=data.unit_code,
        number=data.number,
        lessors=lessors,
        enterprise=None if e is None else e.entrustment,
        lessees=tuple(_party("lessee", p) for p in data.lessees),
        space=data.space,
        room_area=data.room_area,
        start=data.start,
        end=data.end,
        rent=data.rent,
        cycle=PaymentCycle[data.cycle],
        deposit=data.deposit,
        purpose=data.purpose,
        occupants=data.occupants,
        dispute=DisputeResolution[data.dispute],
        dispute_body=data.dispute_body,
    )


class EntrustmentEndIn(BaseModel):
    reference: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="the entrustment's 委托登记编号"
    )
    ended_on: dt.date = Field(description="its last day, within its term")
    reason: str = Field(pattern=PLAIN, min_length=1, max_length=500, examples=["业主书面撤销委托"])
