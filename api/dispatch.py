"""Copies the outbox to a Redis Stream and to subscribers' webhooks, in order, until stopped.

The outbox is the record; this only copies. Stream entries take the event id as their
stream id (``<id>-0``), so publishing twice is refused by Redis and consumers resume
with ``XREAD`` after the last id they saw. When Redis comes back empty (it keeps nothing
on disk here), the last ``REPLAY`` events are published again, so a consumer that was
reading when it went down misses nothing. Webhooks go out one event at a time per
subscription, in event order, signed with HMAC-SHA256, retried with exponential backoff
and dead-lettered after ``max_attempts``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

import httpx
import redis
from sqlalchemy import Engine, text

from filing import outbox
from ledger.database import write_transaction

log = logging.getLogger(__name__)

STREAM = "wangqian:events"
STREAM_CURSOR = "redis-stream"
REPLAY = 1000
DISPATCH_LOCK = 0x77716469  # PostgreSQL advisory lock: one dispatcher per deployment


@dataclass(frozen=True)
class WebhookPolicy:
    timeout: float = 5.0
    max_attempts: int = outbox.MAX_ATTEMPTS
    first_retry: dt.timedelta = outbox.FIRST_RETRY


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        redis_url: str | None,
        policy: WebhookPolicy = WebhookPolicy(),
        stream: str = STREAM,
    ) -> None:
        self.engine = engine
        self.stream = stream
        self.policy = policy
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            if redis_url
            else None
        )
        self._http = httpx.Client(timeout=policy.timeout)

    # -- the Redis Stream --------------------------------------------------------

    def publish(self) -> int:
        """Copy new events to the stream; returns how many. Raises redis errors when down."""
        if self._redis is None:
            return 0
        with self.engine.connect() as conn:
            done = outbox.cursor(conn, STREAM_CURSOR)
        top = self._stream_top()
        if top < done:  # Redis lost the stream (restarted empty): publish recent events again
            done = max(top, done - REPLAY)
        published = 0
        while True:
            with self.engine.connect() as conn:
                events = outbox.events_after(conn, done)
            if not events:
                return published
            for e in events:
                try:
                    self._redis.xadd(self.stream, {"event": e.body()}, id=f"{e.id}-0")
                    published += 1
                except redis.ResponseError as exc:
                    if "equal or smaller" not in str(exc):
                        raise  # anything but "already there"
                done = e.id
            with write_transaction(self.engine) as conn:
                outbox.advance(conn, STREAM_CURSOR, done)

    def _stream_top(self) -> int:
        assert self._redis is not None
        try:
            info = self._redis.xinfo_stream(self.stream)
        except redis.ResponseError:  # no such key
            return 0
        last = info["last-generated-id"]
        last = last.decode() if isinstance(last, bytes) else str(last)
        return int(last.split("-")[0])

    # -- webhooks --------------------------------------------------------------------

    def deliver(self, now: dt.datetime | None = None) -> int:
        """One pass over the subscriptions: at most one event each is tried. Returns attempts."""
        now = now or dt.datetime.now(dt.UTC)
        attempts = 0
        with self.engine.connect() as conn:
            subs = outbox.subscriptions(conn)
        for sub in subs:
            with self.engine.connect() as conn:
                redo = outbox.redeliveries(conn, sub.id)
                head = outbox.events_after(conn, sub.cursor, limit=1)
            for event_id in redo:
                attempts += self._attempt(sub, event_id, now)
            if head:
                with self.engine.connect() as conn:
                    _, due = outbox.attempt_state(conn, sub.id, head[0].id)
                if due is None or due <= now:
                    attempts += self._attempt(sub, head[0].id, now)
        return attempts

    def _attempt(self, sub: outbox.Subscription, event_id: int, now: dt.datetime) -> int:
        with self.engine.connect() as conn:
            event = outbox.event(conn, event_id)
        if event is None:
            return 0
        body = event.body()
        stamp = int(time.time())
        try:
            r = self._http.post(
                sub.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Wangqian-Event-Id": str(event.id),
                    "X-Wangqian-Timestamp": str(stamp),
                    "X-Wangqian-Signature": outbox.signature(sub.secret, stamp, body),
                },
            )
            ok, error = 200 <= r.status_code < 300, f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        with write_transaction(self.engine) as conn:
            outbox.record_attempt(
                conn,
                sub,
                event.id,
                ok,
                "" if ok else error,
                now,
                self.policy.max_attempts,
                self.policy.first_retry,
            )
        return 1

    # -- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Publish and deliver until ``stop``; one dispatcher per deployment on PostgreSQL."""
        with self.engine.connect() as lock_conn:
            if self.engine.dialect.name == "postgresql":
                while not stop.is_set():
                    got = lock_conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": DISPATCH_LOCK}
                    ).scalar()
                    lock_conn.commit()
                    if got:
                        break
                    stop.wait(1.0)
            while not stop.is_set():
                try:
                    self.publish()
                except redis.RedisError as exc:
                    log.warning("event stream unavailable, will retry: %s", exc)
                except Exception:
                    log.exception("publishing events failed; retrying")
                try:
                    self.deliver()
                except Exception:
                    log.exception("delivering webhooks failed; retrying")
                stop.wait(interval)

    def close(self) -> None:
        self._http.close()
        if self._redis is not None:
            self._redis.close()
