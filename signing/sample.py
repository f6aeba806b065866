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
from signing.resale import Brokerage, House, ResaleContract, Supervision, TaxSplit


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


def sample_resale_contract(
    number: str = "ESF2026-000001", sellers: int = 2, brokerage: bool = True
) -> ResaleContract:
    """A resale (存量房) of the sample unit by its owners of record, two by default."""
    people = [
        ("张三", "430104198001010011"),
        ("李四", "43010419820202002X"),
        ("赵六", "430104197503030044"),
    ]
    return ResaleContract(
        number=number,
        sellers=tuple(
            Party("seller", name, "居民身份证", id_number) for name, id_number in people[:sellers]
        ),
        buyers=(Party("buyer", "王小明", "居民身份证", "430102199001011234", phone="13800000000"),),
        brokerage=Brokerage(
            "长沙示范房地产经纪有限公司",
            "91430100MA4L111111",
            "长房经备字（2025）第 0101 号",
            "钱七",
            "经纪人登记 43-2025-0001",
            Decimal("15000.00"),
        )
        if brokerage
        else None,
        house=House(
            code="430104001001GB00001F00010203",
            address="长沙市岳麓区示范路 1 号湘江示范花园 2 栋",
            floor=12,
            room="1203",
            use="住宅",
            building_area=Decimal("118.56"),
            inner_area=Decimal("96.30"),
            certificate="湘（2019）长沙市不动产权第 0000001 号",
            registered_on=dt.date(2019, 5, 6),
            co_ownership="共同共有" if sellers > 1 else "单独所有",
            mortgage="已抵押，抵押权人示范银行长沙分行已同意转让（同意书 DY-2026-0007）",
        ),
        price=Decimal("1500000.00"),
        payment=Payment(PaymentMethod.LOAN, Decimal("500000.00"), loan_bank="示范银行长沙分行"),
        supervision=Supervision(
            "示范银行长沙分行",
            "长沙市存量房交易资金监管专户",
            "4300 0000 0000 9999",
            Decimal("500000.00"),
        ),
        taxes=TaxSplit.BY_LAW,
        delivery_date=dt.date(2027, 3, 31),
        transfer_deadline=dt.date(2027, 2, 28),
        late_payment_rate=Decimal("0.0005"),
        late_delivery_rate=Decimal("0.0005"),
        dispute=DisputeResolution.COURT,
        dispute_body="长沙市岳麓区人民法院",
        drafted_at=dt.datetime(2026, 12, 1, 12, 30, tzinfo=dt.UTC),
    )
