"""C2SP tlog-proof@v1 receipts (``.tlog-proof``): index, inclusion proof and checkpoint."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ledger.merkle import HASH_SIZE

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 63


class ReceiptError(ValueError):
    """A receipt is malformed."""


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
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise ReceiptError("receipt has no checkpoint after a blank line")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise ReceiptError(f"receipt must start with {HEADER!r}")
        rest = lines[1:]
        extra = None
        try:
            if rest and rest[0].startswith("extra "):
                extra = base64.b64decode(rest.pop(0)[6:], validate=True)
            if not rest or not rest[0].startswith("index "):
                raise ReceiptError("receipt has no index line")
            index_text = rest.pop(0)[6:]
            if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
                raise ReceiptError(f"index {index_text!r} is not a canonical decimal")
            proof = tuple(base64.b64decode(line, validate=True) for line in rest)
        except binascii.Error as exc:
            raise ReceiptError(f"receipt holds invalid base64: {exc}") from exc
        if len(proof) > MAX_PROOF_HASHES or any(len(h) != HASH_SIZE for h in proof):
            raise ReceiptError("inclusion proof has a malformed hash or too many hashes")
        return cls(int(index_text), proof, checkpoint, extra)
