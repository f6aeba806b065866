"""A contract from the terms a developer proposes and the 楼盘表's facts about the unit.

Which transaction kind applies is the 楼盘表's to say (``filing.kinds.for_unit``): a unit
of a completed building with measured areas is sold 现售 on GF-2014-0172, stating its
measured areas and its building's completion record; any other new home is presale on
GF-2014-0171, under its presale permit. Whether the requirements hold (a valid permit,
measured areas) is for the kind's checks when the draft is recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from filing.kinds import Kind, TransactionKind
from filing.registry import UnitFacts
from signing.contract import (
    Contract,
    DisputeResolution,
    Escrow,
    Party,
    Payment,
    PaymentMethod,
    Permit,
    Unit,
)

NONE = "（无）"


@dataclass(frozen=True)
class Buyer:
    name: str
    id_type: str
    id_number: str
    phone: str = ""


@dataclass(frozen=True)
class Terms:
    """What the developer proposes: everything of the contract the 楼盘表 does not say."""

    unit_code: str
    number: str
    buyers: tuple[Buyer, ...]
    price: Decimal
    payment_method: PaymentMethod
    down_payment: Decimal
    loan_bank: str
    escrow: Escrow
    delivery_date: dt.date
    late_payment_rate: Decimal
    late_delivery_rate: Decimal
    dispute: DisputeResolution
    dispute_body: str


def compose(kind: TransactionKind, terms: Terms, facts: UnitFacts) -> Contract:
    """The contract of ``kind`` (its model text, its basis, its areas) for these terms."""
    if kind.kind is Kind.NEW_COMPLETED:
        done = facts.completion
        permit = Permit(done.acceptance_record, done.recorded_by) if done else Permit(NONE, "")
    else:
        permit = Permit(facts.permit_number or NONE, facts.permit_authority or "")
    return Contract(
        number=terms.number,
        template=kind.template,
        seller=Party(
            "seller", facts.developer, "统一社会信用代码", facts.developer_id, address=facts.address
        ),
        buyers=tuple(
            Party("buyer", b.name, b.id_type, b.id_number, phone=b.phone) for b in terms.buyers
        ),
        unit=Unit(
            facts.code,
            facts.address,
            f"{facts.project} {facts.building}",
            facts.floor,
            facts.room,
            facts.use,
            facts.forecast,
            facts.measured,  # 现售 states them; presale too, once they are known
        ),
        permit=permit,
        price=terms.price,
        payment=Payment(terms.payment_method, terms.down_payment, (), terms.loan_bank),
        escrow=terms.escrow,
        delivery_date=terms.delivery_date,
        late_payment_rate=terms.late_payment_rate,
        late_delivery_rate=terms.late_delivery_rate,
        dispute=terms.dispute,
        dispute_body=terms.dispute_body,
    )
