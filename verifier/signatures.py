"""Every PDF signature, validated offline as ETSI EN 319 102-1 prescribes (via pyHanko).

Trust comes only from the bundle's roots; revocation data only from what the
document embeds; nothing is fetched. Each signature is validated at the time its
time-stamp proves (past signature validation), so a later expiry or revocation
does not undo a signature that was good when made.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from verifier.models import Indication, SignatureFinding
from verifier.trust import TrustBundle

MAX_PDF_SIZE = 50 * 1024 * 1024
_INDICATION = {
    AdESStatus.PASSED: Indication.PASSED,
    AdESStatus.FAILED: Indication.FAILED,
    AdESStatus.INDETERMINATE: Indication.INDETERMINATE,
}
# Later revisions a signature tolerates: filling in further signature fields, DSS
# updates and document time-stamps. Anything else changes what was signed.
_ACCEPTABLE_MODIFICATIONS = {"NONE", "LTA_UPDATES", "FORM_FILLING"}


class DocumentUnreadable(ValueError):
    """The input is not a PDF the verifier can read (malformed, encrypted, too large)."""


def open_pdf(pdf: bytes) -> Any:
    if len(pdf) > MAX_PDF_SIZE:
        raise DocumentUnreadable(f"larger than {MAX_PDF_SIZE // (1024 * 1024)} MiB")
    if not pdf.startswith(b"%PDF-"):
        raise DocumentUnreadable("not a PDF file")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
    except Exception as exc:  # pyHanko raises many kinds for broken files
        raise DocumentUnreadable(f"malformed PDF: {exc}") from exc
    if encrypted:
        raise DocumentUnreadable("encrypted PDF")
    return reader


@functools.lru_cache(maxsize=8)
def validation_spec(trust: TrustBundle) -> PdfSignatureValidationSpec:
    """Roots from the bundle, revocation data from the document, no fetching at all."""

    def policy(roots: tuple[bytes, ...]) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(
                [asn1_x509.Certificate.load(der) for der in roots]
            ),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )

    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy(trust.roots),
            ts_cert_validation_policy=policy(trust.tsa_roots or trust.roots),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
        )
    )


def check_signatures(pdf: bytes, trust: TrustBundle) -> tuple[SignatureFinding, ...]:
    """One finding per signature, oldest first (DocumentUnreadable for bad input)."""
    reader = open_pdf(pdf)
    try:
        embedded = list(reader.embedded_regular_signatures)
    except Exception as exc:
        raise DocumentUnreadable(f"malformed signature dictionary: {exc}") from exc
    spec = validation_spec(trust)
    return asyncio.run(_check_all(embedded, spec, trust))


async def _check_all(
    embedded: list[Any], spec: PdfSignatureValidationSpec, trust: TrustBundle
) -> tuple[SignatureFinding, ...]:
    return tuple([await _check_one(sig, spec, trust) for sig in embedded])


def _name_part(cert: Any, key: str) -> str | None:
    value = cert.subject.native.get(key) if cert is not None else None
    return str(value) if value else None


async def _check_one(
    sig: Any, spec: PdfSignatureValidationSpec, trust: TrustBundle
) -> SignatureFinding:
    try:
        cert = sig.signer_cert
    except Exception:  # a CMS blob without a usable signer certificate
        cert = None
    der = cert.dump() if cert is not None else b""
    try:
        result = await ades.ades_lta_validation(sig, spec)
    except Exception as exc:  # a corrupt CMS blob is a failed signature, not a crash
        return _finding(sig, cert, der, trust, Indication.FAILED, "FORMAT_FAILURE", str(exc))
    indication = _INDICATION[result.ades_subindic.status]
    sub = None if indication is Indication.PASSED else result.ades_subindic.standard_name
    status = result.api_status
    modifications = ""
    message = result.failure_msg or ""
    if status is not None and status.modification_level is not None:
        modifications = status.modification_level.name
        if modifications not in _ACCEPTABLE_MODIFICATIONS or not status.docmdp_ok:
            # Changes after signing that a signature does not permit void it (FORMAT_FAILURE).
            indication, sub = Indication.FAILED, "FORMAT_FAILURE"
            message = f"the document was modified after signing ({modifications})"
    if indication is Indication.PASSED:
        message = ""
    timestamped = status is not None and status.timestamp_validity is not None
    when = getattr(result, "best_signature_time", None)
    if when is None and status is not None:
        when = status.signer_reported_dt
    return _finding(
        sig, cert, der, trust, indication, sub, message, when, timestamped, modifications
    )


def _finding(
    sig: Any,
    cert: Any,
    der: bytes,
    trust: TrustBundle,
    indication: Indication,
    sub: str | None,
    message: str,
    when: Any = None,
    timestamped: bool = False,
    modifications: str = "",
) -> SignatureFinding:
    return SignatureFinding(
        field=str(sig.field_name),
        signer=_name_part(cert, "common_name") or "",
        organization=_name_part(cert, "organization_name"),
        subject_serial=_name_part(cert, "serial_number"),
        subject=cert.subject.human_friendly if cert is not None else "",
        issuer=cert.issuer.human_friendly if cert is not None else "",
        certificate_sha256=hashlib.sha256(der).hexdigest() if der else "",
        signing_time=when,
        time_from_timestamp=timestamped,
        indication=indication,
        sub_indication=sub,
        modifications=modifications,
        message=message,
        is_filing_seal=bool(der) and trust.is_filing_seal(der),
    )
