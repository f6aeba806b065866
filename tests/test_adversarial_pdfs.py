"""What each party signed is what gets filed: every PDF attack is refused by the platform
(upload and filing, over HTTP, on SQLite and PostgreSQL) and not passed by the verifier.

The attacks follow "PDF Insecurity" (incremental saving, signature wrapping, universal
signature forgery, shadow hide/replace/hide-and-replace, evil annotation, sneaky
signature); ``tests/pdf_attacks.py`` builds them. docs/verifier.md has the table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from filing.deployment import Deployment
from filing.entry import EntryEvent, FilingEntry, party_hash
from keys.pki import Profile
from keys.signers import key_signer
from ledger.receipt import Receipt
from signing import pades
from signing.render import render
from signing.sample import sample_contract
from tests import pdf_attacks as attacks
from tests.pki_helpers import Holder, buyer_holder, issue
from tests.test_filing_api import BUYER, CONTRACT, SELLER, _setup_registry, api  # noqa: F401
from tests.test_verifier_zh import assert_all_chinese
from verifier.models import Verdict
from verifier.reports import to_text
from verifier.signatures import DocumentTooComplex, DocumentUnreadable, assess
from verifier.verify import verify


@dataclass(frozen=True)
class Parties:
    """Certificates of the platform's CA for the contract's parties, and one for Mallory."""

    d: Deployment
    seller: Holder
    buyer: Holder
    mallory: Holder

    def signer(self, who: Holder) -> Any:
        return key_signer(who.key, who.cert, [self.d.pki.ca.issuing])

    def sign(self, pdf: bytes, field: str, who: Holder) -> bytes:
        return pades.sign(
            pdf, field, self.signer(who), pades.Level.B_T, timestamper=self.d.pki.timestamper()
        )

    def seal(self, pdf: bytes) -> bytes:
        """The platform's filing seal, as an operator holding its key could apply it."""
        pki = self.d.pki
        revocation = pki.revocation(
            [self.seller.cert, self.buyer.cert, pki.filing_seal_certificate()]
        )
        with pki.filing_seal() as signer:
            return pades.sign(
                pdf,
                "filing-seal",
                signer,
                pades.Level.B_LTA,
                timestamper=pki.timestamper(),
                revocation=revocation,
            )


def _parties(d: Deployment, number: str = "CS2026-000001") -> Parties:
    """The seller's seal and buyer-1's certificate for contract ``number``, and Mallory's."""
    contract = sample_contract()
    assert (contract.seller.name, contract.buyers[0].name) == (SELLER, BUYER[0])
    return Parties(
        d,
        issue(d.pki, contract.seller.name, Profile.ENTERPRISE_SEAL),
        buyer_holder(d.pki, contract.buyers[0].name, number),
        issue(d.pki, "Mallory"),
    )


# Each case: how an attacker builds the document from (draft, parties), and what the
# platform's refusal and the verifier's report must name.
Build = Callable[[bytes, Parties], bytes]


@dataclass(frozen=True)
class Case:
    name: str
    build: Build  # the whole document as the attacker submits it (parties' signatures made)
    says: str


def _cases() -> list[Case]:
    out: list[Case] = []
    for a in attacks.MODIFICATIONS:

        def after_seller(draft: bytes, p: Parties, a: attacks.Attack = a) -> bytes:
            return a.build(p.sign(draft, "seller", p.seller))

        def between(draft: bytes, p: Parties, a: attacks.Attack = a) -> bytes:
            return p.sign(a.build(p.sign(draft, "seller", p.seller)), "buyer-1", p.buyer)

        def after_buyer(draft: bytes, p: Parties, a: attacks.Attack = a) -> bytes:
            return a.build(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))

        out += [
            Case(f"{a.name}/after-seller", after_seller, a.says),
            Case(f"{a.name}/seller-then-buyer-over-it", between, a.says),
            Case(f"{a.name}/after-buyer", after_buyer, a.says),
        ]
        if a.name != "signature-wrapping":  # wraps an existing signature: needs one

            def before_first(draft: bytes, p: Parties, a: attacks.Attack = a) -> bytes:
                return p.sign(a.build(draft), "seller", p.seller)

            out.append(Case(f"{a.name}/before-the-first-signature", before_first, a.says))
    out += [
        Case(
            "sneaky-signature/after-seller",
            lambda d, p: attacks.sneaky_signature(
                p.sign(d, "seller", p.seller), p.signer(p.mallory), p.d.pki.timestamper()
            ),
            "新增表单域“price-note”",
        ),
        Case(
            "sneaky-signature/after-buyer",
            lambda d, p: attacks.sneaky_signature(
                p.sign(p.sign(d, "seller", p.seller), "buyer-1", p.buyer),
                p.signer(p.seller),
                p.d.pki.timestamper(),
            ),
            "新增表单域“price-note”",
        ),
        Case(
            "universal-signature-forgery/empty",
            lambda d, p: attacks.forged_empty_signature(d, "seller"),
            "签名字典",
        ),
        Case(
            "universal-signature-forgery/no-byte-range",
            lambda d, p: attacks.forged_signature_without_range(
                p.sign(d, "seller", p.seller), "buyer-1"
            ),
            "签名字典",
        ),
        Case(
            "evil-annotation/certified-seller",
            lambda d, p: attacks.add_annotation(
                attacks.certified_signature(d, "seller", p.signer(p.seller), p.d.pki.timestamper())
            ),
            "认证签名",
        ),
    ]
    return out


CASES = _cases()


# -- the verifier ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = Deployment.open(tmp_path_factory.mktemp("adversarial") / "data")
    yield d
    d.close()


def _receipt(d: Deployment, pdf: bytes) -> Receipt:
    """Log ``pdf`` as an operator with the platform's keys could: the PDF must speak for itself."""
    entry = FilingEntry(
        EntryEvent.FILED,
        f"CS-2026-8{len(pdf) % 100000:05d}",
        hashlib.sha256(pdf).hexdigest(),
        "430104001001GB00001F00010203",
        dt.datetime.now(dt.UTC),
        (party_hash(b"s" * 16, "居民身份证", "430102199001011234"),),
    )
    index = d.log.append(entry.encode())
    cp = d.sequencer().step()
    assert cp is not None
    return d.log.receipt(index, cp)


def test_the_honest_contract_passes(deployment: Deployment) -> None:
    p = _parties(deployment)
    draft = render(sample_contract()).pdf
    pdf = p.seal(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
    report = verify(pdf, deployment.verifier_trust(), _receipt(deployment, pdf))
    assert report.verdict is Verdict.PASSED, report.reason


# Before the first signature the document is the draft to a verifier, and every party
# signed it as it looked; only the platform, which recorded the draft, can tell (tested
# over HTTP below).
SIGNED_OVER = [c for c in CASES if not c.name.endswith("/before-the-first-signature")]


@pytest.mark.parametrize("case", SIGNED_OVER, ids=[c.name for c in SIGNED_OVER])
def test_the_verifier_does_not_pass_an_attacked_contract(
    deployment: Deployment, case: Case
) -> None:
    """Even sealed by the platform's own key and logged, the attacked PDF fails."""
    p = _parties(deployment)
    draft = render(sample_contract()).pdf
    attacked = case.build(draft, p)
    try:
        sealed = p.seal(attacked)
    except pades.SigningError:
        sealed = attacked  # pyHanko cannot even sign it: the attacker hands it in as it is
    trust = deployment.verifier_trust()
    report = verify(sealed, trust, _receipt(deployment, sealed))
    assert report.verdict is Verdict.FAILED, (case.name, report.reason)
    assert case.says in to_text(report, "zh"), to_text(report, "zh")
    assert_all_chinese(report)


def test_a_change_after_the_seal_fails(deployment: Deployment) -> None:
    """An incremental update after the filing seal (ISA on the filed document)."""
    p = _parties(deployment)
    draft = render(sample_contract()).pdf
    sealed = p.seal(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
    for attack in attacks.MODIFICATIONS:
        attacked = attack.build(sealed)
        report = verify(attacked, deployment.verifier_trust(), _receipt(deployment, attacked))
        assert report.verdict is Verdict.FAILED, (attack.name, report.reason)
        zh = to_text(report, "zh")
        assert "签署后文件被修改" in zh and attack.says in zh, zh
        assert_all_chinese(report)


def test_amplification_is_refused_before_any_signature_is_validated(
    deployment: Deployment,
) -> None:
    """80 extra fields all pointing at one signature cost ~27 s before; now a bounded refusal."""
    p = _parties(deployment)
    draft = render(sample_contract()).pdf
    sealed = p.seal(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
    trust = deployment.verifier_trust()
    with pytest.raises(DocumentTooComplex, match="signature fields"):
        assess(attacks.shared_signature_value(sealed, 80), trust)
    with pytest.raises(DocumentUnreadable, match="share a value"):
        assess(attacks.shared_signature_value(sealed, 3), trust)


# -- the platform, over HTTP ------------------------------------------------------------


def test_the_platform_refuses_every_attack_at_upload_and_filing(
    api: tuple[TestClient, dict[str, dict[str, str]], Deployment],  # noqa: F811
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    dev = keys["developer"]
    r = client.post("/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "draft"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    draft = client.get(f"/v1/contracts/{cid}/document", headers=dev).content
    p = _parties(d, CONTRACT["number"])
    n = 0

    def post(path: str, pdf: bytes) -> Any:
        nonlocal n
        n += 1
        headers = {**dev, "Idempotency-Key": f"a{n}", "content-type": "application/pdf"}
        return client.post(path, content=pdf, headers=headers)

    for case in CASES:
        pdf = case.build(draft, p)
        # Upload as the next revision when it carries one party signature, else file it whole.
        signed = sum(1 for s in assess(pdf, d.verifier_trust(), complete=False).signatures)
        paths = [f"/v1/contracts/{cid}/signatures", f"/v1/filings?contract_id={cid}"]
        for path in paths if signed <= 1 else paths[1:]:
            r = post(path, pdf)
            assert r.status_code == 422, (case.name, path, r.text)
            problem = r.json()
            assert problem["type"].endswith("/signature-rejected"), problem
            assert case.says in problem["detail"], (case.name, problem["detail"])

    state = client.get(f"/v1/contracts/{cid}", headers=dev).json()
    assert state["status"] == "DRAFT" and state["signed"] == []
    assert d.log.appended() == 0
    # The refusals are not blanket: the honest documents go through the same doors.
    seller_signed = p.sign(draft, "seller", p.seller)
    assert post(f"/v1/contracts/{cid}/signatures", seller_signed).status_code == 200
    both = p.sign(seller_signed, "buyer-1", p.buyer)
    filed = post(f"/v1/filings?contract_id={cid}", both)
    assert filed.status_code == 201, filed.text
    sealed = client.get(f"/v1/filings/{filed.json()['filing']}/document", headers=dev).content
    report = verify(sealed, d.verifier_trust(), Receipt.parse(filed.json()["receipt"]))
    assert report.verdict is Verdict.PASSED, report.reason


def test_a_change_agreement_is_held_to_the_same_policy(
    api: tuple[TestClient, dict[str, dict[str, str]], Deployment],  # noqa: F811
) -> None:
    """变更: the agreement is the platform's own draft, signed like the contract; attacks on
    it are refused, and no other document (the filed contract itself, re-signed) is one."""
    client, keys, d = api
    _setup_registry(client, keys)
    from tests.test_filing_api import file_contract

    cid, number = file_contract(client, keys)
    dev = keys["developer"]
    r = client.post(
        f"/v1/filings/{number}/change-agreements",
        json={"reason": "补充协议", "changes": "交付日期变更为 2028-12-31。"},
        headers={**dev, "Idempotency-Key": "propose"},
    )
    assert r.status_code == 201, r.text
    aid, agreement_number = r.json()["id"], r.json()["number"]
    draft = client.get(f"/v1/contracts/{aid}/document", headers=dev).content
    p = _parties(d, agreement_number)
    n = 0

    def submit(pdf: bytes) -> Any:
        nonlocal n
        n += 1
        headers = {**dev, "Idempotency-Key": f"c{n}", "content-type": "application/pdf"}
        return client.post(f"/v1/filings?contract_id={aid}", content=pdf, headers=headers)

    for attack in attacks.MODIFICATIONS:
        pdf = attack.build(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
        r = submit(pdf)
        assert r.status_code == 422 and attack.says in r.json()["detail"], (attack.name, r.text)
    # The filed contract, with every party's signature on it, is no change agreement.
    filed = client.get(f"/v1/filings/{number}/document", headers=dev).content
    r = submit(filed)
    assert r.status_code == 422 and "draft byte for byte" in r.json()["detail"], r.text
    assert cid != aid
    assert client.get(f"/v1/filings/{number}/changes", headers=dev).json() == []
    # The agreement itself, honestly signed, files as a change.
    r = submit(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
    assert r.status_code == 201 and r.json()["event"] == "changed", r.text


def _b64(pdf: bytes) -> str:
    return base64.b64encode(pdf).decode()


def test_the_public_verification_page_does_not_pass_an_attacked_contract(
    api: tuple[TestClient, dict[str, dict[str, str]], Deployment],  # noqa: F811
) -> None:
    client, _, d = api
    p = _parties(d)
    draft = render(sample_contract()).pdf
    sealed = p.seal(
        attacks.append_content(p.sign(p.sign(draft, "seller", p.seller), "buyer-1", p.buyer))
    )
    r = client.post("/v1/verification", json={"pdf": _b64(sealed)})
    assert r.status_code == 200 and r.json()["verdict"] != "PASSED", r.text
    assert "签署后文件被修改" in r.json()["html"]


def _object_stream_bomb(decoded_size: int) -> bytes:
    """A PDF whose catalog sits in an object stream that inflates (twice) to ``decoded_size``."""
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(b"3 0 <</Type/Catalog/Pages 4 0 R>>")]
    spaces = b" " * (1 << 20)
    parts += [deflate.compress(spaces) for _ in range(decoded_size >> 20)]
    parts.append(deflate.flush())
    packed = zlib.compress(b"".join(parts), 9)
    out = bytearray(b"%PDF-1.7\n")
    stream_at = len(out)
    out += b"1 0 obj\n<</Type/ObjStm/N 1/First 4/Filter[/FlateDecode/FlateDecode]/Length %d>>\n" % (
        len(packed)
    )
    out += b"stream\n" + packed + b"\nendstream\nendobj\n"
    xref_at = len(out)

    def row(kind: int, a: int, b: int) -> bytes:
        return bytes([kind]) + a.to_bytes(4, "big") + b.to_bytes(2, "big")

    rows = row(0, 0, 65535) + row(1, stream_at, 0) + row(1, xref_at, 0) + row(2, 1, 0)
    out += b"2 0 obj\n<</Type/XRef/W[1 4 2]/Size 4/Root 3 0 R/Length %d>>\n" % len(rows)
    out += b"stream\n" + rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def test_a_decompression_bomb_is_refused_with_bounded_memory(deployment: Deployment) -> None:
    """256 MiB of object stream in a 1 KB file: refused at the decode limit, not inflated."""
    bomb = _object_stream_bomb(256 << 20)
    assert len(bomb) < 4096
    tracemalloc.start()
    try:
        with pytest.raises(DocumentUnreadable, match="exceeds the limit"):
            assess(bomb, deployment.verifier_trust())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, peak


# -- found by the red team: parser differentials and amplification ---------------------------

# (name, build from (draft, parties), what the refusal names); each is bad input to the
# verifier (exit 3) or a policy failure, and a 422 at the platform's doors.
TRICKS: list[tuple[str, Build, str]] = [
    (
        "xref-lists-an-object-twice",
        lambda d, p: attacks.duplicated_xref_entry(
            p.sign(p.sign(d, "seller", p.seller), "buyer-1", p.buyer)
        ),
        "twice in its cross-references",
    ),
    *(
        (
            f"timestamp-field-over-the-price/{variant}",
            lambda d, p, variant=variant: attacks.timestamp_field_over_the_price(
                p.sign(p.sign(d, "seller", p.seller), "buyer-1", p.buyer),
                p.d.pki.timestamper(),
                rect="five" if variant == "five" else "indirect",
                kids=variant == "kids",
            ),
            "新增表单域“ts-price”",
        )
        for variant in ("indirect", "five", "kids")
    ),
    (
        "document-information-retitled",
        lambda d, p: attacks.retitle(p.sign(p.sign(d, "seller", p.seller), "buyer-1", p.buyer)),
        "文档属性",
    ),
    (
        "form-tree-fan-out",
        lambda d, p: attacks.form_fan_out(p.sign(d, "seller", p.seller)),
        "reference fan-out",
    ),
    *(
        (
            f"xref-stream-claims-millions-of-objects/{how}",
            lambda d, p, how=how: attacks.xref_stream_claiming(
                p.sign(p.sign(d, "seller", p.seller), "buyer-1", p.buyer),
                3_000_000,
                index=how == "index",
            ),
            "claim too many objects",
        )
        for how in ("index", "size")
    ),
    (
        "path-explosion-in-the-dss",
        lambda d, p: p.sign(
            attacks.path_explosion_in_dss(p.sign(d, "seller", p.seller)), "buyer-1", p.buyer
        ),
        "more than 100000 paths",
    ),
]


@pytest.mark.parametrize(("name", "build", "says"), TRICKS, ids=[t[0] for t in TRICKS])
def test_the_verifier_refuses_parser_tricks_and_amplification(
    deployment: Deployment, name: str, build: Build, says: str
) -> None:
    p = _parties(deployment)
    pdf = build(render(sample_contract()).pdf, p)
    trust = deployment.verifier_trust()
    try:
        judged = assess(pdf, trust, complete=False)
    except DocumentUnreadable as exc:  # bad input (exit 3), before any signature is checked
        assert says in str(exc), exc
        return
    assert not judged.passed and says in "; ".join(judged.problems()), judged.problems()


def test_a_cross_reference_claim_is_refused_before_any_table_is_built(
    deployment: Deployment,
) -> None:
    """Millions of claimed objects in a few bytes (a billion in the attack; fewer here, so
    that a regression fails the test rather than the machine): refused at once."""
    p = _parties(deployment)
    signed = p.sign(p.sign(render(sample_contract()).pdf, "seller", p.seller), "buyer-1", p.buyer)
    bomb = attacks.xref_stream_claiming(signed, 3_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(DocumentTooComplex, match="claim too many objects"):
            assess(bomb, deployment.verifier_trust(), complete=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak


def test_the_platform_refuses_parser_tricks_and_amplification(
    api: tuple[TestClient, dict[str, dict[str, str]], Deployment],  # noqa: F811
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    dev = keys["developer"]
    r = client.post("/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "draft"})
    cid = r.json()["id"]
    draft = client.get(f"/v1/contracts/{cid}/document", headers=dev).content
    p = _parties(d, CONTRACT["number"])
    for n, (name, build, says) in enumerate(TRICKS):
        headers = {**dev, "Idempotency-Key": f"t{n}", "content-type": "application/pdf"}
        r = client.post(f"/v1/filings?contract_id={cid}", content=build(draft, p), headers=headers)
        assert r.status_code == 422 and says in r.json()["detail"], (name, r.text)
    assert client.get(f"/v1/contracts/{cid}", headers=dev).json()["signed"] == []
    assert d.log.appended() == 0
