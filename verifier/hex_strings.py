"""PDF hex strings read in one pass instead of a byte at a time.

pyHanko 0.38 reads a hex string ``<...>`` one byte per Python call. A signature's
``/Contents`` is one of 8,192 to 16,384 hex digits, mostly the zero padding of its reserved
space, so reading it was a tenth of judging a contract. ``read_hex_string_from_stream`` here
finds the closing ``>`` with one search, drops PDF whitespace with one ``translate`` and
decodes with ``binascii``. Anything unusual (a comment inside the string, a character that
is not a hex digit, no ``>`` before the end) is handed to pyHanko's own reader from the same
position, so every error and every result is pyHanko's (tests/test_hex_strings.py compares
the two). ``install`` puts it in pyHanko's parser; the verifier installs it when it loads, so
the platform and ``wangqian-verify`` read documents the same way.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

PYHANKO_READER = generic.read_hex_string_from_stream
_NOT_HEX = re.compile(rb"[^0-9A-Fa-f]")
_CHUNK = 64 * 1024


def read_hex_string_from_stream(stream: Any) -> Any:
    """A PDF string object from the hex string at ``stream``'s position, as pyHanko reads it."""
    start = stream.tell()
    stream.read(1)  # the opening "<"
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:  # no ">" before the end: pyHanko says how it ended
            return _pyhanko_from(stream, start)
        end = chunk.find(b">")
        if end < 0:
            parts.append(chunk)
            continue
        parts.append(chunk[:end])
        after = stream.tell() - len(chunk) + end + 1
        break
    body = b"".join(parts)
    if b"%" in body:  # a comment inside the string: rare enough for the slow path
        return _pyhanko_from(stream, start)
    digits = body.translate(None, PDF_WHITESPACE)
    if _NOT_HEX.search(digits):
        return _pyhanko_from(stream, start)
    stream.seek(after)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def _pyhanko_from(stream: Any, start: int) -> Any:
    stream.seek(start)
    return PYHANKO_READER(stream)


def install() -> None:
    """Read hex strings this way in pyHanko's parser, in this process (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
