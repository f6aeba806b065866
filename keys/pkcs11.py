"""Keys on a PKCS#11 token (an HSM; SoftHSM2 in tests and development).

Keys are generated on the token as sensitive and non-extractable: the private
half never leaves it. Signing goes through pyHanko's PKCS#11 signer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from keys.signers import asn1_certificate
from keys.store import KeyStoreError

PIN_ENV = "WANGQIAN_PKCS11_PIN"


class TokenError(KeyStoreError):
    """The PKCS#11 module or token is missing, or the PIN is wrong."""


@dataclass(frozen=True)
class TokenConfig:
    module: str  # path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    token_label: str
    pin: str | None = None  # else taken from WANGQIAN_PKCS11_PIN

    def user_pin(self) -> str:
        pin = self.pin or os.environ.get(PIN_ENV)
        if not pin:
            raise TokenError(f"no PIN for token {self.token_label!r}: set {PIN_ENV}")
        return pin


class Pkcs11KeyStore:
    def __init__(self, config: TokenConfig) -> None:
        if not Path(config.module).is_file():
            raise TokenError(f"PKCS#11 module not found: {config.module}")
        self.config = config
        try:
            self._lib = pkcs11.lib(config.module)
        except (RuntimeError, OSError) as exc:
            raise TokenError(f"cannot load PKCS#11 module {config.module}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A read-write user session on the token."""
        try:
            token = self._lib.get_token(token_label=self.config.token_label)
        except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned) as exc:
            raise TokenError(f"no single token labelled {self.config.token_label!r}") from exc
        try:
            session = token.open(user_pin=self.config.user_pin(), rw=True)
        except pkcs11.PinIncorrect as exc:
            raise TokenError(f"wrong PIN for token {self.config.token_label!r}") from exc
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"cannot open token {self.config.token_label!r}: {exc!r}") from exc
        try:
            yield session
        finally:
            session.close()

    def ec_public_key(self, label: str, create: bool = True) -> ec.EllipticCurvePublicKey:
        """The public half of P-256 key ``label``, generated on the token if missing."""
        with self.session() as session:
            found = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: label}
                )
            )
            if found:
                public = found[0]
            elif not create:
                raise TokenError(f"no key {label!r} on token {self.config.token_label!r}")
            else:
                params = session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True,
                )
                public, _ = params.generate_keypair(
                    store=True,
                    label=label,
                    id=label.encode(),
                    private_template={
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.SIGN: True,
                    },
                )
            key = serialization.load_der_public_key(encode_ec_public_key(public))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise TokenError(f"key {label!r} is not an EC key")
        return key

    def private_key_attributes(self, label: str) -> dict[str, bool]:
        """Whether the private key is sensitive and extractable (for audits and tests)."""
        with self.session() as session:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
            return {
                "sensitive": bool(key[Attribute.SENSITIVE]),
                "extractable": bool(key[Attribute.EXTRACTABLE]),
            }

    @contextmanager
    def signer(
        self, label: str, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
    ) -> Iterator[Any]:
        """A pyHanko signer that signs with the token's key ``label``."""
        from pyhanko.sign.pkcs11 import PKCS11Signer

        with self.session() as session:
            yield PKCS11Signer(
                session,
                key_label=label,
                signing_cert=asn1_certificate(certificate),
                ca_chain=[asn1_certificate(c) for c in chain],
                embed_roots=False,
                # Hash here, sign the digest on the token (CKM_ECDSA): tokens such as
                # SoftHSM2 do not all offer the combined hash-and-sign mechanisms.
                use_raw_mechanism=True,
            )
