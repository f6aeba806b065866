"""PAdES signatures at B-B, B-T, B-LT and B-LTA, with visible Chinese stamps.

Whoever holds the key (a key file, a PKCS#11 token, a phone) hands in a pyHanko
``Signer``; this module decides the level, the time-stamping, the revocation
data to embed and the stamp.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import tsp
from cryptography import x509
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
            stamp_text=f"{self.label}：%(signer)s\n签署时间：%(ts)s",
            timestamp_format="%Y-%m-%d %H:%M:%S %Z",
            text_box_style=TextBoxStyle(font=_font_factory(font)),
            background=PdfImage(str(self.seal)) if self.seal else None,
            background_opacity=0.85,
            border_width=0,
        )


def _font_factory(path: Path) -> Any:
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    return GlyphAccumulatorFactory(str(path), font_size=9)


def metadata(
    field_name: str,
    level: Level,
    revocation: RevocationSnapshot | None,
    reason: str = "",
    location: str = "",
) -> Any:
    if level.long_term and revocation is None:
        raise SigningError(f"{level.value} needs revocation data to embed")
    return signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or None,
        location=location or None,
        embed_validation_info=level.long_term,
        use_pades_lta=level is Level.B_LTA,
        validation_context=revocation.validation_context() if revocation else None,
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
    """Sign ``field_name`` of ``pdf`` as a new revision; returns the whole signed file."""
    if level.timestamped and timestamper is None:
        raise SigningError(f"{level.value} needs a time-stamp authority")
    meta = metadata(field_name, level, revocation, reason, location)
    try:
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=timestamper if level.timestamped else None,
            stamp_style=stamp.style() if stamp else None,
        )
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        out = pdf_signer.sign_pdf(writer, bytes_reserved=RESERVED[level.value])
    except Exception as exc:  # pyHanko raises many kinds; the caller needs one
        raise SigningError(f"cannot sign field {field_name!r}: {exc!r}") from exc
    return bytes(out.getvalue())


def add_validation_data(pdf: bytes, revocation: RevocationSnapshot) -> bytes:
    """Add the certificates, CRLs and OCSP responses in ``revocation`` to the DSS.

    pyHanko embeds validation data for the signature it is making; this makes the
    earlier signatures of a document long-term (B-LT) too, before the last seal.
    """
    from asn1crypto import crl as crl_module
    from asn1crypto import ocsp as ocsp_module
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=[asn1_certificate(c) for c in (*revocation.roots, *revocation.intermediates)],
        ocsps=[ocsp_module.OCSPResponse.load(o) for o in revocation.ocsp_responses],
        crls=[crl_module.CertificateList.load(c) for c in revocation.crls],
    )
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
