"""The request of ``POST /v1/resale-contracts``: a resale (存量房买卖) as its drafter proposes it.

The house, its 不动产权证书 and its registration are not asked for: the platform reads them
from the 楼盘表 and the ownership record (filing/drafting.py ``compose_resale``).
"""

# No "from __future__ import annotations": FastAPI must see the models' annotations.

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from api.ownership_routes import PLAIN
from filing import drafting
from signing.contract import DisputeResolution, Party, Payment, PaymentMethod
from signing.resale import Brokerage, Supervision, TaxSplit


class PersonIn(BaseModel):
    # No control characters: a name goes into the contract, and a newline there is no name.
    name: str = Field(pattern=PLAIN, min_length=1, max_length=100)
    id_type: str = Field(pattern=PLAIN, default="居民身份证", max_length=20)
    id_number: str = Field(pattern=PLAIN, min_length=1, max_length=40)
    phone: str = Field(pattern=PLAIN, default="", max_length=30)
    address: str = Field(pattern=PLAIN, default="", max_length=200)


class BrokerageIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["长沙示范房地产经纪有限公司"])
    credit_code: str = Field(min_length=1, max_length=40, description="统一社会信用代码")
    filing_number: str = Field(
        min_length=1, max_length=60, description="经纪机构备案证明编号 (an agency key's org)"
    )
    agent_name: str = Field(min_length=1, max_length=100, description="经纪人员, who signs")
    agent_registration: str = Field(min_length=1, max_length=60, description="经纪人员登记编号")
    agent_id_type: str = Field(default="居民身份证", max_length=20)
    agent_id_number: str = Field(
        min_length=1,
        max_length=40,
        description="the agent signs in person, after the identity check",
    )
    fee: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("1e10"))
    fee_payer: Literal["买受人", "出卖人", "双方"] = "买受人"


class SupervisionIn(BaseModel):
    bank: str = Field(min_length=1, max_length=100)
    account_name: str = Field(min_length=1, max_length=100)
    account_number: str = Field(min_length=1, max_length=40)
    amount: Decimal = Field(gt=0, lt=Decimal("1e12"), description="yuan paid into supervision")


class ResaleIn(BaseModel):
    unit_code: str = Field(min_length=28, max_length=28, examples=["430104001001GB00001F00010203"])
    number: str = Field(pattern=PLAIN, min_length=1, max_length=40, examples=["ESF-2026-000001"])
    certificate_number: str = Field(
        pattern=PLAIN,
        min_length=1,
        max_length=100,
        description="the 不动产权证书 number as printed on the owners' certificate: checked "
        "against the record first (422 `unit-not-sellable` with `CERTIFICATE_MISMATCH` and "
        "nothing else if it differs)",
        examples=["湘（2020）长沙市不动产权第0012345号"],
    )
    sellers: list[PersonIn] = Field(
        min_length=1, max_length=4, description="every owner of record, as recorded"
    )
    buyers: list[PersonIn] = Field(min_length=1, max_length=4)
    brokerage: BrokerageIn | None = None
    price: Decimal = Field(gt=0, lt=Decimal("1e12"), examples=["1500000.00"])
    payment_method: Literal["LUMP_SUM", "INSTALMENTS", "LOAN"] = "LOAN"
    down_payment: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("1e12"))
    loan_bank: str = Field(default="", max_length=100)
    supervision: SupervisionIn
    taxes: Literal["BY_LAW", "BUYER", "SELLER"] = "BY_LAW"
    delivery_date: dt.date
    transfer_deadline: dt.date = Field(description="apply for 转移登记 by this day")
    late_payment_rate: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    late_delivery_rate: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    dispute: Literal["COURT", "ARBITRATION"] = "COURT"
    dispute_body: str = Field(min_length=1, max_length=100, examples=["长沙市岳麓区人民法院"])


def _party(role: str, p: PersonIn) -> Party:
    return Party(role, p.name, p.id_type, p.id_number, p.address, p.phone)


def resale_terms(data: ResaleIn) -> drafting.ResaleTerms:
    b = data.brokerage
    return drafting.ResaleTerms(
        unit_code=data.unit_code,
        number=data.number,
        certificate=data.certificate_number,
        sellers=tuple(_party("seller", p) for p in data.sellers),
        buyers=tuple(_party("buyer", p) for p in data.buyers),
        brokerage=None
        if b is None
        else Brokerage(
            b.name,
            b.credit_code,
            b.filing_number,
            b.agent_name,
            b.agent_registration,
            b.fee,
            b.fee_payer,
            b.agent_id_type,
            b.agent_id_number,
        ),
        price=data.price,
        payment=Payment(PaymentMethod[data.payment_method], data.down_payment, (), data.loan_bank),
        supervision=Supervision(
            data.supervision.bank,
            data.supervision.account_name,
            data.supervision.account_number,
            data.supervision.amount,
        ),
        taxes=TaxSplit[data.taxes],
        delivery_date=data.delivery_date,
        transfer_deadline=data.transfer_deadline,
        late_payment_rate=data.late_payment_rate,
        late_delivery_rate=data.late_delivery_rate,
        dispute=DisputeResolution[data.dispute],
        dispute_body=data.dispute_body,
    )
