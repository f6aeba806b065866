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

from verifier import hex_strings
from verifier.cross_references import (
    CrossReferenceError,
    CrossReferencesTooLarge,
    check_budget,
    check_one_reading,
)

hex_strings.install()

MiB = 1024 * 1024
MAX_PDF_SIZE = 20 * MiB
# A contract has a seller, a few buyers, the platform's seal and its document
# time-stamps: far below these. Each one bounds a factor of the validation's cost.
MAX_REVISIONS = 32
MAX_SIGNATURE_FIELDS = 24
MAX_OBJECTS = 50_000
# Entries all cross-reference sections together may list: the first section lists every
# object, an incremental one what it changed; room for a writer that lists more.
MAX_XREF_ENTRIES = 4 * MAX_OBJECTS
# Simple paths from the trailer to objects: pyHanko's difference analysis stores every one
# (HistoricalResolver._load_reverse_xref_cache); a chain of arrays each holding the next
# twice has 2**n of them in a few kilobytes.
MAX_PATHS = 100_000
# Header entries pyHanko may parse to find objects in object streams: it reads a stream's
# header from its start for every object it looks up there (PdfFileReader
# ._get_object_from_stream), up to the stream's /N entries, so one stream of n objects costs
# n * n. Bounded by the sum, over object streams, of the entries naming one times its /N: a
# contract has none or a few streams of a hundred objects; 2,000 in one took 8 s.
MAX_OBJECT_STREAM_WORK = 250_000
MAX_FORM_DEPTH = 8
MAX_FORM_OBJECTS = 200  # fields and widgets of the form, walked
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
        check_budget(pdf, MAX_REVISIONS, MAX_XREF_ENTRIES)
    except CrossReferencesTooLarge as exc:
        raise DocumentTooComplex(str(exc)) from exc
    except CrossReferenceError as exc:
        raise DocumentUnreadable(f"malformed PDF: {exc}") from exc
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False, decode_limits=DECODE_LIMITS)
        encrypted = reader.encrypted
    except Exception as exc:  # pyHanko raises many kinds for broken files
        raise DocumentUnreadable(f"malformed PDF: {exc}") from exc
    if encrypted:
        raise DocumentUnreadable("encrypted PDF")
    return reader


def read_shape(reader: Any, judged_revisions: int = 0) -> DocumentShape:
    """The document's revisions and signature fields, within the limits.

    ``judged_revisions``: how many of the first revisions were already read within these
    limits, as a byte prefix of this very file (the platform's own earlier judgement); their
    paths are not walked again.
    """
    try:
        revisions = int(reader.xrefs.total_revisions)
        if revisions > MAX_REVISIONS:
            raise DocumentTooComplex(f"{revisions} revisions (at most {MAX_REVISIONS})")
        for revision in range(revisions):
            check_one_reading(reader, revision, MAX_OBJECTS)
        objects = max((ref.idnum for ref in _all_refs(reader)), default=0)
        if objects > MAX_OBJECTS:
            raise DocumentTooComplex(f"{objects} objects (at most {MAX_OBJECTS})")
        _check_object_streams(reader)
        versions = ObjectVersions(reader)
        for revision in range(judged_revisions if judged_revisions <= revisions else 0, revisions):
            count_paths(reader.get_historical_resolver(revision), versions=versions)
        fields = signature_fields(reader)
        signed = _signed_fields(reader, fields)
        first = min((s.revision for s in signed), default=revisions)
        declared = _declared_fields(reader, max(first - 1, 0))
    except DocumentUnreadable:
        raise
    except CrossReferencesTooLarge as exc:
        raise DocumentTooComplex(str(exc)) from exc
    except CrossReferenceError as exc:
        raise DocumentUnreadable(str(exc)) from exc
    except Exception as exc:  # a broken form or signature dictionary
        raise DocumentUnreadable(f"malformed signature fields: {exc}") from exc
    return DocumentShape(revisions, declared, tuple(sorted(signed, key=lambda s: s.revision)))


def _check_object_streams(reader: Any) -> None:
    """DocumentTooComplex if finding the objects of its object streams could cost more
    than ``MAX_OBJECT_STREAM_WORK`` header entries read."""
    lookups: dict[int, int] = {}
    for revision in range(reader.xrefs.total_revisions):
        data = reader.xrefs.get_xref_data(revision)
        while data is not None:  # the section, then its hybrid part
            for where in data.xrefs_in_objstm.values():
                lookups[where.obj_stream_id] = lookups.get(where.obj_stream_id, 0) + 1
            data = data.hybrid.xref_data if data.hybrid is not None else None
    work = 0
    for stream_id, count in lookups.items():
        try:
            entries = reader.get_object(generic.Reference(stream_id, 0), transparent_decrypt=False)[
                "/N"
            ]
        except Exception as exc:
            raise DocumentUnreadable(f"object stream {stream_id} unreadable: {exc}") from exc
        if not isinstance(entries, int) or entries < 0:
            raise DocumentUnreadable(f"object stream {stream_id} has no entry count")
        work += count * entries
        if work > MAX_OBJECT_STREAM_WORK:
            raise DocumentTooComplex(
                "objects in object streams that would take more than "
                f"{MAX_OBJECT_STREAM_WORK} header entries to find"
            )


def _all_refs(reader: Any) -> set[Any]:
    refs: set[Any] = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
    return refs


def count_paths(
    resolver: Any, limit: int = MAX_PATHS, versions: ObjectVersions | None = None
) -> int:
    """The simple paths from the trailer to every object of ``resolver``'s revision, as the
    difference analysis walks them (a page-tree node entered only from its parent's /Kids);
    DocumentTooComplex past ``limit``, before any of that work is done.

    ``versions``: the objects' versions as read for the reader's other revisions; an object
    a revision sees unchanged is read, and its references listed, once for all of them and
    for every path that reaches it. The walk meets the same references in the same order
    as one that reads each revision's objects through ``resolver``, and reads each object
    at the same step (tests/test_document_paths.py compares the two)."""
    if versions is None:
        versions = ObjectVersions(resolver.reader)
    revision = resolver.revision
    pages = _page_tree_nodes(resolver)
    count = 0
    # (a reference, the references on the path to it, the key that led to it, its holder's)
    stack: list[tuple[Any, frozenset[Any], str, Any]] = [
        (ref, frozenset(), "" if key is None else key, None)
        for ref, key in reversed(references_in(resolver.trailer_view))
    ]
    while stack:
        ref, path, key, holder = stack.pop()
        if ref in path:
            continue  # a cycle: the walk stops there too
        if ref in pages and pages[ref] != (holder, key):
            continue  # pages are entered from their parent only
        count += 1
        if count > limit:
            raise DocumentTooComplex(
                f"objects reachable by more than {limit} paths (a reference fan-out)"
            )
        inner = versions.references(ref, revision)
        here = path | {ref}
        stack.extend((r, here, key if k is None else k, ref) for r, k in reversed(inner))
    return count


def references_in(value: Any) -> list[tuple[Any, str | None]]:
    """The references inside ``value``'s own (direct) dictionaries and arrays, in the order
    a depth-first walk that expands the last entry first meets them; each with the key of
    the dictionary entry it sits in (None: it sits in arrays only, under the key that led
    to ``value``). A ``value`` that is itself a reference holds none."""
    out: list[tuple[Any, str | None]] = []
    todo: list[tuple[Any, str | None]] = (
        [(value, None)] if isinstance(value, generic.DictionaryObject | generic.ArrayObject) else []
    )
    while todo:
        item, key = todo.pop()
        if isinstance(item, generic.IndirectObject):
            out.append((item.reference, key))
        elif isinstance(item, generic.DictionaryObject):
            todo.extend((item.raw_get(k), k) for k in item)
        elif isinstance(item, generic.ArrayObject):
            todo.extend((v, key) for v in item)
    return out


class ObjectVersions:
    """Each object as a revision sees it, read once for all the revisions that see the same
    version (pyHanko's ``HistoricalResolver`` reads and copies it again for each), with the
    references it holds.

    A revision sees an object's newest version if no later revision rewrote it, else the
    one its cross-references locate: the choice ``HistoricalResolver.get_object`` makes,
    with the same reads, so that every revision's walk meets the same values.
    """

    _NEWEST = object()

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        # (id, generation, where it is read from): the references the version holds
        self._versions: dict[tuple[int, int, Any], list[tuple[Any, str | None]]] = {}
        self._seen: dict[tuple[int, int, int], list[tuple[Any, str | None]]] = {}

    def references(self, ref: Any, revision: int) -> list[tuple[Any, str | None]]:
        """``references_in`` the object ``ref`` names in ``revision`` (read on first use)."""
        seen = (ref.idnum, ref.generation, revision)
        if seen in self._seen:
            return self._seen[seen]
        xrefs = self._reader.xrefs
        try:
            last_change = xrefs.get_last_change(ref)
        except KeyError:
            last_change = None
        newest = last_change is not None and last_change <= revision
        where = self._NEWEST if newest else xrefs.get_historical_ref(ref, revision)
        version = (ref.idnum, ref.generation, where)
        if version not in self._versions:
            self._versions[version] = references_in(
                self._reader.get_object(ref, transparent_decrypt=False)
                if newest
                else self._reader.get_object(ref, revision, transparent_decrypt=False)
            )
        self._seen[seen] = found = self._versions[version]
        return found


def _page_tree_nodes(resolver: Any) -> dict[Any, tuple[Any, str]]:
    """Each page-tree node's reference, with its parent's reference and "/Kids"."""
    nodes: dict[Any, tuple[Any, str]] = {}
    root = resolver.root
    if "/Pages" not in root or not isinstance(root.raw_get("/Pages"), generic.IndirectObject):
        return nodes
    top = root.raw_get("/Pages").reference
    nodes[top] = (resolver.root_ref, "/Pages")
    todo = [top]
    while todo and len(nodes) <= MAX_OBJECTS:
        here = todo.pop()
        node = _deref(resolver, here)
        kids = _item(node, "/Kids", None) if isinstance(node, generic.DictionaryObject) else None
        if not isinstance(kids, generic.ArrayObject):
            continue
        for kid in kids:
            if isinstance(kid, generic.IndirectObject) and kid.reference not in nodes:
                nodes[kid.reference] = (here, "/Kids")
                todo.append(kid.reference)
    return nodes


@dataclass(frozen=True)
class FormField:
    """A signature field of the form: its full name, its dictionary and its reference."""

    name: str
    field: Any  # the field's dictionary (pyHanko's DictionaryObject)
    ref: Any  # its IndirectObject


def signature_fields(resolver: Any) -> list[FormField]:
    """The form's signature fields, walked within the limits (of any revision: ``resolver``
    is a reader or one of its historical resolvers).

    Each field object is visited once: a /Kids array repeating one field, or a tree that
    fans out, would otherwise be enumerated once per path (4 million fields from a 2 KB
    file), long before any count is checked.
    """
    out: list[FormField] = []
    seen: set[tuple[int, int]] = set()
    visits = 0

    def walk(items: Any, prefix: str, inherited: Any, depth: int) -> None:
        nonlocal visits
        if depth > MAX_FORM_DEPTH:
            raise DocumentTooComplex(f"form fields nested deeper than {MAX_FORM_DEPTH}")
        for item in items if isinstance(items, generic.ArrayObject) else ():
            visits += 1
            if visits > MAX_FORM_OBJECTS:
                raise DocumentTooComplex(f"more than {MAX_FORM_OBJECTS} form objects")
            if not isinstance(item, generic.IndirectObject):
                continue
            key = (item.reference.idnum, item.reference.generation)
            if key in seen:
                raise DocumentUnreadable(f"form field object {key[0]} appears twice in the form")
            seen.add(key)
            field = _deref(resolver, item.reference)
            if not isinstance(field, generic.DictionaryObject):
                continue
            kind = _item(field, "/FT", inherited)
            name = f"{prefix}{field['/T']}" if "/T" in field else prefix.rstrip(".")
            if kind == "/Sig" and "/T" in field:
                out.append(FormField(name, field, item))
                if len(out) > MAX_SIGNATURE_FIELDS:
                    raise DocumentTooComplex(f"more than {MAX_SIGNATURE_FIELDS} signature fields")
            if "/Kids" in field:
                walk(field["/Kids"], f"{name}." if "/T" in field else prefix, kind, depth + 1)

    root = resolver.root
    form = _item(root, "/AcroForm", None)
    if isinstance(form, generic.DictionaryObject) and "/Fields" in form:
        walk(form["/Fields"], "", None, 0)
    return out


def _item(dictionary: Any, key: str, default: Any) -> Any:
    """``dictionary[key]``, dereferenced; pyHanko's ``get`` would hand back a reference."""
    return dictionary[key] if key in dictionary else default  # noqa: SIM401


def _deref(resolver: Any, ref: Any) -> Any:
    """The object ``ref`` names in ``resolver``'s revision (a reader: its newest)."""
    return resolver(ref) if callable(resolver) else resolver.get_object(ref)


def _signed_fields(reader: Any, fields: list[FormField]) -> list[SignedField]:
    out: list[SignedField] = []
    seen: dict[tuple[int, int], str] = {}
    for form_field in fields:
        name, field = form_field.name, form_field.field
        if "/V" not in field or not field["/V"]:
            continue
        raw = field.raw_get("/V")
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
    return tuple(f.name for f in signature_fields(reader.get_historical_resolver(revision)))


def revision_count(pdf: bytes) -> int:
    """How many revisions ``pdf`` has (DocumentUnreadable for bad input)."""
    reader = open_pdf(pdf)
    try:
        return int(reader.xrefs.total_revisions)
    except Exception as exc:
        raise DocumentUnreadable(f"malformed cross-reference data: {exc}") from exc
