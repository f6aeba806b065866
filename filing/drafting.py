"""A contract from the terms a developer proposes and the 楼盘表's facts about the unit.

Which transaction kind applies is the 楼盘表's to say (``filing.kinds.for_unit``): a unit
of a completed building with measured areas is sold 现售 on GF-2014-0172, stating its
measured areas and its building's completion record; any other new home is presale on
GF-2014-0171, under its presale permit. Whether the requirements hold (a valid permit,
measured areas) is for the kind's checks when the draft is recorded.

A resale (存量房买卖) is composed from the ownership record as well (``compose_resale``):
the house, its certificate and its registration day are the register's, not the request's;
the request names the parties (the sellers must be the owners of record: the resale
checks say so when the draft is recorded), price, payment, supervision and dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from filing.kinds import Kind, TransactionKind
from filing.ownership import Mortgage, Ownership
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
from signing.resale import Brokerage, House, ResaleContract, Supervision, TaxSplit

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
    if kind.template is None:
        raise ValueError(f"a {kind.kind.value} contract is not composed from a new home's terms")
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


@dataclass(frozen=True)
class ResaleTerms:
    """What the sellers or their brokerage propose: everything of a resale contract that
    the 楼盘表 and the ownership record do not say."""

    unit_code: str
    number: str
    sellers: tuple[Party, ...]  # every owner of record, with their contact data
    buyers: tuple[Party, ...]
    brokerage: Brokerage | None
    price: Decimal
    payment: Payment
    supervision: Supervision
    taxes: TaxSplit
    delivery_date: dt.date
    transfer_deadline: dt.date
    late_payment_rate: Decimal
    late_delivery_rate: Decimal
    dispute: DisputeResolution
    dispute_body: str
    extra_terms: tuple[str, ...] = ()
    # The 不动产权证书 number as the owners showed it to the drafter: checked against the
    # record before anything about the unit's owners is judged or told (an empty one never
    # matches). The contract's certificate is still the record's.
    certificate: str = ""


def mortgage_text(mortgages: tuple[Mortgage, ...]) -> str:
    """The contract's words on the mortgages not discharged, as recorded (no names)."""
    if not mortgages:
        return "无抵押"
    return "；".join(
        f"已抵押，抵押权人{m.mortgagee}"
        + (f"已同意转让（同意书 {m.consent}）" if m.consent else "未同意转让")
        for m in mortgages
    )


def compose_resale(
    terms: ResaleTerms,
    facts: UnitFacts,
    ownership: Ownership | None,
    mortgages: tuple[Mortgage, ...],
    now: dt.datetime,
) -> ResaleContract:
    """The resale contract of these terms, the house as the register records it. A unit
    without an ownership record gets an empty certificate: the checks refuse it."""
    areas = facts.measured or facts.forecast
    return ResaleContract(
        number=terms.number,
        sellers=tuple(
            Party("seller", p.name, p.id_type, p.id_number, p.address, p.phone)
            for p in terms.sellers
        ),
        buyers=tuple(
            Party("buyer", p.name, p.id_type, p.id_number, p.address, p.phone) for p in terms.buyers
        ),
        brokerage=terms.brokerage,
        house=House(
            code=facts.code,
            address=facts.address,
            floor=facts.floor,
            room=facts.room,
            use=facts.use,
            building_area=areas.building,
            inner_area=areas.inner,
            certificate=NONE if ownership is None else ownership.certificate,
            registered_on=dt.date(1970, 1, 1) if ownership is None else ownership.registered_on,
            co_ownership="" if ownership is None else ownership.co_ownership.value,
            mortgage=mortgage_text(mortgages),
        ),
        price=terms.price,
        payment=terms.payment,
        supervision=terms.supervision,
        taxes=terms.taxes,
        delivery_date=terms.delivery_date,
        transfer_deadline=terms.transfer_deadline,
        late_payment_rate=terms.late_payment_rate,
        late_delivery_rate=terms.late_delivery_rate,
        dispute=terms.dispute,
        dispute_body=terms.dispute_body,
        drafted_at=now,
        extra_terms=terms.extra_terms,
    )
