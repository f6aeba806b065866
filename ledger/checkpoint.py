"""C2SP tlog-checkpoint: the note text a log signs to commit to a tree."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.canonical import NotCanonical, canonical_base64, canonical_decimal
from ledger.merkle import HASH_SIZE


class CheckpointError(ValueError):
    """A checkpoint's text is malformed."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("origin must be one non-empty line")
        if self.size < 0:
            raise CheckpointError("tree size must not be negative")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        if any(not e or "\n" in e for e in self.extensions):
            raise CheckpointError("extension lines must be non-empty single lines")

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        try:
            size = canonical_decimal(size_text, "tree size")
            root = canonical_base64(root_text, "root hash")
        except NotCanonical as exc:
            raise CheckpointError(str(exc)) from exc
        return cls(origin, size, root, tuple(extensions))
