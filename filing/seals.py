"""The platform's own PKI services and seals, as the filing domain uses them.

Seals (the platform's filing seal, developers' enterprise seals) sign from the
PKCS#11 token when one is configured, else from the encrypted key files.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from keys.authority import CertificateAuthority
from keys.ocsp import OcspResponder
from keys.pkcs11 import Pkcs11KeyStore
from keys.pki import Profile, name
from keys.signers import SigningKeyStore
from keys.store import FileKeyStore
from keys.tsa import TimeStampAuthority
from signing.pades import InProcessTimeStamper, RevocationSnapshot
from verifier.signatures import KnownValidationData

FILING_SEAL = "filing-seal"
FILING_SEAL_NAME = "网签备案平台 Filing Seal"


@dataclass
class PlatformPki:
    ca: CertificateAuthority
    files: FileKeyStore
    token: Pkcs11KeyStore | None = None
    filing_seal_slug: str = FILING_SEAL

    @functools.cached_property
    def tsa(self) -> TimeStampAuthority:
        return TimeStampAuthority(
            self.ca.certificate("tsa"), self.ca.private_key("tsa"), [self.ca.issuing]
        )

    def timestamper(self) -> InProcessTimeStamper:
        return InProcessTimeStamper(self.tsa)

    @property
    def ocsp(self) -> OcspResponder:
        return OcspResponder(self.ca)

    @property
    def seal_keys(self) -> SigningKeyStore:
        """Where seal keys live: the token when configured, else the key files."""
        return self.token if self.token is not None else self.files

    def seal_certificate(self, slug: str, holder: str, profile: Profile) -> x509.Certificate:
        """The seal's certificate, creating its key on first use."""
        return self.ca.ensure(
            slug, profile, name(holder, holder), self.seal_keys.ec_public_key(slug)
        )

    @contextmanager
    def seal_signer(self, slug: str, holder: str, profile: Profile) -> Iterator[Any]:
        cert = self.seal_certificate(slug, holder, profile)
        with self.seal_keys.signer(slug, cert, [self.ca.issuing]) as signer:
            yield signer

    def filing_seal(self) -> Any:
        return self.seal_signer(self.filing_seal_slug, FILING_SEAL_NAME, Profile.FILING_SEAL)

    def filing_seal_certificate(self) -> x509.Certificate:
        return self.seal_certificate(self.filing_seal_slug, FILING_SEAL_NAME, Profile.FILING_SEAL)

    def revocation(self, certs: Iterable[x509.Certificate] = ()) -> RevocationSnapshot:
        """Current CRLs and OCSP answers for ``certs`` and the TSA (to validate and embed).

        All of one moment: a verifier takes the newest status of a certificate as the one
        whose freshness bounds its past validation, and an OCSP answer (fresh at most until
        the certificate ends, ``keys/ocsp.py``) must not be outdone by a CRL issued a moment
        later and fresh for a day."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        responder = self.ocsp
        wanted = [*certs, self.ca.certificate("tsa")]
        answers = []
        for cert in wanted:
            if cert.issuer != self.ca.issuing.subject:
                continue
            request = ocsp.OCSPRequestBuilder().add_certificate(
                cert, self.ca.issuing, hashes.SHA256()
            )
            answers.append(
                responder.respond(request.build().public_bytes(serialization.Encoding.DER), now)
            )
        crls = tuple(
            self.ca.crl(slug, now).public_bytes(serialization.Encoding.DER)
            for slug in ("issuing-ca", "root-ca")
        )
        return RevocationSnapshot((self.ca.root,), (self.ca.issuing,), crls, tuple(answers))


def known_validation_data(revocation: RevocationSnapshot) -> KnownValidationData:
    """A snapshot as the verifier's data besides the document: what the filing seal embeds."""
    der = serialization.Encoding.DER
    return KnownValidationData(
        # The seal's DSS holds the roots and intermediates too (signing/pades.py).
        certificates=tuple(
            c.public_bytes(der) for c in (*revocation.roots, *revocation.intermediates)
        ),
        crls=revocation.crls,
        ocsp_responses=revocation.ocsp_responses,
    )
