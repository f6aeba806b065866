"""verifier/hex_strings.py reads every hex string as pyHanko's own reader does: the same
string, the same error, the stream left at the same place."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic

from verifier import hex_strings

PYHANKO = hex_strings.PYHANKO_READER


def _outcome(reader: object, data: bytes) -> tuple[object, ...]:
    stream = BytesIO(data)
    try:
        value = reader(stream)  # type: ignore[operator]
    except Exception as exc:
        return ("error", type(exc), str(exc))
    return ("value", type(value), bytes(value.original_bytes), stream.tell())


CASES = [
    b"<>",
    b"<41>",
    b"<4>",
    b"<414>",
    b"< 4 1\n4\r2\t\x00\x0c >rest",
    b"<00000000000000000000>",
    b"<feFF0041>",  # a text string with a byte order mark
    b"<41 % a comment > with a closing bracket\n42>",
    b"<41%comment\n>",
    b"<4G>",
    b"<41<42>>",
    b"<41",
    b"<",
    b"<41 42",
    b"<41)>",
    b"<" + b"0" * 70_000 + b">",  # past one chunk
    b"<" + b"ab" * 40_000 + b" 1>tail",
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_each_case_reads_as_pyhanko_reads_it(data: bytes) -> None:
    assert _outcome(hex_strings.read_hex_string_from_stream, data) == _outcome(PYHANKO, data)


def test_random_strings_read_as_pyhanko_reads_them() -> None:
    rng = random.Random(9457)
    alphabet = b"0123456789abcdefABCDEF \n\r\t\x00\x0c%>G<"
    for _ in range(2000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        data = b"<" + body + rng.choice([b">", b"", b"> tail", b"\n"])
        fast = _outcome(hex_strings.read_hex_string_from_stream, data)
        assert fast == _outcome(PYHANKO, data), data


def test_the_parser_reads_hex_strings_this_way_once_the_verifier_is_loaded() -> None:
    import verifier.document  # noqa: F401  (installs it)

    assert generic.read_hex_string_from_stream is hex_strings.read_hex_string_from_stream
    value = generic.read_object(BytesIO(b"<4142 43>"), None)  # type: ignore[arg-type]
    assert bytes(value.original_bytes) == b"ABC"
