"""One interface for where signing keys live: ``SigningKeyStore``.

Two back ends implement it: encrypted PKCS#8 files (``keys.store.FileKeyStore``)
and PKCS#11 tokens (``keys.pkcs11.Pkcs11KeyStore``). Both hand out pyHanko
signers, so the code that signs never knows which one holds the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class SigningKeyStore(Protocol):
    def ec_public_key(self, label: str, create: bool = True) -> ec.EllipticCurvePublicKey:
        """The public half of P-256 key ``label``, generating the pair if ``create``."""
        ...

    def signer(
        self, label: str, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
    ) -> AbstractContextManager[Any]:
        """A pyHanko signer for key ``label``, valid inside the context."""
        ...


def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def key_signer(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, chain: Sequence[x509.Certificate]
) -> Any:
    """A pyHanko signer for a key held in this process."""
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return signers.SimpleSigner(
        signing_cert=asn1_certificate(cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_certificate(c) for c in chain]
        ),
    )
