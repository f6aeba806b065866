"""Render a contract to PDF, deterministically: equal data gives equal bytes.

The text follows the structure of the model contracts GF-2014-0171 (presale) and
GF-2014-0172 (completed homes); the CJK font is embedded as a subset. The last
page carries an empty, uniquely named signature field for each party and for the
platform's filing seal, and a QR code to the verify page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from signing.amount import yuan_in_capitals
from signing.contract import Contract, Party, PaymentMethod, Template
from signing.fonts import truetype_font
from signing.resale import MODEL_CODE, MODEL_TEXT, ResaleContract

FONT = "WangqianCJK"
MARGIN = 56.0
LINE = 17.0
BODY_SIZE = 10.5


@dataclass(frozen=True)
class FieldBox:
    name: str
    page: int  # zero-based
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in PDF points


@dataclass(frozen=True)
class RenderedContract:
    pdf: bytes
    fields: tuple[FieldBox, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


def _register_font(font_path: Path) -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font_path)))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _area(value: Decimal) -> str:
    return f"{value:.2f}"


def articles(c: Contract) -> list[tuple[str, list[str]]]:
    """The contract's text as (heading, paragraphs)."""
    u, f = c.unit, c.unit.forecast
    presale = c.template is Template.PRESALE
    buyers = "；".join(f"{b.name}（{b.id_type}：{b.id_number}）" for b in c.buyers)
    areas = (
        f"该商品房预测建筑面积 {_area(f.building)} 平方米，"
        f"其中套内建筑面积 {_area(f.inner)} 平方米，"
        f"分摊共有建筑面积 {_area(f.shared)} 平方米。"
    )
    if u.measured is not None:
        m = u.measured
        areas += (
            f"实测建筑面积 {_area(m.building)} 平方米，其中套内建筑面积 {_area(m.inner)} 平方米，"
            f"分摊共有建筑面积 {_area(m.shared)} 平方米。"
        )
    pay = c.payment
    if pay.method is PaymentMethod.LUMP_SUM:
        pay_text = f"买受人采取{pay.method.value}，于本合同签订之日起 7 日内支付全部房价款。"
    elif pay.method is PaymentMethod.INSTALMENTS:
        steps = "；".join(f"{d.isoformat()} 前支付 {_money(a)} 元" for d, a in pay.instalments)
        pay_text = f"买受人采取{pay.method.value}：首付款 {_money(pay.down_payment)} 元；{steps}。"
    else:
        pay_text = (
            f"买受人采取{pay.method.value}：首付款 {_money(pay.down_payment)} 元，"
            f"余款 {_money(c.price - pay.down_payment)} 元向{pay.loan_bank}申请贷款支付。"
        )
    basis = (
        f"该商品房已取得预售许可，预售许可证号：{c.permit.number}，发证机关：{c.permit.authority}。"
        if presale
        else f"该商品房已通过竣工验收，竣工验收备案号：{c.permit.number}，"
        f"备案机关：{c.permit.authority}；面积以实测面积为准。"
    )
    return [
        (
            "当事人",
            [
                f"出卖人：{c.seller.name}（{c.seller.id_type}：{c.seller.id_number}）"
                + (f"，法定代表人：{c.seller.representative}" if c.seller.representative else "")
                + (f"，地址：{c.seller.address}" if c.seller.address else ""),
                f"买受人：{buyers}",
            ],
        ),
        (
            "第一条 项目建设依据",
            [f"出卖人依法取得坐落于{u.address}的土地使用权，并建设该商品房项目。"],
        ),
        ("第二条 " + ("预售依据" if presale else "现售依据"), [basis]),
        (
            "第三条 商品房基本情况",
            [
                f"该商品房位于{u.building}第 {u.floor} 层 {u.room} 号，用途为{u.use}，"
                f"不动产单元代码：{u.code}。",
                areas,
            ],
        ),
        (
            "第四条 计价方式与价款",
            [
                f"该商品房按建筑面积计价，单价为每平方米 {_money(c.price_per_m2)} 元，"
                f"总价款为 {_money(c.price)} 元（大写：{yuan_in_capitals(c.price)}）。"
            ],
        ),
        ("第五条 付款方式及期限", [pay_text]),
        (
            "第六条 商品房预售资金监管" if presale else "第六条 交易资金监管",
            [
                f"买受人应将房价款存入监管账户：开户银行 {c.escrow.bank}，账户名称 "
                f"{c.escrow.account_name}，账号 {c.escrow.account_number}。"
            ],
        ),
        (
            "第七条 逾期付款责任",
            [
                f"买受人逾期付款的，按日计算向出卖人支付逾期应付款万分之"
                f"{c.late_payment_rate * 10000:.1f}的违约金。"
            ],
        ),
        (
            "第八条 交付时间",
            [f"出卖人应当在 {c.delivery_date.isoformat()} 前向买受人交付该商品房。"],
        ),
        (
            "第九条 逾期交付责任",
            [
                f"出卖人逾期交付的，按日计算向买受人支付全部房价款万分之"
                f"{c.late_delivery_rate * 10000:.1f}的违约金。"
            ],
        ),
        (
            "第十条 争议解决方式",
            [
                f"本合同在履行过程中发生的争议，由双方当事人协商解决；协商不成的，{c.dispute.value}"
                f"（{c.dispute_body}）。"
            ],
        ),
        (
            "第十一条 网签备案",
            [
                "本合同经出卖人、买受人电子签名并经网签备案平台加盖备案电子签章后即完成网签备案"
                "（网签即备案）。任何人可凭合同文件及其备案回执在核验页离线核验。",
                *c.extra_terms,
            ],
        ),
    ]


class AgreementKind(enum.Enum):
    """What the parties of a filed contract agree on, after filing."""

    CANCELLATION = "cancellation"  # 解除协议: end the contract and cancel its filing (注销)
    CHANGE = "change"  # 补充协议: change terms of the filed contract (变更)

    @property
    def title(self) -> str:
        if self is AgreementKind.CANCELLATION:
            return "商品房买卖合同解除协议（注销网签备案）"
        return "商品房买卖合同补充协议（变更网签备案）"

    @property
    def suffix(self) -> str:
        """The agreement number's suffix: JC (解除) or BG (变更)."""
        return "JC" if self is AgreementKind.CANCELLATION else "BG"


@dataclass(frozen=True)
class FilingAgreement:
    """An agreement of the parties of a filed contract, signed like the contract itself."""

    kind: AgreementKind
    contract: Contract | ResaleContract  # the filed contract, as filed
    number: str  # the agreement's own number
    filing_number: str
    reason: str
    terms: str = ""  # a change agreement's agreed changes

    @property
    def title(self) -> str:
        """商品房买卖合同解除协议, or a resale's 存量房买卖合同解除协议."""
        if isinstance(self.contract, ResaleContract):
            return self.kind.title.replace("商品房", "存量房", 1)
        return self.kind.title


def _new_home_original(a: FilingAgreement, c: Contract) -> list[tuple[str, list[str]]]:
    u = c.unit
    buyers = "；".join(f"{b.name}（{b.id_type}：{b.id_number}）" for b in c.buyers)
    return [
        (
            "当事人",
            [
                f"出卖人：{c.seller.name}（{c.seller.id_type}：{c.seller.id_number}）",
                f"买受人：{buyers}",
            ],
        ),
        (
            "第一条 原合同",
            [
                f"双方于网签备案平台签订《{c.template.title}》（示范文本 {c.template.value}），"
                f"合同编号 {c.number}，备案号 {a.filing_number}；"
                f"房屋位于{u.building}第 {u.floor} 层 {u.room} 号，"
                f"不动产单元代码 {u.code}，总价款 {_money(c.price)} 元。",
            ],
        ),
    ]


def _resale_original(a: FilingAgreement, c: ResaleContract) -> list[tuple[str, list[str]]]:
    """Every owner of record who sold, every buyer, and the brokerage that made the sale:
    the same people the resale names, so that the same people sign."""
    h, b = c.house, c.brokerage
    parties = [f"出卖人{i}：{_person(p)}" for i, p in enumerate(c.sellers, start=1)]
    parties += [f"买受人{i}：{_person(p)}" for i, p in enumerate(c.buyers, start=1)]
    if b is not None:
        parties.append(
            f"经纪机构：{b.name}（备案证明编号：{b.filing_number}），"
            f"经纪人员：{b.agent_name}（登记证书编号：{b.agent_registration}）"
        )
    return [
        ("当事人", parties),
        (
            "第一条 原合同",
            [
                f"各方于网签备案平台签订《存量房买卖合同》（示范文本 {MODEL_TEXT} {MODEL_CODE}），"
                f"合同编号 {c.number}，备案号 {a.filing_number}；"
                f"房屋坐落于{h.address}第 {h.floor} 层 {h.room} 号，不动产单元代码 {h.code}，"
                f"不动产权证书号 {h.certificate}，总价款 {_money(c.price)} 元。",
            ],
        ),
    ]


def agreement_articles(a: FilingAgreement) -> list[tuple[str, list[str]]]:
    c = a.contract
    resale = isinstance(c, ResaleContract)
    if isinstance(c, ResaleContract):
        head = _resale_original(a, c)
        signers = "全体出卖人、全体买受人" + ("及经纪人员" if c.brokerage is not None else "")
        # A resale's home goes back to its owners of record, not to the market.
        afterwards = "房屋恢复为出卖人登记所有的状态"
        refund = "监管账户中的资金由监管银行退还买受人"
    else:
        head = _new_home_original(a, c)
        signers = "出卖人、全体买受人"
        afterwards = "房屋恢复可售"
        refund = "买受人已支付的款项（含存入资金监管账户的款项）由双方按约定及资金监管规定办理退还"
    if a.kind is AgreementKind.CHANGE:
        return [
            *head,
            ("第二条 变更内容", [a.terms, f"变更原因：{a.reason}"]),
            ("第三条 其他", ["原合同其他条款不变；本协议与原合同不一致的，以本协议为准。"]),
            (
                "第四条 生效",
                [
                    f"本协议经{signers}电子签名并经网签备案平台加盖备案电子签章后生效；"
                    "变更记录写入备案日志，与原合同一并构成"
                    + ("各方" if resale else "双方")
                    + "的约定。",
                ],
            ),
        ]
    return [
        *head,
        (
            "第二条 解除与注销",
            [
                ("出卖人与买受人协商一致" if not resale else "各方当事人协商一致")
                + "，解除上述合同，并共同申请注销该合同的网签备案。",
                f"解除原因：{a.reason}",
            ],
        ),
        ("第三条 款项", [f"{refund}。"]),
        (
            "第四条 生效",
            [
                f"本协议经{signers}电子签名并经网签备案平台加盖备案电子签章后生效；"
                f"注销记录写入备案日志，原合同的备案自该记录起失效，{afterwards}。",
            ],
        ),
    ]


class _Writer:
    def __init__(self, canvas: Canvas, heading: str) -> None:
        self.c = canvas
        self.heading = heading
        self.width, self.height = A4
        self.page = 0
        self.y = self.height - MARGIN

    def header(self) -> None:
        self.c.setFont(FONT, 8)
        self.c.drawString(MARGIN, self.height - 30, self.heading)
        self.c.drawRightString(self.width - MARGIN, 30, f"第 {self.page + 1} 页")
        self.y = self.height - MARGIN - 10

    def new_page(self) -> None:
        self.c.showPage()
        self.page += 1
        self.header()

    def ensure(self, height: float) -> None:
        if self.y - height < MARGIN + 20:
            self.new_page()

    def paragraph(self, text: str, size: float = BODY_SIZE, indent: float = 0) -> None:
        width = self.width - 2 * MARGIN - indent
        for line in _wrap(text, size, width):
            self.ensure(LINE)
            self.c.setFont(FONT, size)
            self.c.drawString(MARGIN + indent, self.y, line)
            self.y -= LINE


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, FONT, size) > width:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


# reportlab keeps a registered font's subsets in shared, unlocked state: two renders at
# once corrupt each other (a KeyError deep in makeSubset, found by the HTTP race test).
_RENDER_LOCK = threading.Lock()


def render(contract: Contract, font_path: Path | None = None) -> RenderedContract:
    """The contract as PDF bytes with empty signature fields, and where those fields are."""
    with _RENDER_LOCK:
        return _render(
            contract,
            font_path,
            contract.template.title,
            contract.number,
            f"合同编号：{contract.number}    示范文本：{contract.template.value}",
            articles(contract),
        )


def render_agreement(agreement: FilingAgreement, font_path: Path | None = None) -> RenderedContract:
    """An agreement, signed by the same parties in the same fields as the contract."""
    c = agreement.contract
    if isinstance(c, ResaleContract):
        signing = _Signing(c.signature_fields, c.signature_labels, agreement.number, c.verify_url)
        subject = MODEL_CODE
    else:
        signing = _signing(dataclasses.replace(c, number=agreement.number))
        subject = c.template.value
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            agreement.title,
            subject,
            agreement.number,
            f"协议编号：{agreement.number}    原合同编号：{c.number}    "
            f"备案号：{agreement.filing_number}",
            agreement_articles(agreement),
            f"协议编号：{agreement.number}",
        )


@dataclass(frozen=True)
class _Signing:
    """Who signs a document, in order: field names, the label above each, and the number
    and verify address the signature page's QR code carries."""

    fields: tuple[str, ...]
    labels: tuple[str, ...]
    number: str
    verify_url: str


def _signing(contract: Contract) -> _Signing:
    labels = [f"出卖人：{contract.seller.name}"] + [f"买受人：{b.name}" for b in contract.buyers]
    labels.append("网签备案平台备案电子签章")
    return _Signing(contract.signature_fields, tuple(labels), contract.number, contract.verify_url)


def _render(
    contract: Contract,
    font_path: Path | None,
    title: str,
    number: str,
    subtitle: str,
    text: list[tuple[str, list[str]]],
    heading: str = "",
) -> RenderedContract:
    return _render_document(
        _signing(contract),
        font_path,
        title,
        contract.template.value,
        number,
        subtitle,
        text,
        heading or f"{contract.template.value}  合同编号：{contract.number}",
    )


def _render_document(
    signing: _Signing,
    font_path: Path | None,
    title: str,
    subject: str,
    number: str,
    subtitle: str,
    text: list[tuple[str, list[str]]],
    heading: str,
) -> RenderedContract:
    _register_font(font_path or truetype_font())
    rl_config.invariant = 1  # fixed dates and IDs: equal input, equal bytes
    buf = BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"{title} {number}")
    canvas.setAuthor("wangqian 网签备案平台")
    canvas.setSubject(subject)
    w = _Writer(canvas, heading)
    w.header()
    canvas.setFont(FONT, 18)
    canvas.drawCentredString(w.width / 2, w.y - 10, title)
    w.y -= 40
    w.paragraph(subtitle, 10)
    w.y -= 6
    for heading_text, paragraphs in text:
        w.ensure(3 * LINE)
        w.y -= 4
        w.paragraph(heading_text, 12)
        for p in paragraphs:
            w.paragraph(p, indent=21)
    fields = _signature_page(w, signing)
    canvas.showPage()
    canvas.save()
    return RenderedContract(_with_fields(buf.getvalue(), fields), fields)


def _signature_page(w: _Writer, signing: _Signing) -> tuple[FieldBox, ...]:
    w.new_page()
    c = w.c
    c.setFont(FONT, 14)
    c.drawCentredString(w.width / 2, w.y - 6, "签署页")
    w.y -= 40
    boxes = []
    box_w, box_h = 230, 95
    first = 0  # the first field on this page
    for i, (field_name, label) in enumerate(zip(signing.fields, signing.labels, strict=True)):
        col, row = (i - first) % 2, (i - first) // 2
        top = w.y - row * (box_h + 36)
        if col == 0 and top - 8 - box_h < MARGIN + 110:  # keep clear of the QR code
            w.new_page()  # many parties (a resale's co-owners): the fields go on
            first, row, top = i, 0, w.y
        x = MARGIN + col * (box_w + 20)
        c.setFont(FONT, BODY_SIZE)
        c.drawString(x, top, label)
        y1 = top - 8 - box_h
        c.setStrokeGray(0.6)
        c.rect(x, y1, box_w, box_h, stroke=1, fill=0)
        boxes.append(
            FieldBox(field_name, w.page, (int(x), int(y1), int(x + box_w), int(y1 + box_h)))
        )
    # QR code to the verify page, with the contract number.
    url = f"{signing.verify_url}?contract={signing.number}"
    qr = QrCodeWidget(url)
    x1, y1, x2, y2 = qr.getBounds()
    size = 90.0
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, c, w.width - MARGIN - size, MARGIN + 10)
    c.setFont(FONT, 8)
    c.drawRightString(w.width - MARGIN - size - 8, MARGIN + 50, "扫码核验：" + signing.verify_url)
    return tuple(boxes)


def _with_fields(pdf: bytes, fields: tuple[FieldBox, ...]) -> bytes:
    """Add the empty signature fields in place (no incremental revision)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    class FieldWriter(IncrementalPdfFileWriter):
        def _update_meta(self) -> None:
            # pyHanko stamps /ModDate with the wall clock on every write; the draft keeps
            # ReportLab's invariant date, or equal contracts would differ by the second.
            super()._update_meta()  # type: ignore[no-untyped-call]
            info = self._info.get_object() if self._info is not None else None  # type: ignore[no-untyped-call]
            if info is not None and "/CreationDate" in info:
                info["/ModDate"] = info["/CreationDate"]

    writer = FieldWriter(BytesIO(pdf))
    # pyHanko gives each new revision a random second ID; derive it from the content
    # instead, so that equal contracts stay equal byte for byte.
    first_id = writer.document_id[0]
    writer._document_id = generic.ArrayObject(
        [
            generic.ByteStringObject(first_id),
            generic.ByteStringObject(hashlib.sha256(pdf).digest()[:16]),
        ]
    )
    for f in fields:
        append_signature_field(writer, SigFieldSpec(f.name, on_page=f.page, box=f.box))
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


# -- resale (存量房买卖合同) ---------------------------------------------------------------

BEIJING = dt.timezone(dt.timedelta(hours=8))  # the city's time, UTC+8 all year


def beijing_time(moment: dt.datetime) -> str:
    """A moment as people here read it: Beijing time, to the minute."""
    local = moment.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（北京时间）"


def _person(p: Party) -> str:
    return f"{p.name}（{p.id_type}：{p.id_number}）" + (f"，电话：{p.phone}" if p.phone else "")


def resale_articles(c: ResaleContract) -> list[tuple[str, list[str]]]:
    """A resale contract's text as (heading, paragraphs), after the city's model text."""
    h, pay, s, b = c.house, c.payment, c.supervision, c.brokerage
    parties = [f"出卖人{i}：{_person(p)}" for i, p in enumerate(c.sellers, start=1)]
    parties += [f"买受人{i}：{_person(p)}" for i, p in enumerate(c.buyers, start=1)]
    if b is not None:
        parties.append(
            f"经纪机构：{b.name}（统一社会信用代码：{b.credit_code}，备案证明编号：{b.filing_number}），"
            f"经纪人员：{b.agent_name}（登记证书编号：{b.agent_registration}）"
        )
    areas = f"建筑面积 {_area(h.building_area)} 平方米" + (
        f"，其中套内建筑面积 {_area(h.inner_area)} 平方米" if h.inner_area is not None else ""
    )
    if pay.method is PaymentMethod.LUMP_SUM:
        pay_text = (
            f"买受人采取{pay.method.value}，于本合同签订之日起 7 日内将全部房价款存入监管账户。"
        )
    elif pay.method is PaymentMethod.INSTALMENTS:
        steps = "；".join(f"{d.isoformat()} 前支付 {_money(a)} 元" for d, a in pay.instalments)
        pay_text = f"买受人采取{pay.method.value}：首付款 {_money(pay.down_payment)} 元；{steps}。"
    else:
        pay_text = (
            f"买受人采取{pay.method.value}：首付款 {_money(pay.down_payment)} 元，"
            f"余款 {_money(c.price - pay.down_payment)} 元向{pay.loan_bank}申请贷款支付。"
        )
    broker = (
        [
            f"本次交易由{b.name}提供经纪服务，佣金 {_money(b.fee)} 元，由{b.fee_payer}支付。"
            "经纪机构及其经纪人员应如实告知房屋状况，不得收取合同约定以外的费用。"
        ]
        if b is not None
        else ["本次交易由出卖人、买受人自行成交，未通过房地产经纪机构。"]
    )
    return [
        ("当事人", parties),
        (
            "第一条 房屋基本情况",
            [
                f"该房屋坐落于{h.address}，第 {h.floor} 层 {h.room} 号，用途为{h.use}，{areas}；"
                f"不动产单元代码：{h.code}。"
            ],
        ),
        (
            "第二条 房屋权属状况",
            [
                f"该房屋不动产权证书号：{h.certificate}，登记日期：{h.registered_on.isoformat()}，"
                f"共有情况：{h.co_ownership}。出卖人为该房屋的全部登记权利人。",
                f"抵押情况：{h.mortgage}。房屋未被查封，亦无其他限制转让的情形。",
            ],
        ),
        (
            "第三条 成交价格",
            [f"该房屋成交总价为 {_money(c.price)} 元（大写：{yuan_in_capitals(c.price)}）。"],
        ),
        ("第四条 付款方式及期限", [pay_text]),
        (
            "第五条 交易资金监管",
            [
                f"买受人应将 {_money(s.amount)} 元存入交易资金监管账户：开户银行 {s.bank}，"
                f"账户名称 {s.account_name}，账号 {s.account_number}。",
                "监管资金在该房屋转移登记完成后划转给出卖人；本合同解除、网签备案注销的，"
                "退还买受人。每一笔存入、划转、退还均由监管银行确认并记入备案日志。",
            ],
        ),
        ("第六条 税费承担", [f"本次交易应缴纳的税费，{c.taxes.value}。"]),
        (
            "第七条 房屋交付",
            [
                f"出卖人应当在 {c.delivery_date.isoformat()} 前将该房屋交付买受人，"
                "并结清交付前的水、电、燃气、物业服务等费用。"
            ],
        ),
        (
            "第八条 转移登记",
            [
                f"双方应当在 {c.transfer_deadline.isoformat()} 前共同向不动产登记机构申请办理"
                "转移登记；转移登记完成之日，买受人取得该房屋所有权。"
            ],
        ),
        (
            "第九条 违约责任",
            [
                f"买受人逾期付款的，按日计算向出卖人支付逾期应付款万分之"
                f"{c.late_payment_rate * 10000:.1f}的违约金；"
                f"出卖人逾期交付或逾期办理转移登记的，按日计算向买受人支付已付房价款万分之"
                f"{c.late_delivery_rate * 10000:.1f}的违约金。"
            ],
        ),
        (
            "第十条 争议解决",
            [
                f"本合同在履行过程中发生的争议，由各方当事人协商解决；协商不成的，{c.dispute.value}"
                f"（{c.dispute_body}）。"
            ],
        ),
        ("第十一条 经纪服务", broker),
        (
            "第十二条 网签备案",
            [
                "本合同经全体出卖人、全体买受人"
                + ("及经纪人员" if b is not None else "")
                + "电子签名并经网签备案平台加盖备案电子签章后即完成网签备案（网签即备案）。"
                "任何人可凭合同文件及其备案回执在核验页离线核验。",
                f"本合同于 {beijing_time(c.drafted_at)} 在{c.city}网签备案平台起草。",
                *c.extra_terms,
            ],
        ),
    ]


def render_resale(contract: ResaleContract, font_path: Path | None = None) -> RenderedContract:
    """A resale contract as PDF bytes with empty signature fields in signing order."""
    signing = _Signing(
        contract.signature_fields, contract.signature_labels, contract.number, contract.verify_url
    )
    with _RENDER_LOCK:
        return _render_document(
            signing,
            font_path,
            "存量房买卖合同",
            MODEL_CODE,
            contract.number,
            f"合同编号：{contract.number}    示范文本：{MODEL_TEXT} {MODEL_CODE}",
            resale_articles(contract),
            f"{MODEL_CODE}  合同编号：{contract.number}",
        )
