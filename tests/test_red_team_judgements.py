"""Red team: the platform's stored judgement (PriorJudgement, filing/judgements.py) and the
one-pass hex-string reader (verifier/hex_strings.py).

The invariant: the platform accepts and files a document only if the offline verifier (same
code, full judgement, no prior) would pass it; no input buys unbounded work; nothing is a 500.
Each test asserts the safe behaviour; an attack that succeeds is ``xfail(strict=True)``.
"""

from __future__ import annotations

import time
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from sqlalchemy import select

from filing import schema
from filing.service import FilingService, SignatureRejected
from keys.authority import RevocationReason
from keys.pki import new_key
from keys.signers import key_signer
from ledger.database import write_transaction
from signing import pades, remote
from signing.sample import sample_contract
from tests.pki_helpers import buyer_holder, trust_of
from tests.test_filing_service import (  # noqa: F401 (service: a fixture)
    BUYER_ID,
    CODES,
    DEVELOPER_ID,
    _contract,
    _identity,
    service,
)
from tests.test_hex_strings import _outcome
from tests.test_prior_judgement import NUMBER, _judge, _sign
from verifier import hex_strings
from verifier.document import (
    DocumentTooComplex,
    open_pdf,
    read_shape,
    revision_count,
    signature_fields,
)
from verifier.signatures import PriorJudgement, SignedDocument, assess

# -- the attack: a new revision whose /Prev skips the judged seller revision -------------------

_PLACEHOLDERS = (b"1111111111", b"2222222222", b"3333333333")
_SCRIBBLE = b"\nq 1 0 0 RG 60 560 480 40 re f Q\n"  # paints over the price


def bypass_seller_revision(seller_signed: bytes) -> bytes:
    """``seller_signed`` with one unsigned revision appended whose cross-reference /Prev
    points past the seller's revision to the draft's last section.

    The file still extends ``seller_signed`` byte for byte and has as many revisions as the
    platform judged (draft + seller), but the last "judged" revision is now this one: it
    re-lists the seller's objects, changes the first page's content, and gives the seller's
    signature dictionary a /ByteRange that claims to cover exactly this revision (the CMS is
    the seller's, so a real validation fails with HASH_FAILURE).
    """
    reader = open_pdf(seller_signed)
    total = int(reader.xrefs.total_revisions)
    seller_refs = sorted(reader.xrefs.explicit_refs_in_revision(total - 1), key=lambda r: r.idnum)
    seller = next(f for f in signature_fields(reader) if f.name == "seller")
    sig_ref = seller.field.raw_get("/V").reference
    contents_ref = reader.root["/Pages"]["/Kids"][0].raw_get("/Contents").reference
    prev = reader.xrefs.get_startxref_for_revision(total - 2)

    def serialise(ref: generic.Reference, obj: generic.PdfObject) -> bytes:
        out = BytesIO()
        obj.write_to_stream(out, None)
        return b"%d %d obj\n" % (ref.idnum, ref.generation) + out.getvalue() + b"\nendobj\n"

    body, offsets = b"\n", {}
    for ref in seller_refs:
        obj = reader.get_object(ref)
        if ref == sig_ref:
            obj = generic.DictionaryObject(dict(obj))
            obj[generic.NameObject("/ByteRange")] = generic.ArrayObject(
                [generic.NumberObject(0)] + [generic.NumberObject(int(p)) for p in _PLACEHOLDERS]
            )
        offsets[ref.idnum] = len(seller_signed) + len(body)
        body += serialise(ref, obj)
    content = reader.get_object(contents_ref).data + _SCRIBBLE
    offsets[contents_ref.idnum] = len(seller_signed) + len(body)
    body += b"%d 0 obj\n<< /Length %d >>\nstream\n" % (contents_ref.idnum, len(content))
    body += content + b"\nendstream\nendobj\n"
    xref_at = len(seller_signed) + len(body)
    xref = b"xref\n0 1\n0000000000 65535 f \n"
    for idnum in sorted(offsets):
        xref += b"%d 1\n%010d 00000 n \n" % (idnum, offsets[idnum])
    ids = BytesIO()
    reader.trailer.raw_get("/ID").write_to_stream(ids, None)
    xref += b"trailer\n<< /ID %s /Info %d 0 R /Root %d 0 R /Size %d /Prev %d >>\n" % (
        ids.getvalue(),
        reader.trailer.raw_get("/Info").reference.idnum,
        reader.trailer.raw_get("/Root").reference.idnum,
        int(reader.trailer["/Size"]),
        prev,
    )
    xref += b"startxref\n%d\n%%%%EOF\n" % xref_at
    added = body + xref
    end = len(seller_signed) + len(added)
    hex_len = 2 * len(reader.get_object(sig_ref)["/Contents"]) + 2
    # contiguous, and ending where this revision ends: "ENTIRE_REVISION" coverage
    values = (100, 100 + hex_len, end - 100 - hex_len)
    for placeholder, value in zip(_PLACEHOLDERS, values, strict=True):
        assert added.count(placeholder) == 1
        added = added.replace(placeholder, b"%010d" % value)
    return seller_signed + added


def test_a_revision_that_skips_the_judged_one_is_judged_in_full(tmp_path: Path) -> None:
    """Found by the red team: the prior held by revision count alone, so a revision whose
    /Prev skipped the judged seller revision took its place, unjudged. The prior now names
    the judged revisions' cross-reference sections."""
    s = _sign(tmp_path)
    bypassed = bypass_seller_revision(s.seller_signed)
    assert bypassed.startswith(s.seller_signed)
    assert revision_count(bypassed) == revision_count(s.seller_signed)
    holder = buyer_holder(s.pki, sample_contract(NUMBER).buyers[0].name, NUMBER)
    s.buyer_cert = holder.cert
    buyer_signed = pades.sign(
        bypassed,
        "buyer-1",
        key_signer(holder.key, holder.cert, [s.pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=s.pki.timestamper(),
    )
    full = _judge(s, buyer_signed)
    assert not full.passed  # the seller's signature: HASH_FAILURE; page 1 changed
    honest = _judge(s, s.seller_signed)
    prior = PriorJudgement(SignedDocument(s.seller_signed).sections(), honest.signatures)
    with_prior = _judge(s, buyer_signed, prior)
    assert not with_prior.passed
    assert with_prior.checks == full.checks

    def verdicts(a: object) -> list[tuple[object, ...]]:
        return [(f.field, f.indication, f.sub_indication) for f in a.signatures]  # type: ignore[attr-defined]

    assert verdicts(with_prior) == verdicts(full)


def test_the_platform_files_only_what_the_verifier_passes_after_a_skipped_revision(
    service: FilingService,  # noqa: F811
) -> None:
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert service.seal_as_developer(cid, "developer") is None
    with service.engine.connect() as conn:
        current = conn.execute(
            select(schema.contracts.c.current_pdf).where(schema.contracts.c.id == cid)
        ).scalar_one()
    key = new_key()
    cert = service.signing_certificate(cid, "buyer-1", _identity(c), key.public_key(), BUYER_ID)
    pdf = pades.sign(
        bypass_seller_revision(current),
        "buyer-1",
        key_signer(key, cert, [service.d.pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=service.d.pki.timestamper(),
    )
    try:
        record = service.accept_revision(cid, pdf, BUYER_ID)
    except SignatureRejected:
        return  # safe: refused
    assert record is not None
    sealed = service.filing(record.number)["sealed_pdf"]
    offline = assess(sealed, service.d.verifier_trust())
    assert offline.passed, offline.problems()


# -- revocation between the developer's signature and the buyer's -----------------------------


def test_a_developer_seal_revoked_before_the_buyer_signs_is_not_filed(
    service: FilingService,  # noqa: F811
) -> None:
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    service.seal_as_developer(cid, "developer")
    key = new_key()
    digest = service.start_remote_signing(cid, "buyer-1", _identity(c), key.public_key(), BUYER_ID)
    with service.engine.connect() as conn:
        current = conn.execute(
            select(schema.contracts.c.current_pdf).where(schema.contracts.c.id == cid)
        ).scalar_one()
    [(_, seller_der)] = SignedDocument(current).signers()
    from cryptography import x509

    serial = x509.load_der_x509_certificate(seller_der).serial_number
    service.d.pki.ca.revoke(serial, RevocationReason.KEY_COMPROMISE)
    try:
        record = service.finish_remote_signing(
            cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID
        )
    except SignatureRejected:
        return
    # if the platform still files it, the court's verifier must agree
    assert record is not None
    sealed = service.filing(record.number)["sealed_pdf"]
    assert assess(sealed, service.d.verifier_trust()).passed


# -- an operator with the database -----------------------------------------------------------


def test_an_operator_cannot_graft_another_contracts_judged_revision(
    service: FilingService,  # noqa: F811
) -> None:
    """current_pdf, judgement and signed_fields copied from another contract (both genuine
    records under the platform's key) do not let a revision of this one pass."""
    a = _contract(CODES[0], "HT-2026-000001")
    b = _contract(CODES[1], "HT-2026-000002")
    aid, _ = service.draft(a, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    bid, _ = service.draft(b, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    service.seal_as_developer(aid, "developer")
    service.seal_as_developer(bid, "developer")
    t = schema.contracts
    with service.engine.connect() as conn:
        row = conn.execute(
            select(t.c.current_pdf, t.c.judgement, t.c.signed_fields).where(t.c.id == bid)
        ).one()
    with write_transaction(service.engine) as conn:
        conn.execute(
            t.update()
            .where(t.c.id == aid)
            .values(
                current_pdf=row.current_pdf,
                judgement=row.judgement,
                signed_fields=row.signed_fields,
            )
        )
    key = new_key()
    digest = service.start_remote_signing(aid, "buyer-1", _identity(a), key.public_key(), BUYER_ID)
    with pytest.raises(SignatureRejected):
        service.finish_remote_signing(aid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)


# -- the one-pass hex-string reader --------------------------------------------------------

PYHANKO = hex_strings.PYHANKO_READER


ODD = [
    b"<41 %> a comment holding the bracket\n42>",
    b"<41 %\r>42>",  # a comment ended by CR
    b"<41 % no end of line>",  # comment to the end of the stream
    b"<4 1 % x\n % y\n 4 2>",
    b"<<41>>",  # a dictionary opener read as a hex string
    b"<4<1>",
    b"<41>>",
    b"<41\x0b42>",  # vertical tab: not PDF whitespace
    b"<+1>",
    b"<\xd9\xa1>",  # a non-ASCII digit
    b"<41\x00\x0c\r\n\t 42>",
    b"<0z" + b" " * 200_000 + b">",
    b"<" + b"0" * 131_071 + b"%\n>",  # a comment right after a chunk boundary
    b"<" + b"f" * 65_535 + b">",
]


@pytest.mark.parametrize("data", ODD, ids=range(len(ODD)))
def test_odd_hex_strings_read_as_pyhanko_reads_them(data: bytes) -> None:
    assert _outcome(hex_strings.read_hex_string_from_stream, data) == _outcome(PYHANKO, data)


def test_a_hex_string_without_its_bracket_costs_no_more_than_the_file() -> None:
    """No '>' before the end: one pass to the end, then pyHanko fails at the first
    non-digit; many such strings cannot multiply a large remainder (see the object stream
    test below for where the reading goes on after a failure)."""
    data = b"<0z" + b" " * (8 << 20)
    start = time.perf_counter()
    for _ in range(20):
        with pytest.raises(Exception):  # noqa: B017 (pyHanko's own error)
            hex_strings.read_hex_string_from_stream(BytesIO(data))
    assert time.perf_counter() - start < 3.0


def _object_stream_pdf(n: int) -> bytes:
    """A small PDF whose /Info lists ``n`` objects of one object stream, each a broken hex
    string (pyHanko, lenient, reads each as null and goes on)."""
    header = body = b""
    for i in range(n):
        header += b"%d %d " % (10 + i, len(body))
        body += b"<0z\n"
    data = zlib.compress(header + body, 9)
    out, offsets = b"%PDF-1.7\n", {}

    def add(num: int, content: bytes) -> None:
        nonlocal out
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + content + b"\nendobj\n"

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [] /Count 0 >>")
    add(3, b"<< /Junk [" + b" ".join(b"%d 0 R" % (10 + i) for i in range(n)) + b"] >>")
    add(
        4,
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (n, len(header), len(data))
        + data
        + b"\nendstream",
    )
    size = 10 + n
    rows = b""
    for num in range(size):
        if num in offsets:
            rows += b"\x01" + offsets[num].to_bytes(4, "big") + b"\x00\x00"
        elif num >= 10:
            rows += b"\x02" + (4).to_bytes(4, "big") + (num - 10).to_bytes(2, "big")
        else:
            rows += b"\x00" * 7
    xref_at = len(out)
    rows += b"\x01" + xref_at.to_bytes(4, "big") + b"\x00\x00"
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Info 3 0 R /Length %d >>"
        b"\nstream\n" % (size, size + 1, len(rows))
    )
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return out


def test_an_object_stream_of_many_objects_is_refused_before_it_is_read() -> None:
    """Found by the red team: pyHanko reads an object stream's header from its start for
    every object it looks up there, so 2,000 objects of one stream in 40 KB cost 8 s."""
    pdf = _object_stream_pdf(1_500)
    assert len(pdf) < 40_000
    with pytest.raises(DocumentTooComplex, match="object streams"):
        read_shape(open_pdf(pdf))


def test_an_object_stream_of_a_contracts_size_is_read() -> None:
    read_shape(open_pdf(_object_stream_pdf(200)))


def test_a_stored_judgement_for_the_trust_of_another_deployment_is_not_taken(
    tmp_path: Path,
) -> None:
    """The skip attack with a prior under another trust (a rotated bundle): judged in full."""
    from filing import judgements

    s = _sign(tmp_path)
    key = b"k" * 32
    stored = judgements.record(
        key,
        s.seller_signed,
        SignedDocument(s.seller_signed).sections(),
        trust_of(s.pki),
        _judge(s, s.seller_signed),
    )
    other = _sign(tmp_path / "other")
    assert judgements.prior(key, s.seller_signed, trust_of(other.pki), stored) is None
