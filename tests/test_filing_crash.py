"""SIGKILL the server 10 times under a filing load: no acknowledged filing lost, none half-done."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from api import auth
from api.demo import DEVELOPER_ID, sample_inventory
from filing import api_keys, schema
from filing.deployment import Deployment
from filing.entry import FilingEntry
from keys.pki import new_key
from ledger.audit import audit
from ledger.database import write_transaction
from signing import remote
from signing.sample import sample_contract
from tests.helpers import allow_many_homes, free_port, kill, stop, wait_http, wangqian

BUYER = sample_contract().buyers[0]


def _prepare(data: Path, database_url: str | None = None) -> dict[str, str]:
    from api.app import filing_service

    allow_many_homes(data)
    with Deployment.open(data) as d:
        # A dead request's Idempotency-Key is taken over after 2 s, so that the retries
        # below finish within the test.
        d.save_config(
            dataclasses.replace(
                d.config, idempotency_lease_seconds=2.0, database_url=database_url or ""
            )
        )
    with Deployment.open(data) as d:
        filing_service(d)
        with write_transaction(d.log.engine) as conn:
            return {
                "authority": api_keys.create_key(conn, "住建局", auth.Role.AUTHORITY),
                "developer": api_keys.create_key(conn, DEVELOPER_ID, auth.Role.DEVELOPER),
                "buyer": api_keys.create_key(conn, BUYER.id_number, auth.Role.BUYER),
            }


@dataclass(frozen=True)
class Sent:
    """A request as the client sent it: enough to send it again with the same key."""

    who: str
    path: str
    key: str
    json: dict[str, object]


def _load(base: str, keys: dict[str, str]) -> None:
    a = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['authority']}"}, timeout=60
    )
    csv = {"content-type": "text/csv"}
    inventory = sample_inventory()
    assert (
        a.post(
            "/v1/registry/import",
            content=inventory.encode(),
            headers={**csv, "Idempotency-Key": "i"},
        ).status_code
        == 201
    )
    for kind, body in [
        ("households", f"id_number,local,spouse,minor_children\n{BUYER.id_number},1,,\n"),
        ("identities", f"id_number,name\n{BUYER.id_number},{BUYER.name}\n"),
    ]:
        assert (
            a.post(
                f"/v1/departments/{kind}",
                content=body.encode(),
                headers={**csv, "Idempotency-Key": kind},
            ).status_code
            == 201
        )
    codes = [line.split(",")[6] for line in inventory.splitlines()[1:]]
    a.post(
        "/v1/registry/permits",
        headers={"Idempotency-Key": "p"},
        json={"number": "P-1", "authority": "住建局", "valid_from": "2026-01-01", "units": codes},
    )
    dev = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['developer']}"}, timeout=60
    )
    for code in codes:
        dev.post(f"/v1/units/{code}/release", headers={"Idempotency-Key": code})


def _post(base: str, keys: dict[str, str], sent: Sent) -> httpx.Response:
    headers = {"Authorization": f"Bearer {keys[sent.who]}", "Idempotency-Key": sent.key}
    with httpx.Client(base_url=base, timeout=30) as client:
        return client.post(sent.path, headers=headers, json=sent.json)


def _file_loop(
    base: str,
    keys: dict[str, str],
    codes: list[str],
    acked: list[dict[str, object]],
    interrupted: list[Sent],
    stop_at: float,
) -> None:
    """Draft, seal, sign on the phone, again and again; what the server's death interrupts
    is kept, to be sent again (same key) once it is back."""
    s = sample_contract()
    while codes and time.monotonic() < stop_at:
        code = codes.pop()
        n = f"{time.time_ns()}"
        sent = Sent(
            "developer",
            "/v1/contracts",
            "d" + n,
            {
                "unit_code": code,
                "number": "HT-" + n,
                "price": "1000000",
                "payment_method": "LUMP_SUM",
                "buyers": [{"name": BUYER.name, "id_number": BUYER.id_number}],
                "escrow_bank": s.escrow.bank,
                "escrow_account_name": s.escrow.account_name,
                "escrow_account_number": s.escrow.account_number,
                "delivery_date": "2028-06-30",
                "dispute_body": s.dispute_body,
            },
        )
        try:
            r = _post(base, keys, sent)
            if r.status_code != 201:
                continue
            cid = r.json()["id"]
            sent = Sent("developer", f"/v1/contracts/{cid}/seal", "s" + n, {})
            _post(base, keys, sent)
            key = new_key()
            pem = (
                key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            )
            sent = Sent(
                "buyer",
                f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
                "a" + n,
                {"public_key_pem": pem, "name": BUYER.name, "id_number": BUYER.id_number},
            )
            r = _post(base, keys, sent)
            digest = base64.b64decode(r.json()["digest_to_sign"])
            sent = Sent(
                "buyer",
                f"/v1/contracts/{cid}/remote-signing/buyer-1/finish",
                "b" + n,
                {"signature": base64.b64encode(remote.device_sign(key, digest)).decode()},
            )
            r = _post(base, keys, sent)
            if r.status_code == 201:
                acked.append(r.json())
        except (httpx.HTTPError, KeyError, ValueError):
            interrupted.append(sent)
            return  # the server died under us


def _retry(base: str, keys: dict[str, str], sent: Sent, acked: list[dict[str, object]]) -> int:
    """Send an interrupted request again with its key until it is answered for good."""
    deadline = time.monotonic() + 30
    while True:
        r = _post(base, keys, sent)
        if r.status_code != 409 or not r.json()["type"].endswith("/request-in-progress"):
            break
        # The dead request's claim: taken over once its lease (2 s here) runs out.
        assert time.monotonic() < deadline, f"{sent.path} stuck in progress"
        time.sleep(float(r.headers.get("Retry-After", "1")))
    assert r.status_code < 500, (sent.path, r.status_code, r.text)
    if sent.path.endswith("/finish"):
        # Interrupted anywhere (before, during or after its commit): it files, once.
        assert r.status_code == 201 and r.json()["filed"], r.text
        acked.append(r.json())
    return r.status_code


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_sigkill_during_filing_load(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """Killed 10 times under load (PostgreSQL: two worker processes); every request the
    kill interrupted is sent again with its key after the restart and completes."""
    data = tmp_path / "data"
    url = str(request.getfixturevalue("pg_url")) if database == "postgresql" else None
    keys = _prepare(data, url)
    codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:]]
    random.Random(7).shuffle(codes)
    acked: list[dict[str, object]] = []
    interrupted: list[Sent] = []
    retried: list[int] = []
    rng = random.Random(2026)
    loaded = False
    workers_arg = ["--workers", "2"] if database == "postgresql" else []
    for _ in range(10):
        port = free_port()
        server = wangqian(
            "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port),
            *workers_arg,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/log/vkey", server, timeout=30)
            if not loaded:
                _load(base, keys)
                loaded = True
            while interrupted:
                retried.append(_retry(base, keys, interrupted.pop(), acked))
            killer_at = time.monotonic() + rng.uniform(1.0, 4.0)
            workers = [
                threading.Thread(
                    target=_file_loop,
                    args=(base, keys, codes, acked, interrupted, killer_at + 5),
                )
                for _ in range(2)
            ]
            for w in workers:
                w.start()
            time.sleep(max(0.0, killer_at - time.monotonic()))
            kill(server)
            for w in workers:
                w.join(timeout=60)
        finally:
            stop(server)
        _check_invariants(data, acked)
    assert len(acked) >= 5, f"only {len(acked)} filings were acknowledged: the load did not run"
    assert retried, "no request was interrupted: the kills missed the load"


def _check_invariants(data: Path, acked: list[dict[str, object]]) -> None:
    with Deployment.open(data) as d:
        engine = d.log.engine
        with engine.connect() as conn:
            filings = {r.number: r for r in conn.execute(select(schema.filings))}
            units = {r.id: r for r in conn.execute(select(schema.units))}
            contracts = list(conn.execute(select(schema.contracts)))
        for a in acked:  # every 201 is present, sealed and in the log
            f = filings[str(a["filing"])]
            assert hashlib.sha256(f.sealed_pdf).hexdigest() == f.doc_sha256 == a["document_sha256"]
            entry = FilingEntry.decode(d.log.entry(int(f.log_index)))
            assert entry.filing == f.number and entry.doc_sha256 == f.doc_sha256
        for f in filings.values():  # no half-written filing
            assert units[f.unit_id].status == "FILED" and f.status == "ACTIVE"
            assert FilingEntry.decode(d.log.entry(int(f.log_index))).filing == f.number
        filed_units = {u.id for u in units.values() if u.status == "FILED"}
        assert filed_units == {
            f.unit_id for f in filings.values()
        }  # no FILED unit without its filing
        for c in contracts:
            assert (c.status == "FILED") == any(f.contract_id == c.id for f in filings.values())
            if c.status == "DRAFT":
                assert (
                    units[c.unit_id].status == "RESERVED" and units[c.unit_id].reserved_for == c.id
                )
        d.log.integrate()
        assert audit(d.log, d.log_verifiers()).ok
    json.dumps(acked)  # plain data only
