"""A use-case's result, recorded in the same transaction as its work.

Whoever asks (the HTTP layer, for idempotency: the answer to a request is stored with
the work it reports, so that a retry after a crash gets that answer instead of doing the
work twice or being told "in progress" forever) installs a recorder for the length of a
call; each use-case calls ``completed`` in its write transaction, just before it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection

Recorder = Callable[[Connection, object], None]
_recorder: ContextVar[Recorder | None] = ContextVar("wangqian_completion", default=None)


@contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Have ``recorder(conn, result)`` run in the transaction of the work done within."""
    token = _recorder.set(recorder)
    try:
        yield
    finally:
        _recorder.reset(token)


def completed(conn: Connection, result: object) -> None:
    """The work in ``conn``'s transaction is done and gives ``result``: record it there."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder(conn, result)
