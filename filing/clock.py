"""The platform's one clock: every use-case asks it for the time, so that tests can set it.

Moments are timezone-aware UTC; people see Beijing time only where a page or document shows one.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current moment, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until told otherwise (tests): ``set`` it or ``advance`` it."""

    def __init__(self, at: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._at = _utc(at)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._at

    def set(self, at: dt.datetime) -> None:
        with self._lock:
            self._at = _utc(at)

    def advance(self, by: dt.timedelta) -> dt.datetime:
        with self._lock:
            self._at += by
            return self._at


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("a clock keeps timezone-aware moments")
    return at.astimezone(dt.UTC)


SYSTEM: Clock = SystemClock()
