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
        return StatusFinding((_unsure(STATUS, detail, "STATUS_OTHER_FILING"),))
    signed = signed_by_the_log(status.checkpoint, trust, STATUS, not_before)
    if isinstance(signed, Check):
        return StatusFinding((signed,))
    consistency = _consistency(receipt_checkpoint, signed, status, later)
    if not consistency.passed:
        return StatusFinding((consistency,))
    trusted = witnessed(signed, trust, STATUS, "the status checkpoint")
    if not trusted.passed:
        return StatusFinding((trusted,))
    found = _latest(signed, status, entry, receipt_index)
    if isinstance(found, Check):
        return StatusFinding((consistency, found))
    index, latest = found
    proven = Check(STATUS, Indication.PASSED, f"{trusted.detail}; its status proofs hold")
    size = signed.checkpoint.size
    if index == receipt_index:
        detail = (
            f"as of tree size {size} the filing's latest event is the receipt's own entry "
            f"{index}: no later cancellation or change"
        )
        events: tuple[LaterEvent, ...] = ()
    else:
        detail = (
            f"as of tree size {size} the filing's latest event is entry {index}: {latest.event}"
        )
        events = (LaterEvent(index, latest.event, latest.at, latest.basis, latest.doc_sha256),)
    seen = Check("later-events", Indication.PASSED, detail)
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
        return _unsure("consistency", detail, "NOT_LATER")
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
        return _unsure("consistency", detail, "NO_CONSISTENCY_PROOF")
    try:
        verify_consistency(old.size, new.size, list(proof), old.root_hash, new.root_hash)
    except ProofError as exc:
        # Both trees are signed by the log key: that they cannot both be true needs no witness.
        return Check(
            "consistency",
            Indication.FAILED,
            f"the log shows two different histories (split view): {exc}",
            "SPLIT_VIEW",
        )
    return Check(
        "consistency",
        Indication.PASSED,
        f"the status checkpoint's tree {new.size} extends the receipt's tree {old.size}",
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
            return _unsure(STATUS, detail, "NO_STATUS_MAP")
        leaf = status.check(cp)
    except (MapProofError, StatusFileError) as exc:
        return _failed(f"the status proof does not hold: {exc}", "STATUS_PROOF_FAILURE")
    latest = status.latest
    if leaf is None or latest is None:
        return _failed(
            f"the log's status map says filing {status.filing} has no event as of tree size "
            f"{cp.size}, yet the receipt proves its entry {receipt_index} in that tree",
            "STATUS_MAP_INCONSISTENT",
        )
    try:
        event = LoggedEntry.read(latest.entry)
    except EntryUnreadable as exc:
        return _failed(
            f"the status map's latest event for the filing, entry {latest.index}, is not a "
            f"filing event: {exc}",
            "STATUS_MAP_INCONSISTENT",
        )
    wrong = _not_this_filing(event, latest.index, entry, receipt_index)
    if wrong is not None:
        return _failed(f"the status map contradicts the log: {wrong}", "STATUS_MAP_INCONSISTENT")
    return latest.index, event


def _not_this_filing(
    event: LoggedEntry, index: int, entry: LoggedEntry, receipt_index: int
) -> str | None:
    """Why ``event`` at ``index`` cannot be the latest event of the receipt's filing, if so.

    The receipt's entry is itself an event of the filing in the status tree, so the latest
    is no older; and it belongs to the filing entered at ``filed`` (for a change agreement's
    receipt, the entry it refers to).
    """
    filed = receipt_index if entry.ref is None else entry.ref
    if event.filing != entry.filing:
        return f"entry {index} is an event of filing {event.filing}, not {entry.filing}"
    if index < receipt_index:
        return f"it gives entry {index}, older than the receipt's entry {receipt_index}"
    if event.ref is None and index != filed:
        return f"entry {index} files {entry.filing} again (the receipt's filing is entry {filed})"
    if event.ref is not None and event.ref != filed:
        return f"entry {index} refers to entry {event.ref}, not to the filing's entry {filed}"
    return None


def _unsure(name: str, detail: str, sub: str) -> Check:
    return Check(name, Indication.INDETERMINATE, detail, sub)


def _failed(detail: str, sub: str) -> Check:
    return Check(STATUS, Indication.FAILED, detail, sub)
