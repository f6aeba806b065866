"""The C2SP tlog-witness add-checkpoint body: a consistency proof from an older size, and a note.

The log sends it to witnesses; a verifier reads the same text as "a later checkpoint
with the proof that it extends the receipt's".
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.canonical import NotCanonical, canonical_decimal, canonical_hash

MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024


class AddCheckpointError(ValueError):
    """Text that is not an add-checkpoint body."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def to_text(self) -> str:
        head = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return "\n".join(head) + "\n\n" + self.note

    @classmethod
    def parse(cls, body: str) -> AddCheckpoint:
        """``old N``, proof lines, a blank line, the signed checkpoint."""
        if len(body) > MAX_BODY:
            raise AddCheckpointError("request body too large")
        head, sep, note = body.partition("\n\n")
        if not sep:
            raise AddCheckpointError("request needs a blank line before the checkpoint")
        lines = head.split("\n")
        old = lines[0]
        if not old.startswith("old "):
            raise AddCheckpointError("request must start with an 'old <size>' line")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise AddCheckpointError("too many consistency proof lines")
        try:
            size = canonical_decimal(old[4:], "old size")
            proof = tuple(canonical_hash(line, "consistency proof line") for line in lines[1:])
        except NotCanonical as exc:
            raise AddCheckpointError(str(exc)) from exc
        return cls(size, proof, note)
