"""``.tlog-status``: proof of a filing's latest event as of a cosigned checkpoint.

    wangqian.cn/tlog-status@v1
    filing <filing number>
    entry <log index> <base64 entry>     or: absent
    log <base64 hash>                    the entry's inclusion proof (0..63 lines)
    map <base64 hash> | map -            the map proof's siblings, root first ("-": empty)
    other <base64 leaf>                  only after "absent": the leaf where the path ends
    old <tree size>                      optional: a consistency proof from that size
    consistency <base64 hash>            (0..63 lines)
    <blank line>
    <the cosigned checkpoint, whose status map line the map proof leads to>

Strict like receipts: one canonical text per proof (``ledger/canonical.py``). Checking
one here is pure arithmetic; who signed the checkpoint is the verifier's business.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ledger.canonical import (
    NotCanonical,
    canonical_base64,
    canonical_decimal,
    canonical_hash,
    check_plain_text,
)
from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from ledger.note import MAX_NOTE_SIZE
from ledger.receipt import MAX_ENTRY, MAX_PROOF_HASHES, checkpoint_size
from ledger.status_map import (
    EMPTY,
    KEY_BITS,
    MapLeaf,
    MapProof,
    MapProofError,
    committed_root,
    key_for,
)

HEADER = "wangqian.cn/tlog-status@v1"
MAX_STATUS = MAX_NOTE_SIZE + 160 * 1024
_NAME = re.compile(r"[\x21-\x7e]{1,64}")


class StatusFileError(ValueError):
    """A status file that is malformed, or whose proofs do not hold."""


@dataclass(frozen=True)
class LatestEvent:
    index: int
    entry: bytes
    log_proof: tuple[bytes, ...]


@dataclass(frozen=True)
class StatusFile:
    filing: str
    latest: LatestEvent | None  # None: the map proves the filing has no event
    map_proof: MapProof
    checkpoint: str  # the signed, cosigned note
    old_size: int | None = None
    consistency: tuple[bytes, ...] = ()

    @property
    def key(self) -> bytes:
        return key_for(self.filing)

    def to_text(self) -> str:
        lines = [HEADER, f"filing {self.filing}"]
        if self.latest is not None:
            lines.append(f"entry {self.latest.index} {b64(self.latest.entry)}")
            lines += [f"log {b64(h)}" for h in self.latest.log_proof]
        else:
            lines.append("absent")
        lines += [f"map {'-' if h == EMPTY else b64(h)}" for h in self.map_proof.siblings]
        terminal = self.map_proof.terminal
        if self.latest is None and terminal is not None:
            lines.append(f"other {b64(terminal.encode())}")
        if self.old_size is not None:
            lines.append(f"old {self.old_size}")
            lines += [f"consistency {b64(h)}" for h in self.consistency]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> StatusFile:
        """The canonical text only; anything else is a StatusFileError."""
        try:
            return cls._parse(text)
        except (NotCanonical, MapProofError) as exc:
            raise StatusFileError(str(exc)) from exc

    @classmethod
    def _parse(cls, text: str) -> StatusFile:
        if len(text) > MAX_STATUS:
            raise StatusFileError("status file is too large")
        check_plain_text(text, "status file")
        head, sep, note = text.partition("\n\n")
        if not sep or not note or not head.isascii():
            raise StatusFileError("a status file is ASCII lines, a blank line, a checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise StatusFileError(f"a status file starts with {HEADER!r}")
        rest = _Lines(lines[1:])
        filing = rest.take("filing")
        if filing is None or not _NAME.fullmatch(filing):
            raise StatusFileError("a status file names its filing (printable ASCII, no spaces)")
        latest = None
        entry = rest.take("entry")
        if entry is not None:
            index_text, _, data = entry.partition(" ")
            index = canonical_decimal(index_text, "entry index")
            raw = canonical_base64(data, "entry")
            if not 1 <= len(raw) <= MAX_ENTRY:
                raise StatusFileError(f"an entry is 1 to {MAX_ENTRY} bytes")
            log_proof = rest.hashes("log", MAX_PROOF_HASHES)
            latest = LatestEvent(index, raw, log_proof)
        elif rest.take("absent", bare=True) is None:
            raise StatusFileError("a status file has an entry line or an absent line")
        siblings = rest.hashes("map", KEY_BITS, empty="-")
        terminal = None
        if latest is not None:
            terminal = MapLeaf(key_for(filing), latest.index, leaf_hash(latest.entry))
        else:
            other = rest.take("other")
            if other is not None:
                terminal = MapLeaf.decode(canonical_base64(other, "other leaf"))
        old = rest.take("old")
        old_size = None if old is None else canonical_decimal(old, "old size")
        consistency = rest.hashes("consistency", MAX_PROOF_HASHES) if old is not None else ()
        if rest.lines:
            raise StatusFileError(f"unexpected line {rest.lines[0][:40]!r} in a status file")
        checkpoint_size(note)
        return cls(filing, latest, MapProof(siblings, terminal), note, old_size, consistency)

    def check(self, checkpoint: Checkpoint) -> MapLeaf | None:
        """The filing's map leaf as of ``checkpoint`` (None: no event), after checking the
        map proof against its status map line and the entry's inclusion in its tree.

        ``checkpoint`` is this file's own, opened and trusted by the caller.
        """
        root = committed_root(checkpoint)
        if root is None:
            raise StatusFileError("the checkpoint commits to no status map")
        try:
            leaf = self.map_proof.verify(root, self.key)
        except MapProofError as exc:
            raise StatusFileError(str(exc)) from exc
        if (leaf is None) != (self.latest is None):
            raise StatusFileError("the map proof and the entry line disagree")
        if self.latest is not None:
            try:
                verify_inclusion(
                    leaf_hash(self.latest.entry),
                    self.latest.index,
                    checkpoint.size,
                    list(self.latest.log_proof),
                    checkpoint.root_hash,
                )
            except ProofError as exc:
                raise StatusFileError(f"the latest event is not in the log: {exc}") from exc
        return leaf

    def check_consistency(self, old_size: int, old_root: bytes, checkpoint: Checkpoint) -> None:
        """The checkpoint's tree extends the tree of ``old_size`` (a receipt's)."""
        if checkpoint.size == old_size:
            proof: tuple[bytes, ...] = ()
        elif self.old_size != old_size:
            raise StatusFileError(f"no consistency proof from tree size {old_size}")
        else:
            proof = self.consistency
        try:
            new_root = checkpoint.root_hash
            verify_consistency(old_size, checkpoint.size, list(proof), old_root, new_root)
        except ProofError as exc:
            raise StatusFileError(f"not consistent with tree size {old_size}: {exc}") from exc


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def parse_checkpoint(note: str) -> Checkpoint:
    """The checkpoint text of a signed note (signatures not checked)."""
    text = note[: note.rfind("\n\n") + 1]
    try:
        return Checkpoint.parse(text)
    except CheckpointError as exc:
        raise StatusFileError(str(exc)) from exc


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def take(self, word: str, bare: bool = False) -> str | None:
        if not self.lines:
            return None
        line = self.lines[0]
        if bare and line == word:
            self.lines.pop(0)
            return ""
        if not bare and line.startswith(word + " "):
            self.lines.pop(0)
            return line[len(word) + 1 :]
        return None

    def hashes(self, word: str, limit: int, empty: str | None = None) -> tuple[bytes, ...]:
        out: list[bytes] = []
        while (value := self.take(word)) is not None:
            if len(out) == limit:
                raise StatusFileError(f"too many {word} lines")
            out.append(EMPTY if empty is not None and value == empty else _hash(value, word))
        return tuple(out)


def _hash(value: str, word: str) -> bytes:
    raw = canonical_hash(value, f"{word} line")
    if raw == EMPTY and word == "map":
        raise StatusFileError("an empty map sibling is written '-'")
    return raw
