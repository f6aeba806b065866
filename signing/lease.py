"""The structured data a lease (住房租赁合同) is rendered from.

Its text follows the structure of the model text (住房租赁合同示范文本): the parties (the
lessor: every owner of record, or a rental enterprise 住房租赁企业 holding the owners'
entrustment; the lessees), the house and the leased space (the whole unit or one room of
it, 分租), the term, rent and its payment cycle, the deposit, the use and the number of
occupants, the parties' duties, ending the lease, disputes, filing (租赁登记备案).
``signing.render.render_lease`` renders it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from signing.contract import ContractDataError, DisputeResolution, Party

MODEL_TEXT = "住房租赁合同（示范文本）"
MODEL_CODE = "WQ-ZL-1"  # wangqian's rendition, version 1: not an official GF number
MAX_PARTIES = 4  # lessors, and lessees, each
MAX_TERM_YEARS = 20  # 民法典 第七百零五条: a lease term beyond twenty years is void beyond it
ENTERPRISE_ID = "统一社会信用代码"


class PaymentCycle(enum.Enum):
    """How often the rent is paid (租金支付周期), and how many months each payment covers."""

    MONTHLY = "月付"
    QUARTERLY = "季付"
    HALF_YEARLY = "半年付"
    YEARLY = "年付"

    @property
    def months(self) -> int:
        return {"MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "YEARLY": 12}[self.name]


@dataclass(frozen=True)
class LeasedHouse:
    """The house as the 楼盘表 and the register know it, and the space leased of it."""

    code: str  # 28-character 不动产单元代码
    address: str
    floor: int
    room: str  # the unit's number (1203)
    use: str  # the unit's recorded use (住宅)
    building_area: Decimal  # m², of the whole unit
    certificate: str  # 不动产权证书 number
    space: str  # "" for the whole unit, else the room leased (分租: 次卧), as named
    leased_area: Decimal  # m² of the space leased (the whole unit's, or the room's)

    def __post_init__(self) -> None:
        if len(self.code) != 28:
            raise ContractDataError(f"unit code must have 28 characters, not {len(self.code)}")
        if self.building_area <= 0 or self.leased_area <= 0:
            raise ContractDataError("areas must be positive")
        if self.leased_area > self.building_area:
            raise ContractDataError("the leased area cannot exceed the unit's building area")
        if not self.space and self.leased_area != self.building_area:
            raise ContractDataError("a whole unit is leased with its building area")

    @property
    def whole(self) -> bool:
        return not self.space


@dataclass(frozen=True)
class LeaseContract:
    number: str
    lessors: tuple[Party, ...]  # every owner of record, or the one rental enterprise
    lessees: tuple[Party, ...]
    entrustment: str | None  # the enterprise's recorded entrustment (委托) reference, if any
    house: LeasedHouse
    start: dt.date  # first day of the term
    end: dt.date  # last day of the term
    rent: Decimal  # per month, in yuan
    cycle: PaymentCycle
    deposit: Decimal  # 押金, in yuan
    purpose: str  # 租赁用途: 居住
    occupants: int  # 居住人数
    dispute: DisputeResolution
    dispute_body: str
    drafted_at: dt.datetime  # aware; shown in Beijing time
    city: str = "长沙市"
    verify_url: str = "https://changsha.wangqian.example/verify"

    def __post_init__(self) -> None:
        if not self.lessors or not self.lessees:
            raise ContractDataError("a lease needs a lessor and at least one lessee")
        if len(self.lessors) > MAX_PARTIES or len(self.lessees) > MAX_PARTIES:
            raise ContractDataError(f"at most {MAX_PARTIES} lessors and {MAX_PARTIES} lessees")
        if self.entrustment is not None and (
            len(self.lessors) != 1 or self.lessors[0].id_type != ENTERPRISE_ID
        ):
            raise ContractDataError("an entrusted lease has one lessor: the rental enterprise")
        if self.end < self.start:
            raise ContractDataError("the term ends before it starts")
        if self.end >= _years_after(self.start, MAX_TERM_YEARS):
            raise ContractDataError(f"a lease term is at most {MAX_TERM_YEARS} years")
        if self.rent <= 0 or self.deposit < 0:
            raise ContractDataError("the rent must be positive and the deposit not negative")
        if not 1 <= self.occupants <= 50:
            raise ContractDataError("the number of occupants is between 1 and 50")
        if len(self.lessees) > self.occupants:
            raise ContractDataError("every lessee is one of the occupants")
        people = [(p.id_type, p.id_number.strip().upper()) for p in self.lessors + self.lessees]
        if len(set(people)) != len(people):
            raise ContractDataError("lessors and lessees must be distinct")
        if self.drafted_at.tzinfo is None:
            raise ContractDataError("the drafting time must carry its time zone")

    @property
    def by_enterprise(self) -> bool:
        return self.entrustment is not None

    @property
    def area_per_occupant(self) -> Decimal:
        return self.house.leased_area / self.occupants

    @property
    def signature_fields(self) -> tuple[str, ...]:
        """In signing order: the lessor (the enterprise's seal, or each owner), each lessee,
        then the platform's filing seal."""
        lessors = (
            ("lessor",)
            if self.by_enterprise
            else tuple(f"lessor-{i}" for i in range(1, len(self.lessors) + 1))
        )
        lessees = tuple(f"lessee-{i}" for i in range(1, len(self.lessees) + 1))
        return (*lessors, *lessees, "filing-seal")

    @property
    def signature_labels(self) -> tuple[str, ...]:
        return (
            *(f"出租人：{p.name}" for p in self.lessors),
            *(f"承租人：{p.name}" for p in self.lessees),
            "网签备案平台备案电子签章",
        )


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
