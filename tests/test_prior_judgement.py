"""The next party's revision is judged only for what it adds, never less than in full.

The platform remembers its passing judgement of each accepted revision (filing/judgements.py)
and hands it to the verifier's judgement of the next one (``PriorJudgement``): the revisions
already judged are not walked or compared again, and a signature already passed is not
validated again unless something known now could change its verdict. These tests give the
judgement a prior whose seller finding carries a marker time, so that they can see whether it
was reused, and check that it is not whenever a full validation could judge differently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.generic import pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from filing import judgements
from filing.seals import PlatformPki, known_validation_data
from keys.authority import RevocationReason
from keys.pki import Profile, name, new_key
from keys.signers import key_signer
from signing import pades
from signing.render import render
from signing.sample import sample_contract
from tests.pki_helpers import buyer_holder, make_pki, trust_of
from verifier.document import revision_count
from verifier.models import Indication
from verifier.signatures import Assessment, PriorJudgement, SignedDocument

MARKER = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # no validation ever finds this time
NUMBER = "HT-2026-PRIOR1"
SELLER = "湘江示范置业有限公司"


@dataclasses.dataclass
class Signed:
    pki: PlatformPki
    draft: bytes
    seller_signed: bytes  # the revision the platform judged and accepted
    buyer_signed: bytes  # the next party's revision, extending it byte for byte
    seller_cert: object
    buyer_cert: object


def _sign(tmp_path: Path, seller_expires: dt.datetime | None = None, **buyer: object) -> Signed:
    pki = make_pki(tmp_path / "pki")
    draft = render(sample_contract(NUMBER)).pdf
    ts = pki.timestamper()
    key = new_key()
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    seller_cert = pki.ca.issue(
        Profile.ENTERPRISE_SEAL,
        name(SELLER),
        key.public_key(),
        validity=(seller_expires - start) if seller_expires else None,
        not_before=start,
    )
    seller_signed = pades.sign(
        draft,
        "seller",
        key_signer(key, seller_cert, [pki.ca.issuing]),
        pades.Level.B_T,
        timestamper=ts,
    )
    holder = buyer_holder(pki, sample_contract(NUMBER).buyers[0].name, NUMBER)
    buyer_signed = pades.sign(
        seller_signed,
        "buyer-1",
        key_signer(holder.key, holder.cert, [pki.ca.issuing]),
        buyer.pop("level", pades.Level.B_T),  # type: ignore[arg-type]
        timestamper=ts,
        revocation=pki.revocation([holder.cert, seller_cert]),
    )
    return Signed(pki, draft, seller_signed, buyer_signed, seller_cert, holder.cert)


def _judge(s: Signed, pdf: bytes, prior: PriorJudgement | None = None) -> Assessment:
    """The platform's judgement before sealing, as ``FilingService._check_parties`` makes it."""
    revocation = s.pki.revocation(
        [s.seller_cert, s.buyer_cert, s.pki.filing_seal_certificate()]  # type: ignore[list-item]
    )
    return SignedDocument(pdf, prior).assess(
        trust_of(s.pki),
        known=known_validation_data(revocation),
        complete=False,
        draft_revisions=revision_count(s.draft),
    )


def _marked_prior(s: Signed) -> PriorJudgement:
    """The platform's judgement of the seller's revision, its seller finding time-marked."""
    judged = _judge(s, s.seller_signed)
    assert judged.passed, judged.problems()
    marked = tuple(dataclasses.replace(f, signing_time=MARKER) for f in judged.signatures)
    return PriorJudgement(SignedDocument(s.seller_signed).sections(), marked)


def _seller(judged: Assessment) -> object:
    return next(f for f in judged.signatures if f.field == "seller")


@pytest.fixture
def signed(tmp_path: Path) -> Signed:
    return _sign(tmp_path)


def test_a_prior_judgement_gives_the_same_assessment_as_a_full_one(signed: Signed) -> None:
    judged = _judge(signed, signed.seller_signed)
    prior = PriorJudgement(SignedDocument(signed.seller_signed).sections(), judged.signatures)
    full = _judge(signed, signed.buyer_signed)
    assert full.passed, full.problems()
    assert _judge(signed, signed.buyer_signed, prior) == full


def test_the_passed_seller_signature_is_not_validated_again(signed: Signed) -> None:
    judged = _judge(signed, signed.buyer_signed, _marked_prior(signed))
    assert judged.passed, judged.problems()
    assert _seller(judged).signing_time == MARKER  # type: ignore[attr-defined]
    buyer = next(f for f in judged.signatures if f.field == "buyer-1")
    assert buyer.signing_time != MARKER  # the new signature is validated in full


def test_a_certificate_revoked_since_voids_the_prior_verdict(signed: Signed) -> None:
    prior = _marked_prior(signed)
    signed.pki.ca.revoke(signed.seller_cert.serial_number, RevocationReason.KEY_COMPROMISE)  # type: ignore[attr-defined]
    judged = _judge(signed, signed.buyer_signed, prior)
    assert _seller(judged) == _seller(_judge(signed, signed.buyer_signed))
    assert _seller(judged).signing_time != MARKER  # type: ignore[attr-defined]


def test_an_expired_certificate_voids_the_prior_verdict(tmp_path: Path) -> None:
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=4)
    s = _sign(tmp_path, seller_expires=expires)
    prior = _marked_prior(s)
    time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 1.5)
    judged = _judge(s, s.buyer_signed, prior)
    assert _seller(judged) == _seller(_judge(s, s.buyer_signed))
    assert _seller(judged).signing_time != MARKER  # type: ignore[attr-defined]


def test_validation_data_in_the_document_voids_the_prior_verdicts(tmp_path: Path) -> None:
    """A DSS the new revision adds could hold what changes an earlier verdict."""
    s = _sign(tmp_path, level=pades.Level.B_LT)
    judged = _judge(s, s.buyer_signed, _marked_prior(s))
    assert _seller(judged).signing_time != MARKER  # type: ignore[attr-defined]


def test_a_prior_verdict_on_another_certificate_is_not_taken(
    signed: Signed, tmp_path: Path
) -> None:
    other = _sign(tmp_path / "other")
    prior = _marked_prior(other)  # the same field, another seller's signature
    judged = _judge(signed, signed.buyer_signed, prior)
    assert _seller(judged).signing_time != MARKER  # type: ignore[attr-defined]


def test_a_failed_prior_verdict_is_not_taken(signed: Signed) -> None:
    prior = _marked_prior(signed)
    failed = tuple(
        dataclasses.replace(f, indication=Indication.INDETERMINATE) for f in prior.signatures
    )
    judged = _judge(signed, signed.buyer_signed, PriorJudgement(prior.sections, failed))
    assert judged.passed
    assert _seller(judged).signing_time != MARKER  # type: ignore[attr-defined]


def test_what_the_new_revision_changes_is_still_judged(signed: Signed) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed.buyer_signed), strict=False)
    info = writer.trailer["/Info"].get_object()
    info["/Title"] = pdf_string("改过的合同")
    writer.update_container(info)
    out = BytesIO()
    writer.write(out)
    altered = out.getvalue()
    judged = _judge(signed, altered, _marked_prior(signed))
    assert not judged.passed
    modifications = next(c for c in judged.checks if c.name == "modifications")
    assert modifications.sub_indication == "MODIFIED_AFTER_SIGNING"
    honest = _judge(signed, signed.seller_signed)
    prior = PriorJudgement(SignedDocument(signed.seller_signed).sections(), honest.signatures)
    assert _judge(signed, altered, prior) == _judge(signed, altered)


def test_a_prior_longer_than_the_document_is_ignored(signed: Signed) -> None:
    prior = _marked_prior(signed)
    judged = _judge(
        signed, signed.seller_signed, PriorJudgement((*prior.sections, 10**9), prior.signatures)
    )
    assert judged == _judge(signed, signed.seller_signed)


def test_a_stored_judgement_is_read_back_only_for_its_document_trust_and_key(
    signed: Signed, tmp_path: Path
) -> None:
    key, trust = b"k" * 32, trust_of(signed.pki)
    judged = _judge(signed, signed.seller_signed)
    stored = judgements.record(key, signed.seller_signed, (1, 2, 3), trust, judged)
    prior = judgements.prior(key, signed.seller_signed, trust, stored)
    assert prior == PriorJudgement((1, 2, 3), judged.signatures)
    assert judgements.prior(key, signed.buyer_signed, trust, stored) is None
    assert (
        judgements.prior(key, signed.seller_signed, trust_of(make_pki(tmp_path / "o")), stored)
        is None
    )
    assert judgements.prior(b"x" * 32, signed.seller_signed, trust, stored) is None
    assert judgements.prior(key, signed.seller_signed, trust, None) is None
    assert judgements.prior(key, signed.seller_signed, trust, "not json") is None
    assert judgements.prior(key, signed.seller_signed, trust, "[]") is None


def test_an_operator_cannot_write_a_verdict_the_platform_takes(signed: Signed) -> None:
    """With the database alone, a stored judgement can be edited but not re-sealed: an
    edited one is no judgement, and everything is validated again."""
    key, trust = b"k" * 32, trust_of(signed.pki)
    stored = judgements.record(
        key, signed.seller_signed, (1, 2, 3), trust, _judge(signed, signed.seller_signed)
    )
    assert stored is not None
    edited = json.loads(stored)
    edited["signatures"][0]["signing_time"] = MARKER.isoformat()
    assert judgements.prior(key, signed.seller_signed, trust, json.dumps(edited)) is None
    edited["signatures"][0]["signing_time"] = None
    edited["sections"] = [1, 2]
    assert judgements.prior(key, signed.seller_signed, trust, json.dumps(edited)) is None


def test_a_failed_judgement_is_not_stored(signed: Signed) -> None:
    judged = _judge(signed, signed.seller_signed)
    failing = dataclasses.replace(
        judged,
        signatures=tuple(
            dataclasses.replace(f, indication=Indication.FAILED) for f in judged.signatures
        ),
    )
    trust = trust_of(signed.pki)
    assert judgements.record(b"k" * 32, signed.seller_signed, (1, 2, 3), trust, failing) is None
