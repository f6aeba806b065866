"""``validate_document``: every signature's status, for the server's checks before filing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature

from signing.pades import RevocationSnapshot

MAX_PDF_SIZE = 20 * 1024 * 1024


class DocumentError(ValueError):
    """The input is not a PDF this service accepts (malformed, encrypted, too large)."""


@dataclass(frozen=True)
class SignatureReport:
    field: str
    signer: str  # the certificate's subject common name
    signer_subject: str
    certificate_sha256: str
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature verifies
    trusted: bool  # the certificate chains to a trusted root, unrevoked, right key usage
    revoked: bool
    signing_time: dt.datetime | None  # from the signature time-stamp if any, else as claimed
    timestamped: bool
    covers_whole_file: bool  # nothing was appended after this signature
    modifications: str  # pyHanko's modification level since signing
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and not self.revoked


def _reader(pdf: bytes) -> Any:
    if len(pdf) > MAX_PDF_SIZE:
        raise DocumentError(f"PDF is larger than {MAX_PDF_SIZE // (1024 * 1024)} MiB")
    if not pdf.startswith(b"%PDF-"):
        raise DocumentError("not a PDF file")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
    except Exception as exc:
        raise DocumentError(f"malformed PDF: {exc}") from exc
    if encrypted:
        raise DocumentError("encrypted PDFs are not accepted")
    return reader


class SignedPdf:
    """One parse of a PDF, for both its signers' certificates and their validation."""

    def __init__(self, pdf: bytes) -> None:
        reader = _reader(pdf)
        try:
            self._signatures = list(reader.embedded_regular_signatures)
        except Exception as exc:
            raise DocumentError(f"malformed signature dictionary: {exc}") from exc

    def certificates(self) -> list[x509.Certificate]:
        try:
            return [
                x509.load_der_x509_certificate(sig.signer_cert.dump()) for sig in self._signatures
            ]
        except Exception as exc:
            raise DocumentError(f"malformed signature dictionary: {exc}") from exc

    def validate(self, trust: RevocationSnapshot) -> list[SignatureReport]:
        """The status of every signature, oldest first."""
        return asyncio.run(self._validate_all(trust))

    async def _validate_all(self, trust: RevocationSnapshot) -> list[SignatureReport]:
        # One context for every signature and time-stamp, as pyHanko itself shares them:
        # it caches the paths it has validated, and building one parses every CRL and OCSP.
        context = trust.validation_context()
        return [await _validate_one(sig, context) for sig in self._signatures]


def validate_document(pdf: bytes, trust: RevocationSnapshot) -> list[SignatureReport]:
    """The status of every signature in ``pdf``, oldest first (DocumentError for bad input)."""
    return SignedPdf(pdf).validate(trust)


async def _validate_one(sig: Any, context: Any) -> SignatureReport:
    cert = sig.signer_cert
    cn = cert.subject.native.get("common_name", "") if cert is not None else ""
    try:
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=context,
            ts_validation_context=context,
        )
    except Exception as exc:  # a corrupt CMS blob is a failed signature, not a crash
        return SignatureReport(
            sig.field_name, cn, "", "", False, False, False, False, None, False, False, "", str(exc)
        )
    ts = status.timestamp_validity
    return SignatureReport(
        field=sig.field_name,
        signer=cn,
        signer_subject=cert.subject.human_friendly,
        certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        revoked=bool(status.revoked),
        signing_time=ts.timestamp if ts is not None else status.signer_reported_dt,
        timestamped=ts is not None and bool(ts.valid and ts.intact),
        covers_whole_file=status.coverage is not None and status.coverage.name == "ENTIRE_FILE",
        modifications=status.modification_level.name if status.modification_level else "",
        summary=status.summary(),
    )


def signer_certificates(pdf: bytes) -> list[x509.Certificate]:
    """The signing certificates of every signature in ``pdf`` (DocumentError for bad input)."""
    return SignedPdf(pdf).certificates()
