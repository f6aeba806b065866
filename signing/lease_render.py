"""A lease (住房租赁合同) and its 租赁登记备案证明, rendered in Chinese as the sale contracts are.

The contract follows the structure of the model text (住房租赁合同示范文本); the proof of
filing is a one-page document carrying the filing number, the leased space, the term and a
QR code to the verify page, which only the platform's filing seal signs. Departments accept
it for residence permits, provident-fund rent withdrawals and school enrolment, and check
it with the verifier like any filed document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from signing.amount import yuan_in_capitals
from signing.contract import Party
from signing.lease import MODEL_CODE, MODEL_TEXT, LeaseContract
from signing.render import (
    _RENDER_LOCK,
    RenderedContract,
    _area,
    _money,
    _render_document,
    _Signing,
    beijing_time,
)

CERTIFICATE_TITLE = "租赁登记备案证明"
CERTIFICATE_CODE = "WQ-ZLBA-1"


def _person(p: Party) -> str:
    return f"{p.name}（{p.id_type}：{p.id_number}）" + (f"，电话：{p.phone}" if p.phone else "")


def _space(c: LeaseContract) -> str:
    h = c.house
    if h.whole:
        return f"整套出租，建筑面积 {_area(h.building_area)} 平方米"
    return (
        f"分租其中的“{h.space}”，使用面积 {_area(h.leased_area)} 平方米"
        f"（该房屋建筑面积 {_area(h.building_area)} 平方米）"
    )


def _day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def lease_articles(c: LeaseContract) -> list[tuple[str, list[str]]]:
    h = c.house
    lessor = (
        [
            f"出租人（住房租赁企业）：{_person(c.lessors[0])}，"
            f"受该房屋全体登记权利人委托出租（委托登记编号：{c.entrustment}）。"
        ]
        if c.by_enterprise
        else [f"出租人{n}：{_person(p)}" for n, p in enumerate(c.lessors, start=1)]
    )
    parties = [
        *lessor,
        *(f"承租人{n}：{_person(p)}" for n, p in enumerate(c.lessees, start=1)),
    ]
    return [
        ("当事人", parties),
        (
            "第一条 房屋基本情况",
            [
                f"该房屋坐落于{h.address}，第 {h.floor} 层 {h.room} 号，登记用途为{h.use}；"
                f"不动产单元代码：{h.code}；不动产权证书号：{h.certificate}。",
                f"租赁范围：{_space(c)}。",
                "出租人保证该房屋为依法登记的合法住房，未被查封，不存在禁止出租的情形。",
            ],
        ),
        (
            "第二条 租赁用途和居住人数",
            [
                f"租赁用途为{c.purpose}。居住人数为 {c.occupants} 人，"
                "承租人不得擅自增加居住人数或改变租赁用途。",
                f"人均居住面积 {_area(c.area_per_occupant)} 平方米，不低于本市规定的最低标准。",
            ],
        ),
        (
            "第三条 租赁期限",
            [f"租赁期限自 {_day(c.start)} 起至 {_day(c.end)} 止。"],
        ),
        (
            "第四条 租金及支付方式",
            [
                f"月租金为 {_money(c.rent)} 元（大写：{yuan_in_capitals(c.rent)}），"
                f"支付方式为{c.cycle.value}，每期支付 {c.cycle.months} 个月租金，"
                "于每期开始前支付。租赁期内出租人不得单方提高租金。",
            ],
        ),
        (
            "第五条 押金",
            [
                f"承租人于签订本合同时支付押金 {_money(c.deposit)} 元"
                f"（大写：{yuan_in_capitals(c.deposit)}）。"
                "租赁期满或合同解除后，押金除抵扣应由承租人承担的费用外，剩余部分应如数返还承租人。"
            ],
        ),
        (
            "第六条 双方的权利义务",
            [
                "出租人应按约定交付房屋并保障其安全使用，负责房屋及其附属设施的维修。",
                "承租人应合理使用房屋，不得擅自转租、改变房屋结构，按时支付租金及水、电、燃气等费用。",
                "租赁期内该房屋所有权发生变动的，不影响本合同的效力（买卖不破租赁）。",
            ],
        ),
        (
            "第七条 合同的续订、解除和终止",
            [
                "租赁期满承租人需继续承租的，应于期满前与出租人协商续订，续订经网签备案平台备案。",
                "经双方协商一致，或者依照人民法院判决、仲裁裁决，可以提前解除本合同；"
                "解除和期满终止均记入备案日志。",
            ],
        ),
        (
            "第八条 争议解决",
            [
                f"本合同在履行过程中发生的争议，由双方协商解决；协商不成的，{c.dispute.value}"
                f"（{c.dispute_body}）。"
            ],
        ),
        (
            "第九条 租赁登记备案",
            [
                "本合同经出租人、全体承租人电子签名并经网签备案平台加盖备案电子签章后即完成"
                "租赁登记备案，平台出具租赁登记备案证明。"
                "任何人可凭合同文件及其备案回执在核验页离线核验。",
                f"本合同于 {beijing_time(c.drafted_at)} 在{c.city}网签备案平台起草。",
            ],
        ),
    ]


def render_lease(contract: LeaseContract, font_path: Path | None = None) -> RenderedContract:
    """A lease contract as PDF bytes with empty signature fields in signing order."""
    signing = _Signing(
        contract.signature_fields, contract.signature_labels, contract.number, contract.verify_url
    )
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            "住房租赁合同",
            MODEL_CODE,
            contract.number,
            f"合同编号：{contract.number}    示范文本：{MODEL_TEXT} {MODEL_CODE}",
            lease_articles(contract),
            f"{MODEL_CODE}  合同编号：{contract.number}",
        )


def termination_articles(
    c: LeaseContract, filing_number: str, reason: str
) -> list[tuple[str, list[str]]]:
    return [
        ("当事人", lease_articles(c)[0][1]),
        (
            "第一条 原合同",
            [
                f"双方于网签备案平台签订《住房租赁合同》（{MODEL_CODE}），备案号 {filing_number}；"
                f"房屋不动产单元代码 {c.house.code}，租赁范围：{_space(c)}，"
                f"租赁期限自 {_day(c.start)} 起至 {_day(c.end)} 止。",
            ],
        ),
        ("第二条 解除", [f"经双方协商一致，提前解除原合同。解除原因：{reason}"]),
        (
            "第三条 结算",
            ["租金按实际租赁期间结算，押金扣除应由承租人承担的费用后返还承租人。"],
        ),
        (
            "第四条 生效",
            [
                "本协议经出租人、全体承租人电子签名并经网签备案平台加盖备案电子签章后生效；"
                "租赁登记备案随之注销，解除记录写入备案日志。",
            ],
        ),
    ]


def render_termination(
    lease: LeaseContract,
    number: str,
    filing_number: str,
    reason: str,
    font_path: Path | None = None,
) -> RenderedContract:
    """解除协议: the parties end a filed lease early, signing in the lease's own fields."""
    signing = _Signing(lease.signature_fields, lease.signature_labels, number, lease.verify_url)
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            "住房租赁合同解除协议",
            MODEL_CODE,
            number,
            f"协议编号：{number}    原合同编号：{lease.number}    备案号：{filing_number}",
            termination_articles(lease, filing_number, reason),
            f"协议编号：{number}",
        )


def renewal_articles(
    c: LeaseContract, filing_number: str, reason: str, until: dt.date
) -> list[tuple[str, list[str]]]:
    return [
        ("当事人", lease_articles(c)[0][1]),
        (
            "第一条 原合同",
            [
                f"双方于网签备案平台签订《住房租赁合同》（{MODEL_CODE}），合同编号 {c.number}，"
                f"备案号 {filing_number}；房屋不动产单元代码 {c.house.code}，"
                f"租赁范围：{_space(c)}，原租赁期限自 {_day(c.start)} 起。",
            ],
        ),
        (
            "第二条 续订",
            [f"经双方协商一致，续订原合同，租赁期限延长至 {_day(until)} 止。续订原因：{reason}"],
        ),
        ("第三条 其他", ["原合同其他条款不变。"]),
        (
            "第四条 生效",
            [
                "本协议经出租人、全体承租人电子签名并经网签备案平台加盖备案电子签章后生效；"
                "续订记录写入备案日志，租赁登记备案的期限随之延长。",
            ],
        ),
    ]


def render_renewal(
    lease: LeaseContract,
    number: str,
    filing_number: str,
    reason: str,
    until: dt.date,
    font_path: Path | None = None,
) -> RenderedContract:
    """续订协议: the parties extend a filed lease's term, signing in the lease's own fields."""
    signing = _Signing(lease.signature_fields, lease.signature_labels, number, lease.verify_url)
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            "住房租赁合同续订协议",
            MODEL_CODE,
            number,
            f"协议编号：{number}    原合同编号：{lease.number}    备案号：{filing_number}",
            renewal_articles(lease, filing_number, reason, until),
            f"协议编号：{number}",
        )


@dataclass(frozen=True)
class LeaseCertificate:
    """What the 租赁登记备案证明 states: no ID numbers (it is shown at counters)."""

    filing_number: str
    contract: LeaseContract
    filed_at: dt.datetime  # aware; shown in Beijing time
    log_index: int
    contract_sha256: str  # of the sealed contract: the log entry's ``doc``


def certificate_articles(cert: LeaseCertificate) -> list[tuple[str, list[str]]]:
    c = cert.contract
    h = c.house
    return [
        (
            "备案信息",
            [
                f"备案号：{cert.filing_number}；合同编号：{c.number}；"
                f"备案时间：{beijing_time(cert.filed_at)}；备案日志序号：{cert.log_index}。",
                f"备案合同文件 SHA-256：{cert.contract_sha256}。",
            ],
        ),
        (
            "房屋",
            [
                f"坐落：{h.address}，第 {h.floor} 层 {h.room} 号；不动产单元代码：{h.code}。",
                f"租赁范围：{_space(c)}；用途：{c.purpose}；居住人数：{c.occupants} 人。",
            ],
        ),
        (
            "当事人",
            [
                "出租人：" + "、".join(p.name for p in c.lessors),
                "承租人：" + "、".join(p.name for p in c.lessees),
            ],
        ),
        ("租赁期限", [f"自 {_day(c.start)} 起至 {_day(c.end)} 止。"]),
        (
            "说明",
            [
                "该住房租赁合同已在网签备案平台完成租赁登记备案。本证明可用于办理居住证、"
                "提取住房公积金支付房租、子女入学等事项。",
                "备案在证明出具后可能续订、提前解除或期满终止：请扫码或以核验程序核验本证明及"
                "备案的当前状态。",
            ],
        ),
    ]


def render_certificate(cert: LeaseCertificate, font_path: Path | None = None) -> RenderedContract:
    """The proof of filing, with one empty field: the platform's filing seal."""
    signing = _Signing(
        ("filing-seal",),
        ("网签备案平台备案电子签章",),
        cert.filing_number,
        cert.contract.verify_url,
    )
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            CERTIFICATE_TITLE,
            CERTIFICATE_CODE,
            cert.filing_number,
            f"备案号：{cert.filing_number}",
            certificate_articles(cert),
            f"{CERTIFICATE_CODE}  备案号：{cert.filing_number}",
        )
