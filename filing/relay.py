"""Copies the outbox to a Redis Stream and to subscribers' webhooks, in order, until stopped.

The outbox is the record; this only copies. Stream entries take the event id as their
stream id (``<id>-0``), so publishing twice is refused by Redis and consumers resume
with ``XREAD`` after the last id they saw. When Redis comes back empty (it keeps nothing
on disk here), the last ``REPLAY`` events are published again, so a consumer that was
reading when it went down misses nothing. Webhooks go out one event at a time per
subscription, in event order, signed with HMAC-SHA256, retried with exponential backoff
and dead-lettered after ``max_attempts``.

Webhooks go out from inside the platform's network, so where they may go is checked
(``filing/webhook_policy.py``): at registration and again at every delivery the URL's host
is resolved afresh and every address it gives is checked, and the POST goes to the checked
address itself (the name kept for ``Host`` and TLS), so a DNS answer that changes between
the check and the connection (rebinding) changes nothing. Redirects are not followed. A
subscriber learns a status code, "refused address" or "no answer", never the network error,
which would tell an open port from a closed one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import redis
from sqlalchemy import Connection, Engine, text

from filing import outbox
from filing.outbox import DeliveryFailure
from filing.webhook_policy import AddressPolicy, IPAddress, is_host_name
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


# A host name and port to the addresses they resolve to (socket.gaierror if none). A seam:
# the system's resolver serves; tests give one whose answers they change (DNS rebinding).
Resolver = Callable[[str, int], Sequence[IPAddress]]


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses ``getaddrinfo`` gives now (numeric forms such as ``2130706433`` too)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # A scoped IPv6 address ("fe80::1%eth0") is checked without its scope.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class AddressRefused(ValueError):
    """The URL may not receive webhooks: its scheme, its form or its address (the message says)."""


class NoAnswer(Exception):
    """The URL's host name does not resolve now."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: ``url`` holds the checked address, ``host`` the name."""

    url: httpx.URL
    host: str  # the Host header: the URL's host (and port) as the subscriber wrote it
    server_name: str | None  # for TLS: the certificate must be the name's, not the address's


@dataclass(frozen=True)
class Targets:
    """Checks webhook URLs against the address policy and turns them into ``Target``s."""

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    resolver: Resolver = field(default=system_resolver)

    def parse(self, url: str) -> httpx.URL:
        """The URL as httpx will use it (one parser for the check and the connection)."""
        try:
            parsed = httpx.URL(url)
            parsed.raw_host.decode("ascii")  # IDNA-encoded by httpx; .host would decode it
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise AddressRefused(f"not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise AddressRefused(f"only http and https URLs, not {parsed.scheme or 'none'}")
        if parsed.userinfo:
            raise AddressRefused("no user name or password in the URL")
        if not parsed.raw_host:
            raise AddressRefused("the URL names no host")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise AddressRefused(f"no port {parsed.port}")
        return parsed

    def check_registration(self, url: str) -> None:
        """Refuse ``url`` if its host is, or now resolves to, a refused address.

        A name that does not resolve today is accepted: it is checked at every delivery.
        """
        with contextlib.suppress(NoAnswer):
            self.target(url)

    def target(self, url: str) -> Target:
        """Resolve and check ``url`` now; AddressRefused or NoAnswer if it cannot be used."""
        parsed = self.parse(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        name = parsed.raw_host.decode("ascii")  # an IP address, or a name IDNA-encoded
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(name)]
        except ValueError:
            addresses = []
        literal = bool(addresses)
        if not literal:
            if not is_host_name(name):
                raise AddressRefused("the URL's host is neither an IP address nor a host name")
            try:
                addresses = list(self.resolver(name, port))
            except (OSError, UnicodeError):
                raise NoAnswer(url) from None
            if not addresses:
                raise NoAnswer(url)
        refused = self.policy.refusal(name, addresses)
        if refused is not None:
            what = "is" if literal else "resolves to"
            raise AddressRefused(f"the host {what} a {refused.cls.value} address")
        if literal:
            return Target(parsed, parsed.netloc.decode("ascii"), None)
        return Target(
            parsed.copy_with(host=str(addresses[0])),
            parsed.netloc.decode("ascii"),
            name if parsed.scheme == "https" else None,
        )


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        redis_url: str | None,
        policy: WebhookPolicy = WebhookPolicy(),
        stream: str = STREAM,
        targets: Targets = Targets(),
    ) -> None:
        self.engine = engine
        self.stream = stream
        self.policy = policy
        self.targets = targets
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            if redis_url
            else None
        )
        # No proxies from the environment (they would connect to the name, not the checked
        # address), no redirects, and a fresh connection each time: a pooled one would carry
        # a request for another name that resolved to the same address.
        self._http = httpx.Client(
            timeout=policy.timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

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
                head, past = self._head(conn, sub)
            if past is not None:  # none of its own up to there: its cursor moves on
                with write_transaction(self.engine) as conn:
                    outbox.skip_to(conn, sub.id, past)
            for event_id in redo:
                attempts += self._attempt(sub, event_id, now)
            if head:
                with self.engine.connect() as conn:
                    _, due = outbox.attempt_state(conn, sub.id, head[0].id)
                if due is None or due <= now:
                    attempts += self._attempt(sub, head[0].id, now)
        return attempts

    def _head(
        self, conn: Connection, sub: outbox.Subscription
    ) -> tuple[list[outbox.Event], int | None]:
        """The subscription's next event: any, or (a developer's) its own filings' next one,
        found by a bounded scan; with the id a cursor may skip to when it found none."""
        if sub.developer is None:
            return outbox.events_after(conn, sub.cursor, limit=1), None
        scoped = outbox.events_of(conn, sub.cursor, sub.developer, limit=1)
        if not scoped.events and scoped.scanned_to > sub.cursor:
            return [], scoped.scanned_to
        return list(scoped.events), None

    def _attempt(self, sub: outbox.Subscription, event_id: int, now: dt.datetime) -> int:
        with self.engine.connect() as conn:
            event = outbox.event(conn, event_id)
        if event is None:
            return 0
        ok, error = self._post(sub, event)
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

    def _post(self, sub: outbox.Subscription, event: outbox.Event) -> tuple[bool, str]:
        """POST one event to the checked address; (delivered, what the subscriber is told)."""
        try:
            target = self.targets.target(sub.url)
        except AddressRefused:
            return False, DeliveryFailure.REFUSED_ADDRESS
        except NoAnswer:
            return False, DeliveryFailure.NO_ANSWER
        body = event.body()
        stamp = int(time.time())
        headers = {
            "Host": target.host,
            "Content-Type": "application/json",
            "X-Wangqian-Event-Id": str(event.id),
            "X-Wangqian-Timestamp": str(stamp),
            "X-Wangqian-Signature": outbox.signature(sub.secret, stamp, body),
        }
        extensions = {} if target.server_name is None else {"sni_hostname": target.server_name}
        try:
            # Streamed and closed unread: only the status matters, whatever the size of the body.
            with self._http.stream(
                "POST", target.url, content=body, headers=headers, extensions=extensions
            ) as r:
                status = r.status_code
        except (httpx.HTTPError, httpx.InvalidURL, OSError):
            # Refused, reset, timed out, not HTTP, bad TLS: told apart, they would map the
            # platform's network (an open port answers differently from a closed one).
            return False, DeliveryFailure.NO_ANSWER
        return 200 <= status < 300, outbox.http_status(status)

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
