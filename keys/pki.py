"""Certificate profiles of one deployment's PKI, as pure builders over cryptography.

Root CA → issuing CA → end entities: parties (short-lived, bound to a verified
identity), enterprise seals, the platform's filing seal, the TSA (EKU
timeStamping, critical) and the OCSP responder (EKU OCSPSigning, ocsp-nocheck).
Keys are ECDSA P-256; whoever holds a key (file or token) passes only its public
half here, with a signing function for the issuer.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

# id-kp-documentSigning (RFC 9336): what a PDF signing certificate is for.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
COUNTRY = "CN"


class Profile(enum.Enum):
    ROOT_CA = "root-ca"
    ISSUING_CA = "issuing-ca"
    PARTY = "party"  # a natural person's signing certificate (buyer, seller)
    ENTERPRISE_SEAL = "enterprise-seal"  # a developer's electronic seal (电子签章)
    FILING_SEAL = "filing-seal"  # the platform's filing seal
    TSA = "tsa"
    OCSP = "ocsp"
    BANK = "bank"  # a bank's key for signed fund statements (资金监管), held by the bank


VALIDITY = {
    Profile.ROOT_CA: dt.timedelta(days=20 * 365),
    Profile.ISSUING_CA: dt.timedelta(days=10 * 365),
    Profile.PARTY: dt.timedelta(days=30),
    Profile.ENTERPRISE_SEAL: dt.timedelta(days=2 * 365),
    Profile.FILING_SEAL: dt.timedelta(days=3 * 365),
    Profile.TSA: dt.timedelta(days=5 * 365),
    Profile.OCSP: dt.timedelta(days=365),
    Profile.BANK: dt.timedelta(days=2 * 365),
}


@dataclass(frozen=True)
class Endpoints:
    """Where relying parties fetch revocation data and issuer certificates."""

    base_url: str

    def crl(self, issuer_slug: str) -> str:
        return f"{self.base_url.rstrip('/')}/crl/{issuer_slug}.crl"

    def ocsp(self) -> str:
        return f"{self.base_url.rstrip('/')}/ocsp"

    def ca_cert(self, issuer_slug: str) -> str:
        return f"{self.base_url.rstrip('/')}/pki/{issuer_slug}.crt"


def name(common_name: str, organization: str | None = None, serial: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if serial:
        # The subject's identity reference, as the identity check recorded it.
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# Certificates start a little in the past: a relying party whose clock is behind accepts them.
BACKDATE = dt.timedelta(minutes=5)


def build(
    profile: Profile,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    endpoints: Endpoints,
    issuer_slug: str = "root-ca",
    not_before: dt.datetime | None = None,
    validity: dt.timedelta | None = None,
) -> x509.Certificate:
    """Issue a certificate of ``profile``; self-signed when ``issuer`` is None."""
    start = not_before or dt.datetime.now(dt.UTC).replace(microsecond=0) - BACKDATE
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(start)
        .not_valid_after(start + (validity or VALIDITY[profile]))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    issuer_public = issuer.public_key() if issuer else public_key
    assert isinstance(issuer_public, ec.EllipticCurvePublicKey)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
    )
    is_ca = profile in (Profile.ROOT_CA, Profile.ISSUING_CA)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=is_ca, path_length=None if profile is Profile.ROOT_CA else 0)
        if is_ca
        else x509.BasicConstraints(ca=False, path_length=None),
        critical=True,
    )
    builder = builder.add_extension(_key_usage(profile), critical=True)
    eku = _extended_key_usage(profile)
    if eku is not None:
        # RFC 3161 requires the TSA's EKU to be critical; the others follow suit.
        builder = builder.add_extension(eku, critical=True)
    if profile is Profile.OCSP:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    if issuer is not None and profile is not Profile.OCSP:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(endpoints.crl(issuer_slug))],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(endpoints.ca_cert(issuer_slug)),
            )
        ]
        if profile is not Profile.ISSUING_CA:
            access.insert(
                0,
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(endpoints.ocsp()),
                ),
            )
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(profile: Profile) -> x509.KeyUsage:
    ca = profile in (Profile.ROOT_CA, Profile.ISSUING_CA)
    signs_documents = profile in (
        Profile.PARTY,
        Profile.ENTERPRISE_SEAL,
        Profile.FILING_SEAL,
        Profile.BANK,
    )
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=signs_documents,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _extended_key_usage(profile: Profile) -> x509.ExtendedKeyUsage | None:
    if profile is Profile.TSA:
        return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
    if profile is Profile.OCSP:
        return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING])
    if profile in (Profile.PARTY, Profile.ENTERPRISE_SEAL, Profile.FILING_SEAL):
        return x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION])
    if profile is Profile.BANK:
        return x509.ExtendedKeyUsage([DOCUMENT_SIGNING])
    return None
