"""The event stream: outbox → Redis Stream and signed webhooks, through a Redis outage."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from filing import outbox
from filing.relay import Dispatcher, Targets, WebhookPolicy
from filing.service import FilingService
from filing.webhook_policy import AddressPolicy
from ledger.database import write_transaction
from tests.helpers import free_port, judgment_pdf
from tests.test_filing_service import CODES, _contract, _sign_through, service

__all__ = ["service"]  # the fixture


NO_AOF = ("--appendonly", "no")
# The receivers here listen on loopback, which webhooks may reach only when allowed.
LOOPBACK = Targets(AddressPolicy.parse(["127.0.0.0/8"]))


class RedisServer:
    """A private redis-server, to stop and start without disturbing other tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *NO_AOF],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


class Receiver:
    """A department's webhook endpoint: checks signatures, can be told to fail."""

    def __init__(self, fail: Callable[[int, int], bool]) -> None:
        self.secret = ""
        self.accepted: list[dict[str, Any]] = []
        self.tries: dict[int, int] = {}
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = int(self.headers["X-Wangqian-Event-Id"])
                stamp = int(self.headers["X-Wangqian-Timestamp"])
                expected = outbox.signature(outer.secret, stamp, body)
                if not hmac.compare_digest(expected, self.headers["X-Wangqian-Signature"]):
                    outer.bad_signatures += 1
                outer.tries[event_id] = outer.tries.get(event_id, 0) + 1
                if fail(event_id, outer.tries[event_id]):
                    self.send_response(503)
                else:
                    outer.accepted.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _consume(url: str, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    """A stream consumer that resumes after the last id it saw, whatever happens to Redis."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=0.5)
    last = "0-0"
    while not stop.is_set():
        try:
            for _, entries in client.xread({"wangqian:events": last}, block=200) or []:
                for entry_id, fields in entries:
                    seen.append(json.loads(fields[b"event"]))
                    last = entry_id.decode()
        except redis.RedisError:
            time.sleep(0.1)


def _wait(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_every_event_reaches_every_subscriber_once_in_order_through_a_redis_outage(
    service: FilingService, private_redis: RedisServer
) -> None:
    engine = service.engine
    flaky = Receiver(lambda event_id, tries: tries == 1)  # each event fails once, then lands
    with write_transaction(engine) as conn:
        flaky.secret = outbox.subscribe(conn, "长沙市税务局", flaky.url).secret
    policy = WebhookPolicy(timeout=2, max_attempts=5, first_retry=dt.timedelta(milliseconds=50))
    dispatcher = Dispatcher(engine, private_redis.url, policy, targets=LOOPBACK)
    stop, consumer_stop = threading.Event(), threading.Event()
    streamed: list[dict[str, Any]] = []
    workers = [
        threading.Thread(target=dispatcher.run, args=(stop, 0.05), daemon=True),
        threading.Thread(
            target=_consume, args=(private_redis.url, streamed, consumer_stop), daemon=True
        ),
    ]
    for w in workers:
        w.start()
    try:
        _, first = _sign_through(service, _contract(CODES[0], "HT-E-1"))
        _, second = _sign_through(service, _contract(CODES[1], "HT-E-2"))
        assert first is not None and second is not None
        # Each contract: the developer's seal (contract-signed), then the buyer's signature
        # files it (filed).
        _wait(lambda: len(streamed) == 4)

        private_redis.stop()  # the burst goes on without Redis
        _, third = _sign_through(service, _contract(CODES[2], "HT-E-3"))
        assert third is not None
        for f in (first, third):
            service.cancel_by_judgment(f.number, "authority", "判决解除", "(x)", judgment_pdf())
        time.sleep(0.5)
        assert len(streamed) == 4  # nothing got through, and nothing was lost
        private_redis.start()  # back, and empty

        _wait(lambda: len(streamed) == 8 and len(flaky.accepted) == 8)
        time.sleep(0.3)  # room for any duplicate to show up
    finally:
        stop.set()
        consumer_stop.set()
        for w in workers:
            w.join(timeout=10)
        dispatcher.close()
        flaky.close()

    for received in (streamed, flaky.accepted):
        ids = [e["id"] for e in received]
        assert ids == sorted(set(ids)) and len(ids) == 8, ids  # each once, in order
        events = [(e["filing"], e["event"]) for e in received]
        assert events.index((first.number, "filed")) < events.index((first.number, "cancelled"))
        assert events.index((third.number, "filed")) < events.index((third.number, "cancelled"))
        assert [e["event"] for e in received].count("contract-signed") == 3
        assert all("王" not in json.dumps(e, ensure_ascii=False) for e in received)
        assert {e["kind"] for e in received} == {"new-presale"}  # the filing's transaction kind
    assert flaky.bad_signatures == 0
    assert all(tries == 2 for tries in flaky.tries.values())  # one failure, one retry each


def test_a_receiver_that_keeps_failing_gets_dead_letters_it_can_have_redelivered(
    service: FilingService,
) -> None:
    broken = {"on": True}
    receiver = Receiver(lambda event_id, tries: broken["on"])
    with write_transaction(service.engine) as conn:
        sub = outbox.subscribe(conn, "某银行", receiver.url, 0)
        receiver.secret = sub.secret
    policy = WebhookPolicy(timeout=2, max_attempts=3, first_retry=dt.timedelta(milliseconds=10))
    dispatcher = Dispatcher(service.engine, None, policy, targets=LOOPBACK)
    try:
        _, record = _sign_through(service, _contract(CODES[0], "HT-D-1"))
        assert record is not None
        # Two events: the seal (contract-signed, id 1) and the filing (filed, id 2).
        for _ in range(400):
            dispatcher.deliver()
            with service.engine.connect() as conn:
                dead = outbox.dead_letters(conn, sub.id)
            if len(dead) == 2:
                break
            time.sleep(0.02)
        assert [d["event_id"] for d in dead] == [1, 2]
        assert all(d["attempts"] == 3 and d["last_error"] == "HTTP 503" for d in dead)
        assert receiver.accepted == []
        broken["on"] = False
        with write_transaction(service.engine) as conn:
            assert outbox.redeliver(conn, sub.id, 1)
            assert not outbox.redeliver(conn, sub.id, 99)
        dispatcher.deliver()
        assert [e["id"] for e in receiver.accepted] == [1]
        with service.engine.connect() as conn:
            assert [d["event_id"] for d in outbox.dead_letters(conn, sub.id)] == [2]
    finally:
        dispatcher.close()
        receiver.close()
