"""What may change in a contract after it is first signed: the contract modification policy.

The draft declares every signature field. From the first signature on, each new
revision may only fill the next declared signature field (its appearance lives
in its own widget), add validation data (DSS/VRI) and add document time-stamps
in new invisible fields; the writer's bookkeeping (the modification date and
producer in /Info, the XMP packet) may follow. Anything else -- a new field,
widget or annotation, a new or changed page, content stream or resource, a
changed appearance of an earlier field, any other object -- is a modification
after signing, named in Chinese for the report (signature fields for their parties:
签名域“出卖人”).

Each revision is compared with the one before it (pyHanko's difference analysis
with a stricter rule set than its default, which allows new signature fields,
other form fields and XMP changes), so a document of n revisions costs n
comparisons, however many signatures it carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DSSCompareRule,
    FormUpdatingRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    WhitelistRule,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.commons import safe_whitelist
from pyhanko.sign.diff_analysis.rules_api import ReferenceUpdate

from verifier.document import MAX_FORM_OBJECTS, DocumentShape
from verifier.names import field_label

# pyHanko's writer refreshes these two on every incremental save; nothing else in /Info
# (a title, say, shown in a viewer's title bar) may change after signing.
_INFO_KEYS_THAT_MAY_CHANGE = frozenset({"/ModDate", "/Producer"})
_MAX_TREE_DEPTH = 16
# What people call the annotations a reader paints (other subtypes are named as they are).
_ANNOTATIONS = {
    "/FreeText": "文本框",
    "/Stamp": "图章",
    "/Text": "便笺",
    "/Square": "方框",
    "/Circle": "圆圈",
    "/Line": "线条",
    "/Ink": "手写",
    "/Highlight": "高亮",
    "/Link": "链接",
    "/Widget": "表单控件",
}


@dataclass(frozen=True)
class Modification:
    """A revision that changes more than the policy allows."""

    revision: int
    what: str  # in Chinese, for the report: 签署后文件被修改：<what>
    detail: str  # technical, in English


class _InfoDatesRule(WhitelistRule):
    """/Info may change only in its modification date and producer."""

    def apply(self, old: Any, new: Any) -> Iterable[Any]:
        new_ref = new.trailer_view.get_value_as_reference("/Info", optional=True)
        if new_ref is None:
            return
        old_ref = old.trailer_view.get_value_as_reference("/Info", optional=True)
        # Each revision's own /Info: a Reference resolves to the newest revision by itself.
        old_info = _at(old, old_ref) if old_ref is not None else {}
        new_info = _at(new, new_ref)
        if not isinstance(new_info, generic.DictionaryObject):
            raise SuspiciousModification("/Info is not a dictionary")
        changed = {
            k
            for k in set(old_info) | set(new_info)
            if k not in _INFO_KEYS_THAT_MAY_CHANGE and not same(old_info.get(k), new_info.get(k))
        }
        if changed:
            raise SuspiciousModification(f"document information changed: {sorted(changed)}")
        for ref in safe_whitelist(old, old_ref, new_ref):
            yield ReferenceUpdate(ref)


class _TimeStampFieldsOnly(SigFieldCreationRule):
    """New signature fields only for invisible document time-stamps (PAdES B-LTA)."""

    def apply(self, context: Any) -> Iterable[Any]:
        for name, spec in context.field_specs.items():
            if spec.old_field_ref is not None or spec.new_field_ref is None:
                continue
            field = _at(context.new, spec.new_field_ref)
            value = _at(context.new, field.raw_get("/V")) if "/V" in field else None
            if (
                spec.field_type != "/Sig"
                or not _invisible_widget(field)
                or not isinstance(value, generic.DictionaryObject)
                or value.get("/Type") != "/DocTimeStamp"
            ):
                raise SuspiciousModification(f"new form field {name!r} added after signing")
        yield from super().apply(context)


def _invisible_widget(field: Any) -> bool:
    """A field that is its own widget, with no appearance and a /Rect of four direct zeros.

    pyHanko's own visibility test reads an area of zero into a /Rect it cannot unpack
    (indirect numbers, five entries): such a field would paint wherever its viewer puts it.
    """
    if "/Kids" in field or "/AP" in field:
        return False
    rect = field.raw_get("/Rect") if "/Rect" in field else None
    return (
        isinstance(rect, generic.ArrayObject)
        and len(rect) == 4
        and all(isinstance(v, generic.NumberObject | generic.FloatObject) for v in rect)
        and all(v == 0 for v in rect)
    )


# pyHanko's rule classes have untyped constructors.
_CATALOG: Any = CatalogModificationRule
_METADATA: Any = MetadataUpdateRule
_TIMESTAMP_FIELDS: Any = _TimeStampFieldsOnly
CONTRACT_DIFF_POLICY: Any = StandardDiffPolicy(
    global_rules=[
        _CATALOG(),
        _InfoDatesRule().as_qualified(ModificationLevel.LTA_UPDATES),
        XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
        # pyHanko's writer rewrites the XMP packet on every save (well-formed XML only).
        _METADATA().as_qualified(ModificationLevel.LTA_UPDATES),
    ],
    form_rule=FormUpdatingRule(
        field_rules=[_TIMESTAMP_FIELDS(), SigFieldModificationRule()],
        # /SigFlags: the first signature sets SignaturesExist and AppendOnly. Not
        # /NeedAppearances: it would have viewers redraw fields as they please.
        ignored_acroform_keys=frozenset({"/Fields", "/DR", "/DA", "/Q", "/SigFlags"}),
    ),
)


def first_modification(
    reader: Any,
    shape: DocumentShape,
    draft_revisions: int | None = None,
    judged_revisions: int = 0,
) -> Modification | None:
    """The first revision, from the first signature on, that the policy does not allow.

    ``draft_revisions``: how many revisions the draft has, when the caller knows it (the
    platform recorded the draft): then every revision after the draft is held to the
    policy, signed or not, so that nothing slips in before the first signature.
    ``judged_revisions``: the first revisions already held to the policy, as a byte prefix
    of this file; only the revisions after them are compared.
    """
    first = shape.first_signed_revision if draft_revisions is None else draft_revisions
    if first is None:
        return None
    for revision in range(max(first, 1, judged_revisions), shape.revisions):
        old = reader.get_historical_resolver(revision - 1)
        new = reader.get_historical_resolver(revision)
        try:
            result = CONTRACT_DIFF_POLICY.apply(old, new)
            if result.modification_level > ModificationLevel.FORM_FILLING:
                raise SuspiciousModification(f"changes at level {result.modification_level.name}")
        except SuspiciousModification as exc:
            return Modification(revision, describe(old, new), str(exc).split("\n")[0])
        except Exception as exc:  # a structure pyHanko cannot compare is no allowed change
            return Modification(revision, "文件结构无法比对", f"{type(exc).__name__}: {exc}")
    return None


def describe(old: Any, new: Any) -> str:
    """What changed between two revisions, in Chinese, for a person to read."""
    try:
        phrases = list(_changes(old, new))
    except Exception:  # the description is a courtesy; the policy has already decided
        phrases = []
    return "；".join(dict.fromkeys(phrases)) or "其他对象被改动"


def _changes(old: Any, new: Any) -> Iterator[str]:
    written = new.explicit_refs_in_revision()
    old_info, new_info = (
        _at(r, r.trailer_view.raw_get("/Info")) if "/Info" in r.trailer_view else {}
        for r in (old, new)
    )
    if any(
        not same(old_info.get(k), new_info.get(k))
        for k in (set(old_info) | set(new_info)) - _INFO_KEYS_THAT_MAY_CHANGE
    ):
        yield "文档属性（标题、作者等）被改动"
    old_fields, new_fields = _fields(old), _fields(new)
    for name in new_fields.keys() - old_fields.keys():
        yield f"新增表单域“{name}”"
    for name in old_fields.keys() - new_fields.keys():
        yield f"删除表单域“{name}”"
    filled_now = {
        name
        for name, ref in new_fields.items()
        if name in old_fields and "/V" in _at(new, ref) and "/V" not in _at(old, old_fields[name])
    }
    widget_of = {ref: name for name, ref in {**old_fields, **new_fields}.items()}
    old_pages, new_pages = _pages(old), _pages(new)
    if len(old_pages) != len(new_pages):
        yield f"页数由 {len(old_pages)} 变为 {len(new_pages)}"
    for number, (old_ref, new_ref) in enumerate(zip(old_pages, new_pages, strict=False), 1):
        if old_ref != new_ref:
            yield f"第 {number} 页被替换"
            continue
        old_page, new_page = _at(old, old_ref), _at(new, new_ref)
        if _touched(old, old_page.raw_get("/Contents"), new_page.raw_get("/Contents"), written):
            yield f"第 {number} 页内容被改动"
        resources, old_resources = new_page.get("/Resources"), old_page.get("/Resources")
        if not same(old_resources, resources) or _touched(
            old, old_resources, None, written, depth=3
        ):
            yield f"第 {number} 页资源（字体、图像）被改动"
        others = (set(old_page) | set(new_page)) - {"/Annots", "/Contents", "/Resources"}
        if any(not same(old_page.get(k), new_page.get(k)) for k in others - {"/Parent"}):
            yield f"第 {number} 页页面属性被改动"
        old_annots = _refs(old, old_page.get("/Annots"))
        for ref in _refs(new, new_page.get("/Annots")):
            annot = _at(new, ref)
            field = widget_of.get(ref)
            if ref not in old_annots:
                if field is None:
                    subtype = str(annot.get("/Subtype", "?"))
                    yield f"第 {number} 页新增注释（{_ANNOTATIONS.get(subtype, subtype)}）"
            elif ref in written and field not in filled_now:
                yield (
                    f"签名域“{field_label(field, 'zh')}”的外观被改动"
                    if field is not None
                    else f"第 {number} 页注释被改动"
                )
    for name in old_fields.keys() & new_fields.keys() - filled_now:
        ref = new_fields[name]
        if ref in written and not same(_at(old, old_fields[name]), _at(new, ref)):
            yield f"签名域“{field_label(name, 'zh')}”被改动"


def _fields(resolver: Any) -> dict[str, Any]:
    """Every form field by its full name, with the reference of its dictionary (each field
    object once, at most ``MAX_FORM_OBJECTS``: a description is never worth a fan-out)."""
    out: dict[str, Any] = {}
    seen: set[Any] = set()

    def walk(items: Any, prefix: str, depth: int) -> None:
        if depth > _MAX_TREE_DEPTH or not isinstance(items, generic.ArrayObject):
            return
        for item in items:
            if not isinstance(item, generic.IndirectObject) or item.reference in seen:
                continue
            seen.add(item.reference)
            if len(seen) > MAX_FORM_OBJECTS:
                return
            field = _at(resolver, item)
            if not isinstance(field, generic.DictionaryObject):
                continue
            name = f"{prefix}{field.get('/T', '')}"
            if "/T" in field:
                out[name] = item.reference
            kids = _at(resolver, field.raw_get("/Kids")) if "/Kids" in field else None
            walk(kids, f"{name}.", depth + 1)

    root = resolver.root
    form = _at(resolver, root.raw_get("/AcroForm")) if "/AcroForm" in root else None
    if isinstance(form, generic.DictionaryObject) and "/Fields" in form:
        walk(_at(resolver, form.raw_get("/Fields")), "", 0)
    return out


def _pages(resolver: Any) -> list[Any]:
    out: list[Any] = []

    def walk(node: Any, depth: int) -> None:
        if depth > _MAX_TREE_DEPTH:
            return
        tree = _at(resolver, node)
        kids = _at(resolver, tree.raw_get("/Kids")) if "/Kids" in tree else []
        for kid in kids:
            if not isinstance(kid, generic.IndirectObject):
                continue
            if _at(resolver, kid).get("/Type") == "/Pages":
                walk(kid, depth + 1)
            else:
                out.append(kid.reference)

    walk(resolver.root.raw_get("/Pages"), 0)
    return out


def _at(resolver: Any, value: Any) -> Any:
    """The object behind a reference as of ``resolver``'s revision, or the value itself.

    A Reference's own ``get_object`` reads the newest revision: comparing two revisions
    through it would compare the newest one with itself.
    """
    if isinstance(value, generic.IndirectObject):
        return resolver(value.reference)
    if isinstance(value, generic.Reference):
        return resolver(value)
    return value


def _refs(resolver: Any, value: Any) -> list[Any]:
    value = _at(resolver, value)
    if not isinstance(value, generic.ArrayObject):
        return []
    return [v.reference for v in value if isinstance(v, generic.IndirectObject)]


def _touched(resolver: Any, old: Any, new: Any, written: set[Any], depth: int = 1) -> bool:
    """``old`` (read at ``resolver``'s revision) differs from ``new`` (when given), or refers
    to an object rewritten in the new revision."""
    if new is not None and not same(old, new):
        return True
    if isinstance(old, generic.IndirectObject):
        if old.reference in written:
            return True
        old = _at(resolver, old)
    if depth <= 0:
        return False
    if isinstance(old, generic.ArrayObject):
        return any(_touched(resolver, v, None, written, depth - 1) for v in old)
    if isinstance(old, generic.DictionaryObject):
        return any(_touched(resolver, old.raw_get(k), None, written, depth - 1) for k in old)
    return False


def same(a: Any, b: Any, depth: int = 0) -> bool:
    """Two PDF values are the same object graph at the top (references compared by number)."""
    if depth > _MAX_TREE_DEPTH:
        return False
    if isinstance(a, generic.IndirectObject) or isinstance(b, generic.IndirectObject):
        return (
            isinstance(a, generic.IndirectObject)
            and isinstance(b, generic.IndirectObject)
            and a.reference == b.reference
        )
    if isinstance(a, generic.StreamObject) or isinstance(b, generic.StreamObject):
        return (
            isinstance(a, generic.StreamObject)
            and isinstance(b, generic.StreamObject)
            and a.encoded_data == b.encoded_data
            and _same_dict(a, b, depth)
        )
    if isinstance(a, generic.DictionaryObject) and isinstance(b, generic.DictionaryObject):
        return _same_dict(a, b, depth)
    if isinstance(a, generic.ArrayObject) and isinstance(b, generic.ArrayObject):
        return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _same_dict(a: Any, b: Any, depth: int) -> bool:
    return set(a) == set(b) and all(same(a.raw_get(k), b.raw_get(k), depth + 1) for k in a)
