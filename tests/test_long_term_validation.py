"""A filed contract's signatures hold long after the certificates that made them ended.

Found by the red team (2026-12-02): the OCSP answers the seal embeds were fresh for an hour
however soon the certificate they vouch for ended. A verifier after that end slides its
control time back only to where the newest status stops being fresh, a moment when the
party's certificate had already expired, and called the party's signature INDETERMINATE
(OUT_OF_BOUNDS_NO_POE): with one-hour party certificates every filing, with certificates
ending at the draft's reservation every filing sealed in the reservation's last hour.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import ades
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

from filing.clock import FixedClock, SystemClock
from filing.service import RESERVATION, FilingService
from keys.authority import RevocationReason, pem
from keys.ocsp import FRESH_FOR, OcspResponder
from keys.pki import BACKDATE, Profile, name, new_key
from signing import remote
from tests.pki_helpers import make_pki
from tests.test_filing_service import (  # noqa: F401 (service: a fixture)
    BUYER_ID,
    DEVELOPER_ID,
    _contract,
    _identity,
    service,
)
from verifier.signatures import validation_spec
from verifier.trust import TrustBundle

YEAR = dt.timedelta(days=365)


def _verdicts(pdf: bytes, trust: TrustBundle, at: dt.datetime) -> dict[str, str]:
    """Each signature's AdES LTA verdict as a verifier with the same policy reaches it at
    ``at`` (pyHanko's validation, the verifier's spec: roots, no fetching)."""
    timing = ValidationTimingInfo(at, at, point_in_time_validation=False)
    out = {}
    for sig in PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            continue
        result = asyncio.run(
            ades.ades_lta_validation(sig, validation_spec(trust), timing_info=timing)
        )
        sub = result.ades_subindic
        out[str(sig.field_name)] = sub.status.name if sub.status.name == "PASSED" else str(sub)
    return out


def _sign_and_seal(svc: FilingService, c: Any, cid: str) -> bytes:
    """The developer's seal, the buyer on her phone: the sealed, filed document."""
    assert svc.seal_as_developer(cid, "developer") is None
    key = new_key()
    digest = svc.start_remote_signing(cid, "buyer-1", _identity(c), key.public_key(), BUYER_ID)
    record = svc.finish_remote_signing(cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)
    assert record is not None
    return bytes(svc.filing(record.number)["sealed_pdf"])


def test_a_contract_sealed_in_its_reservation_s_last_minute_verifies_years_later(
    service: FilingService,  # noqa: F811
) -> None:
    now = dt.datetime.now(dt.UTC)
    c = _contract()
    service.clock = FixedClock(now - RESERVATION + dt.timedelta(seconds=60))
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    service.clock = SystemClock()  # the reservation ends a minute from now
    sealed = _sign_and_seal(service, c, cid)
    [buyer] = [
        s
        for s in PdfFileReader(BytesIO(sealed), strict=False).embedded_signatures
        if s.field_name == "buyer-1"
    ]
    ends = buyer.signer_cert.not_valid_after
    # The buyer's certificate ends with the draft, and a seal's margin after it.
    assert ends <= now + dt.timedelta(seconds=61) + BACKDATE

    trust = service.d.verifier_trust()
    passed = {"seller": "PASSED", "buyer-1": "PASSED", "filing-seal": "PASSED"}
    assert _verdicts(sealed, trust, dt.datetime.now(dt.UTC)) == passed
    # After the buyer's certificate ended; after the CRLs in the seal's DSS went stale (a
    # day); years on, after the seller's and the seal's certificates ended too.
    for later in (ends + dt.timedelta(minutes=1), now + dt.timedelta(days=2), now + 4 * YEAR):
        assert _verdicts(sealed, trust, later) == passed, later


def _answer(responder: OcspResponder, cert: object, issuer: object) -> ocsp.OCSPResponse:
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())  # type: ignore[arg-type]
    der = responder.respond(request.build().public_bytes(serialization.Encoding.DER))
    return ocsp.load_der_ocsp_response(der)


def test_an_ocsp_answer_is_never_fresh_beyond_the_certificate_s_end(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    ca, responder = pki.ca, OcspResponder(pki.ca)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    long_lived = ca.issue(Profile.PARTY, name("甲"), new_key().public_key(), YEAR)
    ending = ca.issue(Profile.PARTY, name("乙"), new_key().public_key(), dt.timedelta(minutes=15))
    ended = ca.issue(
        Profile.PARTY,
        name("丙"),
        new_key().public_key(),
        dt.timedelta(minutes=1),
        not_before=now - dt.timedelta(days=1),
    )
    a = _answer(responder, long_lived, ca.issuing)
    assert a.next_update_utc - a.this_update_utc == FRESH_FOR
    b = _answer(responder, ending, ca.issuing)
    assert b.next_update_utc == ending.not_valid_after_utc < b.this_update_utc + FRESH_FOR
    c = _answer(responder, ended, ca.issuing)
    assert c.certificate_status is ocsp.OCSPCertStatus.GOOD  # it was never revoked
    assert c.next_update_utc == c.this_update_utc  # but says nothing of the time to come


def test_a_revoked_tsa_leaves_the_trust_bundle(
    service: FilingService,  # noqa: F811
) -> None:
    """An anchor is never checked for revocation: a TSA revoked for key compromise must not
    stay one (red team: the bundle exported after `keys revoke` still trusted it, and a
    thief's back-dated time-stamps with it). Its filings are then proven by nothing: the
    honest verdict until their time-stamps are renewed by another TSA (not built)."""
    d = service.d
    tsa = d.pki.ca.certificate("tsa")
    assert d.trust_bundle()["tsa_roots"] == [pem(tsa).decode()]
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    sealed = _sign_and_seal(service, c, cid)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    passed = {"seller": "PASSED", "buyer-1": "PASSED", "filing-seal": "PASSED"}
    assert _verdicts(sealed, d.verifier_trust(), later) == passed

    d.pki.ca.revoke(tsa.serial_number, RevocationReason.KEY_COMPROMISE)
    assert d.trust_bundle()["tsa_roots"] == []
    verdicts = _verdicts(sealed, d.verifier_trust(), later)
    assert all(v != "PASSED" for v in verdicts.values()), verdicts
