"""What happened after the receipt: a later checkpoint, or a copy of the log's data.

A later checkpoint file is the body a log sends a witness (C2SP tlog-witness):

    old <the receipt's tree size>
    <consistency proof hashes, base64, one per line>
    <blank line>
    <the later signed checkpoint>

or just the signed checkpoint when its size equals the receipt's. Log data is a
directory in the C2SP tlog-tiles layout (``checkpoint``, ``tile/entries/...``), as
``wangqian log export`` writes it or a mirror keeps it.

Later evidence meets the policy a receipt meets (a log key in service, the bundle's
witness threshold, counted by key) and must extend the receipt's tree; otherwise it
is INDETERMINATE and contributes nothing. Whoever holds the log key alone could
otherwise sign a continuation of the log that leaves out a cancellation. Only a
split view (two trees the log signed that cannot both be true) is FAILED: the
log's signatures prove it, witnesses or not.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.add_checkpoint import MAX_BODY, MAX_PROOF_LINES
from ledger.canonical import NotCanonical, canonical_decimal, canonical_hash, check_plain_text
from ledger.merkle import ProofError, leaf_hash, root_hash, verify_consistency
from ledger.note import MAX_NOTE_SIZE
from ledger.receipt import MAX_ENTRY, checkpoint_size
from ledger.tiles import TILE_WIDTH, TileRef
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.models import Check, Indication, LaterEvent
from verifier.receipt import (
    SignedCheckpoint,
    check_log_key_period,
    check_witnesses,
    open_checkpoint,
)
from verifier.reports import people_time
from verifier.trust import TrustBundle

MAX_BUNDLE = TILE_WIDTH * (2 + MAX_ENTRY)  # a full entry bundle of the largest entries
LATER_CHECKPOINT = "later-checkpoint"
LOG_DATA = "log-data"

# The events of a filing after it (``ref``): a lease's expiry too (its term ran out).
_LATER = ("cancelled", "changed", "registered", "expired")


class LaterEvidenceUnreadable(ValueError):
    """A later checkpoint file or log data directory that cannot be read at all."""


@dataclass(frozen=True)
class LaterCheckpoint:
    old_size: int | None  # None: a bare checkpoint, no proof
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, text: str) -> LaterCheckpoint:
        """The add-checkpoint body or a bare signed checkpoint, in canonical form only."""
        try:
            return cls._parse(text)
        except NotCanonical as exc:
            raise LaterEvidenceUnreadable(f"later checkpoint: {exc}") from exc

    @classmethod
    def _parse(cls, text: str) -> LaterCheckpoint:
        if len(text) > MAX_BODY:
            raise LaterEvidenceUnreadable("later checkpoint file is too large")
        check_plain_text(text, "later checkpoint")
        if not text.startswith("old "):
            checkpoint_size(text)
            return cls(None, (), text)
        head, sep, note = text.partition("\n\n")
        if not sep or not head.isascii():
            raise LaterEvidenceUnreadable(
                "later checkpoint: ASCII 'old' and proof lines, then a blank line and a checkpoint"
            )
        first, *lines = head.split("\n")
        old = canonical_decimal(first[4:], "old size")
        if len(lines) > MAX_PROOF_LINES:
            raise LaterEvidenceUnreadable("later checkpoint: too many consistency proof lines")
        proof = tuple(canonical_hash(line, "consistency proof line") for line in lines)
        checkpoint_size(note)
        return cls(old, proof, note)


@dataclass(frozen=True)
class LogData:
    checkpoint_note: str
    entries: tuple[bytes, ...]

    @functools.cached_property
    def leaves(self) -> tuple[bytes, ...]:
        return tuple(leaf_hash(e) for e in self.entries)

    @functools.cached_property
    def root(self) -> bytes:
        return root_hash(self.leaves)

    @classmethod
    def read(cls, directory: Path) -> LogData:
        """From a directory in the tlog-tiles layout."""
        return cls.from_files(lambda name, limit: _read_file(directory / name, limit))

    @classmethod
    def from_files(cls, read: Callable[[str, int], bytes]) -> LogData:
        """From any store of tlog-tiles files: ``read(path, limit)`` gives a file's bytes,
        or raises OSError or KeyError when there is no such file, or it is over ``limit``."""
        try:
            note = read("checkpoint", MAX_NOTE_SIZE).decode("utf-8")
            size = checkpoint_size(note)
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            raise LaterEvidenceUnreadable(f"log data has no readable checkpoint: {exc}") from exc
        except NotCanonical as exc:
            raise LaterEvidenceUnreadable(f"log data checkpoint: {exc}") from exc
        entries: list[bytes] = []
        for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, size - n * TILE_WIDTH)
            path = TileRef(None, n, width).path
            try:
                data = read(path, MAX_BUNDLE)
            except (OSError, KeyError) as exc:
                raise LaterEvidenceUnreadable(f"log data is missing {path}: {exc}") from exc
            entries.extend(_split_bundle(data, width, path))
        return cls(note, tuple(entries))


def _read_file(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit} bytes")
    return data


def _split_bundle(data: bytes, width: int, path: str) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    while pos < len(data) and len(out) < width:
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length == 0:
            raise LaterEvidenceUnreadable(f"{path} holds an empty entry")
        out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    if len(out) != width or pos != len(data):
        raise LaterEvidenceUnreadable(f"the entry bundle {path} is truncated or too long")
    return out


def _not_trusted(name: str, found: Check) -> Check:
    return Check(
        name,
        Indication.INDETERMINATE,
        f"not usable, it proves nothing: {found.detail}",
        found.sub_indication,
        detail_zh=f"不能采用，不能作为任何证据：{found.detail_zh}",
    )


def _key_in_service(
    signed: SignedCheckpoint, trust: TrustBundle, not_before: dt.datetime | None
) -> Check:
    """The receipt's rule for its log key, for a checkpoint that is no older than ``not_before``.

    With a witness time the key must have been in service then. Without one, a key
    retired before ``not_before`` cannot have signed a checkpoint made after it.
    """
    moment = signed.cosigned_at
    if moment is not None:
        return check_log_key_period(signed, trust, moment)
    signers = {(s.verifier.name, s.verifier.key_id) for s in signed.log_signatures}
    if not_before is None or any(
        (k.verifier.name, k.verifier.key_id) in signers
        and (k.valid_until is None or k.valid_until >= not_before)
        for k in trust.log_keys
    ):
        return Check(
            "log-key-period",
            Indication.PASSED,
            "signed by a log key still in service",
            detail_zh="由仍在有效期内的日志密钥签署",
        )
    return Check(
        "log-key-period",
        Indication.FAILED,
        f"every key that signed it was retired before {not_before.isoformat()}",
        "LOG_KEY_NOT_VALID_THEN",
        detail_zh=f"签署它的日志密钥都已在 {people_time(not_before)} 之前停用",
    )


def signed_by_the_log(
    note: str, trust: TrustBundle, name: str, not_before: dt.datetime | None
) -> SignedCheckpoint | Check:
    """The checkpoint if a bundle log key in service signed it, else an INDETERMINATE check."""
    signed = open_checkpoint(note, trust)
    if isinstance(signed, Check):
        return _not_trusted(name, signed)
    period = _key_in_service(signed, trust, not_before)
    if not period.passed:
        return _not_trusted(name, period)
    return signed


def witnessed(
    signed: SignedCheckpoint, trust: TrustBundle, name: str, what: str, what_zh: str
) -> Check:
    """PASSED if ``signed`` meets the bundle's witness policy, else INDETERMINATE ``name``.

    ``what``, ``what_zh``: the checkpoint's name in the detail (the later checkpoint, ...).
    """
    check = check_witnesses(signed, trust)
    if not check.passed:
        return _not_trusted(name, check)
    size = signed.checkpoint.size
    return Check(
        name,
        Indication.PASSED,
        f"{what} (tree size {size}) is signed by the log and {check.detail}",
        detail_zh=f"{what_zh}（日志树大小 {size}）由日志签署，{check.detail_zh}",
    )


def _consistency(old: SignedCheckpoint, new: SignedCheckpoint, proof: tuple[bytes, ...]) -> Check:
    a, b = old.checkpoint, new.checkpoint
    try:
        verify_consistency(a.size, b.size, list(proof), a.root_hash, b.root_hash)
    except ProofError as exc:
        return _split_view(
            f"the log shows two different histories (split view): {exc}",
            f"一致性证明不能从回执的日志树 {a.size} 通向日志树 {b.size}",
        )
    return Check(
        "consistency",
        Indication.PASSED,
        f"tree {b.size} extends the receipt's tree {a.size}",
        detail_zh=f"日志树 {b.size} 延续了回执的日志树 {a.size}",
    )


def _split_view(detail: str, zh: str) -> Check:
    return Check("consistency", Indication.FAILED, detail, "SPLIT_VIEW", detail_zh=zh)


def _unsure(name: str, detail: str, sub: str, zh: str) -> Check:
    return Check(name, Indication.INDETERMINATE, detail, sub, detail_zh=zh)


def check_later_checkpoint(
    receipt_checkpoint: SignedCheckpoint,
    later: LaterCheckpoint,
    trust: TrustBundle,
    not_before: dt.datetime | None = None,
) -> tuple[list[Check], SignedCheckpoint | None]:
    """Checks, and the later checkpoint if it is witnessed and extends the receipt's tree.

    ``not_before``: when the receipt's checkpoint existed (the later one is no older).
    """
    signed = signed_by_the_log(later.note, trust, LATER_CHECKPOINT, not_before)
    if isinstance(signed, Check):
        return [signed], None
    old_size = receipt_checkpoint.checkpoint.size
    if signed.checkpoint.size < old_size:
        detail = f"the 'later' checkpoint ({signed.checkpoint.size}) is older than the receipt's"
        zh = f"所给的“后续”检查点（日志树大小 {signed.checkpoint.size}）比回执的更早"
        return [_unsure("consistency", detail, "NOT_LATER", zh)], None
    if signed.checkpoint.size > old_size and later.old_size != old_size:
        detail = f"no consistency proof from the receipt's tree size {old_size}"
        zh = f"没有从回执的日志树大小 {old_size} 起的一致性证明"
        return [_unsure("consistency", detail, "NO_CONSISTENCY_PROOF", zh)], None
    proof = later.proof if signed.checkpoint.size > old_size else ()
    consistency = _consistency(receipt_checkpoint, signed, proof)
    if not consistency.passed:
        return [consistency], None
    cosigned = witnessed(signed, trust, LATER_CHECKPOINT, "the later checkpoint", "后续检查点")
    if not cosigned.passed:
        return [cosigned], None
    return [cosigned, consistency], signed


def open_log_data(
    data: LogData, trust: TrustBundle, not_before: dt.datetime | None = None
) -> SignedCheckpoint | Check:
    """The log data's checkpoint if the log signed it and its entries are exactly its tree."""
    signed = signed_by_the_log(data.checkpoint_note, trust, LOG_DATA, not_before)
    if isinstance(signed, Check):
        return signed
    if len(data.entries) != signed.checkpoint.size or data.root != signed.checkpoint.root_hash:
        return _unsure(
            LOG_DATA,
            "the log data's entries do not hash to its signed checkpoint",
            "LOG_DATA_INCONSISTENT",
            "日志数据的条目算不出其签名检查点",
        )
    return signed


def witnessed_log_data(signed: SignedCheckpoint, trust: TrustBundle) -> Check:
    return witnessed(signed, trust, LOG_DATA, "the log data's checkpoint", "日志数据的检查点")


def check_log_data(
    receipt_checkpoint: SignedCheckpoint,
    index: int,
    refs: set[int],
    data: LogData,
    trust: TrustBundle,
    not_before: dt.datetime | None = None,
) -> tuple[list[Check], SignedCheckpoint | None, tuple[LaterEvent, ...]]:
    """Consistency with the log's data; cancellations or changes after ``index`` naming ``refs``.

    The events count only if the data is complete, witnessed and extends the receipt's tree.
    """
    signed = open_log_data(data, trust, not_before)
    if isinstance(signed, Check):
        return [signed], None, ()
    old = receipt_checkpoint.checkpoint
    if signed.checkpoint.size < old.size:
        detail = f"the log data ({signed.checkpoint.size}) is older than the receipt"
        zh = f"日志数据（日志树大小 {signed.checkpoint.size}）比回执更早"
        return [_unsure(LOG_DATA, detail, "NOT_LATER", zh)], None, ()
    if root_hash(data.leaves[: old.size]) != old.root_hash:
        detail = (
            f"the log's first {old.size} entries do not match the receipt's checkpoint (split view)"
        )
        zh = f"日志数据的前 {old.size} 条与回执的检查点不符"
        return [_split_view(detail, zh)], None, ()
    cosigned = witnessed_log_data(signed, trust)
    if not cosigned.passed:
        return [cosigned], None, ()
    events = []
    for i in range(index + 1, len(data.entries)):
        try:
            entry = LoggedEntry.read(data.entries[i])
        except EntryUnreadable:
            continue  # other kinds of entries (e.g. access-log digests) refer to no filing
        if entry.ref in refs and entry.event in _LATER:
            events.append(LaterEvent(i, entry.event, entry.at, entry.basis, entry.doc_sha256))
    checks = [
        cosigned,
        Check(
            "consistency",
            Indication.PASSED,
            f"the log data's tree {signed.checkpoint.size} extends the receipt's tree {old.size}",
            detail_zh=f"日志数据的日志树 {signed.checkpoint.size} 延续了回执的日志树 {old.size}",
        ),
        Check(
            "later-events",
            Indication.PASSED,
            f"{len(events)} later entries refer to this filing",
            detail_zh=f"其后有 {len(events)} 条日志记录涉及本备案",
        ),
    ]
    return checks, signed, tuple(events)
