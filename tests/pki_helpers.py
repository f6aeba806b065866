"""A test PKI: one deployment's CA, TSA and revocation data, built in a temporary directory."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from filing.seals import FILING_SEAL_NAME, PlatformPki, known_validation_data
from keys.authority import CertificateAuthority, pem
from keys.identity import (
    RegistryIdentityCheck,
    SigningPurpose,
    VerifiedIdentity,
    issue_party_certificate,
)
from keys.pki import Endpoints, Profile, name, new_key
from keys.signers import key_signer
from keys.store import FileKeyStore
from ledger.note import Signer
from signing import pades, remote
from signing.fonts import truetype_font
from signing.render import render
from signing.sample import sample_contract
from signing.seal import seal_image
from verifier.signatures import Assessment, assess
from verifier.trust import TrustBundle

DEVELOPER_SEAL = "seal-demo-developer"


@dataclass
class Holder:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def make_pki(directory: Path, url: str = "http://127.0.0.1:8000") -> PlatformPki:
    store = FileKeyStore(directory / "keys", b"test passphrase")
    ca = CertificateAuthority.open(directory / "pki", store, Endpoints(url))
    return PlatformPki(ca, store)


def issue(
    pki: PlatformPki,
    cn: str,
    profile: Profile = Profile.PARTY,
    validity: dt.timedelta | None = None,
    not_before: dt.datetime | None = None,
) -> Holder:
    key = new_key()
    cert = pki.ca.issue(profile, name(cn, serial="TEST"), key.public_key(), validity, not_before)
    return Holder(key, cert)


def sample_identity_check(directory: Path) -> RegistryIdentityCheck:
    """The identity extract the authority would load, holding the sample buyers."""
    extract = directory / "identity-extract.json"
    if not extract.exists():
        directory.mkdir(parents=True, exist_ok=True)
        people = {p.id_number: p.name for p in sample_contract(buyers=2).buyers}
        extract.write_text(json.dumps(people, ensure_ascii=False, indent=1), encoding="utf-8")
    return RegistryIdentityCheck(extract)


def trust_of(pki: PlatformPki) -> TrustBundle:
    """The bundle a verifier of this PKI's documents holds (a throwaway log key)."""
    root = pem(pki.ca.root).decode()
    log_key = Signer("test.example/log", Ed25519PrivateKey.generate()).verifier.vkey
    return TrustBundle.from_json(
        json.dumps(
            {
                "version": 1,
                "roots": [root],
                "tsa_roots": [pem(pki.ca.certificate("tsa")).decode()],
                "filing_seals": [pem(pki.filing_seal_certificate()).decode()],
                "log": {"origin": "test.example/log", "keys": [{"vkey": log_key}]},
            }
        )
    )


def judge(
    pki: PlatformPki,
    pdf: bytes,
    certs: Iterable[x509.Certificate] = (),
    complete: bool = False,
) -> Assessment:
    """The platform's judgement of ``pdf``: the verifier's, with the platform's revocation data."""
    revocation = pki.revocation([*certs, pki.filing_seal_certificate()])
    return assess(pdf, trust_of(pki), known=known_validation_data(revocation), complete=complete)


def sign_sample_contract(pki: PlatformPki, number: str, cache: Path) -> bytes:
    """Seller's seal (B-T), buyer's remote signature (B-T), then the filing seal (B-LTA)."""
    contract = sample_contract(number)
    identity_check = sample_identity_check(cache)
    draft = render(contract)
    font = truetype_font()
    ts = pki.timestamper()
    seller = contract.seller.name
    with pki.seal_signer(DEVELOPER_SEAL, seller, Profile.ENTERPRISE_SEAL) as signer:
        stamp = pades.Stamp(font, seal_image(seller, "合同专用章", font, cache), "出卖人", seller)
        pdf = pades.sign(draft.pdf, "seller", signer, pades.Level.B_T, timestamper=ts, stamp=stamp)

    buyer = contract.buyers[0]
    device_key = new_key()  # lives on the buyer's phone; only its public half is certified
    identity = identity_check.verify(buyer.name, buyer.id_type, buyer.id_number)
    purpose = SigningPurpose(number, "buyer-1")
    buyer_cert = issue_party_certificate(
        pki.ca, identity, device_key.public_key(), purpose, _a_day_from_now()
    )
    request = remote.prepare(
        pdf, "buyer-1", buyer_cert, [pki.ca.issuing], pades.Stamp(font, None, "买受人", buyer.name)
    )
    pdf = remote.finish(request, remote.device_sign(device_key, request.digest_to_sign), ts)

    seller_cert = pki.seal_certificate(DEVELOPER_SEAL, seller, Profile.ENTERPRISE_SEAL)
    seal_cert = pki.filing_seal_certificate()
    revocation = pki.revocation([seller_cert, buyer_cert, seal_cert])
    parties = judge(pki, pdf, [seller_cert, buyer_cert])
    if len(parties.signatures) != 2 or not parties.passed:
        raise AssertionError(f"party signatures do not validate: {parties.problems()}")
    with pki.filing_seal() as signer:
        stamp = pades.Stamp(
            font, seal_image("网签备案平台", "备案专用章", font, cache), "备案", FILING_SEAL_NAME
        )
        pdf = pades.sign(
            pdf,
            "filing-seal",
            signer,
            pades.Level.B_LTA,
            timestamper=ts,
            revocation=revocation,
            stamp=stamp,
        )
    sealed = assess(pdf, trust_of(pki))
    if [s.field for s in sealed.signatures] != ["seller", "buyer-1", "filing-seal"] or not (
        sealed.passed
    ):
        raise AssertionError(f"sealed contract does not validate: {sealed.problems()}")
    return pdf


def contract_number(pdf: bytes) -> str:
    """The contract number a rendered contract names (the last word of its title)."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    return str(PdfFileReader(BytesIO(pdf), strict=False).trailer["/Info"]["/Title"]).split()[-1]


def _a_day_from_now() -> dt.datetime:
    """Until when a test's party certificate is valid: as a draft's would be, a while."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def buyer_holder(pki: PlatformPki, buyer_name: str, number: str, field: str = "buyer-1") -> Holder:
    """A buyer's key and the certificate the platform issues for one field of one contract."""
    key = new_key()
    identity = VerifiedIdentity(buyer_name, "居民身份证", "test", "test", dt.datetime.now(dt.UTC))
    cert = issue_party_certificate(
        pki.ca, identity, key.public_key(), SigningPurpose(number, field), _a_day_from_now()
    )
    return Holder(key, cert)


def sign_as_parties(
    pki: PlatformPki, pdf: bytes, seller_name: str, buyer_name: str, number: str | None = None
) -> bytes:
    """Seller and buyer-1 signatures (B-T) made elsewhere, with certificates of the platform CA
    (the buyer's issued for buyer-1 of contract ``number``, by default the one the PDF names;
    a change agreement names the contract it changes)."""
    ts = pki.timestamper()
    seller_key = new_key()
    seller = Holder(
        seller_key,
        pki.ca.issue(Profile.ENTERPRISE_SEAL, name(seller_name), seller_key.public_key()),
    )
    buyer = buyer_holder(pki, buyer_name, number or contract_number(pdf))
    for field, holder in (("seller", seller), ("buyer-1", buyer)):
        signer = key_signer(holder.key, holder.cert, [pki.ca.issuing])
        pdf = pades.sign(pdf, field, signer, pades.Level.B_T, timestamper=ts)
    return pdf
