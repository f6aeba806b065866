"""Bounded cost of public inputs: bodies refused by size before they are read, and a CPU
budget per client for public verification (not only a request count)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import MAX_DER, MAX_VERIFICATION, BodyLimitMiddleware, limit_for
from api.problems import Problem
from api.ratelimit import CpuBudget
from filing.deployment import ConfigError, Deployment, DeploymentConfig
from tests.helpers import free_port, stop, wait_http, wangqian
from tests.test_ratelimit import REDIS, _redis_up


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment.open(tmp_path / "data")
    yield d
    d.close()


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    reads = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/verification",
        "headers": [(b"content-length", b"2000000000")],
    }
    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    assert reads == 0
    assert sent[0]["status"] == 413
    assert b"payload-too-large" in sent[1]["body"]


def test_limits_by_route() -> None:
    assert limit_for("/v1/verification") == MAX_VERIFICATION
    assert limit_for("/tsa") == limit_for("/ocsp") == MAX_DER
    assert limit_for("/v1/contracts/abc/signatures") == 20 * 1024 * 1024
    assert limit_for("/v1/anything-else") == 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    data = tmp_path_factory.mktemp("limits") / "data"
    proc = wangqian("serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port))
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", proc)
        yield port
    finally:
        stop(proc)


def _answer(s: socket.socket) -> bytes:
    """The server's whole answer (it closes the connection after a 413)."""
    s.settimeout(10)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_a_real_server_answers_413_to_a_huge_declared_body_at_once(server: int) -> None:
    """Over a socket: the server answers without waiting for 2 GB that never come."""
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(
            b"POST /v1/verification HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n"
        )
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"payload-too-large" in answer


def test_an_unbounded_chunked_stream_is_cut_off_at_the_limit(server: int) -> None:
    """Chunked, with no length: counted as it arrives and refused at the limit.

    The body never ends (no last chunk is sent): the answer comes once the limit is passed.
    """
    chunk = b"0" * 4096
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(
            b"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: application/timestamp-query\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(MAX_DER // len(chunk) + 1):
            s.sendall(b"1000\r\n" + chunk + b"\r\n")
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"payload-too-large" in answer


def test_a_chunked_json_body_past_the_limit_gets_413_not_a_parse_error(server: int) -> None:
    """Found by the red team: a JSON route's body parser turned the cut-off into a 400 and
    read the body to its end (200 MiB); the answer is 413, sent as soon as the limit is
    passed, and the rest of the body is never read."""
    chunk = b" " * 4096
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(
            b"POST /v1/contracts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer nope\r\nIdempotency-Key: k\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(64 * 1024 // len(chunk) + 2):
            s.sendall(b"1000\r\n" + chunk + b"\r\n")
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"payload-too-large" in answer and b"connection: close" in answer.lower()


def test_json_and_der_bodies_are_bounded_too(deployment: Deployment) -> None:
    with TestClient(create_app(deployment, run_sequencer=False)) as client:
        big = client.post("/v1/verification", json={"pdf": "A" * (MAX_VERIFICATION + 10)})
        assert big.status_code == 413 and big.json()["type"].endswith("/payload-too-large")
        other = client.post("/v1/units/x/release", content=b"{" + b" " * 70_000 + b"}")
        assert other.status_code == 413  # any other route: 64 KiB
        der = client.post(
            "/tsa",
            content=b"0" * (MAX_DER + 1),
            headers={"content-type": "application/timestamp-query"},
        )
        assert der.status_code == 413
        assert der.headers["content-type"] == "application/problem+json"


def test_the_verification_page_charges_each_client_its_cpu(deployment: Deployment) -> None:
    # A budget smaller than any verification: the first one spends it, the next is refused.
    deployment.save_config(dataclasses.replace(deployment.config, verification_cpu_seconds=1e-6))
    app = create_app(Deployment.open(deployment.data_dir), run_sequencer=False)
    from signing.render import render
    from signing.sample import sample_contract

    pdf = base64.b64encode(render(sample_contract()).pdf).decode()
    # An unsigned draft verifies in a millisecond or two on a fast machine, several on a
    # slow one: ask until refused, and see that it comes long before the request rate.
    answers = []
    with TestClient(app) as client:
        for _ in range(200):
            answers.append(client.post("/v1/verification", json={"pdf": pdf}))
            if answers[-1].status_code == 429:
                break
    codes = [a.status_code for a in answers]
    assert codes == [200, 429], codes  # the request rate (600 a minute) was never the limit
    refused = answers[1]
    assert refused.json()["type"].endswith("/rate-limited") and "CPU" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize("shared", [True, False])
def test_the_cpu_budget_is_shared_through_redis_or_kept_per_process(shared: bool) -> None:
    if shared and not _redis_up():
        pytest.fail("Redis is not running at 127.0.0.1:6379")
    url = REDIS if shared else "redis://127.0.0.1:1/0"
    key = f"test-{uuid.uuid4().hex}"
    a, b = CpuBudget(url, 0.02), CpuBudget(url, 0.02)
    with a.charge(key):
        sum(i * i for i in range(4_000_000))  # well over 20 ms of CPU
    if shared:
        with pytest.raises(Problem) as refused, b.charge(key):
            pass
        assert refused.value.status == 429
    else:
        with b.charge(key):  # b's own count: nothing shared without Redis
            pass
    with pytest.raises(Problem), a.charge(key):
        pass


def test_the_budget_is_configured_and_checked() -> None:
    assert DeploymentConfig.from_json("{}").verification_cpu_seconds == 10.0
    assert (
        DeploymentConfig.from_json('{"verification_cpu_seconds": 2.5}').verification_cpu_seconds
        == 2.5
    )
    for bad in ('{"verification_cpu_seconds": 0}', '{"verification_cpu_seconds": "lots"}'):
        with pytest.raises(ConfigError, match="verification_cpu_seconds"):
            DeploymentConfig.from_json(bad)
