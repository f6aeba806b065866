"""Webhooks reach no internal service: refused at registration and at every delivery,
whatever DNS answers in between; subscribers learn nothing of the platform's network."""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api import auth
from api.app import create_app
from filing import api_keys, outbox, schema
from filing.deployment import DATABASE_ENV, ConfigError, Deployment, DeploymentConfig
from filing.relay import Dispatcher, Targets, WebhookPolicy, system_resolver
from filing.webhook_policy import AddressPolicy, IPAddress
from ledger.database import write_transaction
from tests.helpers import free_port

CODE = "430104001001GB00001F00010203"
LOOPBACK = ["127.0.0.0/8"]  # the suite's receivers listen there: allowed explicitly

REFUSED = [
    "http://127.0.0.1:6379/",  # Redis
    "http://127.0.0.1:5432/",  # PostgreSQL
    "http://127.1:8000/",  # short form, as getaddrinfo reads it
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",
    "http://localhost:8000/v1/units",  # a name the system resolves to loopback
    "http://LOCALHOST/",
    "http://[::1]/",
    "http://0.0.0.0:8000/",
    "http://[::]/",
    "http://10.1.2.3/",  # RFC 1918
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fd12:3456::1]/",  # ULA
    "http://169.254.1.1/",  # link-local
    "http://[fe80::1]/",
    "http://100.64.0.1/",  # CGNAT
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://[::ffff:127.0.0.1]:6379/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "ftp://tax.example/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "redis://127.0.0.1:6379/0",
    "https://user:secret@tax.example/",
    "http:///no-host",
    "http://a%00b/",
    "http://tax.example:99999/",
    "not a url at all",
]
ACCEPTED = [
    "https://8.8.8.8/hooks",
    "http://[2001:4860:4860::8888]:8443/hooks",
    "https://tax.example/wangqian",  # does not resolve today: checked at every delivery
]


class SwitchableResolver:
    """DNS whose answers the test changes between registration and delivery, as the DNS
    server of a rebinding attack would; other names go to the system's resolver."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        if host in self.answers:
            return [ipaddress.ip_address(a) for a in self.answers[host]]
        return system_resolver(host, port)


class Receiver:
    """A subscriber's endpoint on loopback: records what arrives, answers ``status``."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawServer:
    """A TCP service that is not HTTP: sends ``banner`` (or nothing) and hangs up or waits."""

    def __init__(self, banner: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()

        def serve() -> None:
            self.sock.settimeout(0.1)
            while not self.stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    continue
                if banner is None:
                    self.held.append(conn)  # silent: accepts, never answers
                else:
                    conn.sendall(banner)
                    conn.close()

        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        for c in self.held:
            c.close()
        self.sock.close()


@dataclass
class Hooks:
    client: TestClient
    keys: dict[str, dict[str, str]]
    d: Deployment
    dns: SwitchableResolver

    def subscribe(self, url: str, who: str = "tax") -> Any:
        return self.client.post(
            "/v1/webhooks", json={"url": url}, headers={**self.keys[who], "Idempotency-Key": url}
        )

    def dispatcher(self, timeout: float = 2.0) -> Dispatcher:
        """A dispatcher as the app makes it (same allow-list, same DNS), dead-lettering at once."""
        targets = Targets(AddressPolicy.parse(self.d.config.webhook_allow), self.dns)
        return Dispatcher(self.d.log.engine, None, WebhookPolicy(timeout, 1), targets=targets)

    def event(self) -> int:
        """A filing event in the outbox, as the filing transaction writes one."""
        with write_transaction(self.d.log.engine) as conn:
            return outbox.enqueue(
                conn, "filed", "CS-2026-000001", 0, dt.datetime.now(dt.UTC), CODE, "ab" * 32
            )

    def dead_letters(self, sub_id: int) -> list[dict[str, Any]]:
        r = self.client.get(f"/v1/webhooks/{sub_id}/dead-letters", headers=self.keys["tax"])
        assert r.status_code == 200, r.text
        letters: list[dict[str, Any]] = r.json()
        return letters


@contextmanager
def open_hooks(tmp_path: Path, allow: list[str], run_sequencer: bool = False) -> Iterator[Hooks]:
    """The app over a deployment whose config.json allows ``allow`` (same directory each time)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "config.json").write_text(DeploymentConfig(webhook_allow=tuple(allow)).to_json())
    d = Deployment.open(data)
    dns = SwitchableResolver()
    app = create_app(d, run_sequencer=run_sequencer, resolver=dns)
    keys = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("tax", "长沙市税务局", auth.Role.TAX),
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", "91430100MA4L000000", auth.Role.DEVELOPER),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    try:
        with TestClient(app) as client:
            yield Hooks(client, keys, d, dns)
    finally:
        d.close()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_ENV, db_url)
    monkeypatch.delenv("WANGQIAN_REDIS_URL", raising=False)


def _refused(r: Any) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://wangqian.example/problems/webhook-address-refused", r.text
    return str(r.json()["detail"])


def test_registration_refuses_every_internal_address_and_other_schemes(
    env: None, tmp_path: Path
) -> None:
    with open_hooks(tmp_path, []) as hooks:
        for url in REFUSED:
            detail = _refused(hooks.subscribe(url))
            assert "127.0.0.1" not in detail or "127.0.0.1" in url  # no resolved address told
        assert "loopback" in _refused(hooks.subscribe("http://localhost:6379/"))
        assert "cloud metadata" in _refused(hooks.subscribe("http://169.254.169.254/"))
        assert "private" in _refused(hooks.subscribe("http://[::ffff:192.168.0.1]/"))
        for url in ACCEPTED:
            r = hooks.subscribe(url)
            assert r.status_code == 201, (url, r.text)
        listed = hooks.client.get("/v1/webhooks", headers=hooks.keys["tax"]).json()
        assert [s["url"] for s in listed] == ACCEPTED  # nothing refused was stored


def test_the_allow_list_admits_named_networks_and_hosts_but_never_metadata(
    env: None, tmp_path: Path
) -> None:
    allow = ["127.0.0.0/8", "169.254.0.0/16", "hooks.internal.example"]
    with open_hooks(tmp_path, allow) as hooks:
        hooks.dns.answers["hooks.internal.example"] = ["10.1.2.3"]
        for url in [
            "http://127.0.0.1:6379/",
            "http://[::ffff:127.0.0.1]:8000/",
            "http://169.254.1.1/",
            "http://hooks.internal.example/events",  # by name, whatever it resolves to
            "http://HOOKS.internal.example./events2",
        ]:
            assert hooks.subscribe(url).status_code == 201, url
        for url in [
            "http://10.1.2.3/",  # the name was allowed, not its address
            "http://169.254.169.254/",  # metadata, though its network is allowed
            "http://[::ffff:169.254.169.254]/",
            "http://[fd00:ec2::254]/",
            "http://192.168.1.1/",
        ]:
            _refused(hooks.subscribe(url))
        hooks.dns.answers["hooks.internal.example"] = ["169.254.169.254"]
        assert "metadata" in _refused(hooks.subscribe("http://hooks.internal.example/m"))


def test_an_allow_list_entry_that_is_neither_network_nor_name_is_a_config_error(
    tmp_path: Path,
) -> None:
    for n, entry in enumerate(["not a host!", "10.1.2.3/33", ""]):
        data = tmp_path / f"d{n}"
        data.mkdir()
        (data / "config.json").write_text(json.dumps({"webhook_allow": [entry]}))
        with pytest.raises(ConfigError, match="webhook_allow"):
            Deployment.open(data)
    data = tmp_path / "not-a-list"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"webhook_allow": "10.0.0.0/8"}))
    with pytest.raises(ConfigError, match="webhook_allow must be a list"):
        Deployment.open(data)


def test_delivery_connects_to_the_address_it_checked(env: None, tmp_path: Path) -> None:
    receiver = Receiver()
    with open_hooks(tmp_path, LOOPBACK) as hooks:
        # A name only this resolver knows: if the dispatcher looked it up again (or let the
        # HTTP client do it), the POST could not be delivered at all.
        hooks.dns.answers["hooks.city.example"] = ["127.0.0.1"]
        url = f"http://hooks.city.example:{receiver.port}/events"
        r = hooks.subscribe(url)
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
        event_id = hooks.event()
        dispatcher = hooks.dispatcher()
        try:
            assert dispatcher.deliver() == 1
        finally:
            dispatcher.close()
        receiver.close()
    [(headers, body)] = receiver.received
    assert headers["Host"] == f"hooks.city.example:{receiver.port}"
    assert json.loads(body)["id"] == event_id
    expected = outbox.signature(secret, int(headers["X-Wangqian-Timestamp"]), body)
    assert hmac.compare_digest(expected, headers["X-Wangqian-Signature"])


def test_a_name_rebound_to_loopback_after_registration_is_refused_at_delivery(
    env: None, tmp_path: Path
) -> None:
    receiver = Receiver()  # on 127.0.0.1: a POST that got through would land here
    with open_hooks(tmp_path, []) as hooks:
        hooks.dns.answers["localhost"] = ["8.8.8.8"]  # at registration: a public address
        hooks.dns.answers["mixed.example"] = ["8.8.8.8"]
        rebound = hooks.subscribe(f"http://localhost:{receiver.port}/events")
        mixed = hooks.subscribe(f"http://mixed.example:{receiver.port}/events")
        assert rebound.status_code == mixed.status_code == 201, (rebound.text, mixed.text)
        hooks.dns.answers["localhost"] = ["127.0.0.1"]  # at delivery: loopback
        hooks.dns.answers["mixed.example"] = ["8.8.8.8", "127.0.0.1"]  # either, by luck
        event_id = hooks.event()
        dispatcher = hooks.dispatcher()
        try:
            assert dispatcher.deliver() == 2
        finally:
            dispatcher.close()
        for sub in (rebound, mixed):
            letters = hooks.dead_letters(sub.json()["id"])
            assert [(x["event_id"], x["last_error"]) for x in letters] == [
                (event_id, "refused address")
            ]
    receiver.close()
    assert receiver.received == []


def test_redirects_are_not_followed(env: None, tmp_path: Path) -> None:
    inside = Receiver()
    redirecting = Receiver(307, f"http://127.0.0.1:{inside.port}/events")
    with open_hooks(tmp_path, LOOPBACK) as hooks:
        sub = hooks.subscribe(f"http://127.0.0.1:{redirecting.port}/events")
        hooks.event()
        dispatcher = hooks.dispatcher()
        try:
            dispatcher.deliver()
        finally:
            dispatcher.close()
        assert [x["last_error"] for x in hooks.dead_letters(sub.json()["id"])] == ["HTTP 307"]
    redirecting.close()
    inside.close()
    assert len(redirecting.received) == 1 and inside.received == []


def test_a_closed_port_an_open_service_and_a_silent_one_read_alike(
    env: None, tmp_path: Path
) -> None:
    """A subscriber probing ports learns nothing: every failure to get HTTP is "no answer"."""
    closed = free_port()
    banner = RawServer(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    redis_like = RawServer(b"-ERR unknown command 'POST'\r\n")
    not_http = RawServer(b"HTTP/1.1 banana\r\n\r\n")
    silent = RawServer(None)
    ports = [closed, banner.port, redis_like.port, not_http.port, silent.port]
    try:
        with open_hooks(tmp_path, LOOPBACK) as hooks:
            subs = [hooks.subscribe(f"http://127.0.0.1:{p}/events").json()["id"] for p in ports]
            subs.append(hooks.subscribe("http://nowhere.invalid/events").json()["id"])
            hooks.event()
            dispatcher = hooks.dispatcher(timeout=0.5)
            try:
                assert dispatcher.deliver() == len(subs)
            finally:
                dispatcher.close()
            errors = [[x["last_error"] for x in hooks.dead_letters(s)] for s in subs]
    finally:
        for server in (banner, redis_like, not_http, silent):
            server.close()
    assert errors == [["no answer"]] * len(subs), errors


def test_dead_letters_recorded_with_network_text_read_as_no_answer(
    env: None, tmp_path: Path
) -> None:
    """Rows an older release wrote held the network error; the subscriber sees none of it."""
    with open_hooks(tmp_path, LOOPBACK) as hooks:
        sub_id = hooks.subscribe("https://tax.example/wangqian").json()["id"]
        event_id = hooks.event()
        now = dt.datetime.now(dt.UTC)
        with write_transaction(hooks.d.log.engine) as conn:
            conn.execute(
                insert(schema.webhook_attempts).values(
                    subscription_id=sub_id,
                    event_id=event_id,
                    attempts=8,
                    status="DEAD",
                    last_error="ConnectError: [Errno 111] Connection refused",
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
        [letter] = hooks.dead_letters(sub_id)
        assert letter["last_error"] == "no answer"


def _wait(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_running_app_delivers_by_its_configured_allow_list(env: None, tmp_path: Path) -> None:
    """``wangqian serve``'s own dispatcher: config.json's allow-list, nothing else."""
    receiver, allowed = Receiver(), Receiver()
    try:
        with open_hooks(tmp_path, [], run_sequencer=True) as hooks:
            # Stored as an older release would have: the check at delivery still holds.
            with write_transaction(hooks.d.log.engine) as conn:
                url = f"http://127.0.0.1:{receiver.port}/events"
                old = outbox.subscribe(conn, "长沙市税务局", url)
            hooks.event()
            a = schema.webhook_attempts

            def tried() -> bool:
                with hooks.d.log.engine.connect() as conn:
                    row = conn.execute(
                        select(a.c.last_error).where(a.c.subscription_id == old.id)
                    ).first()
                return row is not None and row[0] == "refused address"

            _wait(tried)
        assert receiver.received == []
        with open_hooks(tmp_path, LOOPBACK, run_sequencer=True) as hooks:
            sub = hooks.subscribe(f"http://127.0.0.1:{allowed.port}/events")
            assert sub.status_code == 201, sub.text
            event_id = hooks.event()
            _wait(lambda: len(allowed.received) == 1)
        assert json.loads(allowed.received[0][1])["id"] == event_id
    finally:
        receiver.close()
        allowed.close()
