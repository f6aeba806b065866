"""``verify``: the whole verification of one filed contract, and its verdict."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib

from ledger.merkle import inclusion_proof
from ledger.receipt import Receipt
from ledger.status_file import StatusFile
from verifier import fund_statement
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.later import (
    LaterCheckpoint,
    LogData,
    check_later_checkpoint,
    check_log_data,
    open_log_data,
    witnessed_log_data,
)
from verifier.models import (
    Check,
    FilingFacts,
    Indication,
    LaterEvent,
    Message,
    Report,
    SignatureFinding,
    Verdict,
)
from verifier.names import field_label, signer_label
from verifier.receipt import (
    SignedCheckpoint,
    check_inclusion,
    check_log_key_period,
    check_witnesses,
    open_checkpoint,
)
from verifier.reports import event_name, people_time, registration_name, status_note
from verifier.signatures import assess
from verifier.status import check_status
from verifier.trust import TrustBundle


def verify(
    pdf: bytes,
    trust: TrustBundle,
    receipt: Receipt | None = None,
    *,
    later: LaterCheckpoint | None = None,
    log_data: LogData | None = None,
    status: StatusFile | None = None,
    funds: tuple[tuple[bytes, str], ...] = (),
) -> Report:
    """Check ``pdf`` against its receipt and the bundle (DocumentUnreadable for bad input).

    ``funds``: the filing's fund events as an evidence package carries them (each the
    ``funds/<index>.json`` member and its receipt); each one proven is a note, each one
    that fails a FAILED check (a package does not carry a false statement for nothing).

    Without a receipt, the filing is looked up by the document's hash in ``log_data``;
    only complete, witnessed log data can show that a document was not filed. Whether
    the filing still stands is shown by ``log_data`` or by ``status``, not both (ValueError).
    """
    if status is not None and log_data is not None:
        raise ValueError("give a status proof or log data, not both")
    doc_sha256 = hashlib.sha256(pdf).hexdigest()
    assessment = assess(pdf, trust)
    signatures = assessment.signatures
    checks = [_signature_check(s) for s in signatures]
    checks.extend(assessment.checks)
    checks.append(_filing_seal_check(signatures, trust))
    notes: list[Message] = []
    facts = None
    if receipt is None:
        receipt = _receipt_from_log_data(doc_sha256, trust, signatures, log_data, checks)
        if receipt is not None:
            notes.append(
                Message(
                    f"no receipt was given: log entry {receipt.index} was found by the "
                    "document's hash and its inclusion proof computed from the log data",
                    f"未提供回执：按文件的哈希在日志数据中找到日志第 {receipt.index} 条，"
                    "其包含证明由日志数据算出",
                )
            )
    if receipt is not None:
        facts = _log_checks(receipt, trust, doc_sha256, signatures, checks, later, log_data, status)
    if facts is not None and not facts.later_checked:
        notes.append(
            Message(
                "whether the filing was cancelled or changed after it was filed was not checked: "
                "no log data was given (--log-data, or an evidence package)",
                "备案后是否被注销或变更未核查：未提供日志数据、状态证明或证据包",
            )
        )
    if facts is not None and facts.checked_by == "status":
        notes.append(Message(status_note(facts, "en"), status_note(facts, "zh")))
    elif facts is not None and facts.later_checked and status is None:
        when = facts.checked_at.isoformat() if facts.checked_at else "an unknown time"
        notes.append(
            Message(
                f"the log was checked up to tree size {facts.checked_up_to}, as witnessed at "
                f"{when}: a cancellation logged after that is not seen here",
                f"日志核查至日志树大小 {facts.checked_up_to}（见证于 "
                f"{people_time(facts.checked_at)}）：此后记入日志的注销在此看不到",
            )
        )
    if facts is not None and any(e.event == "changed" for e in facts.later_events):
        notes.append(
            Message(
                "the filing was changed later; the change is a separate log entry",
                "该备案后来有变更；变更是另一条日志记录",
            )
        )
    if funds and facts is not None and facts.event == "filed":
        for member, receipt_text in funds:
            found = fund_statement.check_evidence(
                member, receipt_text, trust, facts.filing, facts.index
            )
            if found.passed:
                notes.append(fund_note(found))
            else:
                checks.append(
                    Check(
                        f"fund-event:{found.index}",
                        Indication.FAILED,
                        found.detail,
                        "FUND",
                        detail_zh=f"日志第 {found.index} 条的资金监管记录不成立：{found.detail}",
                    )
                )
    verdict, reason = _verdict(checks, facts)
    return Report(
        verdict=verdict,
        reason=reason,
        document_sha256=doc_sha256,
        document_size=len(pdf),
        signatures=signatures,
        checks=tuple(checks),
        filing=facts,
        verified_at=_now(),
        notes=tuple(notes),
    )


def fund_note(found: fund_statement.FundFinding) -> Message:
    """A proven fund event, for people: kind and amount in yuan, Beijing time."""
    label = {
        "deposit": "监管资金存入",
        "release": "监管资金拨付",
        "refund": "监管资金退还",
        "maintenance-deposit": "住宅专项维修资金存入",
        "maintenance-refund": "住宅专项维修资金退还",
    }
    whole, cents = divmod(found.amount_fen, 100)
    record = "维修资金记录" if found.kind.startswith("maintenance-") else "资金监管记录"
    return Message(
        f"fund event proven (log entry {found.index}): {found.kind} {whole}.{cents:02d} yuan "
        f"({found.amount_fen} fen), {found.bank}, booked {people_time(found.at, 'en')}; "
        "signed by the bank, included in the log",
        f"{record}已证明（日志第 {found.index} 条）：{label[found.kind]} "
        f"{whole:,}.{cents:02d} 元，{found.bank}，记账时间 {people_time(found.at, 'zh')}；"
        "由银行签署，已记入日志",
    )


def without_trust_anchor(pdf: bytes, why: Message, sub: str) -> Report:
    """INDETERMINATE: there is no trust bundle the user vouched for, so nothing can be checked."""
    check = Check("trust-bundle", Indication.INDETERMINATE, why.en, sub, detail_zh=why.zh)
    return Report(
        verdict=Verdict.INDETERMINATE,
        reason=f"{check.name}: {why.en}",
        document_sha256=hashlib.sha256(pdf).hexdigest(),
        document_size=len(pdf),
        signatures=(),
        checks=(check,),
        filing=None,
        verified_at=_now(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _receipt_from_log_data(
    doc_sha256: str,
    trust: TrustBundle,
    signatures: tuple[SignatureFinding, ...],
    log_data: LogData | None,
    checks: list[Check],
) -> Receipt | None:
    """The receipt the log data proves for this document, if it holds one.

    Appends the ``receipt`` check: PASSED when found, FAILED ``NOT_IN_LOG`` when
    complete, witnessed log data holds no filing of the document, else INDETERMINATE.
    """
    if log_data is None:
        checks.append(
            Check(
                "receipt",
                Indication.INDETERMINATE,
                "no receipt and no log data: nothing shows whether this document was filed",
                "NO_RECEIPT",
                detail_zh="未提供回执，也未提供日志数据",
            )
        )
        return None
    signed = open_log_data(log_data, trust, _seal_time(signatures))
    witnessed = signed if isinstance(signed, Check) else witnessed_log_data(signed, trust)
    if isinstance(signed, Check) or not witnessed.passed:
        checks.append(
            Check(
                "receipt",
                Indication.INDETERMINATE,
                "no receipt, and the log data cannot show whether this document was filed",
                "NO_RECEIPT",
                detail_zh="未提供回执，所给的日志数据又不可用",
            )
        )
        checks.append(witnessed)
        return None
    size = signed.checkpoint.size
    sealed, seen = _seal_time(signatures), signed.cosigned_at
    if sealed is not None and seen is not None and seen < sealed:
        # A log copied before the document was sealed cannot show that it was never filed.
        checks.append(
            Check(
                "receipt",
                Indication.INDETERMINATE,
                f"no receipt, and the log data (witnessed by {seen.isoformat()}) is older than "
                f"the document's filing seal ({sealed.isoformat()})",
                "LOG_DATA_TOO_OLD",
                detail_zh=f"未提供回执，且日志数据（见证于 {people_time(seen)}）早于文件加盖"
                f"备案专用章的时间（{people_time(sealed)}）",
            )
        )
        return None
    for index, data in enumerate(log_data.entries):
        try:
            entry = LoggedEntry.read(data)
        except EntryUnreadable:
            continue  # other kinds of entries (e.g. access-log digests) file no document
        if entry.doc_sha256 == doc_sha256 and entry.event in ("filed", "changed"):
            checks.append(
                Check(
                    "receipt",
                    Indication.PASSED,
                    f"no receipt given: log entry {index} of the witnessed log data "
                    f"(tree size {size}) files this document",
                    detail_zh=f"未提供回执：经见证的日志数据（日志树大小 {size}）第 {index} 条"
                    "即该文件的备案记录",
                )
            )
            proof = tuple(inclusion_proof(log_data.leaves, index, size))
            return Receipt(index, proof, log_data.checkpoint_note, data)
    checks.append(
        Check(
            "receipt",
            Indication.FAILED,
            f"no receipt, and the complete, witnessed log up to tree size {size} holds no "
            "filing of this document",
            "NOT_IN_LOG",
            detail_zh=f"未提供回执；日志核查至日志树大小 {size}",
        )
    )
    return None


def _signature_check(s: SignatureFinding) -> Check:
    who = f"{s.field} ({s.signer})" if s.signer else s.field
    detail = f"{who}: {s.message}" if s.message else f"{who}: valid"
    signer = signer_label(s, "zh")
    if s.indication is Indication.PASSED:
        zh = f"{signer} 的签名有效"
    else:
        zh = f"签署人：{signer}" + (f"；{s.message_zh}" if s.message_zh else "")
    return Check(f"signature:{s.field}", s.indication, detail, s.sub_indication, detail_zh=zh)


def _filing_seal_check(signatures: tuple[SignatureFinding, ...], trust: TrustBundle) -> Check:
    if not trust.filing_seals:
        return Check(
            "filing-seal",
            Indication.INDETERMINATE,
            "the trust bundle names no filing seal certificate",
            "NO_FILING_SEAL_IN_BUNDLE",
            detail_zh="信任包中未列出备案专用章的证书",
        )
    if not signatures or not signatures[-1].is_filing_seal:
        seal_elsewhere = any(s.is_filing_seal for s in signatures)
        return Check(
            "filing-seal",
            Indication.FAILED,
            "a signature follows the platform's filing seal"
            if seal_elsewhere
            else "the document carries no filing seal of the platform",
            "SEAL_NOT_LAST" if seal_elsewhere else "NO_FILING_SEAL",
            detail_zh=f"平台的备案专用章之后还有“{field_label(signatures[-1].field, 'zh')}”的签名"
            if seal_elsewhere
            else "文件上没有平台的备案专用章",
        )
    return Check(
        "filing-seal",
        Indication.PASSED,
        "the platform's filing seal is the last signature",
        detail_zh="平台的备案专用章是最后一个签名",
    )


def _seal_time(signatures: tuple[SignatureFinding, ...]) -> dt.datetime | None:
    sealed = [s for s in signatures if s.is_filing_seal and s.time_from_timestamp]
    return sealed[-1].signing_time if sealed else None


def _log_checks(
    receipt: Receipt,
    trust: TrustBundle,
    doc_sha256: str,
    signatures: tuple[SignatureFinding, ...],
    checks: list[Check],
    later: LaterCheckpoint | None,
    log_data: LogData | None,
    status: StatusFile | None = None,
) -> FilingFacts | None:
    if receipt.extra is None:
        checks.append(
            Check(
                "entry",
                Indication.INDETERMINATE,
                "the receipt carries no entry",
                "NO_ENTRY",
                detail_zh="回执中没有日志条目",
            )
        )
        return None
    try:
        entry = LoggedEntry.read(receipt.extra)
    except EntryUnreadable as exc:
        checks.append(
            Check(
                "entry",
                Indication.FAILED,
                str(exc),
                "FORMAT_FAILURE",
                detail_zh="回执中的日志条目无法读取",
            )
        )
        return None
    if entry.doc_sha256 != doc_sha256:
        checks.append(
            Check(
                "document-hash",
                Indication.FAILED,
                f"the receipt's entry is for document {entry.doc_sha256[:16]}…, "
                f"this document is {doc_sha256[:16]}…",
                "HASH_MISMATCH",
                detail_zh=f"回执的日志条目记录的文件为 {entry.doc_sha256[:16]}…，"
                f"本文件为 {doc_sha256[:16]}…",
            )
        )
    else:
        checks.append(
            Check(
                "document-hash",
                Indication.PASSED,
                "the receipt's entry names this document",
                detail_zh="回执的日志条目记录的正是本文件",
            )
        )
    if entry.event not in ("filed", "changed"):
        checks.append(
            Check(
                "entry",
                Indication.FAILED,
                f"the receipt is for a {entry.event} event, not a filed document",
                "NOT_A_FILING",
                detail_zh=f"回执记录的是{event_name(entry.event, 'zh')}事件，不是备案的文件",
            )
        )
    signed = open_checkpoint(receipt.checkpoint, trust)
    if isinstance(signed, Check):
        checks.append(signed)
        return None
    moment = signed.cosigned_at or _seal_time(signatures) or entry.at
    checks.append(check_log_key_period(signed, trust, moment))
    checks.append(check_witnesses(signed, trust))
    inclusion = check_inclusion(receipt, receipt.extra, signed.checkpoint)
    checks.append(inclusion)
    if not inclusion.passed:
        return None
    checked_up_to = signed.checkpoint.size
    checked_at = signed.cosigned_at
    checked_by: str | None = None
    later_events: tuple[LaterEvent, ...] = ()
    if later is not None:
        found_later, newer = check_later_checkpoint(signed, later, trust, moment)
        checks.extend(found_later)
        if newer is not None:
            checked_up_to = max(checked_up_to, newer.checkpoint.size)
    if log_data is not None:
        # A change agreement stands or falls with the filing it changes.
        refs = {receipt.index} | ({entry.ref} if entry.ref is not None else set())
        found, newer, later_events = check_log_data(
            signed, receipt.index, refs, log_data, trust, moment
        )
        checks.extend(found)
        if newer is not None:
            # What was read, no further: a later checkpoint shows the log grew, not what by.
            checked_by = "log-data"
            checked_up_to, checked_at = newer.checkpoint.size, newer.cosigned_at
    if status is not None:
        shown = check_status(signed, receipt.index, entry, status, trust, moment, later)
        checks.extend(shown.checks)
        if shown.signed is not None:
            # As of the status checkpoint exactly: what it proves, no further (a later
            # checkpoint shows the log grew, not what it grew by).
            checked_by, later_events = "status", shown.events
            checked_up_to, checked_at = shown.signed.checkpoint.size, shown.signed.cosigned_at
    checked = log_data is not None or status is not None
    facts = _facts(entry, receipt, signed, checked_up_to, later_events, checked)
    return dataclasses.replace(facts, checked_at=checked_at, checked_by=checked_by)


def _facts(
    entry: LoggedEntry,
    receipt: Receipt,
    signed: SignedCheckpoint,
    checked_up_to: int,
    later_events: tuple[LaterEvent, ...],
    later_checked: bool,
) -> FilingFacts:
    cp = signed.checkpoint
    return FilingFacts(
        filing=entry.filing,
        event=entry.event,
        unit=entry.unit,
        filed_at=entry.at,
        doc_sha256=entry.doc_sha256,
        origin=cp.origin,
        index=receipt.index,
        tree_size=cp.size,
        root_hash=base64.b64encode(cp.root_hash).decode(),
        log_keys=tuple(s.verifier.name for s in signed.log_signatures),
        cosigners=tuple(s.verifier.name for s in signed.witnesses),
        checked_up_to=checked_up_to,
        later_events=later_events,
        later_checked=later_checked,
        kind=entry.kind,
    )


def _verdict(checks: list[Check], facts: FilingFacts | None) -> tuple[Verdict, str]:
    def first(indication: Indication) -> Check | None:
        return next((c for c in checks if c.indication is indication), None)

    mismatch = next((c for c in checks if c.sub_indication == "HASH_MISMATCH"), None)
    if mismatch is not None:
        return Verdict.MISMATCH, mismatch.detail
    not_filed = next((c for c in checks if c.sub_indication == "NOT_IN_LOG"), None)
    if not_filed is not None:
        return Verdict.NOT_FILED, not_filed.detail
    failed = first(Indication.FAILED)
    if failed is not None:
        return Verdict.FAILED, f"{failed.name}: {failed.detail}"
    unsure = first(Indication.INDETERMINATE)
    if unsure is not None:
        return Verdict.INDETERMINATE, f"{unsure.name}: {unsure.detail}"
    if facts is None:  # every check passed yet nothing was learnt: cannot happen, but never PASS it
        return Verdict.INDETERMINATE, "the receipt could not be checked"
    cancelled = [e for e in facts.later_events if e.event == "cancelled"]
    if cancelled:
        e = cancelled[0]
        how = {
            "agreement": f" by an agreement every party signed (document {e.document_sha256})",
            "judgment": f" by a judgment or decision (document {e.document_sha256})",
        }.get(e.basis or "", "")
        return Verdict.CANCELLED, f"cancelled{how} by log entry {e.index} at {e.at.isoformat()}"
    proven = (
        f"; in force as of tree size {facts.checked_up_to} by the log's status proof, "
        f"witnessed at {people_time(facts.checked_at, 'en')}"
        if facts.checked_by == "status"
        else ""
    )
    registered = [e for e in facts.later_events if e.event == "registered"]
    done = (
        f"; registered ({registration_name(facts.kind, 'en')}) by log entry "
        f"{registered[0].index} at {registered[0].at.isoformat()}"
        if registered  # in force and completed: a registration never ends a filing
        else ""
    )
    expired = [e for e in facts.later_events if e.event == "expired"]
    if expired:  # a lease in force until its term ran out: the document is the filed one
        done += (
            f"; the lease's term ran out (期满终止): not in force since log entry "
            f"{expired[0].index} at {expired[0].at.isoformat()}"
        )
    if facts.event == "changed":
        return (
            Verdict.PASSED,
            f"a change to filing {facts.filing}, log entry {facts.index}{proven}{done}",
        )
    seen = proven or (
        f"; no cancellation in the log up to tree size {facts.checked_up_to}"
        if facts.later_checked
        else ""
    )
    seen += done
    return Verdict.PASSED, f"filed as {facts.filing}, log entry {facts.index}{seen}"
