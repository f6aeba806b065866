"""A PDF's cross-reference sections: walked within a budget, and read one way only.

pyHanko's reader parses every section of the startxref chain when it opens a file, and
in its lenient mode an xref stream yields an entry for every object its ``/Index``
claims, data or not: a few bytes claiming a billion objects cost gigabytes before any
later limit looks. So the chain is walked here first, reading only the sections'
headers, and a document whose sections claim more entries than the limits allow is
refused before pyHanko builds anything.
"""

from __future__ import annotations

import os
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import process_data_at_eof
from pyhanko.pdf_utils.xref import (
    XRefSectionType,
    parse_xref_stream,
    parse_xref_table,
    read_object_header,
)

_MAX_ENTRY_WIDTH = 8  # bytes of one field of an xref stream entry (/W)


class CrossReferenceError(ValueError):
    """The cross-reference sections cannot be read one way, or not at all."""


class CrossReferencesTooLarge(CrossReferenceError):
    """The sections claim more sections or entries than the budget allows."""


def check_budget(pdf: bytes, max_sections: int, max_entries: int) -> None:
    """Walk the startxref chain from the file's end: every section must be where its
    pointer says, and all of them together claim at most ``max_entries`` entries in at
    most ``max_sections`` sections. Reads headers and counts; builds no table."""
    stream = BytesIO(pdf)
    stream.seek(-1, os.SEEK_END)
    try:
        # pyHanko's own search, so that the chain walked here is the one it will read.
        offset: int | None = process_data_at_eof(stream)
    except Exception as exc:
        raise CrossReferenceError(f"no startxref at the end of the file: {exc}") from exc
    seen: set[int] = set()
    entries = 0
    while offset is not None:
        if offset in seen:
            raise CrossReferenceError(f"the cross-reference chain loops at offset {offset}")
        seen.add(offset)
        if len(seen) > max_sections:
            raise CrossReferencesTooLarge(f"more than {max_sections} cross-reference sections")
        if not 0 <= offset < len(pdf):
            raise CrossReferenceError(f"a cross-reference pointer ({offset}) is outside the file")
        stream.seek(offset)
        if pdf.startswith(b"xref", offset):
            stream.seek(offset + 4)
            entries += _count_table(stream, max_entries - entries)
            trailer = _dictionary(stream)
            if _direct(trailer, "/XRefStm") is not None:
                raise CrossReferenceError("a hybrid cross-reference section")
        else:
            trailer = _stream_dictionary(stream, offset)
            entries += _count_stream(trailer, max_entries - entries)
        offset = _prev(trailer)


def _count_table(stream: BytesIO, budget: int) -> int:
    # Each entry is 20 bytes of the file, so this reads no more than the file holds.
    count = 0
    for _ in parse_xref_table(stream, strict=False):
        count += 1
        if count > budget:
            raise CrossReferencesTooLarge("the cross-reference sections claim too many objects")
    return count


def _count_stream(header: Any, budget: int) -> int:
    if _direct(header, "/Type") != "/XRef":
        raise CrossReferenceError("a cross-reference pointer leads to no cross-reference section")
    widths = _direct(header, "/W")
    if (
        not isinstance(widths, generic.ArrayObject)
        or len(widths) != 3
        or not all(_whole(w) and 0 <= int(w) <= _MAX_ENTRY_WIDTH for w in widths)
    ):
        raise CrossReferenceError("a cross-reference stream with a malformed /W")
    size = _direct(header, "/Size")
    if not _whole(size):
        raise CrossReferenceError("a cross-reference stream without a direct /Size")
    index = _direct(header, "/Index")
    if index is None:
        index = [0, size]
    if (
        not isinstance(index, list)
        or len(index) % 2
        or not all(_whole(n) and int(n) >= 0 for n in index)
    ):
        raise CrossReferenceError("a cross-reference stream with a malformed /Index")
    count = sum(int(n) for n in list(index)[1::2])  # list(): slicing would dereference
    if count > budget:
        raise CrossReferencesTooLarge("the cross-reference sections claim too many objects")
    return count


def _direct(dictionary: Any, key: str) -> Any:
    """The value as written (None if absent): nothing is resolved before the table exists."""
    try:
        return dictionary.raw_get(key)
    except KeyError:
        return None


def _whole(value: Any) -> bool:
    # Direct integers only: the sections are read before anything could resolve a reference.
    return isinstance(value, int) and not isinstance(value, bool)


def _dictionary(stream: BytesIO) -> Any:
    try:
        trailer_ref = generic.TrailerReference(None)  # type: ignore[no-untyped-call]
        value = generic.read_object(stream, trailer_ref)
    except Exception as exc:  # pyHanko's parser raises many kinds for broken input
        raise CrossReferenceError(f"an unreadable trailer: {exc}") from exc
    if not isinstance(value, generic.DictionaryObject):
        raise CrossReferenceError("a trailer that is not a dictionary")
    return value


def _stream_dictionary(stream: BytesIO, offset: int) -> Any:
    try:
        idnum, generation = read_object_header(stream, strict=True)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise CrossReferenceError(
            f"a cross-reference pointer ({offset}) leads to no cross-reference section"
        ) from exc
    try:
        value = generic.read_object(stream, generic.Reference(idnum, generation, None))
    except Exception as exc:
        raise CrossReferenceError(f"an unreadable cross-reference stream: {exc}") from exc
    if not isinstance(value, generic.DictionaryObject):
        raise CrossReferenceError("a cross-reference stream without a dictionary")
    return value


def _prev(trailer: Any) -> int | None:
    prev = _direct(trailer, "/Prev")
    if prev is None:
        return None
    if not _whole(prev):
        raise CrossReferenceError("a /Prev that is not a direct integer")
    return int(prev)


def check_one_reading(reader: Any, revision: int, max_entries: int) -> None:
    """One reading of the revision's cross-reference section, whatever the reader.

    Where PDF readers part ways, the verifier must not read one document and a viewer
    another: an object listed twice in one section (pyHanko takes the last entry, poppler
    and qpdf the first), a hybrid section (an XRefStm that older readers ignore), or a
    startxref pointing elsewhere than the section pyHanko found by searching.
    """
    meta = reader.xrefs.get_xref_container_info(revision)
    kind = meta.xref_section_type
    if kind in (XRefSectionType.HYBRID_MAIN, XRefSectionType.HYBRID_STREAM):
        raise CrossReferenceError(f"revision {revision} has a hybrid cross-reference section")
    stream = reader.stream
    stream.seek(meta.declared_startxref)
    found = stream.read(4) == b"xref" if kind is XRefSectionType.STANDARD else True
    if not found or (
        kind is XRefSectionType.STREAM and meta.start_location != meta.declared_startxref
    ):
        raise CrossReferenceError(f"revision {revision}'s startxref points elsewhere")
    stream.seek(meta.start_location)
    if kind is XRefSectionType.STANDARD:
        entries = parse_xref_table(stream, strict=False)
    else:
        idnum, generation = read_object_header(stream, strict=False)  # type: ignore[no-untyped-call]
        ref = generic.Reference(idnum, generation, pdf=reader)
        entries = parse_xref_stream(generic.StreamObject.read_from_stream(stream, ref))
    seen: set[int] = set()
    for entry in entries:
        if entry.idnum in seen:
            raise CrossReferenceError(
                f"revision {revision} lists object {entry.idnum} twice in its cross-references"
            )
        seen.add(entry.idnum)
        if len(seen) > max_entries:
            raise CrossReferencesTooLarge(f"more than {max_entries} objects in revision {revision}")
