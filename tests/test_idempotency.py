"""Idempotency-Key across crashes, on SQLite and PostgreSQL: the answer is stored with the
work, and a claim left by a dead request is taken over after its lease."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api.filing_routes import ContractIn
from filing import idempotency
from filing.deployment import Deployment
from keys.pki import new_key
from ledger.database import write_transaction
from signing import remote
from tests.test_filing_api import BUYER, CONTRACT, _setup_registry, api  # noqa: F401

Api = tuple[TestClient, dict[str, dict[str, str]], Deployment]


class Crash(RuntimeError):
    """The process fails here, after the work committed (a SIGKILL is tested in
    tests/test_filing_crash.py)."""


def _awaiting_buyer(client: TestClient, keys: dict[str, dict[str, str]]) -> tuple[str, Any]:
    dev, buyer = keys["developer"], keys["buyer"]
    r = client.post("/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "d"})
    cid = r.json()["id"]
    client.post(f"/v1/contracts/{cid}/seal", headers={**dev, "Idempotency-Key": "s"})
    key = new_key()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    r = client.post(
        f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
        headers={**buyer, "Idempotency-Key": "start"},
        json={"public_key_pem": pem.decode(), "name": BUYER[0], "id_number": BUYER[1]},
    )
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    return cid, {"signature": base64.b64encode(sig).decode()}


def test_a_retry_after_a_crash_behind_the_commit_gets_the_stored_answer(
    api: Api,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The filing committed, then the process died before answering: the retry must say
    "filed", not do the work again nor call the filed contract a conflict."""
    client, keys, d = api
    _setup_registry(client, keys)
    cid, body = _awaiting_buyer(client, keys)
    finish = f"/v1/contracts/{cid}/remote-signing/buyer-1/finish"
    headers = {**keys["buyer"], "Idempotency-Key": "finish"}
    sequencer = d.sequencer()
    real_wait = sequencer.wait_for

    def die(*args: object, **kw: object) -> object:  # waiting for the receipt, after commit
        raise Crash

    monkeypatch.setattr(sequencer, "wait_for", die)
    cut_off = client.post(finish, headers=headers, json=body)  # the last-resort answer
    assert cut_off.status_code == 500 and cut_off.json()["type"].endswith("/internal-error")
    monkeypatch.setattr(sequencer, "wait_for", real_wait)
    assert d.log.appended() == 1  # the work committed: one filing in the log
    again = client.post(finish, headers=headers, json=body)
    assert again.status_code == 201, again.text
    answer = again.json()
    assert answer["filed"] and answer["event"] == "filed" and answer["log_index"] == 0
    assert client.post(finish, headers=headers, json=body).json()["filing"] == answer["filing"]
    assert d.log.appended() == 1  # and not done twice


def test_a_claim_of_a_dead_request_is_taken_over_after_its_lease(api: Api) -> None:  # noqa: F811
    client, keys, d = api
    _setup_registry(client, keys)
    dev = keys["developer"]
    request = CONTRACT | {"number": "HT-LEASE-1"}
    # What the route hashes: the request as its model reads it.
    raw = hashlib.sha256(ContractIn(**request).model_dump_json().encode()).hexdigest()
    t = idempotency.idempotency_keys
    org = "91430100MA4L000000"
    now = dt.datetime.now(dt.UTC)
    with write_transaction(d.log.engine) as conn:  # a request that died 5 s ago, unanswered
        conn.execute(insert(t).values(org=org, key="fresh", request_hash=raw, created_at=now))
        old = now - dt.timedelta(seconds=d.config.idempotency_lease_seconds + 5)
        conn.execute(insert(t).values(org=org, key="stale", request_hash=raw, created_at=old))
    running = client.post(
        "/v1/contracts", json=request, headers={**dev, "Idempotency-Key": "fresh"}
    )
    assert running.status_code == 409 and running.json()["type"].endswith("/request-in-progress")
    assert int(running.headers["Retry-After"]) > 0
    taken = client.post("/v1/contracts", json=request, headers={**dev, "Idempotency-Key": "stale"})
    assert taken.status_code == 201, taken.text
    with d.log.engine.connect() as conn:
        stored = conn.execute(select(t.c.status).where(t.c.key == "stale")).scalar()
    assert stored == 201
    replay = client.post("/v1/contracts", json=request, headers={**dev, "Idempotency-Key": "stale"})
    assert replay.json() == taken.json()  # an invitation's answer has no token to keep
