"""SIGKILL the server 10 times under a filing load: no acknowledged filing lost, none half-done."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import signal
import threading
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from api import auth
from api.demo import DEVELOPER_ID, sample_inventory
from filing import schema
from filing.deployment import Deployment
from filing.entry import FilingEntry
from keys.pki import new_key
from ledger.audit import audit
from ledger.database import write_transaction
from signing import remote
from signing.sample import sample_contract
from tests.helpers import free_port, stop, wait_http, wangqian

BUYER = sample_contract().buyers[0]


def _prepare(data: Path) -> dict[str, str]:
    from api.app import filing_service

    with Deployment.open(data) as d:
        filing_service(d)
        with write_transaction(d.log.engine) as conn:
            return {
                "authority": auth.create_key(conn, "住建局", auth.Role.AUTHORITY),
                "developer": auth.create_key(conn, DEVELOPER_ID, auth.Role.DEVELOPER),
                "buyer": auth.create_key(conn, BUYER.id_number, auth.Role.BUYER),
            }


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


def _file_loop(
    base: str,
    keys: dict[str, str],
    codes: list[str],
    acked: list[dict[str, object]],
    stop_at: float,
) -> None:
    s = sample_contract()
    dev = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['developer']}"}, timeout=30
    )
    buyer = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['buyer']}"}, timeout=30
    )
    while codes and time.monotonic() < stop_at:
        code = codes.pop()
        try:
            n = f"{time.time_ns()}"
            r = dev.post(
                "/v1/contracts",
                headers={"Idempotency-Key": "d" + n},
                json={
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
            if r.status_code != 201:
                continue
            cid = r.json()["id"]
            dev.post(f"/v1/contracts/{cid}/seal", headers={"Idempotency-Key": "s" + n})
            key = new_key()
            pem = (
                key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            )
            r = buyer.post(
                f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
                headers={"Idempotency-Key": "a" + n},
                json={"public_key_pem": pem, "name": BUYER.name, "id_number": BUYER.id_number},
            )
            digest = base64.b64decode(r.json()["digest_to_sign"])
            r = buyer.post(
                f"/v1/contracts/{cid}/remote-signing/buyer-1/finish",
                headers={"Idempotency-Key": "b" + n},
                json={"signature": base64.b64encode(remote.device_sign(key, digest)).decode()},
            )
            if r.status_code == 201:
                acked.append(r.json())
        except (httpx.HTTPError, KeyError, ValueError):
            return  # the server died under us


def test_sigkill_during_filing_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys = _prepare(data)
    codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:]]
    random.Random(7).shuffle(codes)
    acked: list[dict[str, object]] = []
    rng = random.Random(2026)
    loaded = False
    for _ in range(10):
        port = free_port()
        server = wangqian(
            "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port)
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/log/vkey", server, timeout=30)
            if not loaded:
                _load(base, keys)
                loaded = True
            killer_at = time.monotonic() + rng.uniform(1.0, 4.0)
            workers = [
                threading.Thread(target=_file_loop, args=(base, keys, codes, acked, killer_at + 5))
                for _ in range(2)
            ]
            for w in workers:
                w.start()
            time.sleep(max(0.0, killer_at - time.monotonic()))
            server.send_signal(signal.SIGKILL)
            server.wait()
            for w in workers:
                w.join(timeout=60)
        finally:
            stop(server)
        _check_invariants(data, acked)
    assert len(acked) >= 5, f"only {len(acked)} filings were acknowledged: the load did not run"


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
