"""What happened after the receipt: a later checkpoint, or a copy of the log's data.

A later checkpoint file is the body a log sends a witness (C2SP tlog-witness):

    old <the receipt's tree size>
    <consistency proof hashes, base64, one per line>
    <blank line>
    <the later signed checkpoint>

or just the signed checkpoint when its size equals the receipt's. Log data is a
directory in the C2SP tlog-tiles layout (``checkpoint``, ``tile/entries/...``), as
``wangqian log export`` writes it or a mirror keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.add_checkpoint import MAX_BODY, AddCheckpoint, AddCheckpointError
from ledger.merkle import ProofError, leaf_hash, root_hash, verify_consistency
from ledger.tiles import TILE_WIDTH, TileRef
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.models import Check, Indication, LaterEvent
from verifier.receipt import SignedCheckpoint, open_checkpoint
from verifier.trust import TrustBundle


class LaterEvidenceUnreadable(ValueError):
    """A later checkpoint file or log data directory that cannot be read at all."""


@dataclass(frozen=True)
class LaterCheckpoint:
    old_size: int | None  # None: a bare checkpoint, no proof
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, text: str) -> LaterCheckpoint:
        if not text.startswith("old "):
            if len(text) > MAX_BODY:
                raise LaterEvidenceUnreadable("later checkpoint file is too large")
            return cls(None, (), text)
        try:
            body = AddCheckpoint.parse(text)
        except AddCheckpointError as exc:
            raise LaterEvidenceUnreadable(f"later checkpoint: {exc}") from exc
        return cls(body.old_size, body.proof, body.note)


def _consistency(old: SignedCheckpoint, new: SignedCheckpoint, proof: tuple[bytes, ...]) -> Check:
    a, b = old.checkpoint, new.checkpoint
    try:
        verify_consistency(a.size, b.size, list(proof), a.root_hash, b.root_hash)
    except ProofError as exc:
        return Check(
            "consistency",
            Indication.FAILED,
            f"the log shows two different histories (split view): {exc}",
            "SPLIT_VIEW",
        )
    return Check(
        "consistency", Indication.PASSED, f"tree {b.size} extends the receipt's tree {a.size}"
    )


def check_later_checkpoint(
    receipt_checkpoint: SignedCheckpoint, later: LaterCheckpoint, trust: TrustBundle
) -> tuple[Check, SignedCheckpoint | None]:
    signed = open_checkpoint(later.note, trust)
    if isinstance(signed, Check):
        return Check("consistency", signed.indication, signed.detail, signed.sub_indication), None
    old_size = receipt_checkpoint.checkpoint.size
    if signed.checkpoint.size == old_size:
        return _consistency(receipt_checkpoint, signed, ()), signed
    if signed.checkpoint.size < old_size:
        return (
            Check(
                "consistency",
                Indication.INDETERMINATE,
                f"the 'later' checkpoint ({signed.checkpoint.size}) is older than the receipt's",
                "NOT_LATER",
            ),
            None,
        )
    if later.old_size != old_size:
        return (
            Check(
                "consistency",
                Indication.INDETERMINATE,
                f"no consistency proof from the receipt's tree size {old_size}",
                "NO_CONSISTENCY_PROOF",
            ),
            None,
        )
    check = _consistency(receipt_checkpoint, signed, later.proof)
    return check, signed if check.passed else None


@dataclass(frozen=True)
class LogData:
    checkpoint_note: str
    entries: tuple[bytes, ...]

    @classmethod
    def read(cls, directory: Path) -> LogData:
        """From a directory in the tlog-tiles layout."""
        return cls.from_files(lambda name: (directory / name).read_bytes())

    @classmethod
    def from_files(cls, read: Callable[[str], bytes]) -> LogData:
        """From any store of tlog-tiles files, ``read(path)`` giving a file's bytes."""
        try:
            note = read("checkpoint").decode("utf-8")
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            raise LaterEvidenceUnreadable(f"log data has no readable checkpoint: {exc}") from exc
        size_line = note.split("\n")[1] if note.count("\n") >= 2 else ""
        if not size_line.isdigit():
            raise LaterEvidenceUnreadable("log data checkpoint has no tree size")
        size = int(size_line)
        entries: list[bytes] = []
        for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, size - n * TILE_WIDTH)
            path = TileRef(None, n, width).path
            try:
                entries.extend(_split_bundle(read(path), width))
            except (OSError, KeyError) as exc:
                raise LaterEvidenceUnreadable(f"log data is missing {path}: {exc}") from exc
        return cls(note, tuple(entries))


def _split_bundle(data: bytes, width: int) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    while pos < len(data) and len(out) < width:
        length = int.from_bytes(data[pos : pos + 2], "big")
        out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    if len(out) != width or pos != len(data):
        raise LaterEvidenceUnreadable("an entry bundle is truncated or too long")
    return out


def check_log_data(
    receipt_checkpoint: SignedCheckpoint,
    index: int,
    refs: set[int],
    data: LogData,
    trust: TrustBundle,
) -> tuple[list[Check], SignedCheckpoint | None, tuple[LaterEvent, ...]]:
    """Consistency with the log's data; cancellations or changes after ``index`` naming ``refs``."""
    signed = open_checkpoint(data.checkpoint_note, trust)
    if isinstance(signed, Check):
        return (
            [Check("log-data", signed.indication, signed.detail, signed.sub_indication)],
            None,
            (),
        )
    leaves = [leaf_hash(e) for e in data.entries]
    if root_hash(leaves) != signed.checkpoint.root_hash:
        return (
            [
                Check(
                    "log-data",
                    Indication.INDETERMINATE,
                    "the log data's entries do not hash to its signed checkpoint",
                    "LOG_DATA_INCONSISTENT",
                )
            ],
            None,
            (),
        )
    old = receipt_checkpoint.checkpoint
    if signed.checkpoint.size < old.size:
        return (
            [
                Check(
                    "log-data",
                    Indication.INDETERMINATE,
                    f"the log data ({signed.checkpoint.size}) is older than the receipt",
                    "NOT_LATER",
                )
            ],
            None,
            (),
        )
    if root_hash(leaves[: old.size]) != old.root_hash:
        check = Check(
            "consistency",
            Indication.FAILED,
            f"the log's first {old.size} entries do not match the receipt's checkpoint "
            "(split view)",
            "SPLIT_VIEW",
        )
        return [check], None, ()
    events = []
    for i in range(index + 1, len(data.entries)):
        try:
            entry = LoggedEntry.read(data.entries[i])
        except EntryUnreadable:
            continue  # other kinds of entries (e.g. access-log digests) refer to no filing
        if entry.ref in refs and entry.event in ("cancelled", "changed"):
            events.append(LaterEvent(i, entry.event, entry.at))
    checks = [
        Check(
            "consistency",
            Indication.PASSED,
            f"the log data's tree {signed.checkpoint.size} extends the receipt's tree {old.size}",
        ),
        Check(
            "later-events",
            Indication.PASSED,
            f"{len(events)} later entries refer to this filing",
        ),
    ]
    return checks, signed, tuple(events)
