"""C2SP tlog-proof@v1 receipts (``.tlog-proof``): index, inclusion proof and checkpoint.

Parsing is strict: one canonical text per receipt (ASCII decimal without sign or
leading zeros, padded base64 that re-encodes to itself, LF line ends, each line
once), so that two different files never mean the same receipt. The helpers below
are shared with the verifier's readers of later checkpoints and log data.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from ledger.merkle import HASH_SIZE
from ledger.note import MAX_NOTE_SIZE, SIG_PREFIX

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 63
MAX_ENTRY = 65535
# The note, the entry in base64 and the proof lines, with room to spare.
MAX_RECEIPT = MAX_NOTE_SIZE + 128 * 1024
MAX_TREE_SIZE = (1 << 63) - 1
# ASCII only: a str pattern's [0-9] is the ten code points, unlike \d or str.isdigit.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class ReceiptError(ValueError):
    """A receipt is malformed."""


class NotCanonical(ValueError):
    """Text that is not in the one canonical form the C2SP formats allow."""


def canonical_decimal(text: str, what: str, maximum: int = MAX_TREE_SIZE) -> int:
    if _DECIMAL.fullmatch(text) is None or int(text) > maximum:
        raise NotCanonical(f"{what} {text[:30]!r} is not a canonical ASCII decimal")
    return int(text)


def canonical_base64(text: str, what: str) -> bytes:
    """Standard, padded base64 whose decoding encodes back to exactly ``text``."""
    if not text.isascii():
        raise NotCanonical(f"{what} is not ASCII base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise NotCanonical(f"{what} is not valid base64: {exc}") from exc
    if base64.b64encode(raw).decode() != text:
        raise NotCanonical(f"{what} is not canonical base64 (padding or trailing bits)")
    return raw


def canonical_hash(text: str, what: str) -> bytes:
    raw = canonical_base64(text, what)
    if len(raw) != HASH_SIZE:
        raise NotCanonical(f"{what} is {len(raw)} bytes, not a {HASH_SIZE}-byte hash")
    return raw


def check_plain_text(text: str, what: str) -> None:
    """LF line ends only and no other control characters (no CR, tab, NUL, ...)."""
    bad = _CONTROL.search(text)
    if bad is not None:
        raise NotCanonical(f"{what} holds the control character {bad.group()!r} (CRLF?)")


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
