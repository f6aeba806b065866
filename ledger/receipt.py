"""C2SP tlog-proof@v1 receipts (``.tlog-proof``): index, inclusion proof and checkpoint.

Parsing is strict: one canonical text per receipt (ASCII decimal without sign or
leading zeros, padded base64 that re-encodes to itself, LF line ends, each line
once), so that two different files never mean the same receipt (``ledger/canonical.py``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.canonical import (
    NotCanonical,
    canonical_base64,
    canonical_decimal,
    canonical_hash,
    check_plain_text,
)
from ledger.note import MAX_NOTE_SIZE, SIG_PREFIX


class ReceiptError(ValueError):
    """A receipt is malformed."""


HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 63
MAX_ENTRY = 65535
# The note, the entry in base64 and the proof lines, with room to spare.
MAX_RECEIPT = MAX_NOTE_SIZE + 128 * 1024


def checkpoint_size(note: str) -> int:
    """The tree size of a signed checkpoint note, after checking its form strictly.

    Origin, canonical size and root hash lines, optional extension lines, a blank
    line, then signature lines ``— <name> <canonical base64>``. Signatures are
    checked elsewhere; this refuses any second spelling of the same note.
    """
    if len(note) > MAX_NOTE_SIZE:
        raise NotCanonical("checkpoint is too large")
    check_plain_text(note, "checkpoint")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NotCanonical("checkpoint needs its text, a blank line and signature lines")
    text, block = note[: cut + 1], note[cut + 2 : -1]
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NotCanonical("checkpoint needs origin, size and root hash lines, none empty")
    size = canonical_decimal(lines[1], "checkpoint tree size")
    canonical_hash(lines[2], "checkpoint root hash")
    if not block:
        raise NotCanonical("checkpoint has no signature lines")
    for line in block.split("\n"):
        name, space, blob = line.removeprefix(SIG_PREFIX).rpartition(" ")
        if not line.startswith(SIG_PREFIX) or not space or not name or " " in name:
            raise NotCanonical(f"malformed signature line {line[:40]!r}")
        canonical_base64(blob, f"signature of {name[:40]!r}")
    return size


@dataclass(frozen=True)
class Receipt:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed (and cosigned) checkpoint note, verbatim
    extra: bytes | None = None  # unauthenticated: here, the log entry's bytes

    def to_text(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> Receipt:
        """The canonical text only; anything else is a ReceiptError."""
        try:
            return cls._parse(text)
        except NotCanonical as exc:
            raise ReceiptError(str(exc)) from exc

    @classmethod
    def _parse(cls, text: str) -> Receipt:
        if len(text) > MAX_RECEIPT:
            raise ReceiptError("receipt is too large")
        check_plain_text(text, "receipt")
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise ReceiptError("receipt has no checkpoint after a blank line")
        if not head.isascii():
            raise ReceiptError("receipt lines before the checkpoint must be ASCII")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise ReceiptError(f"receipt must start with {HEADER!r}")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = canonical_base64(rest.pop(0)[6:], "extra")
            if not 1 <= len(extra) <= MAX_ENTRY:
                raise ReceiptError(f"extra must hold an entry of 1 to {MAX_ENTRY} bytes")
        if not rest or not rest[0].startswith("index "):
            what = "a second extra line" if rest and rest[0].startswith("extra") else "no index"
            raise ReceiptError(f"receipt has {what} where its index line belongs")
        index = canonical_decimal(rest.pop(0)[6:], "index")
        if len(rest) > MAX_PROOF_HASHES:
            raise ReceiptError("inclusion proof has too many hashes")
        proof = tuple(canonical_hash(line, "inclusion proof line") for line in rest)
        checkpoint_size(checkpoint)
        return cls(index, proof, checkpoint, extra)
