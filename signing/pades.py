"""PAdES signatures at B-B, B-T, B-LT and B-LTA, with visible Chinese stamps.

Whoever holds the key (a key file, a PKCS#11 token, a phone) hands in a pyHanko
``Signer``; this module decides the level, the time-stamping, the revocation
data to embed and the stamp.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from keys.signers import asn1_certificate
from keys.tsa import TimeStampAuthority
from signing.fonts import subset_font

# Reserved space for the CMS blob. Reserving it up front spares pyHanko a dry run
# of the whole signature just to measure its size.
RESERVED = {"B-B": 8192, "B-T": 16384, "B-LT": 16384, "B-LTA": 16384}
RESERVED_DOCUMENT_TIMESTAMP = 8192


class Level(enum.Enum):
    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def timestamped(self) -> bool:
        return self is not Level.B_B

    @property
    def long_term(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


class SigningError(Exception):
    """A document could not be signed."""


class InProcessTimeStamper(timestamps.TimeStamper):
    """Asks the platform's own TSA directly, without an HTTP round trip."""

    def __init__(self, tsa: TimeStampAuthority) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._tsa = tsa

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self._tsa.respond(req.dump()))


@dataclass(frozen=True)
class RevocationSnapshot:
    """Trust roots and current revocation data, for validating and for embedding (B-LT)."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()  # DER
    ocsp_responses: tuple[bytes, ...] = ()  # DER

    def validation_context(self, revocation_mode: str = "hard-fail") -> Any:
        return ValidationContext(
            trust_roots=[asn1_certificate(c) for c in self.roots],
            other_certs=[asn1_certificate(c) for c in self.intermediates],
            crls=[asn1_crl.CertificateList.load(c) for c in self.crls],
            ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in self.ocsp_responses],
            allow_fetching=False,
            revocation_mode=revocation_mode,
        )

    def vouch_for(self, cert: Any) -> None:
        """SigningError unless this data shows ``cert`` (asn1crypto) in force and unrevoked.

        What embedding it needs of the signer's certificate: issued by one of the
        snapshot's CAs, inside its validity, and an OCSP answer or CRL that says so.
        """
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before <= now <= cert.not_valid_after:
            raise SigningError("the signing certificate is expired or not yet valid")
        issuer = cert.issuer.dump()
        if not any(_issued_by(cert, ca) for ca in (*self.roots, *self.intermediates)):
            raise SigningError("the signing certificate is not from this revocation data's CAs")
        covered = False
        for der in self.ocsp_responses:
            for single in asn1_ocsp.OCSPResponse.load(der).basic_ocsp_response["tbs_response_data"][
                "responses"
            ]:
                cert_id = single["cert_id"]
                name_hash = hashlib.new(cert_id["hash_algorithm"]["algorithm"].native, issuer)
                if (
                    cert_id["serial_number"].native == cert.serial_number
                    and cert_id["issuer_name_hash"].native == name_hash.digest()
                ):
                    if single["cert_status"].name != "good":
                        raise SigningError("the signing certificate is revoked")
                    covered = True
        for der in self.crls:
            crl = asn1_crl.CertificateList.load(der)
            if crl.issuer.dump() != issuer:
                continue
            revoked = crl["tbs_cert_list"]["revoked_certificates"]
            if any(r["user_certificate"].native == cert.serial_number for r in revoked):
                raise SigningError("the signing certificate is revoked")
            covered = True
        if not covered:
            raise SigningError("no revocation data for the signing certificate to embed")


@dataclass(frozen=True)
class Stamp:
    """A visible stamp: the signer's name and time in Chinese over a seal image."""

    font: Path
    seal: Path | None = None
    label: str = "签署人"
    signer: str = ""  # the certificate's common name, to embed only the glyphs needed

    def style(self) -> Any:
        font = subset_font(self.label + self.signer) if self.signer else self.font
        return TextStampStyle(
            # People read Beijing time; pyHanko's own %(ts)s is the server's local zone.
            stamp_text=f"{self.label}：%(signer)s\n签署时间：{now_in_beijing()}（北京时间）",
            text_box_style=TextBoxStyle(font=_font_factory(font)),
            background=PdfImage(str(self.seal)) if self.seal else None,
            background_opacity=0.85,
            border_width=0,
        )


BEIJING = dt.timezone(dt.timedelta(hours=8))  # UTC+8, no daylight saving


def now_in_beijing() -> str:
    return dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _font_factory(path: Path) -> Any:
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    return GlyphAccumulatorFactory(str(path), font_size=9)


def metadata(field_name: str, reason: str = "", location: str = "") -> Any:
    # Validation data is not pyHanko's to gather (it would validate the signer's chain
    # once more and write the DSS in a revision of its own): ``sign`` embeds the snapshot.
    return signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or None,
        location=location or None,
    )


def sign(
    pdf: bytes,
    field_name: str,
    signer: Any,
    level: Level,
    *,
    timestamper: timestamps.TimeStamper | None = None,
    revocation: RevocationSnapshot | None = None,
    stamp: Stamp | None = None,
    reason: str = "",
    location: str = "",
) -> bytes:
    """Sign ``field_name`` of ``pdf`` as a new revision; returns the whole signed file.

    At B-LT and B-LTA, everything in ``revocation`` (certificates, CRLs, OCSP
    responses) goes into the DSS in the signature's own revision, so it also makes
    the document's earlier signatures long-term; the snapshot must vouch for the
    signer's certificate (SigningError if it is revoked, expired or not covered).
    B-LTA then adds a document time-stamp over it all.
    """
    if level.timestamped and timestamper is None:
        raise SigningError(f"{level.value} needs a time-stamp authority")
    if level.long_term and revocation is None:
        raise SigningError(f"{level.value} needs revocation data to embed")
    if revocation is not None and level.long_term:
        revocation.vouch_for(signer.signing_cert)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        if revocation is not None and level.long_term:
            _supply_dss(writer, revocation)
        pdf_signer = signers.PdfSigner(
            metadata(field_name, reason, location),
            signer=signer,
            timestamper=timestamper if level.timestamped else None,
            stamp_style=stamp.style() if stamp else None,
        )
        out = pdf_signer.sign_pdf(writer, bytes_reserved=RESERVED[level.value])
        if level is Level.B_LTA:
            assert timestamper is not None
            out = signers.PdfTimeStamper(timestamper).timestamp_pdf(
                IncrementalPdfFileWriter(out, strict=False),
                "sha256",
                bytes_reserved=RESERVED_DOCUMENT_TIMESTAMP,
            )
    except Exception as exc:  # pyHanko raises many kinds; the caller needs one
        raise SigningError(f"cannot sign field {field_name!r}: {exc!r}") from exc
    return bytes(out.getvalue())


def _issued_by(cert: Any, ca: x509.Certificate) -> bool:
    """``cert`` (asn1crypto) carries ``ca``'s signature (a name alone could be anyone's)."""
    try:
        x509.load_der_x509_certificate(cert.dump()).verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _supply_dss(writer: IncrementalPdfFileWriter, revocation: RevocationSnapshot) -> None:
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=[asn1_certificate(c) for c in (*revocation.roots, *revocation.intermediates)],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in revocation.ocsp_responses],
        crls=[asn1_crl.CertificateList.load(c) for c in revocation.crls],
    )
