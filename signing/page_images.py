"""A contract's pages as PNG images, for a phone that shows what its owner is about to sign.

Rendered on the server with PDFium (pypdfium2: Apache-2.0 / BSD-3-Clause, a self-contained
wheel), so the phone needs no PDF viewer and the document never travels from the phone.
The cost is bounded: one fixed width, at most ``MAX_PAGES`` pages, and each image cached
by the document's hash and page number (a signed revision is a new document).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from io import BytesIO

import pypdfium2 as pdfium

WIDTH_PX = 900  # a phone's screen at 2-3x, readable when zoomed
MAX_PAGES = 40
CACHED = 64  # images kept
_lock = threading.Lock()  # PDFium is not thread-safe; the cache is shared
_cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()


class PageUnavailable(ValueError):
    """No such page, or a document beyond what is rendered here."""


def page_count(pdf: bytes) -> int:
    with _lock:
        doc = pdfium.PdfDocument(pdf)
        try:
            return min(len(doc), MAX_PAGES)
        finally:
            doc.close()


def page_png(pdf: bytes, index: int) -> bytes:
    """Page ``index`` (from 0) of ``pdf`` as a PNG ``WIDTH_PX`` wide."""
    if not 0 <= index < MAX_PAGES:
        raise PageUnavailable(f"pages are numbered 0 to {MAX_PAGES - 1}")
    key = (hashlib.sha256(pdf).hexdigest(), index)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        doc = pdfium.PdfDocument(pdf)
        try:
            if index >= len(doc):
                raise PageUnavailable(f"the document has {len(doc)} pages")
            page = doc[index]
            image = page.render(scale=WIDTH_PX / page.get_width()).to_pil()
            page.close()
        finally:
            doc.close()
        out = BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
        _cache[key] = out.getvalue()
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
        return _cache[key]
