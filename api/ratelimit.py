"""Per-key rate limits in Redis; with Redis down, limits degrade to per-process counters.

Redis only ever holds counters that may be lost: nothing else depends on it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import redis

from api.problems import Problem


class RateLimiter:
    def __init__(self, url: str | None, per_minute: int) -> None:
        self.per_minute = per_minute
        self._redis = (
            redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
            if url
            else None
        )
        self._local: dict[tuple[str, int], int] = defaultdict(int)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        window = int(time.time() // 60)
        count = self._count_redis(key, window)
        if count is None:
            with self._lock:
                self._local = defaultdict(
                    int, {k: v for k, v in self._local.items() if k[1] == window}
                )
                self._local[(key, window)] += 1
                count = self._local[(key, window)]
        if count > self.per_minute:
            retry = 60 - int(time.time()) % 60
            raise Problem(
                429, "rate-limited", "Too many requests", f"retry in {retry} s", retry_after=retry
            )

    def _count_redis(self, key: str, window: int) -> int | None:
        if self._redis is None:
            return None
        name = f"wangqian:rate:{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, 120)
            count, _ = pipe.execute()
            return int(count)
        except redis.RedisError:
            return None
