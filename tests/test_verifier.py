"""The offline verifier: the demo's contract passes; every tampering gives the right non-pass."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from filing.deployment import Deployment
from filing.entry import EntryEvent, EntryFormatError, EntryKind, FilingEntry, party_hash
from keys.authority import RevocationReason
from keys.signers import key_signer
from ledger.add_checkpoint import AddCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, Signer, sign_note
from ledger.receipt import Receipt
from signing import pades
from signing.render import render
from signing.sample import sample_contract
from tests.helpers import BIN
from tests.helpers import DemoOutput as Evidence
from tests.pki_helpers import Holder, issue, make_pki
from verifier.cli import main as verify_main
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.later import LaterCheckpoint, LogData
from verifier.models import Indication, Report, Verdict
from verifier.reports import to_html, to_json, to_text
from verifier.signatures import DocumentUnreadable
from verifier.trust import TrustBundle
from verifier.verify import verify

UNIT = "430104001001GB00001F00010299"


@pytest.fixture
def deployment(demo: Evidence) -> Iterator[Deployment]:
    d = Deployment.open(demo.data)
    yield d
    d.close()


def _log(d: Deployment, pdf: bytes, event: EntryEvent = EntryEvent.FILED) -> Receipt:
    """Put ``pdf`` in the demo's log as a platform would (to test what the PDF itself shows)."""
    entry = FilingEntry(
        event,
        f"CS-2026-9{len(pdf) % 100000:05d}",
        hashlib.sha256(pdf).hexdigest(),
        UNIT,
        dt.datetime.now(dt.UTC),
        (party_hash(b"s" * 16, "居民身份证", "430104199001011234"),),
    )
    index = d.log.append(entry.encode())
    cp = d.sequencer().step()
    assert cp is not None and cp.size > index
    return d.log.receipt(index, cp)


def _sealed(d: Deployment, seller: Holder, chain: list[object], number: str) -> bytes:
    """A contract whose seller signs with ``seller``, a buyer signs, then the filing seal."""
    pki = d.pki
    ts = pki.timestamper()
    contract = sample_contract(number)
    pdf = render(contract).pdf
    pdf = pades.sign(
        pdf, "seller", key_signer(seller.key, seller.cert, chain), pades.Level.B_T, timestamper=ts
    )
    buyer = issue(pki, contract.buyers[0].name)
    pdf = pades.sign(
        pdf,
        "buyer-1",
        key_signer(buyer.key, buyer.cert, [pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=ts,
    )
    seal_cert = pki.filing_seal_certificate()
    revocation = pki.revocation([seller.cert, buyer.cert, seal_cert])
    with pki.filing_seal() as signer:
        return pades.sign(
            pdf, "filing-seal", signer, pades.Level.B_LTA, timestamper=ts, revocation=revocation
        )


def _check(report: Report, name: str) -> tuple[Indication, str | None]:
    [c] = [c for c in report.checks if c.name == name]
    return c.indication, c.sub_indication


# -- the happy path -----------------------------------------------------------------


def test_the_demo_contract_passes_with_every_check(demo: Evidence) -> None:
    report = verify(demo.pdf, demo.trust, demo.receipt)
    assert report.verdict is Verdict.PASSED, report.reason
    assert [s.field for s in report.signatures] == ["seller", "buyer-1", "filing-seal"]
    assert all(
        s.indication is Indication.PASSED and s.time_from_timestamp for s in report.signatures
    )
    assert report.signatures[-1].is_filing_seal
    buyer = report.signatures[1]
    assert (
        buyer.signer == "王小明"
        and buyer.subject_serial
        and buyer.subject_serial.startswith("IDH:")
    )
    assert buyer.purpose is not None and buyer.purpose.endswith(" buyer-1")
    names = {c.name for c in report.checks}
    assert {"filing-seal", "document-hash", "log-key-period", "witnesses", "inclusion"} <= names
    assert "signer-purpose" in names
    assert report.filing is not None and report.filing.filing.startswith("CS-")
    assert report.document_sha256 == hashlib.sha256(demo.pdf).hexdigest()


def test_cli_exit_codes_and_reports(
    demo: Evidence, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    o = demo.out
    args = [str(o / "contract.pdf"), "--receipt", str(o / "contract.pdf.tlog-proof")]
    args += ["--trust", str(o / "trust-bundle.json")]
    assert verify_main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "wangqian-verify-report/v1" and data["verdict"] == "PASSED"
    assert [s["indication"] for s in data["signatures"]] == ["TOTAL-PASSED"] * 3
    assert verify_main([*args, "--html", str(tmp_path / "r.html"), "--lang", "en"]) == 0
    assert "Verdict: PASSED" in capsys.readouterr().out
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="verdict"' in html and "PASSED" in html and "<script" not in html
    assert verify_main([*args, "--lang", "zh"]) == 0
    assert "核验通过" in capsys.readouterr().out
    # Without a receipt and without log data nothing shows either way: 无法确定, exit 2.
    assert verify_main([str(o / "contract.pdf"), "--trust", str(o / "trust-bundle.json")]) == 2
    assert "无法确定" in capsys.readouterr().out
    # Bad input: exit 3, a message, no traceback.
    (tmp_path / "x.pdf").write_bytes(b"not a pdf")
    assert verify_main([str(tmp_path / "x.pdf"), "--trust", str(o / "trust-bundle.json")]) == 3
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    assert verify_main([str(o / "contract.pdf"), "--trust", str(tmp_path / "bad.json")]) == 3
    assert "bad input" in capsys.readouterr().err
    # python -m verifier is the same program.
    run = subprocess.run(
        [sys.executable, "-m", "verifier", *args, "--json"], capture_output=True, text=True
    )
    assert run.returncode == 0 and json.loads(run.stdout)["verdict"] == "PASSED"


def test_reports_in_both_languages_name_signers_fingerprints_and_position(demo: Evidence) -> None:
    report = verify(demo.pdf, demo.trust, demo.receipt)
    fingerprint = report.signatures[0].certificate_sha256
    for lang, word in (("zh", "核验通过"), ("en", "PASSED")):
        for text in (to_text(report, lang), to_html(report, lang)):
            assert word in text and "王小明" in text and fingerprint[:16] in text
            assert report.filing is not None and report.filing.filing in text
    assert "新建商品房买卖合同已备案，备案号" in to_text(report, "zh").splitlines()[1]
    assert json.loads(to_json(report))["filing"]["index"] == demo.receipt.index


def test_the_entry_reader_agrees_with_the_platform_writer() -> None:
    entry = FilingEntry(
        EntryEvent.CANCELLED,
        "CS-2026-000007",
        "ab" * 32,
        UNIT,
        dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC),
        ("cd" * 32,),
        ref=3,
    )
    read = LoggedEntry.read(entry.encode())
    assert (
        read.event,
        read.filing,
        read.doc_sha256,
        read.unit,
        read.at,
        read.parties,
        read.ref,
    ) == (
        "cancelled",
        entry.filing,
        entry.doc_sha256,
        entry.unit,
        entry.at,
        entry.parties,
        3,
    )


# -- later evidence: cancellation, consistency ---------------------------------------


def test_a_cancelled_filing_shows_as_cancelled_given_the_log_data(
    demo: Evidence, deployment: Deployment, tmp_path: Path
) -> None:
    from api.app import filing_service

    with deployment.log.engine.connect() as conn:
        from sqlalchemy import text

        number = conn.execute(
            text("SELECT number FROM filings WHERE status = 'CANCELLED' ORDER BY number LIMIT 1")
        ).scalar_one()
    row = filing_service(deployment).filing(number)
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    receipt = deployment.log.receipt(int(row["log_index"]), cp)
    exported = subprocess.run(
        [str(BIN / "wangqian"), "log", "export", "--data", str(demo.data), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "checkpoint").read_text(encoding="utf-8") == cp.cosigned_note
    log_data = LogData.read(tmp_path)
    alone = verify(row["sealed_pdf"], demo.trust, receipt)
    assert alone.verdict is Verdict.PASSED and alone.notes  # says: only as far as this checkpoint
    report = verify(row["sealed_pdf"], demo.trust, receipt, log_data=log_data)
    assert report.verdict is Verdict.CANCELLED, report.reason
    assert report.filing is not None and [e.event for e in report.filing.later_events] == [
        "cancelled"
    ]
    # The first contract, in the same log, is still in force: as far as the log data goes,
    # which the verdict says in so many words (a stale copy must not read as "forever").
    standing = verify(demo.pdf, demo.trust, demo.receipt, log_data=log_data)
    assert standing.verdict is Verdict.PASSED and standing.filing is not None
    assert standing.filing.checked_up_to == cp.size and standing.filing.checked_at is not None
    assert f"no cancellation in the log up to tree size {cp.size}" in standing.reason
    text_zh = to_text(standing, "zh")
    assert f"（日志树大小 {cp.size}）未见注销" in text_zh and "北京时间" in text_zh
    assert "已于" in to_text(report, "zh") and "注销" in to_html(report, "zh")


def test_a_later_checkpoint_from_the_api_is_consistent(
    demo: Evidence, deployment: Deployment
) -> None:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    old = Checkpoint.parse(demo.receipt.checkpoint.rpartition("\n\n")[0] + "\n").size
    later = AddCheckpoint(
        old, tuple(deployment.log.consistency_proof(old, cp.size)), cp.cosigned_note
    )
    report = verify(
        demo.pdf, demo.trust, demo.receipt, later=LaterCheckpoint.parse(later.to_text())
    )
    assert (
        report.verdict is Verdict.PASSED and _check(report, "consistency")[0] is Indication.PASSED
    )
    assert report.filing is not None and report.filing.checked_up_to == cp.size


# -- the tamper suite ----------------------------------------------------------------


def test_a_flipped_byte_in_a_signed_range_is_a_mismatch(demo: Evidence) -> None:
    at = demo.pdf.index(b"ReportLab")
    tampered = demo.pdf[:at] + b"R" + b"f" + demo.pdf[at + 2 :]
    report = verify(tampered, demo.trust, demo.receipt)
    assert report.verdict is Verdict.MISMATCH
    assert _check(report, "document-hash") == (Indication.FAILED, "HASH_MISMATCH")
    assert {s.sub_indication for s in report.signatures} == {"HASH_FAILURE"}
    # Buyers and courts read why in Chinese; the English report keeps the English detail.
    zh, en = to_text(report, "zh"), to_text(report, "en")
    assert "不是备案的那份文件" in zh.splitlines()[1] and report.reason not in zh
    assert "签名所覆盖的内容已被改动" in to_html(report, "zh")
    assert "不是备案" not in en and report.reason in en


def test_bytes_appended_after_the_seal_are_a_mismatch(demo: Evidence) -> None:
    report = verify(demo.pdf + b"\n% appended\n", demo.trust, demo.receipt)
    assert report.verdict is Verdict.MISMATCH
    assert _check(report, "document-hash") == (Indication.FAILED, "HASH_MISMATCH")


def test_a_signature_by_a_revoked_certificate_fails(demo: Evidence, deployment: Deployment) -> None:
    seller = issue(deployment.pki, "被吊销的出卖人")
    deployment.pki.ca.revoke(seller.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    pdf = _sealed(deployment, seller, [deployment.pki.ca.issuing], "HT-REVOKED-1")
    report = verify(pdf, demo.trust, _log(deployment, pdf))
    assert report.verdict in (Verdict.FAILED, Verdict.INDETERMINATE)
    seller_finding = report.signatures[0]
    assert seller_finding.sub_indication in ("REVOKED", "REVOKED_NO_POE"), seller_finding
    assert report.reason.startswith("signature:seller")
    assert report.signatures[-1].indication is Indication.PASSED  # the seal itself is fine


def test_a_signature_by_an_untrusted_certificate_is_indeterminate(
    demo: Evidence, deployment: Deployment, tmp_path: Path
) -> None:
    foreign = make_pki(tmp_path / "foreign")
    seller = issue(foreign, "来历不明的出卖人")
    pdf = _sealed(deployment, seller, [foreign.ca.issuing], "HT-UNTRUSTED-1")
    report = verify(pdf, demo.trust, _log(deployment, pdf))
    assert report.verdict is Verdict.INDETERMINATE
    assert report.signatures[0].sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert report.reason.startswith("signature:seller")


def test_a_receipt_for_another_document_is_a_mismatch(
    demo: Evidence, deployment: Deployment
) -> None:
    other = _log(deployment, b"%PDF-1.7 another document")
    report = verify(demo.pdf, demo.trust, other)
    assert report.verdict is Verdict.MISMATCH


def test_a_proof_with_one_hash_changed_fails(demo: Evidence, deployment: Deployment) -> None:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    receipt = deployment.log.receipt(demo.receipt.index, cp)
    assert receipt.proof, "the demo's log has more than one entry"
    bad = bytearray(receipt.proof[0])
    bad[0] ^= 1
    forged = dataclasses.replace(receipt, proof=(bytes(bad), *receipt.proof[1:]))
    report = verify(demo.pdf, demo.trust, forged)
    assert report.verdict is Verdict.FAILED
    assert _check(report, "inclusion") == (Indication.FAILED, "PROOF_FAILURE")


def test_a_checkpoint_signed_by_an_unknown_key_fails(demo: Evidence) -> None:
    text = demo.receipt.checkpoint.rpartition("\n\n")[0] + "\n"
    origin = text.split("\n")[0]
    impostor = Signer(origin, Ed25519PrivateKey.generate(), ALG_ED25519)
    forged = dataclasses.replace(demo.receipt, checkpoint=sign_note(text, [impostor]))
    report = verify(demo.pdf, demo.trust, forged)
    assert report.verdict is Verdict.FAILED
    assert _check(report, "log-signature") == (Indication.FAILED, "UNKNOWN_LOG_KEY")


def _with_witness(trust_json: str, witness: Signer, threshold: int) -> TrustBundle:
    data = json.loads(trust_json)
    data["witnesses"] = {"threshold": threshold, "keys": [{"vkey": witness.verifier.vkey}]}
    return TrustBundle.from_json(json.dumps(data))


def test_too_few_cosignatures_fail_and_enough_pass(demo: Evidence) -> None:
    witness = Signer("witness.example", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)
    trust = _with_witness(demo.trust_json, witness, 1)
    report = verify(demo.pdf, trust, demo.receipt)
    assert report.verdict is Verdict.FAILED
    assert _check(report, "witnesses") == (Indication.FAILED, "WITNESS_POLICY")
    text = demo.receipt.checkpoint.rpartition("\n\n")[0] + "\n"
    cosigned = demo.receipt.checkpoint + witness.signature_line(text) + "\n"
    report = verify(demo.pdf, trust, dataclasses.replace(demo.receipt, checkpoint=cosigned))
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.filing is not None and report.filing.cosigners == ("witness.example",)


def test_a_later_checkpoint_inconsistent_with_the_receipt_is_a_split_view(
    demo: Evidence, deployment: Deployment
) -> None:
    receipt_cp = Checkpoint.parse(demo.receipt.checkpoint.rpartition("\n\n")[0] + "\n")
    # The log's own key signs a tree of the same size with another root: a split view.
    fork = Checkpoint(receipt_cp.origin, receipt_cp.size, hashlib.sha256(b"fork").digest())
    note = sign_note(fork.to_text(), [deployment.signer])
    report = verify(demo.pdf, demo.trust, demo.receipt, later=LaterCheckpoint.parse(note))
    assert report.verdict is Verdict.FAILED
    assert _check(report, "consistency") == (Indication.FAILED, "SPLIT_VIEW")
    assert "分叉" in to_text(report, "zh").splitlines()[1]
    # A bigger tree whose proof does not connect it to the receipt's.
    bigger = Checkpoint(receipt_cp.origin, receipt_cp.size + 5, hashlib.sha256(b"b").digest())
    later = AddCheckpoint(
        receipt_cp.size,
        (hashlib.sha256(b"p").digest(),),
        sign_note(bigger.to_text(), [deployment.signer]),
    )
    report = verify(
        demo.pdf, demo.trust, demo.receipt, later=LaterCheckpoint.parse(later.to_text())
    )
    assert _check(report, "consistency") == (Indication.FAILED, "SPLIT_VIEW")


def test_a_log_key_outside_its_period_fails(demo: Evidence) -> None:
    data = json.loads(demo.trust_json)
    data["log"]["keys"][0]["valid_until"] = "2000-01-01T00:00:00+00:00"
    report = verify(demo.pdf, TrustBundle.from_json(json.dumps(data)), demo.receipt)
    assert _check(report, "log-key-period") == (Indication.FAILED, "LOG_KEY_NOT_VALID_THEN")


def test_a_document_without_the_platform_seal_is_not_passed(demo: Evidence) -> None:
    data = json.loads(demo.trust_json)
    data["filing_seals"] = []
    report = verify(demo.pdf, TrustBundle.from_json(json.dumps(data)), demo.receipt)
    assert report.verdict is Verdict.INDETERMINATE
    # A bundle that names some other seal: the document's last signature is not it.
    other = make_pki_cert_pem()
    data["filing_seals"] = [other]
    report = verify(demo.pdf, TrustBundle.from_json(json.dumps(data)), demo.receipt)
    assert report.verdict is Verdict.FAILED
    assert _check(report, "filing-seal") == (Indication.FAILED, "NO_FILING_SEAL")


def make_pki_cert_pem() -> str:
    import tempfile

    from cryptography.hazmat.primitives.serialization import Encoding

    from keys.pki import Profile, name, new_key

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_pki(Path(tmp))
        cert = pki.ca.issue(Profile.FILING_SEAL, name("冒充的备案章"), new_key().public_key())
        return cert.public_bytes(Encoding.PEM).decode()


@pytest.mark.parametrize(
    "blob",
    [b"", b"%PDF-1.7\n", b"%PDF-1.7\n" + b"\x00" * 100, b"garbage", b"%PDF-" + b"1" * 100],
)
def test_malformed_pdfs_are_bad_input_not_crashes(demo: Evidence, blob: bytes) -> None:
    try:
        report = verify(blob, demo.trust, demo.receipt)
    except DocumentUnreadable:
        return
    assert report.verdict is not Verdict.PASSED


def test_the_verifier_imports_no_platform_code_and_no_database_driver() -> None:
    code = (
        "import sys, verifier.cli, verifier.verify, verifier.map_audit\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('api', 'filing', 'sqlalchemy', 'psycopg', 'redis', 'fastapi', 'uvicorn', 'httpx', "
        "'keys', 'signing', 'pkcs11')]\n"
        "bad += [m for m in sys.modules if m.startswith('ledger.') and m not in "
        "('ledger.merkle', 'ledger.note', 'ledger.checkpoint', 'ledger.receipt', "
        "'ledger.tiles', 'ledger.add_checkpoint', 'ledger.canonical', 'ledger.status_map', "
        "'ledger.status_file')]\n"
        "print(','.join(sorted(bad)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_the_verifier_runs_without_any_network(demo: Evidence) -> None:
    """In a network namespace with no interface but a downed loopback."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr!r}")
    o = demo.out
    run = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-c",
            "import socket, sys\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
            "    sys.exit('the namespace has a network')\n"
            "except OSError:\n"
            "    pass\n"
            "from verifier.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n",
            str(o / "contract.pdf"),
            "--receipt",
            str(o / "contract.pdf.tlog-proof"),
            "--trust",
            str(o / "trust-bundle.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["verdict"] == "PASSED"


# -- agreement with independent validators -------------------------------------------


def _pdfsig(pdf: bytes, root_pem: str, directory: Path) -> dict[str, tuple[bool, bool]]:
    """Per field: (signature valid, certificate trusted) as poppler's pdfsig sees them."""
    directory.mkdir(exist_ok=True)
    nss = directory / "nss"
    if not nss.exists():
        nss.mkdir()
        root = nss / "root.pem"
        root.write_text(root_pem, encoding="ascii")
        subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{nss}", "-n", "root", "-t", "CT,C,C", "-i", str(root)],
            check=True,
        )
    (directory / "doc.pdf").write_bytes(pdf)
    # -no-ocsp: revocation is judged from embedded data here, which pdfsig does not read.
    out = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", f"sql:{nss}", str(directory / "doc.pdf")],
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for block in out.split("Signature #")[1:]:
        field = block.split("Signature Field Name: ", 1)[1].split("\n", 1)[0].strip()
        if field.startswith("Timestamp") or "not signed" in block:
            continue  # the document time-stamp, not a signature
        found[field] = ("Signature is Valid." in block, "Certificate is Trusted." in block)
    return found


def _pyhanko_legacy(pdf: bytes, trust: TrustBundle) -> dict[str, bool]:
    """Per field: pyHanko's own (non-AdES) validation, roots from the bundle, data from the DSS."""
    import asyncio
    from io import BytesIO

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(BytesIO(pdf), strict=False)
    kwargs = {
        "trust_roots": [asn1_x509.Certificate.load(r) for r in trust.roots],
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
    }
    try:
        context = DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
    except Exception:  # no DSS
        from pyhanko_certvalidator import ValidationContext

        context = ValidationContext(**kwargs)

    async def run() -> dict[str, bool]:
        out = {}
        for sig in reader.embedded_regular_signatures:
            try:
                status = await async_validate_pdf_signature(sig, context, context)
                out[sig.field_name] = bool(status.bottom_line and not status.revoked)
            except Exception:
                out[sig.field_name] = False
        return out

    return asyncio.run(run())


_INTEGRITY_FAILURES = {"HASH_FAILURE", "SIG_CRYPTO_FAILURE", "FORMAT_FAILURE"}


def test_per_signature_results_agree_with_pdfsig_and_pyhanko(
    demo: Evidence, deployment: Deployment, tmp_path: Path
) -> None:
    at = demo.pdf.index(b"ReportLab")
    revoked = issue(deployment.pki, "吊销对照")
    deployment.pki.ca.revoke(revoked.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    foreign = make_pki(tmp_path / "foreign")
    documents = {
        "demo": demo.pdf,
        "flipped": demo.pdf[:at] + b"Rf" + demo.pdf[at + 2 :],
        "appended": demo.pdf + b"\n% appended\n",
        "revoked": _sealed(deployment, revoked, [deployment.pki.ca.issuing], "HT-AGREE-1"),
        "untrusted": _sealed(
            deployment, issue(foreign, "外来对照"), [foreign.ca.issuing], "HT-AGREE-2"
        ),
    }
    root_pem = json.loads(demo.trust_json)["roots"][0]
    for case, pdf in documents.items():
        ours = {s.field: s for s in verify(pdf, demo.trust, demo.receipt).signatures}
        poppler = _pdfsig(pdf, root_pem, tmp_path / "pdfsig")
        pyhanko = _pyhanko_legacy(pdf, demo.trust)
        assert set(ours) == set(poppler) == set(pyhanko), case
        for field, s in ours.items():
            intact = s.sub_indication not in _INTEGRITY_FAILURES
            assert intact == poppler[field][0], (case, field, s)
            if intact:
                chained = s.sub_indication != "NO_CERTIFICATE_CHAIN_FOUND"
                assert chained == poppler[field][1], (case, field, s)
            assert (s.indication is Indication.PASSED) == pyhanko[field], (case, field, s)


def test_the_entry_names_its_kind_only_when_it_is_not_a_new_home_sale() -> None:
    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    new_home = FilingEntry(EntryEvent.FILED, "CS-2026-000007", "ab" * 32, UNIT, at, ())
    resale = dataclasses.replace(new_home, kind=EntryKind.RESALE)
    # Entries written before kinds existed stay byte for byte what they were.
    assert b"kind" not in new_home.encode()
    assert b'"kind":"resale"' in resale.encode()
    assert FilingEntry.decode(resale.encode()) == resale
    assert LoggedEntry.read(new_home.encode()).kind == "new-home"
    assert LoggedEntry.read(resale.encode()).kind == "resale"
    explicit = new_home.encode().replace(b'"filing"', b'"kind":"new-home","filing"')
    unknown = resale.encode().replace(b"resale", b"lottery")
    for bad in (explicit, unknown):
        with pytest.raises(EntryUnreadable):
            LoggedEntry.read(bad)
        with pytest.raises(EntryFormatError):
            FilingEntry.decode(bad)


def test_the_report_names_the_kind_in_chinese(demo: Evidence) -> None:
    report = verify(demo.pdf, demo.trust, demo.receipt)
    assert report.filing is not None and report.filing.kind == "new-home"
    text = to_text(report, "zh")
    assert "交易类型: 新建商品房买卖" in text
    assert "Transaction kind: new-home sale" in to_text(report, "en")
    resale = dataclasses.replace(report, filing=dataclasses.replace(report.filing, kind="resale"))
    assert "存量房买卖合同已备案" in to_text(resale, "zh")
    assert "存量房买卖" in to_html(resale, "zh")
