"""Is the filing still in force? A ``.tlog-status`` proof answers in O(log n), offline.

A status file proves, against the status map line of a checkpoint, the filing's latest
event as of that checkpoint's tree size (``ledger/status_file.py``). It counts under the
policy later evidence meets (``verifier/later.py``): a log key in service signed its
checkpoint, the bundle's witnesses cosigned it, and its tree extends the receipt's;
otherwise its check is INDETERMINATE and it contributes nothing. Witnesses cosign one
checkpoint text per tree size, so the map root they saw is the one everyone sees.

What the log signed and the witnesses cosigned, contradicting itself, is FAILED: a map or
inclusion proof that does not lead to the checkpoint, or a map that gives the filing no
event, or another filing's, while the receipt proves it was filed in that very tree.
Whether the map was computed honestly from every entry is not shown here: auditors
replay the log for that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledger.merkle import ProofError, verify_consistency
from ledger.status_file import StatusFile, StatusFileError, parse_checkpoint
from ledger.status_map import MapProofError, committed_root
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.later import LaterCheckpoint, signed_by_the_log, witnessed
from verifier.models import Check, Indication, LaterEvent
from verifier.receipt import SignedCheckpoint
from verifier.reports import event_name
from verifier.trust import TrustBundle

STATUS = "status"


@dataclass(frozen=True)
class StatusFinding:
    checks: tuple[Check, ...]
    signed: SignedCheckpoint | None = None  # the status checkpoint, when the status counts
    events: tuple[LaterEvent, ...] = ()  # its latest event, if a later cancellation or change


def check_status(
    receipt_checkpoint: SignedCheckpoint,
    receipt_index: int,
    entry: LoggedEntry,
    status: StatusFile,
    trust: TrustBundle,
    not_before: dt.datetime | None = None,
    later: LaterCheckpoint | None = None,
) -> StatusFinding:
    """What ``status`` proves about the filing of the receipt's ``entry``, at ``receipt_index``.

    ``later``: a later checkpoint given too, whose consistency proof serves if it is the
    status file's own checkpoint. ``not_before``: when the receipt's checkpoint existed.
    """
    if status.filing != entry.filing:
        # A true statement about another filing: nothing wrong with it, nothing about this one.
        detail = (
            f"the status file is for filing {status.filing}, not {entry.filing}: "
            "it shows nothing about this one"
        )
        zh = f"状态证明属于备案 {status.filing}，不是 {entry.filing}：不能说明本备案的状态"
        return StatusFinding((_unsure(STATUS, detail, "STATUS_OTHER_FILING", zh),))
    signed = signed_by_the_log(status.checkpoint, trust, STATUS, not_before)
    if isinstance(signed, Check):
        return StatusFinding((signed,))
    consistency = _consistency(receipt_checkpoint, signed, status, later)
    if not consistency.passed:
        return StatusFinding((consistency,))
    trusted = witnessed(signed, trust, STATUS, "the status checkpoint", "状态证明的检查点")
    if not trusted.passed:
        return StatusFinding((trusted,))
    found = _latest(signed, status, entry, receipt_index)
    if isinstance(found, Check):
        return StatusFinding((consistency, found))
    index, latest = found
    proven = Check(
        STATUS,
        Indication.PASSED,
        f"{trusted.detail}; its status proofs hold",
        detail_zh=f"{trusted.detail_zh}；其状态证明成立",
    )
    size = signed.checkpoint.size
    if index == receipt_index:
        detail = (
            f"as of tree size {size} the filing's latest event is the receipt's own entry "
            f"{index}: no later cancellation or change"
        )
        zh = (
            f"截至日志树大小 {size}，本备案的最新事件就是回执中的日志第 {index} 条："
            "其后没有注销或变更"
        )
        events: tuple[LaterEvent, ...] = ()
    else:
        detail = (
            f"as of tree size {size} the filing's latest event is entry {index}: {latest.event}"
        )
        zh = (
            f"截至日志树大小 {size}，本备案的最新事件为日志第 {index} 条："
            f"{event_name(latest.event, 'zh')}"
        )
        events = (LaterEvent(index, latest.event, latest.at, latest.basis, latest.doc_sha256),)
    seen = Check("later-events", Indication.PASSED, detail, detail_zh=zh)
    return StatusFinding((consistency, proven, seen), signed, events)


def _consistency(
    receipt: SignedCheckpoint,
    signed: SignedCheckpoint,
    status: StatusFile,
    later: LaterCheckpoint | None,
) -> Check:
    old, new = receipt.checkpoint, signed.checkpoint
    if new.size < old.size:
        detail = f"the status checkpoint ({new.size}) is older than the receipt's ({old.size})"
        zh = f"状态证明的检查点（日志树大小 {new.size}）比回执的（{old.size}）更早"
        return _unsure("consistency", detail, "NOT_LATER", zh)
    if new.size == old.size:
        proof: tuple[bytes, ...] = ()
    elif status.old_size == old.size:
        proof = status.consistency
    elif later is not None and later.old_size == old.size and _same(later.note, signed):
        proof = later.proof
    else:
        detail = (
            f"no consistency proof from the receipt's tree size {old.size} to the status "
            f"checkpoint's {new.size} (the status file's 'old {old.size}' lines, or "
            "--later-checkpoint with that checkpoint)"
        )
        zh = (
            f"没有从回执的日志树大小 {old.size} 到状态证明检查点的日志树大小 {new.size} 的"
            "一致性证明（状态文件可以自带，也可以随附以该检查点为准的后续检查点文件）"
        )
        return _unsure("consistency", detail, "NO_CONSISTENCY_PROOF", zh)
    try:
        verify_consistency(old.size, new.size, list(proof), old.root_hash, new.root_hash)
    except ProofError as exc:
        # Both trees are signed by the log key: that they cannot both be true needs no witness.
        return Check(
            "consistency",
            Indication.FAILED,
            f"the log shows two different histories (split view): {exc}",
            "SPLIT_VIEW",
            detail_zh=f"一致性证明不能从回执的日志树 {old.size} 通向状态证明的日志树 {new.size}",
        )
    return Check(
        "consistency",
        Indication.PASSED,
        f"the status checkpoint's tree {new.size} extends the receipt's tree {old.size}",
        detail_zh=f"状态证明的日志树 {new.size} 延续了回执的日志树 {old.size}",
    )


def _same(note: str, signed: SignedCheckpoint) -> bool:
    """Whether ``note`` signs the same checkpoint text (its cosignatures may differ)."""
    try:
        return parse_checkpoint(note) == signed.checkpoint
    except StatusFileError:
        return False


def _latest(
    signed: SignedCheckpoint, status: StatusFile, entry: LoggedEntry, receipt_index: int
) -> tuple[int, LoggedEntry] | Check:
    """The filing's latest event (log index, entry) as the status proves it, or the check
    that says why it does not count."""
    cp = signed.checkpoint
    try:
        if committed_root(cp) is None:
            detail = f"the status checkpoint (tree size {cp.size}) commits to no status map"
            zh = f"状态证明的检查点（日志树大小 {cp.size}）没有承诺备案状态表"
            return _unsure(STATUS, detail, "NO_STATUS_MAP", zh)
        leaf = status.check(cp)
    except (MapProofError, StatusFileError) as exc:
        return _failed(
            f"the status proof does not hold: {exc}",
            "STATUS_PROOF_FAILURE",
            f"状态证明不能通向日志树大小 {cp.size} 的检查点",
        )
    latest = status.latest
    if leaf is None or latest is None:
        return _failed(
            f"the log's status map says filing {status.filing} has no event as of tree size "
            f"{cp.size}, yet the receipt proves its entry {receipt_index} in that tree",
            "STATUS_MAP_INCONSISTENT",
            f"日志的备案状态表称，截至日志树大小 {cp.size} 备案 {status.filing} 没有任何事件，"
            f"而回执证明其日志第 {receipt_index} 条就在该日志树中",
        )
    try:
        event = LoggedEntry.read(latest.entry)
    except EntryUnreadable as exc:
        return _failed(
            f"the status map's latest event for the filing, entry {latest.index}, is not a "
            f"filing event: {exc}",
            "STATUS_MAP_INCONSISTENT",
            f"状态表给出的本备案最新事件（日志第 {latest.index} 条）不是备案事件",
        )
    wrong = _not_this_filing(event, latest.index, entry, receipt_index)
    if wrong is not None:
        en, zh = wrong
        return _failed(
            f"the status map contradicts the log: {en}",
            "STATUS_MAP_INCONSISTENT",
            f"状态表与日志矛盾：{zh}",
        )
    return latest.index, event


def _not_this_filing(
    event: LoggedEntry, index: int, entry: LoggedEntry, receipt_index: int
) -> tuple[str, str] | None:
    """Why ``event`` at ``index`` cannot be the latest event of the receipt's filing, if so
    (in English and in Chinese).

    The receipt's entry is itself an event of the filing in the status tree, so the latest
    is no older; and it belongs to the filing entered at ``filed`` (for a change agreement's
    receipt, the entry it refers to).
    """
    filed = receipt_index if entry.ref is None else entry.ref
    if event.filing != entry.filing:
        return (
            f"entry {index} is an event of filing {event.filing}, not {entry.filing}",
            f"日志第 {index} 条是备案 {event.filing} 的事件，不是 {entry.filing} 的",
        )
    if index < receipt_index:
        return (
            f"it gives entry {index}, older than the receipt's entry {receipt_index}",
            f"它给出的日志第 {index} 条早于回执中的第 {receipt_index} 条",
        )
    if event.ref is None and index != filed:
        return (
            f"entry {index} files {entry.filing} again (the receipt's filing is entry {filed})",
            f"日志第 {index} 条再次备案 {entry.filing}（回执中的备案为第 {filed} 条）",
        )
    if event.ref is not None and event.ref != filed:
        return (
            f"entry {index} refers to entry {event.ref}, not to the filing's entry {filed}",
            f"日志第 {index} 条指向第 {event.ref} 条，而不是本备案的第 {filed} 条",
        )
    return None


def _unsure(name: str, detail: str, sub: str, zh: str) -> Check:
    return Check(name, Indication.INDETERMINATE, detail, sub, detail_zh=zh)


def _failed(detail: str, sub: str, zh: str) -> Check:
    return Check(STATUS, Indication.FAILED, detail, sub, detail_zh=zh)
