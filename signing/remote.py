"""Remote signing: the signer's key stays on their device; only a digest leaves the server.

Two steps (pyHanko's interrupted signing):

1. ``prepare``: the server adds the signature revision to the PDF with an empty
   /Contents placeholder, computes the CMS signed attributes over the document
   digest, and hands the device ``digest_to_sign`` = SHA-256(signed attributes).
   The server keeps the ``RemoteSigningRequest`` (it is plain bytes).
2. ``finish``: the device returns an ECDSA signature over that digest; the
   server checks it against the signer's certificate, wraps it in CMS (with a
   signature time-stamp for B-T) and writes it into the placeholder.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keys.signers import asn1_certificate
from signing.pades import RESERVED, Level, SigningError, Stamp, metadata

ECDSA_SHA256 = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})


class RemoteSignatureInvalid(SigningError):
    """The device's signature does not verify against the signer's certificate."""


@dataclass(frozen=True)
class RemoteSigningRequest:
    field_name: str
    prepared_pdf: bytes  # the new revision, /Contents still empty
    document_digest: bytes
    reserved_start: int
    reserved_end: int
    signed_attrs: bytes  # DER (SET OF Attribute) — exactly what the device signs
    signing_cert: bytes  # DER
    chain: tuple[bytes, ...]  # DER, issuers of the signing certificate

    @property
    def digest_to_sign(self) -> bytes:
        """SHA-256 of the signed attributes: the only thing sent to the device."""
        return hashlib.sha256(self.signed_attrs).digest()


@dataclass(frozen=True)
class Challenge:
    """What a device signs: the DER signed attributes (they hold the document's digest, not
    the document). WebCrypto hashes its input itself, so a browser signs these with
    ECDSA-SHA256; a device that signs a prehashed digest signs ``digest_to_sign``."""

    signed_attrs: bytes

    @property
    def digest_to_sign(self) -> bytes:
        return hashlib.sha256(self.signed_attrs).digest()


def raw_to_der(signature: bytes) -> bytes:
    """WebCrypto's ECDSA signature (IEEE P1363: r || s, 32 bytes each for P-256) as DER."""
    if len(signature) != 64:
        raise ValueError("a P-256 signature in raw form is 64 bytes (r || s)")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    return utils.encode_dss_signature(r, s)


def _ext_signer(
    cert: x509.Certificate, chain: Sequence[x509.Certificate], value: bytes | int
) -> Any:
    return signers.ExternalSigner(
        signing_cert=asn1_certificate(cert),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_certificate(c) for c in chain]
        ),
        signature_value=value,
        signature_mechanism=ECDSA_SHA256,
    )


def prepare(
    pdf: bytes,
    field_name: str,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    stamp: Stamp | None = None,
    reason: str = "",
) -> RemoteSigningRequest:
    return asyncio.run(_prepare(pdf, field_name, cert, chain, stamp, reason))


async def _prepare(
    pdf: bytes,
    field_name: str,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    stamp: Stamp | None,
    reason: str,
) -> RemoteSigningRequest:
    ext = _ext_signer(cert, chain, 72)
    pdf_signer = signers.PdfSigner(
        metadata(field_name, reason),
        signer=ext,
        stamp_style=stamp.style() if stamp else None,
    )
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        digest, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=RESERVED[Level.B_T.value]
        )
        attrs = await ext.signed_attrs(digest.document_digest, "sha256", use_pades=True)
    except Exception as exc:
        raise SigningError(f"cannot prepare field {field_name!r}: {exc}") from exc
    return RemoteSigningRequest(
        field_name=field_name,
        prepared_pdf=_read_all(output),
        document_digest=digest.document_digest,
        reserved_start=digest.reserved_region_start,
        reserved_end=digest.reserved_region_end,
        signed_attrs=attrs.dump(),
        signing_cert=cert.public_bytes(serialization.Encoding.DER),
        chain=tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
    )


def device_sign(key: ec.EllipticCurvePrivateKey, digest_to_sign: bytes) -> bytes:
    """What a phone does with its own key: ECDSA over the prehashed digest (DER)."""
    return key.sign(digest_to_sign, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def finish(
    request: RemoteSigningRequest, signature: bytes, timestamper: TimeStamper | None = None
) -> bytes:
    """Check the device's signature and embed it; returns the signed PDF."""
    cert = x509.load_der_x509_certificate(request.signing_cert)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise SigningError("remote signing supports ECDSA certificates only")
    try:
        public.verify(signature, request.digest_to_sign, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature as exc:
        raise RemoteSignatureInvalid(
            "the signature does not match the signer's certificate"
        ) from exc
    return asyncio.run(_finish(request, cert, signature, timestamper))


async def _finish(
    request: RemoteSigningRequest,
    cert: x509.Certificate,
    signature: bytes,
    timestamper: TimeStamper | None,
) -> bytes:
    chain = [x509.load_der_x509_certificate(c) for c in request.chain]
    ext = _ext_signer(cert, chain, signature)
    try:
        sig_cms = await ext.async_sign_prescribed_attributes(
            "sha256",
            signed_attrs=cms.CMSAttributes.load(request.signed_attrs),
            timestamper=timestamper,
        )
        output = BytesIO(request.prepared_pdf)
        await PdfTBSDocument.async_finish_signing(
            output,
            prepared_digest=PreparedByteRangeDigest(
                request.document_digest, request.reserved_start, request.reserved_end
            ),
            signature_cms=sig_cms,
        )
    except Exception as exc:
        raise SigningError(f"cannot embed the signature: {exc}") from exc
    return output.getvalue()


def _read_all(stream: Any) -> bytes:
    stream.seek(0)
    return bytes(stream.read())
