"""signing/: rendering, every PAdES level, failures that must fail, remote and token signing,
and tools nobody here wrote (pdfsig, qpdf, pyhanko-cli) accepting the results."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from filing.seals import PlatformPki
from keys.authority import RevocationReason, pem
from keys.pkcs11 import Pkcs11KeyStore, TokenConfig
from keys.pki import Profile
from keys.signers import key_signer
from signing import pades, remote
from signing.amount import yuan_in_capitals
from signing.contract import ContractDataError
from signing.fonts import truetype_font
from signing.render import render
from signing.sample import sample_contract
from signing.seal_image import SIZE, SealNameInvalid, draw_seal, seal_file
from tests.pki_helpers import Holder, issue, judge, make_pki, trust_of
from verifier.models import Indication
from verifier.signatures import DocumentUnreadable, SignedDocument, assess


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PlatformPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def draft() -> bytes:
    return render(sample_contract()).pdf


@pytest.fixture(scope="module")
def seller(pki: PlatformPki) -> Holder:
    return issue(pki, "湘江示范置业有限公司", Profile.ENTERPRISE_SEAL)


def _sign(
    pki: PlatformPki, pdf: bytes, who: Holder, level: pades.Level, field: str = "seller"
) -> bytes:
    return pades.sign(
        pdf,
        field,
        key_signer(who.key, who.cert, [pki.ca.issuing]),
        level,
        timestamper=pki.timestamper(),
        revocation=pki.revocation([who.cert]),
        stamp=pades.Stamp(truetype_font()),
    )


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "人民币零元整"),
        ("101", "人民币壹佰零壹元整"),
        ("1422720", "人民币壹佰肆拾贰万贰仟柒佰贰拾元整"),
        ("100200300", "人民币壹亿零贰拾万零叁佰元整"),
        ("10005.07", "人民币壹万零伍元零柒分"),
        ("1000.5", "人民币壹仟元伍角整"),
    ],
)
def test_amount_in_capitals(amount: str, words: str) -> None:
    assert yuan_in_capitals(amount) == words


def test_rendering_is_deterministic_and_well_formed(tmp_path: Path, draft: bytes) -> None:
    again = render(sample_contract()).pdf
    assert again == draft
    assert render(sample_contract("CS2026-000002")).pdf != draft
    (tmp_path / "c.pdf").write_bytes(draft)
    check = subprocess.run(
        ["qpdf", "--check", str(tmp_path / "c.pdf")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "c.pdf")], capture_output=True, text=True
    ).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line]
    assert cjk and "+" in cjk[0].split()[0] and " yes yes " in cjk[0]  # an embedded subset
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True
    ).stdout
    for needle in [
        "商品房买卖合同（预售）",
        "430104001001GB00001F00010203",
        "人民币壹佰肆拾贰万贰仟柒佰贰拾元整",
    ]:
        assert needle in text.replace("\n", "")
    reader = PdfFileReader(BytesIO(draft))
    names = [f.get_object()["/T"] for f in reader.root["/AcroForm"]["/Fields"]]
    assert names == ["seller", "buyer-1", "filing-seal"]


def test_rendering_does_not_depend_on_the_clock(
    draft: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found flaky: pyHanko wrote the wall clock's /ModDate into the draft's field revision."""
    import pyhanko.pdf_utils.metadata.info as info

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr(info, "datetime", Later)
    assert render(sample_contract()).pdf == draft


def test_contract_data_is_checked() -> None:
    contract = sample_contract()
    with pytest.raises(ContractDataError, match="28 characters"):
        dataclasses.replace(contract, unit=dataclasses.replace(contract.unit, code="short"))
    with pytest.raises(ContractDataError, match="at least one buyer"):
        dataclasses.replace(contract, buyers=())
    with pytest.raises(ContractDataError, match="positive"):
        dataclasses.replace(contract, price=Decimal(0))


@pytest.mark.parametrize("level", list(pades.Level))
def test_each_pades_level_validates(
    pki: PlatformPki, draft: bytes, seller: Holder, level: pades.Level
) -> None:
    signed = _sign(pki, draft, seller, level)
    judged = judge(pki, signed, [seller.cert])
    [report] = judged.signatures
    assert report.signer == "湘江示范置业有限公司"
    if level is pades.Level.B_B:
        # No time-stamp, no proven signing time: the verifier (and so the platform) does
        # not pass a bare B-B signature; contracts are signed at B-T or better.
        assert report.indication is Indication.INDETERMINATE
        assert report.sub_indication == "SIG_CONSTRAINTS_FAILURE"
        return
    assert judged.passed, judged.problems()
    assert report.time_from_timestamp
    reader = PdfFileReader(BytesIO(signed))
    assert ("/DSS" in reader.root) is level.long_term
    assert bool(list(reader.embedded_timestamp_signatures)) is (level is pades.Level.B_LTA)


def _revoked_and_expired(pki: PlatformPki) -> tuple[Holder, Holder]:
    revoked = issue(pki, "被吊销")
    pki.ca.revoke(revoked.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    expired = issue(
        pki,
        "已过期",
        validity=dt.timedelta(days=1),
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
    )
    return revoked, expired


def test_revoked_expired_wrong_usage_and_untrusted_certificates_fail(
    pki: PlatformPki, draft: bytes, tmp_path: Path
) -> None:
    revoked, expired = _revoked_and_expired(pki)
    wrong_usage = Holder(
        pki.ca.private_key("ocsp"), pki.ca.certificate("ocsp")
    )  # OCSP signer, not a signer of documents
    stranger_pki = make_pki(tmp_path / "other")
    untrusted = issue(stranger_pki, "陌生人")
    for who, signer_pki, expected in [
        (revoked, pki, "REVOKED_NO_POE"),
        (expired, pki, "CERTIFICATE_CHAIN_GENERAL_FAILURE"),
        (wrong_usage, pki, "FORMAT_FAILURE"),
        (untrusted, stranger_pki, "NO_CERTIFICATE_CHAIN_FOUND"),
    ]:
        signed = pades.sign(
            draft,
            "seller",
            key_signer(who.key, who.cert, [signer_pki.ca.issuing]),
            pades.Level.B_T,
            timestamper=pki.timestamper(),
        )
        [report] = judge(pki, signed, [who.cert]).signatures
        # Intact and cryptographically valid, but not a signature to trust.
        assert report.indication is not Indication.PASSED, f"{who.cert.subject} validated"
        assert report.sub_indication == expected, report


def test_long_term_signing_refuses_what_its_revocation_data_does_not_vouch_for(
    pki: PlatformPki, draft: bytes, tmp_path: Path
) -> None:
    """B-LT/B-LTA embed the snapshot as it is, so it must speak for the signing certificate."""
    revoked, expired = _revoked_and_expired(pki)
    stranger_pki = make_pki(tmp_path / "other")
    stranger = issue(stranger_pki, "陌生人")
    good = issue(pki, "良好")
    no_ocsp = dataclasses.replace(pki.revocation([good.cert]), ocsp_responses=(), crls=())
    for who, signer_pki, revocation, why in [
        (revoked, pki, pki.revocation([revoked.cert]), "revoked"),
        (revoked, pki, dataclasses.replace(pki.revocation(), ocsp_responses=()), "revoked"),
        (expired, pki, pki.revocation([expired.cert]), "expired"),
        (stranger, stranger_pki, pki.revocation([stranger.cert]), "not from"),
        (good, pki, no_ocsp, "no revocation data"),
    ]:
        for level in (pades.Level.B_LT, pades.Level.B_LTA):
            with pytest.raises(pades.SigningError, match=why):
                pades.sign(
                    draft,
                    "seller",
                    key_signer(who.key, who.cert, [signer_pki.ca.issuing]),
                    level,
                    timestamper=pki.timestamper(),
                    revocation=revocation,
                )
    # Covered by the CRL alone (no OCSP answer for it) is enough.
    only_crl = dataclasses.replace(pki.revocation([good.cert]), ocsp_responses=())
    signed = pades.sign(
        draft,
        "seller",
        key_signer(good.key, good.cert, [pki.ca.issuing]),
        pades.Level.B_LTA,
        timestamper=pki.timestamper(),
        revocation=only_crl,
    )
    judged = judge(pki, signed, [good.cert])
    assert judged.passed, judged.problems()


def test_a_flipped_byte_fails(pki: PlatformPki, draft: bytes, seller: Holder) -> None:
    signed = bytearray(_sign(pki, draft, seller, pades.Level.B_T))
    pos = signed.index(b"/Title") + 8  # inside the signed byte range
    signed[pos] ^= 0x01
    [report] = judge(pki, bytes(signed), [seller.cert]).signatures
    assert report.indication is Indication.FAILED and report.sub_indication == "HASH_FAILURE"


def test_remote_signing_round_trip(pki: PlatformPki, draft: bytes) -> None:
    buyer = issue(pki, "王小明")
    request = remote.prepare(draft, "buyer-1", buyer.cert, [pki.ca.issuing])
    assert len(request.digest_to_sign) == 32  # all the phone ever sees
    signed = remote.finish(
        request, remote.device_sign(buyer.key, request.digest_to_sign), pki.timestamper()
    )
    [report] = judge(pki, signed, [buyer.cert]).signatures
    assert report.indication is Indication.PASSED, report
    assert report.field == "buyer-1" and report.time_from_timestamp

    impostor = issue(pki, "冒名者")
    with pytest.raises(remote.RemoteSignatureInvalid):
        remote.finish(request, remote.device_sign(impostor.key, request.digest_to_sign))


def test_pkcs11_seal_signature(pki: PlatformPki, draft: bytes, softhsm_token: TokenConfig) -> None:
    # Its own CA directory: the module's CA already holds a file-key filing seal.
    token_pki = PlatformPki(pki.ca, pki.files, Pkcs11KeyStore(softhsm_token))
    slug, holder = "token-seal", "湘江示范置业有限公司"
    with token_pki.seal_signer(slug, holder, Profile.ENTERPRISE_SEAL) as signer:
        signed = pades.sign(draft, "seller", signer, pades.Level.B_T, timestamper=pki.timestamper())
    cert = token_pki.seal_certificate(slug, holder, Profile.ENTERPRISE_SEAL)
    judged = judge(pki, signed, [cert])
    [report] = judged.signatures
    assert judged.passed and report.field == "seller" and report.signer == holder
    assert Pkcs11KeyStore(softhsm_token).private_key_attributes(slug)["extractable"] is False


@pytest.fixture(scope="module")
def demo_contract(pki: PlatformPki, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from tests.pki_helpers import sign_sample_contract

    return sign_sample_contract(pki, "CS2026-900001", tmp_path_factory.mktemp("cache"))


def _nss_db(directory: Path, root_pem: bytes) -> str:
    directory.mkdir()
    (directory / "root.pem").write_bytes(root_pem)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{directory}",
            "-n",
            "root",
            "-t",
            "CT,C,C",
            "-i",
            str(directory / "root.pem"),
        ],
        check=True,
    )
    return f"sql:{directory}"


def test_pdfsig_and_qpdf_accept_the_demo_contract(
    pki: PlatformPki, demo_contract: bytes, tmp_path: Path
) -> None:
    (tmp_path / "contract.pdf").write_bytes(demo_contract)
    nss = _nss_db(tmp_path / "nss", pem(pki.ca.root))
    # -no-ocsp: the certificates point at an OCSP URL no server answers in this test;
    # the OCSP responder itself is checked with openssl in test_keys.py.
    out = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", nss, str(tmp_path / "contract.pdf")],
        capture_output=True,
        text=True,
    ).stdout
    blocks = out.split("Signature #")[1:]
    party_blocks = [b for b in blocks if "Field Name: Timestamp" not in b]
    assert len(party_blocks) == 3
    for block in party_blocks:
        assert "Signature is Valid." in block, block
        assert "Certificate is Trusted." in block, block
    check = subprocess.run(
        ["qpdf", "--check", str(tmp_path / "contract.pdf")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    judged = assess(demo_contract, trust_of(pki))
    assert [r.field for r in judged.signatures] == ["seller", "buyer-1", "filing-seal"]
    assert judged.passed and all(r.time_from_timestamp for r in judged.signatures)


def test_a_pdf_signed_by_pyhanko_cli_with_a_pkcs12_from_keys_validates(
    pki: PlatformPki, draft: bytes, tmp_path: Path
) -> None:
    cli = shutil.which("pyhanko") or str(
        Path(__file__).resolve().parents[1] / ".venv" / "bin" / "pyhanko"
    )
    holder = issue(pki, "赵六")
    (tmp_path / "id.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"zhaoliu",
            holder.key,
            holder.cert,
            [pki.ca.issuing],
            serialization.BestAvailableEncryption(b"p12 pass"),
        )
    )
    (tmp_path / "pass.txt").write_text("p12 pass")
    (tmp_path / "in.pdf").write_bytes(draft)
    with _tsa_over_http(pki) as tsa_url:
        run = _pyhanko_cli(cli, tsa_url, tmp_path)
    assert run.returncode == 0, run.stderr
    [report] = judge(pki, (tmp_path / "out.pdf").read_bytes(), [holder.cert]).signatures
    assert report.indication is Indication.PASSED and report.signer == "赵六"
    assert report.time_from_timestamp


@contextlib.contextmanager
def _tsa_over_http(pki: PlatformPki) -> Iterator[str]:
    """The platform's RFC 3161 responder on a loopback port, for an outside signer."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            answer = pki.tsa.respond(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()


def _pyhanko_cli(cli: str, tsa_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            cli,
            "sign",
            "addsig",
            "--field",
            "buyer-1",
            "--timestamp-url",
            tsa_url,
            "--use-pades",
            "pkcs12",
            "--passfile",
            "pass.txt",
            "in.pdf",
            "out.pdf",
            "id.p12",
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_bad_input_gets_clear_errors(draft: bytes, tmp_path: Path) -> None:
    with pytest.raises(DocumentUnreadable, match="not a PDF"):
        SignedDocument(b"hello")
    with pytest.raises(DocumentUnreadable, match="malformed"):
        SignedDocument(b"%PDF-1.7\n garbage")
    with pytest.raises(DocumentUnreadable, match="larger than"):
        SignedDocument(b"%PDF-" + b"0" * (21 * 1024 * 1024))
    (tmp_path / "in.pdf").write_bytes(draft)
    subprocess.run(
        [
            "qpdf",
            "--encrypt",
            "u",
            "o",
            "256",
            "--",
            str(tmp_path / "in.pdf"),
            str(tmp_path / "enc.pdf"),
        ],
        check=True,
    )
    with pytest.raises(DocumentUnreadable, match="encrypted"):
        SignedDocument((tmp_path / "enc.pdf").read_bytes())
    with pytest.raises(pades.SigningError):
        pades.sign(b"%PDF-1.7\n garbage", "seller", object(), pades.Level.B_B)
    with pytest.raises(pades.SigningError, match="time-stamp"):
        pades.sign(draft, "seller", object(), pades.Level.B_T)


def test_pdfsig_checks_revocation_online_against_our_ocsp_responder(tmp_path: Path) -> None:
    """NSS asks our /ocsp itself: good for the demo contract, and revoked after a revocation."""
    import json

    from filing.deployment import Deployment
    from tests.helpers import free_port, stop, wait_http, wangqian
    from tests.pki_helpers import sign_sample_contract

    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"public_url": f"http://127.0.0.1:{port}"}))
    d = Deployment.open(data)
    pdf = sign_sample_contract(d.pki, "CS2026-900002", tmp_path / "cache")
    root = pem(d.pki.ca.root)
    d.close()
    (tmp_path / "contract.pdf").write_bytes(pdf)
    nss = _nss_db(tmp_path / "nss", root)
    server = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port)
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", server)
        out = subprocess.run(
            ["pdfsig", "-nssdir", nss, str(tmp_path / "contract.pdf")],
            capture_output=True,
            text=True,
        ).stdout
        parties = [b for b in out.split("Signature #")[1:] if "Field Name: Timestamp" not in b]
        assert len(parties) == 3 and all("Certificate is Trusted." in b for b in parties), out

        from api.cli import main

        reader = PdfFileReader(BytesIO(pdf))
        buyer = next(s for s in reader.embedded_regular_signatures if s.field_name == "buyer-1")
        serial = format(buyer.signer_cert.serial_number, "x")
        assert main(["keys", "revoke", "--data", str(data), "--serial", serial]) == 0
        out = subprocess.run(
            ["pdfsig", "-nssdir", nss, str(tmp_path / "contract.pdf")],
            capture_output=True,
            text=True,
        ).stdout
        blocks = {b.split("Field Name: ")[1].split()[0]: b for b in out.split("Signature #")[1:]}
        assert "Revoked" in blocks["buyer-1"], blocks["buyer-1"]
        assert "Certificate is Trusted." in blocks["seller"]
    finally:
        stop(server)


def test_an_organisations_stamp_carries_its_red_seal_and_beijing_time(
    pki: PlatformPki, draft: bytes, seller: Holder, tmp_path: Path
) -> None:
    png = draw_seal("湘江示范置业有限公司", "合同专用章")
    image = Image.open(BytesIO(png))
    assert image.size == (SIZE, SIZE) and image.mode == "RGBA"
    raw = image.tobytes()
    reds = sum(
        1
        for i in range(0, len(raw), 4)
        if raw[i + 3] > 200 and raw[i] > 150 and raw[i + 1] < 80  # opaque red
    )
    assert reds > SIZE * SIZE * 0.05  # a ring, a star and the name: mostly red ink
    path = seal_file("湘江示范置业有限公司", "合同专用章", cache_dir=tmp_path)
    assert path.read_bytes() == png
    assert seal_file("湘江示范置业有限公司", "合同专用章", cache_dir=tmp_path) == path
    for bad in ("", " ", "名" * 41):
        with pytest.raises(SealNameInvalid):
            draw_seal(bad, "合同专用章")

    stamp = pades.Stamp(truetype_font(), path, "出卖人", "湘江示范置业有限公司")
    text = stamp.style().stamp_text
    shown = dt.datetime.strptime(text.split("签署时间：")[1][:19], "%Y-%m-%d %H:%M:%S")
    beijing = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8)
    assert abs(shown - beijing) < dt.timedelta(minutes=1) and "（北京时间）" in text
    signed = pades.sign(
        draft,
        "seller",
        key_signer(seller.key, seller.cert, [pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=pki.timestamper(),
        stamp=stamp,
    )
    assert judge(pki, signed, [seller.cert]).passed
    reader = PdfFileReader(BytesIO(signed))
    [widget] = [f for f in reader.root["/AcroForm"]["/Fields"] if f.get_object()["/T"] == "seller"]
    appearance = widget.get_object()["/AP"]["/N"]
    xobjects = appearance["/Resources"]["/XObject"]
    assert any(_holds_image(x.get_object()) for x in xobjects.values())


def _holds_image(xobject: Any) -> bool:
    """The seal image, directly or inside the stamp's nested form."""
    if xobject.get("/Subtype") == "/Image":
        return True
    inner = xobject.get("/Resources", {}).get("/XObject", {})
    return any(_holds_image(x.get_object()) for x in inner.values())
