"""A report three ways: text for a terminal, JSON (docs/verifier.md), printable HTML (zh/en).

In Chinese every line is Chinese but for data (hashes, numbers, names, the ETSI codes
after their Chinese words): each check's ``detail_zh`` (``verifier/models.py``), the
meaning of its stable code first (``SUB_INDICATIONS_ZH``), fields named for parties
and signers by name (``verifier/names.py``), times in Beijing time (``people_time``).
A new sub-indication gets its line in ``SUB_INDICATIONS_ZH``, a new check its name in
``CHECK_NAMES_ZH``.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape

from verifier.models import (
    Check,
    FilingFacts,
    Indication,
    LaterEvent,
    Report,
    SignatureFinding,
    Verdict,
)
from verifier.names import field_label, signer_label

VERDICT_WORDS = {
    Verdict.PASSED: ("核验通过", "PASSED"),
    Verdict.MISMATCH: ("比对不一致", "MISMATCH: not the filed document"),
    Verdict.NOT_FILED: ("未备案", "NOT FILED"),
    Verdict.CANCELLED: ("已注销", "CANCELLED"),
    Verdict.FAILED: ("核验失败", "FAILED"),
    Verdict.INDETERMINATE: ("无法确定", "INDETERMINATE"),
}

_LABELS = {
    "title": ("网签备案合同核验报告", "Verification report: filed housing contract"),
    "verdict": ("结论", "Verdict"),
    "reason": ("理由", "Reason"),
    "document": ("文件", "Document"),
    "size": ("大小（字节）", "Size (bytes)"),
    "signatures": ("签名", "Signatures"),
    "field": ("签名域", "Field"),
    "signer": ("签署人", "Signer"),
    "time": ("签署时间", "Signing time"),
    "fingerprint": ("证书指纹 SHA-256", "Certificate SHA-256"),
    "indication": ("结果", "Indication"),
    "filing": ("备案", "Filing"),
    "number": ("备案号", "Filing number"),
    "unit": ("不动产单元代码", "Real-estate unit code"),
    "kind": ("交易类型", "Transaction kind"),
    "filed_at": ("备案时间", "Filed at"),
    "log": ("日志", "Log"),
    "position": ("日志位置", "Log position"),
    "checkpoint": ("检查点", "Checkpoint"),
    "cosigners": ("见证人", "Witnesses"),
    "checks": ("核验项目", "Checks run"),
    "notes": ("说明", "Notes"),
    "verified_at": ("核验时间", "Verified at"),
    "later": ("后续记录", "Later entries"),
    "timestamp": ("时间戳证明", "proven by time-stamp"),
    "claimed": ("签署人声明", "claimed by signer"),
    "seal": ("备案专用章", "filing seal"),
    "none": ("无", "none"),
    "not_checked": ("未核查（未提供日志数据）", "not checked (no log data given)"),
}


CHECK_NAMES_ZH = {
    "signature": "签名",
    "fund-event": "资金监管记录",
    "filing-seal": "备案专用章",
    "receipt": "回执",
    "entry": "日志条目",
    "document-hash": "文件哈希比对",
    "log-signature": "检查点签名",
    "log-key-period": "日志密钥有效期",
    "witnesses": "见证人联署",
    "inclusion": "包含证明",
    "consistency": "一致性证明",
    "log-data": "日志数据",
    "later-events": "后续注销或变更",
    "modifications": "签署后修改",
    "signing-order": "签署顺序",
    "signer-purpose": "签署证书用途",
    "later-checkpoint": "后续检查点",
    "trust-bundle": "信任包",
    "status": "备案状态证明",
}


# What each stable sub-indication means, for the people who read the Chinese report (buyers,
# courts); the English detail follows in brackets. Codes not listed show as they are.
SUB_INDICATIONS_ZH = {
    "HASH_MISMATCH": "文件的哈希与回执所记录的不一致：不是备案的那份文件，或文件已被改动",
    "HASH_FAILURE": "签名所覆盖的内容已被改动",
    "SIG_CRYPTO_FAILURE": "签名值未能通过密码学验证",
    "FORMAT_FAILURE": "文件格式不符，或签署后被改动",
    "REVOKED": "签名证书已被吊销",
    "REVOKED_NO_POE": "签名证书已被吊销，且无法证明签名早于吊销",
    "NO_CERTIFICATE_CHAIN_FOUND": "签名证书无法链接到信任包中的根证书",
    "TRY_LATER": "吊销信息尚不可用，请稍后再核验",
    "NO_RECEIPT": "没有回执，也没有完整且经见证的日志数据：无法确定该文件是否已备案",
    "NOT_IN_LOG": "完整且经见证的日志中没有该文件的备案记录：未备案",
    "NO_TRUST_ANCHOR": "证据包自带的信任包不能作为信任依据：请提供平台公布的信任包或其 SHA-256",
    "TRUST_PIN_MISMATCH": "信任包的 SHA-256 与指定的值不一致",
    "NO_ENTRY": "回执中没有日志条目",
    "NOT_A_FILING": "回执中的日志条目不是备案记录",
    "NO_FILING_SEAL": "缺少备案平台的备案专用章",
    "NO_FILING_SEAL_IN_BUNDLE": "备案专用章不是信任包所列的证书",
    "SEAL_NOT_LAST": "加盖备案专用章之后，文件又被加签或改动",
    "PROOF_FAILURE": "包含证明不成立：该条目不在检查点所代表的日志中",
    "UNKNOWN_LOG_KEY": "检查点不是由信任包中的日志密钥签署",
    "LOG_KEY_NOT_VALID_THEN": "签署检查点时，该日志密钥不在有效期内",
    "WITNESS_POLICY": "见证人联署数量不足",
    "WRONG_LOG": "回执来自另一个日志",
    "SPLIT_VIEW": "日志出现了两种不同的历史（分叉），不可信",
    "NOT_LATER": "所给的后续检查点并不比回执中的更新",
    "NO_CONSISTENCY_PROOF": "缺少从回执检查点到后续检查点的一致性证明",
    "LOG_DATA_INCONSISTENT": "日志数据与其签名检查点不符",
    "MODIFIED_AFTER_SIGNING": "签署后文件被修改",
    "SIGNING_ORDER": "签名未按草稿声明的签名域及顺序签署",
    "SIGNER_PURPOSE": "签署证书并非为该合同的该签名域签发（如共同买受人代签）",
    "UNSIGNED_FIELD": "草稿声明的签名域尚未签署",
    "SIG_CONSTRAINTS_FAILURE": "签名不满足要求（例如缺少签名时间戳）",
    # The rest of ETSI EN 319 102-1's sub-indications, as pyHanko may report them.
    "NOT_YET_VALID": "签署时签名证书尚未生效",
    "EXPIRED": "签名证书已过期，且无法证明签名早于过期",
    "CHAIN_CONSTRAINTS_FAILURE": "证书链不满足验证规则的要求",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "证书链无法验证",
    "CRYPTO_CONSTRAINTS_FAILURE": "所用的密码算法或密钥长度已不可靠",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "所用的密码算法已不可靠，且无法证明签名早于其不可靠之时",
    "POLICY_PROCESSING_ERROR": "无法处理签名策略",
    "SIGNATURE_POLICY_NOT_AVAILABLE": "无法取得签名策略",
    "TIMESTAMP_ORDER_FAILURE": "签名中各时间戳的先后顺序不符",
    "NO_SIGNING_CERTIFICATE_FOUND": "找不到签名证书",
    "REVOKED_CA_NO_POE": "证书链中的某个颁发机构证书已被吊销，且无法证明签名早于吊销",
    "OUT_OF_BOUNDS_NO_POE": "签名时间不在证书有效期内，且无法证明签名早于过期或吊销",
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": "吊销信息不在有效期内，且无法证明签名早于其时",
    "OUT_OF_BOUNDS_NOT_REVOKED": "签名证书已过期（未被吊销），且无法证明签名早于过期",
    "NO_POE": "无法证明签名在所需时间之前已经存在",
    "SIGNED_DATA_NOT_FOUND": "找不到签名所覆盖的数据",
    "GENERIC": "签名无法验证",
    "LOG_DATA_TOO_OLD": "日志数据早于该文件加盖备案专用章的时间，不能说明其是否已备案",
    "NO_STATUS_MAP": "状态证明所依据的检查点没有承诺备案状态表，不能说明备案状态",
    "STATUS_OTHER_FILING": "所给的状态证明属于另一个备案号，不能说明本备案的状态",
    "STATUS_PROOF_FAILURE": "状态证明不成立：状态表或最新事件的包含证明与检查点不符（伪造或损坏）",
    "STATUS_MAP_INCONSISTENT": "日志的备案状态表与日志本身矛盾（回执证明已备案，状态表却不符）",
    "FUND": "资金监管记录不成立：银行签名、证书、回执或日志条目与记录不符",
}


_BASIS_ZH = {"agreement": "经各方签署的解除协议", "judgment": "依判决或决定"}
_BASIS_DOCUMENT_ZH = {"agreement": "解除协议", "judgment": "判决或决定书"}

_EVENTS_ZH = {
    "filed": "备案",
    "changed": "变更",
    "cancelled": "注销",
    "registered": "已登记",
    "expired": "期满终止",
}


def registration_name(kind: str, lang: str) -> str:
    """What a ``registered`` event of a filing of ``kind`` is: a resale's 转移登记, a new
    home's 不动产登记 (first registration)."""
    if lang == "zh":
        return "转移登记" if kind == "resale" else "不动产登记"
    return "transfer registration" if kind == "resale" else "first registration"


INDICATION_ZH = {
    Indication.PASSED: "通过",
    Indication.FAILED: "未通过",
    Indication.INDETERMINATE: "无法确定",
}


def event_name(event: str, lang: str) -> str:
    """A log event (filed, changed, cancelled) in the report's language."""
    return _EVENTS_ZH.get(event, event) if lang == "zh" else event


def explain(sub: str | None, detail: str, lang: str) -> str:
    """A detail for people: in Chinese, the meaning of its code first when it is known.

    ``detail`` is in the report's language (a check's ``said(lang)``).
    """
    zh = SUB_INDICATIONS_ZH.get(sub or "") if lang == "zh" else None
    return f"{zh}（{detail}）" if zh and detail else zh or detail


def check_detail(check: Check, lang: str) -> str:
    """A check's detail in the report's language, its code explained in Chinese."""
    return explain(check.sub_indication, check.said(lang), lang)


def reason(report: Report, lang: str) -> str:
    """Why the verdict is what it is, in the report's language."""
    if lang != "zh":
        return report.reason
    f = report.filing
    if report.verdict is Verdict.PASSED and f is not None:
        name = kind_name(f.kind, lang)
        what = f"为已备案{name}合同的变更" if f.event == "changed" else f"{name}合同已备案"
        if f.checked_by == "status":
            unchecked = (
                f"；经日志的状态证明，截至 {people_time(f.checked_at, lang)}"
                f"（日志树大小 {f.checked_up_to}）备案仍有效"
            )
        elif f.later_checked:
            unchecked = (
                f"；截至 {people_time(f.checked_at, lang)}（日志树大小 {f.checked_up_to}）未见注销"
            )
        else:
            unchecked = "；备案后是否注销或变更未核查（未提供日志数据）"
        expired = [e for e in f.later_events if e.event == "expired"]
        if expired:
            unchecked += (
                f"；租赁期限届满，已于 {people_time(expired[0].at, lang)} 期满终止"
                f"（日志第 {expired[0].index} 条）"
            )
        registered = [e for e in f.later_events if e.event == "registered"]
        if registered:
            e = registered[0]
            unchecked += (
                f"；已于 {people_time(e.at, lang)} 办理{registration_name(f.kind, lang)}"
                f"（日志第 {e.index} 条），备案有效且已登记"
            )
        return f"{what}，备案号 {f.filing}，日志第 {f.index} 条{unchecked}"
    cancelled = [e for e in f.later_events if e.event == "cancelled"] if f is not None else []
    if report.verdict is Verdict.CANCELLED and cancelled:
        e = cancelled[0]
        how = _BASIS_ZH.get(e.basis or "", "")
        document = _BASIS_DOCUMENT_ZH.get(e.basis or "", "文件")
        hashed = f"（{document} SHA-256 {e.document_sha256}）" if e.document_sha256 else ""
        return f"已于 {people_time(e.at, lang)} {how}注销，见日志第 {e.index} 条{hashed}"
    wanted = {
        Verdict.MISMATCH: (Indication.FAILED,),
        Verdict.NOT_FILED: (Indication.FAILED,),  # the receipt check saying NOT_IN_LOG
        Verdict.FAILED: (Indication.FAILED,),
        Verdict.INDETERMINATE: (Indication.INDETERMINATE,),
    }.get(report.verdict, ())
    culprit = next(
        (
            c
            for c in report.checks
            if c.indication in wanted
            and (report.verdict is not Verdict.MISMATCH or c.sub_indication == "HASH_MISMATCH")
            and (report.verdict is not Verdict.NOT_FILED or c.sub_indication == "NOT_IN_LOG")
        ),
        None,
    )
    if culprit is None:  # nothing was learnt, and no check says why: never a pass
        return "回执无法核验，不能得出结论"
    return f"{check_name(culprit.name, lang)}：{check_detail(culprit, lang)}"


def status_note(f: FilingFacts, lang: str) -> str:
    """What a status proof showed, and what it does not show, in the report's language."""
    latest = f.later_events[-1] if f.later_events else None
    index, event = (latest.index, latest.event) if latest else (f.index, f.event)
    when = people_time(f.checked_at, lang)
    if lang == "zh":
        return (
            f"备案状态由日志的状态证明确认：截至 {when}（日志树大小 {f.checked_up_to}），"
            f"日志运营方在经见证人联署的检查点中承诺，该备案的最新事件为日志第 {index} 条"
            f"（{event_name(event, lang)}）。此后记入日志的事件在此看不到；状态表是否由"
            "每条日志如实算出，由审计方重放日志核查（wangqian log audit）"
        )
    return (
        f"the filing's status was proven by the log's status proof as of tree size "
        f"{f.checked_up_to}, witnessed at {when}: the log's operator committed, in a checkpoint "
        f"the witnesses cosigned, that the filing's latest event then was log entry {index} "
        f"({event}). Anything logged after that is not seen here; whether the status map was "
        "computed honestly from every entry is for auditors who replay the log "
        "(wangqian log audit)"
    )


def notes(report: Report, lang: str) -> tuple[str, ...]:
    """The report's notes in the report's language."""
    return tuple(n.said(lang) for n in report.notes)


def check_name(name: str, lang: str) -> str:
    """A check's name for people: in Chinese, a signature's field named for its party."""
    if lang != "zh":
        return name
    base, _, field = name.partition(":")
    zh = CHECK_NAMES_ZH.get(base)
    if zh is None:
        return name
    return f"{zh}（{field_label(field, lang)}）" if field else zh


def _t(key: str, lang: str) -> str:
    zh, en = _LABELS[key]
    return zh if lang == "zh" else en


def verdict_words(verdict: Verdict, lang: str) -> str:
    zh, en = VERDICT_WORDS[verdict]
    return f"{zh} {verdict.value}" if lang == "zh" else en


# People read the city's time, UTC+8 all year; the JSON report keeps UTC.
_BEIJING = dt.timezone(dt.timedelta(hours=8))


def people_time(moment: dt.datetime | None, lang: str = "zh") -> str:
    """A moment for people to read: Beijing time, to the second."""
    if moment is None:
        return "—"
    label = "北京时间" if lang == "zh" else "UTC+8"
    return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S ") + label


# What the log's kinds are called (docs/formats.md, entry ``kind``).
KIND_NAMES = {
    "new-home": ("新建商品房买卖", "new-home sale"),
    "resale": ("存量房买卖", "resale"),
    "lease": ("房屋租赁", "lease"),
}


def kind_name(kind: str, lang: str) -> str:
    zh, en = KIND_NAMES.get(kind, (kind, kind))
    return zh if lang == "zh" else en


def indication_words(indication: Indication, sub: str | None, lang: str) -> str:
    """An ETSI indication: in Chinese, 通过 / 未通过 / 无法确定 with the ETSI code after."""
    code = indication.value + (f" / {sub}" if sub else "")
    return f"{INDICATION_ZH[indication]} {code}" if lang == "zh" else code


def _signature_note(s: SignatureFinding, lang: str) -> str:
    """Why a signature did not pass, in the report's language."""
    if s.indication is Indication.PASSED:
        return ""
    return explain(s.sub_indication, s.message_zh if lang == "zh" else s.message, lang)


def _later_event(e: LaterEvent, lang: str) -> str:
    when = people_time(e.at, lang)
    if lang != "zh":
        return f"#{e.index} {e.event} {when}"
    basis = _BASIS_ZH.get(e.basis or "")
    document = f"文件 SHA-256 {e.document_sha256}" if e.document_sha256 else ""
    said = "，".join(w for w in (basis, document) if w)
    event = f"日志第 {e.index} 条 {event_name(e.event, lang)} {when}"
    return f"{event}（{said}）" if said else event


def _position(f: FilingFacts, lang: str) -> str:
    if lang == "zh":
        return f"第 {f.index} 条，日志树大小 {f.tree_size}"
    return f"#{f.index} / {f.tree_size}"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def to_text(report: Report, lang: str = "zh") -> str:
    zh = lang == "zh"
    size = f"（{report.document_size} 字节）" if zh else f" ({report.document_size} B)"
    lines = [
        f"{_t('verdict', lang)}: {verdict_words(report.verdict, lang)}",
        f"{_t('reason', lang)}: {reason(report, lang)}",
        f"{_t('document', lang)}: {'SHA-256' if zh else 'sha256'} {report.document_sha256}{size}",
    ]
    if report.filing is not None:
        f = report.filing
        witnesses = ", ".join(f.cosigners) or _t("none", lang)
        lines += [
            f"{_t('number', lang)}: {f.filing}  {_t('unit', lang)}: {f.unit}",
            f"{_t('kind', lang)}: {kind_name(f.kind, lang)}",
            f"{_t('filed_at', lang)}: {people_time(f.filed_at, lang)}",
            f"{_t('position', lang)}: {f.origin} {_position(f, lang)}"
            + (f"（见证人: {witnesses}）" if zh else f"  (Witnesses: {witnesses})"),
        ]
        for e in f.later_events:
            lines.append(f"{_t('later', lang)}: {_later_event(e, lang)}")
        if not f.later_checked:
            lines.append(f"{_t('later', lang)}: {_t('not_checked', lang)}")
    lines.append(f"{_t('signatures', lang)}:")
    for s in report.signatures:
        source = _t("timestamp" if s.time_from_timestamp else "claimed", lang)
        seal = f" [{_t('seal', lang)}]" if _seal_marked(s) else ""
        lines.append(
            f"  {field_label(s.field, lang)}{seal}: {signer_label(s, lang)}"
            f" — {indication_words(s.indication, s.sub_indication, lang)}"
            f" — {people_time(s.signing_time, lang)} ({source}) — {s.certificate_sha256[:16]}…"
        )
    lines.append(f"{_t('checks', lang)}:")
    for c in report.checks:
        label = check_name(c.name, lang)
        lines.append(
            f"  [{indication_words(c.indication, c.sub_indication, lang)}] {label}: "
            f"{check_detail(c, lang)}"
        )
    for note in notes(report, lang):
        lines.append(f"{_t('notes', lang)}: {note}")
    return "\n".join(lines) + "\n"


def _seal_marked(s: SignatureFinding) -> bool:
    """Mark the filing seal's certificate where its field's name does not already say so."""
    return s.is_filing_seal and s.field != "filing-seal"


_CSS = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#111}
h1{font-size:1.4em}.verdict{font-size:1.6em;padding:.4em .6em;border-radius:4px;
display:inline-block}
.PASSED{background:#d7f5dd;color:#0a5a1c}.INDETERMINATE{background:#fff3c4;color:#6b5200}
.MISMATCH,.FAILED,.NOT_FILED,.CANCELLED{background:#fde0e0;color:#8a1010}
table{border-collapse:collapse;margin:.6em 0;width:100%}td,th{border:1px solid #bbb;
padding:.3em .5em;text-align:left;font-size:.9em;vertical-align:top}code{font-size:.85em;
word-break:break-all}.TOTAL-PASSED{color:#0a5a1c}.TOTAL-FAILED{color:#8a1010}
.INDETERMINATE-ind{color:#6b5200}@media print{body{margin:0}}
"""


def to_html(report: Report, lang: str = "zh") -> str:
    """A self-contained printable page (no scripts, no external resources)."""

    def row(*cells: str, head: bool = False, check: str = "") -> str:
        tag = "th" if head else "td"
        attr = f' data-check="{escape(check)}"' if check else ""
        return f"<tr{attr}>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"

    def ind(indication: Indication, sub: str | None) -> str:
        css = (
            indication.value if indication is not Indication.INDETERMINATE else "INDETERMINATE-ind"
        )
        return f'<span class="{css}">{escape(indication_words(indication, sub, lang))}</span>'

    parts = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{_t("title", lang)}</title>'
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_t('title', lang)}</h1>",
        f'<p class="verdict {report.verdict.value}" id="verdict">'
        f"{escape(verdict_words(report.verdict, lang))}</p>",
        f"<p>{_t('reason', lang)}: {escape(reason(report, lang))}</p><table>",
        row(_t("document", lang), f"<code>SHA-256 {report.document_sha256}</code>"),
        row(_t("size", lang), str(report.document_size)),
        row(_t("verified_at", lang), people_time(report.verified_at, lang)),
        "</table>",
    ]
    if report.filing is not None:
        f = report.filing
        parts += [
            f"<h2>{_t('filing', lang)}</h2><table>",
            row(_t("number", lang), escape(f.filing)),
            row(_t("unit", lang), f"<code>{escape(f.unit)}</code>"),
            row(_t("kind", lang), escape(kind_name(f.kind, lang))),
            row(_t("filed_at", lang), people_time(f.filed_at, lang)),
            row(_t("log", lang), escape(f.origin)),
            row(_t("position", lang), _position(f, lang)),
            row(_t("checkpoint", lang), f"<code>{escape(f.root_hash)}</code>"),
            row(_t("cosigners", lang), escape(", ".join(f.cosigners)) or _t("none", lang)),
        ]
        for e in f.later_events:
            parts.append(row(_t("later", lang), escape(_later_event(e, lang))))
        if not f.later_checked:
            parts.append(row(_t("later", lang), _t("not_checked", lang)))
        parts.append("</table>")
    parts.append(f"<h2>{_t('signatures', lang)}</h2><table>")
    parts.append(
        row(
            *(_t(k, lang) for k in ("field", "signer", "time", "fingerprint", "indication")),
            head=True,
        )
    )
    for s in report.signatures:
        source = _t("timestamp" if s.time_from_timestamp else "claimed", lang)
        seal = f" ({_t('seal', lang)})" if _seal_marked(s) else ""
        why = _signature_note(s, lang)
        parts.append(
            row(
                escape(field_label(s.field, lang) + seal),
                escape(signer_label(s, lang)),
                f"{people_time(s.signing_time, lang)}<br>{source}",
                f"<code>{s.certificate_sha256}</code>",
                ind(s.indication, s.sub_indication) + (f"<br>{escape(why)}" if why else ""),
            )
        )
    parts.append(f"</table><h2>{_t('checks', lang)}</h2><table>")
    for c in report.checks:
        parts.append(
            row(
                escape(check_name(c.name, lang)),
                ind(c.indication, c.sub_indication),
                escape(check_detail(c, lang)),
                check=c.name,
            )
        )
    parts.append("</table>")
    for note in notes(report, lang):
        parts.append(f"<p>{_t('notes', lang)}: {escape(note)}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
