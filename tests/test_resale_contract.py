"""The resale model contract (存量房买卖合同): data, text, the rendered PDF and its fields."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from filing.resale_terms import resale_from_json, resale_to_json
from signing.contract import ContractDataError, Party
from signing.render import beijing_time, render, render_resale, resale_articles
from signing.resale import MODEL_CODE, House, ResaleContract, Supervision
from signing.sample import sample_contract, sample_resale_contract

SECTIONS = [
    "当事人",
    "房屋基本情况",
    "房屋权属状况",
    "成交价格",
    "付款方式",
    "交易资金监管",
    "税费承担",
    "房屋交付",
    "转移登记",
    "违约责任",
    "争议解决",
    "经纪服务",
    "网签备案",
]


def _fields(pdf: bytes) -> list[tuple[str, int]]:
    """The signature fields' names and the page (0-based) each is on, in document order."""
    reader = PdfFileReader(BytesIO(pdf))
    pages = [
        reader.find_page_for_modification(i)[0].idnum
        for i in range(len(reader.root["/Pages"]["/Kids"]))
    ]  # type: ignore[no-untyped-call]
    out = []
    for f in reader.root["/AcroForm"]["/Fields"]:
        field = f.get_object()
        assert field["/FT"] == "/Sig" and "/V" not in field  # empty, to be signed
        out.append((str(field["/T"]), pages.index(field.raw_get("/P").idnum)))
    return out


def _text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed (scripts/system-deps.sh installs it)")
    path = tmp_path / "resale.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.replace("\n", "").replace(" ", "")


def test_a_two_seller_resale_renders_with_every_section_and_field_in_order(
    tmp_path: Path,
) -> None:
    contract = sample_resale_contract()
    rendered = render_resale(contract)
    assert rendered.pdf.startswith(b"%PDF-") and render_resale(contract).pdf == rendered.pdf
    assert contract.signature_fields == ("seller-1", "seller-2", "buyer-1", "agent", "filing-seal")
    assert [name for name, _ in _fields(rendered.pdf)] == list(contract.signature_fields)
    assert [f.name for f in rendered.fields] == list(contract.signature_fields)
    text = _text(rendered.pdf, tmp_path)
    for needle in [
        "存量房买卖合同",
        MODEL_CODE,
        *SECTIONS,
        "出卖人1：张三",
        "出卖人2：李四",
        "买受人1：王小明",
        "长房经备字（2025）第0101号",  # the brokerage's filing number
        "经纪人员：钱七",
        "湘（2019）长沙市不动产权第0000001号",  # the certificate
        "430104001001GB00001F00010203",
        "人民币壹佰伍拾万元整",
        "长沙市存量房交易资金监管专户",
        "2027-02-28前共同向不动产登记机构申请办理转移登记",
        "2026年12月1日20:30（北京时间）",  # 12:30 UTC, read in Beijing time
        "网签备案平台备案电子签章",
    ]:
        assert needle.replace(" ", "") in text, needle
    if shutil.which("qpdf"):
        check = subprocess.run(
            ["qpdf", "--check", str(tmp_path / "resale.pdf")], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout


def test_without_a_brokerage_there_is_no_agent_field(tmp_path: Path) -> None:
    contract = sample_resale_contract(sellers=1, brokerage=False)
    assert contract.signature_fields == ("seller-1", "buyer-1", "filing-seal")
    rendered = render_resale(contract)
    assert [name for name, _ in _fields(rendered.pdf)] == list(contract.signature_fields)
    text = _text(rendered.pdf, tmp_path)
    assert "自行成交" in text and "经纪人员：" not in text
    assert "经纪服务" in text  # the article stays: numbering is the same either way


def test_many_parties_flow_onto_further_signature_pages() -> None:
    base = sample_resale_contract(sellers=3)
    buyers = tuple(
        Party("buyer", f"买受人{i}", "居民身份证", f"43010219900101{i:04d}") for i in range(1, 5)
    )
    contract = dataclasses.replace(base, buyers=buyers)
    fields = _fields(render_resale(contract).pdf)
    assert [name for name, _ in fields] == list(contract.signature_fields)  # 3 + 4 + agent + seal
    pages = [page for _, page in fields]
    assert pages == sorted(pages) and pages[-1] > pages[0]  # in order, over two pages
    # The presale contract renders as before: one seller, its buyers, the seal.
    presale = render(sample_contract(buyers=2)).pdf
    assert [n for n, _ in _fields(presale)] == ["seller", "buyer-1", "buyer-2", "filing-seal"]


def test_the_text_has_the_model_contract_s_structure() -> None:
    text = resale_articles(sample_resale_contract())
    headings = [h for h, _ in text]
    assert headings[0] == "当事人" and all(any(s in h for h in headings) for s in SECTIONS), (
        headings
    )
    assert beijing_time(dt.datetime(2026, 12, 31, 16, 5, tzinfo=dt.UTC)) == (
        "2027年1月1日 00:05（北京时间）"
    )


def test_resale_data_is_checked() -> None:
    c = sample_resale_contract()
    seller = c.sellers[0]
    for change in [
        {"sellers": ()},
        {"buyers": ()},
        {"buyers": (Party("buyer", "张三", seller.id_type, seller.id_number.lower()),)},
        {"sellers": (*c.sellers, c.sellers[0])},
        {"price": Decimal(0)},
        {"supervision": dataclasses.replace(c.supervision, amount=c.price + 1)},
        {"drafted_at": dt.datetime(2026, 12, 1, 12, 30)},  # naive
        {"transfer_deadline": dt.date(2026, 11, 30)},
        {"buyers": tuple(Party("buyer", f"b{i}", "护照", f"E{i}") for i in range(5))},
    ]:
        with pytest.raises(ContractDataError):
            dataclasses.replace(c, **change)  # type: ignore[arg-type]
    with pytest.raises(ContractDataError):
        dataclasses.replace(c.house, code="short")
    with pytest.raises(ContractDataError):
        dataclasses.replace(c.house, inner_area=Decimal("200"))
    with pytest.raises(ContractDataError):
        Supervision("示范银行", "专户", "", Decimal(1))
    assert isinstance(c.house, House) and isinstance(c, ResaleContract)


def test_resale_data_survives_its_json() -> None:
    for contract in [sample_resale_contract(), sample_resale_contract(sellers=1, brokerage=False)]:
        again = resale_from_json(resale_to_json(contract))
        assert again == contract
        assert render_resale(again).pdf == render_resale(contract).pdf
