"""The structured data a resale contract (存量房买卖合同) is rendered from.

Its text follows the structure of the city's model text (存量房买卖合同示范文本): the
parties (every owner of record sells; an optional brokerage 经纪机构 with its filing
number and its agent), the house and its certificate, price and payment, transaction-fund
supervision (交易资金监管), taxes and fees, delivery, transfer registration (转移登记) and
its deadline, default, disputes. ``signing.render.render_resale`` renders it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal

from signing.contract import ContractDataError, DisputeResolution, Party, Payment

# What the PDF names as its model text (the city's resale model, in our rendition).
MODEL_TEXT = "存量房买卖合同（示范文本）"
MODEL_CODE = "WQ-ESF-1"  # wangqian's rendition, version 1: not an official GF number
MAX_PARTIES = 4  # sellers, and buyers, each


class TaxSplit(enum.Enum):
    """Who bears the taxes and fees of the transaction (税费承担)."""

    BY_LAW = "按照国家及本市有关规定，由出卖人、买受人各自承担"
    BUYER = "全部由买受人承担"
    SELLER = "全部由出卖人承担"


@dataclass(frozen=True)
class Brokerage:
    """The brokerage (经纪机构) that made the deal, and its agent, who signs too."""

    name: str
    credit_code: str  # 统一社会信用代码
    filing_number: str  # 经纪机构备案证明编号
    agent_name: str  # 经纪人员
    agent_registration: str  # 经纪人员登记（职业资格）证书编号
    fee: Decimal = Decimal(0)  # 佣金, in yuan
    fee_payer: str = "买受人"
    # The agent signs the contract in person (a personal key, after the identity check):
    # the ID the platform checks the agent's identity against.
    agent_id_type: str = "居民身份证"
    agent_id: str = ""

    def __post_init__(self) -> None:
        required = (self.name, self.credit_code, self.filing_number, self.agent_name)
        if not all(v.strip() for v in required) or not self.agent_registration.strip():
            raise ContractDataError("a brokerage needs its name, codes, filing number and agent")
        if self.fee < 0:
            raise ContractDataError("the brokerage fee must not be negative")


@dataclass(frozen=True)
class House:
    """The house as the register knows it (不动产权证书)."""

    code: str  # 28-character 不动产单元代码
    address: str
    floor: int
    room: str
    use: str
    building_area: Decimal  # m², as registered
    inner_area: Decimal | None
    certificate: str  # 不动产权证书 number
    registered_on: dt.date
    co_ownership: str  # 单独所有, 共同共有, 按份共有
    mortgage: str = "无抵押"  # or who holds the mortgage and the reference of their consent

    def __post_init__(self) -> None:
        if len(self.code) != 28:
            raise ContractDataError(f"unit code must have 28 characters, not {len(self.code)}")
        if self.building_area <= 0 or (self.inner_area is not None and self.inner_area <= 0):
            raise ContractDataError("areas must be positive")
        if self.inner_area is not None and self.inner_area > self.building_area:
            raise ContractDataError("the inner area cannot exceed the building area")
        if not self.certificate.strip():
            raise ContractDataError("a resold house needs its certificate number")


@dataclass(frozen=True)
class Supervision:
    """The supervised account the buyer pays into (交易资金监管)."""

    bank: str
    account_name: str
    account_number: str
    amount: Decimal  # the amount paid into supervision, in yuan

    def __post_init__(self) -> None:
        if not (self.bank.strip() and self.account_name.strip() and self.account_number.strip()):
            raise ContractDataError("fund supervision needs its bank, account name and number")
        if self.amount <= 0:
            raise ContractDataError("the supervised amount must be positive")


@dataclass(frozen=True)
class ResaleContract:
    number: str
    sellers: tuple[Party, ...]  # every owner of record
    buyers: tuple[Party, ...]
    brokerage: Brokerage | None
    house: House
    price: Decimal  # total, in yuan
    payment: Payment
    supervision: Supervision
    taxes: TaxSplit
    delivery_date: dt.date
    transfer_deadline: dt.date  # apply for 转移登记 by
    late_payment_rate: Decimal  # per day, of the amount overdue
    late_delivery_rate: Decimal  # per day, of the price paid
    dispute: DisputeResolution
    dispute_body: str
    drafted_at: dt.datetime  # aware; shown in Beijing time
    city: str = "长沙市"
    verify_url: str = "https://changsha.wangqian.example/verify"
    extra_terms: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.sellers or not self.buyers:
            raise ContractDataError("a resale needs at least one seller and one buyer")
        if len(self.sellers) > MAX_PARTIES or len(self.buyers) > MAX_PARTIES:
            raise ContractDataError(f"at most {MAX_PARTIES} sellers and {MAX_PARTIES} buyers")
        if self.price <= 0:
            raise ContractDataError("price must be positive")
        if self.payment.down_payment > self.price or self.supervision.amount > self.price:
            raise ContractDataError("down payment and supervised amount cannot exceed the price")
        people = [(p.id_type, p.id_number.strip().upper()) for p in self.sellers + self.buyers]
        if len(set(people)) != len(people):
            raise ContractDataError("sellers and buyers must be distinct people")
        if self.drafted_at.tzinfo is None:
            raise ContractDataError("the drafting time must carry its time zone")
        if self.transfer_deadline < self.drafted_at.date():
            raise ContractDataError("the transfer registration deadline is already past")

    @property
    def signature_fields(self) -> tuple[str, ...]:
        """Signature field names in signing order: every seller, every buyer, the brokerage's
        agent if there is one, then the platform's filing seal."""
        return (
            *(f"seller-{i}" for i in range(1, len(self.sellers) + 1)),
            *(f"buyer-{i}" for i in range(1, len(self.buyers) + 1)),
            *(("agent",) if self.brokerage is not None else ()),
            "filing-seal",
        )

    @property
    def signature_labels(self) -> tuple[str, ...]:
        """What the signature page prints above each field, in the same order."""
        return (
            *(f"出卖人：{p.name}" for p in self.sellers),
            *(f"买受人：{p.name}" for p in self.buyers),
            *(
                (f"经纪人员：{self.brokerage.agent_name}",)  # the brokerage is in the text
                if self.brokerage is not None
                else ()
            ),
            "网签备案平台备案电子签章",
        )
