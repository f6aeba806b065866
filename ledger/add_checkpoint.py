"""The C2SP tlog-witness add-checkpoint body: a consistency proof from an older size, and a note.

The log sends it to witnesses; a verifier reads the same text as "a later checkpoint
with the proof that it extends the receipt's".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

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
        size_text = old[4:]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise AddCheckpointError(f"old size {size_text!r} is not a canonical decimal")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise AddCheckpointError("too many consistency proof lines")
        try:
            proof = tuple(base64.b64decode(line, validate=True) for line in lines[1:])
        except binascii.Error as exc:
            raise AddCheckpointError("consistency proof line is not base64") from exc
        return cls(int(size_text), proof, note)
