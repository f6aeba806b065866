"""Per-client limits in Redis: requests per minute, and CPU seconds per minute for costly work.

With Redis down, limits degrade to per-process counters. Redis only ever holds counters
that may be lost: nothing else depends on it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from api.problems import Problem

WINDOW = 60  # seconds


class WindowCounter:
    """Amounts per key and minute, shared through Redis when it is there."""

    def __init__(self, url: str | None, prefix: str) -> None:
        self._prefix = prefix
        self._redis = (
            redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
            if url
            else None
        )
        self._local: dict[tuple[str, int], float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, key: str, amount: float) -> float:
        """Add ``amount`` to this minute's total for ``key``; returns the new total."""
        window = int(time.time() // WINDOW)
        total = self._add_redis(key, window, amount)
        if total is None:
            with self._lock:
                self._local = defaultdict(
                    float, {k: v for k, v in self._local.items() if k[1] == window}
                )
                self._local[(key, window)] += amount
                total = self._local[(key, window)]
        return total

    def _add_redis(self, key: str, window: int, amount: float) -> float | None:
        if self._redis is None:
            return None
        name = f"{self._prefix}:{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incrbyfloat(name, amount)
            pipe.expire(name, 2 * WINDOW)
            total, _ = pipe.execute()
            return float(total)
        except redis.RedisError:
            return None


def _limited(detail: str) -> Problem:
    retry = WINDOW - int(time.time()) % WINDOW
    return Problem(
        429, "rate-limited", "Too many requests", f"{detail}; retry in {retry} s", retry_after=retry
    )


class RateLimiter:
    """At most ``per_minute`` requests per key."""

    def __init__(self, url: str | None, per_minute: int) -> None:
        self.per_minute = per_minute
        self._counter = WindowCounter(url, "wangqian:rate")

    def check(self, key: str) -> None:
        if self._counter.add(key, 1) > self.per_minute:
            raise _limited(f"more than {self.per_minute} requests a minute")


class CpuBudget:
    """At most ``seconds_per_minute`` of CPU per client for a costly operation.

    A request count alone lets one client send a few crafted inputs that each cost the
    most any input may; the budget charges what each request really cost.
    """

    def __init__(self, url: str | None, seconds_per_minute: float) -> None:
        self.seconds_per_minute = seconds_per_minute
        self._counter = WindowCounter(url, "wangqian:cpu")

    @contextmanager
    def charge(self, key: str) -> Iterator[None]:
        """Refuse (429) a client whose budget is spent; charge the CPU time of the block."""
        if self._counter.add(key, 0.0) >= self.seconds_per_minute:
            raise _limited(f"more than {self.seconds_per_minute:g} CPU seconds a minute")
        started = time.thread_time()
        try:
            yield
        finally:
            self._counter.add(key, time.thread_time() - started)
