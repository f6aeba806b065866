"""With ``--lang zh`` every line of the verifier's report is Chinese, whatever the verdict.

The real verifier runs on the demo's evidence and on failing variants; in the text and the
HTML report, once the values that are data are taken out (hashes, filing and contract
numbers, unit codes, the log's origin and key names, certificate names, the ETSI codes
after their Chinese words, file names), no English word is left, and every line says
something in Chinese. ``assert_all_chinese`` is for any test of a new check or note
(the fund events', say) to hold its report to the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from sqlalchemy import text

from filing.deployment import Deployment
from ledger.checkpoint import Checkpoint
from ledger.note import ALG_ED25519, Signer, sign_note
from ledger.status_file import StatusFile
from tests.helpers import BIN
from tests.helpers import DemoOutput as Evidence
from verifier.cli import _parser, _run
from verifier.entry import LoggedEntry
from verifier.later import LogData
from verifier.models import Indication, Report, Verdict
from verifier.names import field_label, signer_label
from verifier.reports import SUB_INDICATIONS_ZH, to_html, to_text
from verifier.verify import verify

_ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:|UTC")
# Data that is not a report's own field: contract numbers (in a certificate's purpose),
# the name of the hash function, the evidence package's file names, the audit command.
_DATA_PATTERNS = (
    re.compile(r"HT-[0-9A-Za-z-]+"),
    re.compile(r"\b[0-9a-f]{64}\b"),  # a trust bundle's SHA-256, say
    re.compile(r"SHA-256"),
    re.compile(r"history\.json|changes/"),
    re.compile(r"wangqian log audit"),
    re.compile(r"“[^”]*”"),  # a form field's own name, as the document gives it
)


def _data_values(report: Report) -> list[str]:
    """What the report shows as it is, whatever the language: values, not words."""
    values = [report.document_sha256, *(v.value for v in Verdict), *(i.value for i in Indication)]
    values += [c.sub_indication for c in report.checks if c.sub_indication]
    for s in report.signatures:
        values += [s.signer, s.organization or "", s.certificate_sha256, s.sub_indication or ""]
        if field_label(s.field, "zh") == s.field:  # a field of no party we know, named as it is
            values.append(s.field)
    f = report.filing
    if f is not None:
        values += [f.filing, f.unit, f.origin, f.doc_sha256, f.root_hash, *f.log_keys]
        values += list(f.cosigners)
        values += [e.document_sha256 for e in f.later_events]
    # Longest first, so that a value inside another one goes with it.
    return sorted({v for v in values if v}, key=len, reverse=True)


def _without_data(line: str, report: Report) -> str:
    for value in _data_values(report):
        line = line.replace(value, " ")
    for pattern in _DATA_PATTERNS:
        line = pattern.sub(" ", line)
    # Shortened hashes (the first 16 hex digits and an ellipsis).
    return re.sub(r"\b[0-9a-f]{16}…", " ", line)


class _Lines(HTMLParser):
    """The text a reader sees, one line per heading, paragraph, table row or line break."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = [""]
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = tag == "style"
        if tag in ("br", "tr", "p", "h1", "h2", "title"):
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        self._style = False
        if tag in ("td", "th"):
            self.lines[-1] += " | "

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.lines[-1] += data


def _html_lines(html: str) -> list[str]:
    parser = _Lines()
    parser.feed(html)
    return parser.lines


def assert_all_chinese(report: Report) -> None:
    """Every line of the zh text and HTML report is Chinese but for data."""
    text_lines = to_text(report, "zh").splitlines()
    html_lines = _html_lines(to_html(report, "zh"))
    for where, lines in (("text", text_lines), ("html", html_lines)):
        for line in lines:
            if not line.strip(" |"):
                continue
            assert not _ISO_TIME.search(line), (where, line)
            rest = _without_data(line, report)
            assert not _ENGLISH_WORD.findall(rest), (where, _ENGLISH_WORD.findall(rest), line)
            assert _CHINESE.search(rest), (where, "nothing in Chinese", line)


@pytest.fixture
def deployment(demo: Evidence) -> Iterator[Deployment]:
    d = Deployment.open(demo.data)
    yield d
    d.close()


@dataclasses.dataclass
class Cancelled:
    pdf: bytes
    number: str
    index: int


@pytest.fixture
def cancelled(deployment: Deployment) -> Cancelled:
    """The demo's second contract, filed and then cancelled by an agreement."""
    with deployment.log.engine.connect() as conn:
        number, pdf, index = conn.execute(
            text("SELECT number, sealed_pdf, log_index FROM filings WHERE status = 'CANCELLED'")
        ).one()
    return Cancelled(bytes(pdf), number, int(index))


@pytest.fixture
def log_data(demo: Evidence, tmp_path: Path) -> LogData:
    exported = subprocess.run(
        [str(BIN / "wangqian"), "log", "export", "--data", str(demo.data), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    return LogData.read(tmp_path)


def _flipped(pdf: bytes) -> bytes:
    at = pdf.index(b"ReportLab")
    return pdf[:at] + b"Rf" + pdf[at + 2 :]


def test_a_filing_in_force_reads_in_chinese(demo: Evidence, log_data: LogData) -> None:
    status = StatusFile.parse((demo.out / "contract.pdf.tlog-status").read_text("utf-8"))
    by_status = verify(demo.pdf, demo.trust, demo.receipt, status=status)
    assert by_status.verdict is Verdict.PASSED, by_status.reason
    assert_all_chinese(by_status)
    by_log = verify(demo.pdf, demo.trust, demo.receipt, log_data=log_data)
    assert by_log.verdict is Verdict.PASSED, by_log.reason
    assert_all_chinese(by_log)
    # Found by its hash in the log data, without a receipt; and a receipt alone.
    found = verify(demo.pdf, demo.trust, None, log_data=log_data)
    assert found.verdict is Verdict.PASSED and found.notes, found.reason
    assert_all_chinese(found)
    alone = verify(demo.pdf, demo.trust, demo.receipt)
    assert alone.verdict is Verdict.PASSED, alone.reason
    assert_all_chinese(alone)
    # Parties and signers by name: 出卖人, 买受人1, 备案专用章, no raw certificate subject.
    page, report_text = to_html(by_status, "zh"), to_text(by_status, "zh")
    for said in (page, report_text):
        assert "出卖人" in said and "买受人1" in said and "备案专用章" in said
        assert "Common Name" not in said and "湘江示范置业有限公司" in said
        assert "通过 TOTAL-PASSED" in said
    assert "Common Name" not in to_html(by_status, "en")
    agent = dataclasses.replace(by_status.signatures[0], signer="张三", organization="某某经纪公司")
    assert signer_label(agent, "zh") == "张三（某某经纪公司）"
    assert signer_label(agent, "en") == "张三 (某某经纪公司)"


def test_a_tampered_document_reads_in_chinese(demo: Evidence, log_data: LogData) -> None:
    tampered = _flipped(demo.pdf)
    mismatch = verify(tampered, demo.trust, demo.receipt)
    assert mismatch.verdict is Verdict.MISMATCH
    assert {s.sub_indication for s in mismatch.signatures} == {"HASH_FAILURE"}
    assert_all_chinese(mismatch)
    reason = to_text(mismatch, "zh").splitlines()[1]
    assert "不是备案的那份文件" in reason and mismatch.reason not in reason
    # Without a receipt, the complete log holds no filing of it: 未备案.
    not_filed = verify(tampered, demo.trust, None, log_data=log_data)
    assert not_filed.verdict is Verdict.NOT_FILED, not_filed.reason
    assert_all_chinese(not_filed)


def test_a_foreign_receipt_reads_in_chinese(
    demo: Evidence, deployment: Deployment, cancelled: Cancelled
) -> None:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    other = deployment.log.receipt(cancelled.index, cp)
    mismatch = verify(demo.pdf, demo.trust, other)
    assert mismatch.verdict is Verdict.MISMATCH
    assert_all_chinese(mismatch)
    # A receipt whose checkpoint another log's key signed.
    note = demo.receipt.checkpoint.rpartition("\n\n")[0] + "\n"
    origin = Checkpoint.parse(note).origin
    impostor = Signer(origin, Ed25519PrivateKey.generate(), ALG_ED25519)
    forged = dataclasses.replace(demo.receipt, checkpoint=sign_note(note, [impostor]))
    failed = verify(demo.pdf, demo.trust, forged)
    assert failed.verdict is Verdict.FAILED
    assert_all_chinese(failed)


def test_a_cancelled_filing_reads_in_chinese(
    demo: Evidence, deployment: Deployment, cancelled: Cancelled, log_data: LogData
) -> None:
    cp = deployment.latest_witnessed_checkpoint()
    assert cp is not None
    receipt = deployment.log.receipt(cancelled.index, cp)
    by_log = verify(cancelled.pdf, demo.trust, receipt, log_data=log_data)
    assert by_log.verdict is Verdict.CANCELLED, by_log.reason
    assert_all_chinese(by_log)
    filing = LoggedEntry.read(receipt.extra or b"").filing
    status = StatusFile.parse(deployment.status_map.status(filing, cp).to_text())
    by_status = verify(cancelled.pdf, demo.trust, receipt, status=status)
    assert by_status.verdict is Verdict.CANCELLED, by_status.reason
    assert_all_chinese(by_status)
    said = to_text(by_status, "zh")
    assert "经各方签署的解除协议注销" in said and "注销" in said.splitlines()[1]


def test_no_receipt_reads_in_chinese(demo: Evidence, log_data: LogData) -> None:
    unknown = verify(demo.pdf, demo.trust, None)
    assert unknown.verdict is Verdict.INDETERMINATE
    assert_all_chinese(unknown)
    # Log data that cannot count (another log's key signed its checkpoint): still unknown.
    origin = Checkpoint.parse(log_data.checkpoint_note.rpartition("\n\n")[0] + "\n").origin
    impostor = Signer(origin, Ed25519PrivateKey.generate(), ALG_ED25519)
    note = sign_note(log_data.checkpoint_note.rpartition("\n\n")[0] + "\n", [impostor])
    untrusted = verify(demo.pdf, demo.trust, None, log_data=LogData(note, log_data.entries))
    assert untrusted.verdict is Verdict.INDETERMINATE
    assert_all_chinese(untrusted)


def test_an_evidence_package_reads_in_chinese(demo: Evidence, tmp_path: Path) -> None:
    """The package's own bundle is no trust anchor (INDETERMINATE), unless pinned: its notes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("contract.pdf", demo.pdf)
        z.writestr("contract.pdf.tlog-proof", demo.receipt.to_text())
        z.writestr("trust-bundle.json", demo.trust_json)
        z.writestr("status.tlog-status", (demo.out / "contract.pdf.tlog-status").read_bytes())
    package = tmp_path / "evidence.zip"
    package.write_bytes(buffer.getvalue())
    unanchored = _run(_parser().parse_args([str(package)]))
    assert unanchored.verdict is Verdict.INDETERMINATE
    assert_all_chinese(unanchored)
    pin = hashlib.sha256(demo.trust_json.encode()).hexdigest()
    wrong = _run(_parser().parse_args([str(package), "--trust-sha256", "ab" * 32]))
    assert wrong.verdict is Verdict.INDETERMINATE
    assert_all_chinese(wrong)
    pinned = _run(_parser().parse_args([str(package), "--trust-sha256", pin]))
    assert pinned.verdict is Verdict.PASSED and len(pinned.notes) == 3, pinned.reason
    assert_all_chinese(pinned)


def test_every_etsi_sub_indication_pyhanko_reports_has_its_chinese_meaning() -> None:
    codes = {e.standard_name for e in (*AdESFailure, *AdESIndeterminate)}
    assert codes <= SUB_INDICATIONS_ZH.keys(), codes - SUB_INDICATIONS_ZH.keys()


def test_fields_are_named_for_their_parties() -> None:
    zh = [field_label(f, "zh") for f in ("seller", "seller-2", "buyer-1", "buyer-12", "agent")]
    assert zh == ["出卖人", "出卖人2", "买受人1", "买受人12", "经纪人员"]
    assert field_label("filing-seal", "zh") == "备案专用章"
    # Names it does not know are shown as they are; English keeps the field's name.
    assert [field_label(f, "zh") for f in ("price-note", "buyer-0", "buyer-x")] == [
        "price-note",
        "buyer-0",
        "buyer-x",
    ]
    assert field_label("buyer-1", "en") == "buyer-1"


def test_the_check_for_chinese_catches_english(demo: Evidence) -> None:
    """The checker itself: an English detail in a zh report fails it."""
    report = verify(demo.pdf, demo.trust, demo.receipt)
    check = dataclasses.replace(report.checks[0], detail_zh="valid")
    english = dataclasses.replace(report, checks=(check, *report.checks[1:]))
    with pytest.raises(AssertionError):
        assert_all_chinese(english)
