"""Reading a signed contract PDF within a fixed budget, before any cryptography.

Everything here is cheap and bounded by the limits below: the size of the file,
its revisions, its objects, its signature fields, and the data its streams may
decode to. A document past a limit is refused as too complex before a single
signature is validated, so no input can buy more work than the limits allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

MiB = 1024 * 1024
MAX_PDF_SIZE = 20 * MiB
# A contract has a seller, a few buyers, the platform's seal and its document
# time-stamps: far below these. Each one bounds a factor of the validation's cost.
MAX_REVISIONS = 32
MAX_SIGNATURE_FIELDS = 24
MAX_OBJECTS = 50_000
# Decoded bytes the whole document may produce (pyHanko's own default is 256 MiB).
DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_ratio=1100, max_output_size=32 * MiB),
    document_budget=DocumentDecodeBudget(base_allowance=64 * MiB, max_ratio=8),
)


class DocumentUnreadable(ValueError):
    """The input is not a PDF the verifier can read (malformed, encrypted, too large)."""


class DocumentTooComplex(DocumentUnreadable):
    """The PDF exceeds a limit that bounds the cost of verifying it."""


@dataclass(frozen=True)
class SignedField:
    """A filled signature field: its name, the revision that filled it, what fills it."""

    name: str
    revision: int
    value_ref: tuple[int, int]  # the signature dictionary's object
    is_timestamp: bool  # a /DocTimeStamp, not a signature by a person or seal


@dataclass(frozen=True)
class DocumentShape:
    """The parts of a signed PDF that the contract policy speaks about."""

    revisions: int
    declared_fields: tuple[str, ...]  # signature fields in the draft, in its /Fields order
    signed: tuple[SignedField, ...]  # oldest first

    @property
    def first_signed_revision(self) -> int | None:
        return min((s.revision for s in self.signed), default=None)


def open_pdf(pdf: bytes) -> Any:
    """A pyHanko reader over ``pdf`` with the decode limits (DocumentUnreadable for bad input)."""
    if len(pdf) > MAX_PDF_SIZE:
        raise DocumentTooComplex(f"larger than {MAX_PDF_SIZE // MiB} MiB")
    if not pdf.startswith(b"%PDF-"):
        raise DocumentUnreadable("not a PDF file")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False, decode_limits=DECODE_LIMITS)
        encrypted = reader.encrypted
    except Exception as exc:  # pyHanko raises many kinds for broken files
        raise DocumentUnreadable(f"malformed PDF: {exc}") from exc
    if encrypted:
        raise DocumentUnreadable("encrypted PDF")
    return reader


def read_shape(reader: Any) -> DocumentShape:
    """The document's revisions and signature fields, within the limits."""
    try:
        revisions = int(reader.xrefs.total_revisions)
        if revisions > MAX_REVISIONS:
            raise DocumentTooComplex(f"{revisions} revisions (at most {MAX_REVISIONS})")
        objects = max((ref.idnum for ref in _all_refs(reader)), default=0)
        if objects > MAX_OBJECTS:
            raise DocumentTooComplex(f"{objects} objects (at most {MAX_OBJECTS})")
        fields = list(enumerate_sig_fields(reader))
        if len(fields) > MAX_SIGNATURE_FIELDS:
            raise DocumentTooComplex(
                f"{len(fields)} signature fields (at most {MAX_SIGNATURE_FIELDS})"
            )
        signed = _signed_fields(reader, fields)
        first = min((s.revision for s in signed), default=revisions)
        declared = _declared_fields(reader, max(first - 1, 0))
    except DocumentUnreadable:
        raise
    except Exception as exc:  # a broken form or signature dictionary
        raise DocumentUnreadable(f"malformed signature fields: {exc}") from exc
    return DocumentShape(revisions, declared, tuple(sorted(signed, key=lambda s: s.revision)))


def _all_refs(reader: Any) -> set[Any]:
    refs: set[Any] = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
    return refs


def _signed_fields(reader: Any, fields: list[Any]) -> list[SignedField]:
    out: list[SignedField] = []
    seen: dict[tuple[int, int], str] = {}
    for name, value, field_ref in fields:
        if not value:
            continue
        raw = field_ref.get_object().raw_get("/V")
        ref = raw.reference if isinstance(raw, generic.IndirectObject) else None
        if ref is None:
            raise DocumentUnreadable(f"signature field {name!r} holds no indirect signature")
        key = (ref.idnum, ref.generation)
        if key in seen:
            # One signature counted for two fields would be validated (and paid for) twice.
            raise DocumentUnreadable(f"signature fields {seen[key]!r} and {name!r} share a value")
        seen[key] = str(name)
        sig = raw.get_object()
        if not isinstance(sig, generic.DictionaryObject):
            raise DocumentUnreadable(f"signature field {name!r} holds no signature dictionary")
        out.append(
            SignedField(
                str(name),
                int(reader.xrefs.get_last_change(ref)),
                key,
                sig.get("/Type") == "/DocTimeStamp",
            )
        )
    return out


def _declared_fields(reader: Any, revision: int) -> tuple[str, ...]:
    """Signature fields as the revision before the first signature declares them."""
    draft = reader.get_historical_resolver(revision)
    return tuple(str(name) for name, _value, _field in enumerate_sig_fields(draft))


def revision_count(pdf: bytes) -> int:
    """How many revisions ``pdf`` has (DocumentUnreadable for bad input)."""
    reader = open_pdf(pdf)
    try:
        return int(reader.xrefs.total_revisions)
    except Exception as exc:
        raise DocumentUnreadable(f"malformed cross-reference data: {exc}") from exc
