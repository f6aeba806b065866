"""The structured data a housing sales contract is rendered from (GF-2014-0171 / 0172)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Template(enum.Enum):
    PRESALE = "GF-2014-0171"  # 商品房买卖合同（预售）示范文本
    COMPLETED = "GF-2014-0172"  # 商品房买卖合同（现售）示范文本

    @property
    def title(self) -> str:
        return "商品房买卖合同（预售）" if self is Template.PRESALE else "商品房买卖合同（现售）"


class PaymentMethod(enum.Enum):
    LUMP_SUM = "一次性付款"
    INSTALMENTS = "分期付款"
    LOAN = "贷款方式付款"


class DisputeResolution(enum.Enum):
    COURT = "依法向房屋所在地人民法院起诉"
    ARBITRATION = "提交仲裁委员会仲裁"


class ContractDataError(ValueError):
    """The contract data cannot make a valid contract."""


@dataclass(frozen=True)
class Party:
    role: str  # "seller" or "buyer"
    name: str
    id_type: str  # 居民身份证, 营业执照 (统一社会信用代码), 护照, ...
    id_number: str
    address: str = ""
    phone: str = ""
    representative: str = ""  # legal representative of an enterprise


@dataclass(frozen=True)
class Areas:
    """Building, inner and shared area in m² (建筑 = 套内 + 分摊)."""

    building: Decimal
    inner: Decimal
    shared: Decimal

    def __post_init__(self) -> None:
        if min(self.building, self.inner, self.shared) < 0:
            raise ContractDataError("areas must not be negative")
        if abs(self.inner + self.shared - self.building) > Decimal("0.01"):
            raise ContractDataError("building area must equal inner plus shared area")


@dataclass(frozen=True)
class Unit:
    code: str  # 28-character 不动产单元代码 (GB/T 37346-2019)
    address: str
    building: str
    floor: int
    room: str
    use: str  # 住宅, 商业, ...
    forecast: Areas  # 预测面积
    measured: Areas | None = None  # 实测面积 (completed homes)

    def __post_init__(self) -> None:
        if len(self.code) != 28:
            raise ContractDataError(f"unit code must have 28 characters, not {len(self.code)}")


@dataclass(frozen=True)
class Permit:
    number: str  # 预售许可证号, or 竣工验收备案号 for a completed home (现售)
    authority: str


@dataclass(frozen=True)
class Payment:
    method: PaymentMethod
    down_payment: Decimal = Decimal(0)
    instalments: tuple[tuple[dt.date, Decimal], ...] = ()
    loan_bank: str = ""


@dataclass(frozen=True)
class Escrow:
    bank: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class Contract:
    number: str
    template: Template
    seller: Party
    buyers: tuple[Party, ...]
    unit: Unit
    permit: Permit
    price: Decimal  # total, in yuan
    payment: Payment
    escrow: Escrow
    delivery_date: dt.date
    late_payment_rate: Decimal  # per day, of the amount overdue (e.g. 0.0005)
    late_delivery_rate: Decimal  # per day, of the price paid
    dispute: DisputeResolution
    dispute_body: str  # the court or arbitration commission
    city: str = "长沙市"
    verify_url: str = "https://changsha.wangqian.example/verify"
    extra_terms: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.buyers:
            raise ContractDataError("a contract needs at least one buyer")
        if self.price <= 0:
            raise ContractDataError("price must be positive")
        if self.payment.down_payment > self.price:
            raise ContractDataError("down payment exceeds the price")
        names = [p.name for p in self.buyers]
        if len(set(names)) != len(names):
            raise ContractDataError("buyers must be distinct")

    @property
    def signature_fields(self) -> tuple[str, ...]:
        """Signature field names in signing order: seller, buyers, then the platform seal."""
        return ("seller", *(f"buyer-{i}" for i in range(1, len(self.buyers) + 1)), "filing-seal")

    @property
    def priced_areas(self) -> Areas:
        """The areas the price is per m² of: measured ones for a completed home (现售)."""
        if self.template is Template.COMPLETED and self.unit.measured is not None:
            return self.unit.measured
        return self.unit.forecast

    @property
    def price_per_m2(self) -> Decimal:
        return (self.price / self.priced_areas.building).quantize(Decimal("0.01"))
