"""The one canonical spelling of the C2SP text formats' numbers, hashes and lines.

A receipt, checkpoint or witness request has exactly one text: ASCII decimals without
sign or leading zeros, padded base64 that re-encodes to itself, LF line ends. Every
parser of those formats (receipts, checkpoints, add-checkpoint bodies, the verifier's
later evidence) uses these, so that two different files never mean the same thing and
no Unicode digit slips through ``str.isdigit``.
"""

from __future__ import annotations

import base64
import binascii
import re

from ledger.merkle import HASH_SIZE

MAX_TREE_SIZE = (1 << 63) - 1
# ASCII only: a str pattern's [0-9] is the ten code points, unlike \d or str.isdigit.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


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
