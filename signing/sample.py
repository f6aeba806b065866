"""A sample contract (fictional parties and unit) for the demo, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from signing.contract import (
    Areas,
    Contract,
    DisputeResolution,
    Escrow,
    Party,
    Payment,
    PaymentMethod,
    Permit,
    Template,
    Unit,
)


def sample_contract(number: str = "CS2026-000001", buyers: int = 1) -> Contract:
    buyer_list = tuple(
        Party("buyer", name, "居民身份证", id_number, phone="13800000000")
        for name, id_number in [
            ("王小明", "430102199001011234"),
            ("李小红", "430104199202022345"),
        ][:buyers]
    )
    return Contract(
        number=number,
        template=Template.PRESALE,
        seller=Party(
            "seller",
            "湘江示范置业有限公司",
            "统一社会信用代码",
            "91430100MA4L000000",
            address="长沙市岳麓区示范路 1 号",
            representative="赵建国",
        ),
        buyers=buyer_list,
        unit=Unit(
            code="430104001001GB00001F00010203",
            address="长沙市岳麓区示范路 1 号",
            building="湘江示范花园 2 栋",
            floor=12,
            room="1203",
            use="住宅",
            forecast=Areas(Decimal("118.56"), Decimal("96.30"), Decimal("22.26")),
        ),
        permit=Permit("长住建预许字（2026）第 0088 号", "长沙市住房和城乡建设局"),
        price=Decimal("1422720.00"),
        payment=Payment(PaymentMethod.LOAN, Decimal("430000.00"), loan_bank="示范银行长沙分行"),
        escrow=Escrow(
            "示范银行长沙分行", "湘江示范置业有限公司预售资金监管账户", "4300 0000 0000 8888"
        ),
        delivery_date=dt.date(2028, 6, 30),
        late_payment_rate=Decimal("0.0005"),
        late_delivery_rate=Decimal("0.0005"),
        dispute=DisputeResolution.COURT,
        dispute_body="长沙市岳麓区人民法院",
    )
