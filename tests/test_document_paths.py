"""The verifier's path count (``verifier/document.py`` ``count_paths``) reads each object
version once for all revisions and lists its references once for all the paths that reach
it. It must decide exactly as the walk it replaced, which read every revision's objects
through pyHanko's ``HistoricalResolver`` and expanded every path anew: same count, same
refusal at every limit, the same objects read first in the same order. The reference walk
below is that earlier code, verbatim."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.render import render
from signing.sample import sample_contract
from tests import pdf_attacks as attacks
from verifier.document import (
    MAX_PATHS,
    DocumentTooComplex,
    ObjectVersions,
    _deref,
    _page_tree_nodes,
    count_paths,
    open_pdf,
    read_shape,
)


def reference_count(resolver: Any, limit: int = MAX_PATHS) -> int:
    """``count_paths`` as it was (every path expanded through ``resolver``)."""
    pages = _page_tree_nodes(resolver)
    count = 0
    stack: list[tuple[Any, frozenset[Any], str, Any]] = [
        (resolver.trailer_view, frozenset(), "", None)
    ]
    while stack:
        value, path, key, holder = stack.pop()
        if isinstance(value, generic.IndirectObject):
            ref = value.reference
            if ref in path:
                continue
            if ref in pages and pages[ref] != (holder, key):
                continue
            count += 1
            if count > limit:
                raise DocumentTooComplex(
                    f"objects reachable by more than {limit} paths (a reference fan-out)"
                )
            path, holder, value = path | {ref}, ref, _deref(resolver, ref)
        if isinstance(value, generic.DictionaryObject):
            stack.extend((value.raw_get(k), path, k, holder) for k in value)
        elif isinstance(value, generic.ArrayObject):
            stack.extend((v, path, key, holder) for v in value)
    return count


def _update(pdf: bytes, change: Callable[[Any], None]) -> bytes:
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    change(w)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def _cycle(w: Any) -> None:
    """Two objects naming each other, and one naming itself, hung from the catalog."""
    a = w.add_object(generic.DictionaryObject())
    b = w.add_object(generic.DictionaryObject({pdf_name("/Back"): a}))
    a.get_object()[pdf_name("/Next")] = b
    me = w.add_object(generic.DictionaryObject())
    me.get_object()[pdf_name("/Me")] = me
    w.root[pdf_name("/Loop")] = generic.ArrayObject([a, me, generic.ArrayObject([b, b])])
    w.update_root()


def _indirect_kids(w: Any) -> None:
    """The page tree's /Kids moved into an object of their own (pages then unreachable as
    pages: the walk enters a page only from its parent's direct /Kids)."""
    pages = w.root["/Pages"]
    pages[pdf_name("/Kids")] = w.add_object(generic.ArrayObject(list(pages["/Kids"])))
    w.update_container(pages)


def _rewire(w: Any) -> None:
    """Rewrite an object of an earlier revision to hold other references: the revisions
    before see its old version, the later ones the new."""
    chain = [w.add_object(generic.ArrayObject()) for _ in range(6)]
    for here, there in itertools.pairwise(chain):
        here.get_object().extend([there, there, there])
    info = w.trailer.raw_get("/Info")
    info.get_object()[pdf_name("/Chain")] = chain[0]
    w.mark_update(info)


def _unrewire(w: Any) -> None:
    info = w.trailer.raw_get("/Info")
    del info.get_object()["/Chain"]
    info.get_object()[pdf_name("/Alias")] = w.root.raw_get("/Pages")
    w.mark_update(info)


def _reference_to_reference(w: Any) -> None:
    """An object whose value is a reference to another (walked as a leaf)."""
    target = w.add_object(generic.DictionaryObject({pdf_name("/X"): w.root.raw_get("/Pages")}))
    alias = w.add_object(target)
    w.root[pdf_name("/Alias")] = generic.DictionaryObject({pdf_name("/A"): alias})
    w.update_root()


def _documents() -> dict[str, bytes]:
    draft = render(sample_contract()).pdf
    rewired = _update(_update(draft, _rewire), _unrewire)
    return {
        "draft": draft,
        "content-appended": attacks.append_content(draft),
        "page-added": attacks.add_page(draft),
        "annotation": attacks.add_annotation(draft),
        "page-tree-swapped": attacks.swap_page_tree(draft),
        "retitled": attacks.retitle(draft),
        "path-explosion": attacks.path_explosion(draft, depth=12),
        "path-explosion-in-dss": attacks.path_explosion_in_dss(draft, depth=10),
        "form-fan-out": attacks.form_fan_out(draft, fan=3, depth=5),
        "cycles": _update(draft, _cycle),
        "indirect-kids": _update(draft, _indirect_kids),
        "rewired-then-unwired": _update(rewired, _cycle),
        "reference-to-reference": _update(draft, _reference_to_reference),
    }


DOCUMENTS = _documents()


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """Each object read from the file (its number and where), first reads in order."""
    seen: list[tuple[int, str]] = []
    read = PdfFileReader._read_object

    def recording(self: Any, ref: Any, marker: Any, *args: Any, **kwargs: Any) -> Any:
        if (ref.idnum, str(marker)) not in seen:
            seen.append((ref.idnum, str(marker)))
        return read(self, ref, marker, *args, **kwargs)

    monkeypatch.setattr(PdfFileReader, "_read_object", recording)
    return seen


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_count_is_the_reference_walks_at_every_revision(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = DOCUMENTS[name]
    reader, reference = open_pdf(pdf), open_pdf(pdf)
    revisions = reader.xrefs.total_revisions
    assert revisions >= 2 or name == "draft"
    reads = _reads(monkeypatch)
    versions = ObjectVersions(reader)
    counts = [
        count_paths(reader.get_historical_resolver(r), 10**7, versions) for r in range(revisions)
    ]
    ours, reads[:] = list(reads), []
    expected = [
        reference_count(reference.get_historical_resolver(r), 10**7) for r in range(revisions)
    ]
    assert counts == expected
    assert ours == reads  # the same objects read, first in the same order
    if name == "path-explosion":
        assert counts[-1] > 2**12  # the attack is in the walk


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_limit_refuses_as_the_reference_walk_did(name: str) -> None:
    pdf = DOCUMENTS[name]
    last = open_pdf(pdf).xrefs.total_revisions - 1
    total = reference_count(open_pdf(pdf).get_historical_resolver(last), 10**7)
    for limit in sorted({0, 1, 2, total // 3, total // 2, total - 1, total, total + 1}):
        outcomes = []
        for walk in (count_paths, reference_count):
            try:
                outcomes.append(walk(open_pdf(pdf).get_historical_resolver(last), limit))
            except DocumentTooComplex as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1], (limit, outcomes)
        assert isinstance(outcomes[0], str) == (limit < total)


def test_the_explosions_are_still_refused_at_the_verifier_limit() -> None:
    for pdf in (
        attacks.path_explosion(DOCUMENTS["draft"]),
        attacks.path_explosion_in_dss(DOCUMENTS["draft"]),
    ):
        with pytest.raises(DocumentTooComplex, match=f"more than {MAX_PATHS} paths"):
            read_shape(open_pdf(pdf))
