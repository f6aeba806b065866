"""Requests that were 500s: state conflicts, another party's field, a contract number used
before; and what an internal error leaves behind: a generic problem with an incident id,
and no SQL parameters or personal data in the server log or the answer."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, text

from api.demo import sample_inventory
from filing import schema
from filing.deployment import DATABASE_ENV, Deployment
from keys.pki import new_key
from ledger.database import write_transaction
from signing.sample import sample_contract
from tests.helpers import free_port, stop, wait_http, wangqian
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    Api,
    _post,
    _setup_registry,
    api,
    file_contract,
)
from tests.test_filing_crash import _load, _prepare

__all__ = ["api"]  # the fixture

PHONE = "13912345678"
WITH_PHONE = {**CONTRACT, "buyers": [{"name": BUYER[0], "id_number": BUYER[1], "phone": PHONE}]}
PERSONAL = (BUYER[0], BUYER[1], PHONE)


def _pem() -> str:
    """A device's P-256 public key (PEM), as a phone sends it."""
    public = new_key().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def _problem(r: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body: dict[str, object] = r.json()
    assert str(body["type"]).endswith("/" + slug), body
    return body


def test_sealing_a_filed_contract_is_a_state_conflict(api: Api) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    cid, number = file_contract(client, keys)
    before = client.get(f"/v1/filings/{number}/document", headers=keys["developer"]).content
    r = _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    _problem(r, 409, "contract-state")  # type: ignore[arg-type]
    after = client.get(f"/v1/filings/{number}/document", headers=keys["developer"]).content
    assert after == before
    state = client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).json()
    assert state["status"] == "FILED" and state["signed"] == ["seller", "buyer-1"]


def test_a_buyer_starts_only_their_own_signature(api: Api) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    dev, buyer = keys["developer"], keys["buyer"]
    cid = client.post("/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "d"})
    cid = cid.json()["id"]
    identity = {"public_key_pem": _pem(), "name": BUYER[0], "id_number": BUYER[1]}
    # The seller is next: a buyer starting the seller's field was an IndexError (a 500).
    for field, status, slug in [
        ("seller", 403, "not-your-field"),
        ("filing-seal", 403, "not-your-field"),
        ("buyer-2", 422, "unknown-signature-field"),
        ("buyer-x", 422, "unknown-signature-field"),
        ("buyer-0", 422, "unknown-signature-field"),
    ]:
        start = f"/v1/contracts/{cid}/remote-signing/{field}/start"
        _problem(_post(client, start, buyer, json=identity), status, slug)  # type: ignore[arg-type]
        finish = f"/v1/contracts/{cid}/remote-signing/{field}/finish"
        _problem(_post(client, finish, buyer, json={"signature": "AA=="}), status, slug)  # type: ignore[arg-type]
    state = client.get(f"/v1/contracts/{cid}", headers=dev).json()
    assert state["status"] == "DRAFT" and state["signed"] == []


def test_a_contract_number_used_before_is_a_conflict_that_logs_nothing_personal(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    dev = keys["developer"]
    first = client.post("/v1/contracts", json=WITH_PHONE, headers={**dev, "Idempotency-Key": "1"})
    assert first.status_code == 201, first.text
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        again = client.post(
            "/v1/contracts",
            json={**WITH_PHONE, "unit_code": CODES[1]},
            headers={**dev, "Idempotency-Key": "2"},
        )
    body = _problem(again, 409, "duplicate-contract-number")
    assert CONTRACT["number"] in str(body["detail"])
    # Nothing of the second draft was written: its unit is still on sale, one contract.
    unit = client.get(f"/v1/units/{CODES[1]}", headers=dev).json()["unit"]
    assert unit["status"] == "AVAILABLE"
    with d.log.engine.connect() as conn:
        assert len(conn.execute(select(schema.contracts.c.id)).all()) == 1
    for value in PERSONAL:
        assert value not in caplog.text and value not in again.text


def test_safe_formatter_writes_where_an_exception_came_from_but_none_of_its_text() -> None:
    from api.incidents import SafeFormatter

    def inner() -> None:
        raise KeyError(f"{BUYER[1]} {BUYER[0]} {PHONE}")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError(f"wrapped: {exc}") from exc
    except RuntimeError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "incident %s", ("abc",), exc_info=True
        )
        record.exc_info = sys.exc_info()
    written = SafeFormatter("%(levelname)s %(message)s").format(record)
    assert "incident abc" in written and "RuntimeError" in written and "KeyError" in written
    assert "inner" in written and "test_no_server_errors.py" in written  # where: kept
    for value in PERSONAL:
        assert value not in written  # what: dropped
    assert "wrapped" not in written


def test_a_real_server_logs_no_personal_data_and_answers_no_detail_on_an_internal_error(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wangqian serve` as deployed: a duplicate number, then an internal database error."""
    monkeypatch.setenv(DATABASE_ENV, db_url)
    data = tmp_path / "data"
    keys = _prepare(data)  # its buyer key is the sample contract's first buyer
    buyer = sample_contract().buyers[0]
    personal = (buyer.name, buyer.id_number, PHONE)
    port = free_port()
    server = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/log/vkey", server, timeout=30)
        _load(base, keys)
        s = sample_contract()
        codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:]]
        dev = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {keys['developer']}"}, timeout=60
        )
        draft = {
            "unit_code": codes[0],
            "number": "HT-LOG-1",
            "price": "1000000",
            "payment_method": "LUMP_SUM",
            "buyers": [{"name": buyer.name, "id_number": buyer.id_number, "phone": PHONE}],
            "escrow_bank": s.escrow.bank,
            "escrow_account_name": s.escrow.account_name,
            "escrow_account_number": s.escrow.account_number,
            "delivery_date": "2028-06-30",
            "dispute_body": s.dispute_body,
        }
        first = dev.post("/v1/contracts", json=draft, headers={"Idempotency-Key": "a"})
        assert first.status_code == 201, first.text
        again = dev.post(
            "/v1/contracts",
            json={**draft, "unit_code": codes[1]},
            headers={"Idempotency-Key": "b"},
        )
        _problem(again, 409, "duplicate-contract-number")

        # An internal error whose SQL carries the buyer's name and ID number as parameters:
        # the identity check reads a table that is gone.
        with Deployment.open(data) as d, write_transaction(d.log.engine) as conn:
            conn.execute(text("DROP TABLE dept_identities"))
        pem = _pem()
        started = httpx.post(
            f"{base}/v1/contracts/{first.json()['id']}/remote-signing/buyer-1/start",
            json={"public_key_pem": pem, "name": buyer.name, "id_number": buyer.id_number},
            headers={"Authorization": f"Bearer {keys['buyer']}", "Idempotency-Key": "c"},
            timeout=60,
        )
    finally:
        stop(server)
    log = server.stdout.read() if server.stdout else ""
    body = _problem(started, 500, "internal-error")
    incident = str(body["incident"])
    assert set(body) == {"type", "title", "status", "detail", "incident"}, body
    assert f"incident {incident}" in log, log  # the operator finds it by its id
    assert "Error" in log.split(f"incident {incident}", 1)[1].splitlines()[0]  # and its type
    for value in personal:
        assert value not in log, f"{value!r} in the server log:\n{log}"
        for r in (first, again, started):
            assert value not in r.text


def test_any_other_constraint_a_write_breaks_is_a_409_problem_that_writes_nothing(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """The catch-all for IntegrityError: forced here with a constraint the schema lacks."""
    client, keys, d = api
    authority = {**keys["authority"], "content-type": "text/csv"}
    with write_transaction(d.log.engine) as conn:
        conn.execute(text("CREATE UNIQUE INDEX one_name ON dept_identities (name)"))
    first = f"id_number,name\n{BUYER[1]},{BUYER[0]}\n".encode()
    r = client.post(
        "/v1/departments/identities", content=first, headers={**authority, "Idempotency-Key": "1"}
    )
    assert r.status_code == 201, r.text
    twins = f"id_number,name\n{BUYER[1]},{BUYER[0]}\n430104199202022345,{BUYER[0]}\n".encode()
    with caplog.at_level(logging.DEBUG):
        r = client.post(
            "/v1/departments/identities",
            content=twins,
            headers={**authority, "Idempotency-Key": "2"},
        )
    _problem(r, 409, "conflict")
    for value in (BUYER[0], BUYER[1], "430104199202022345"):
        assert value not in r.text and value not in caplog.text
    loads = client.get("/v1/departments/identities/loads", headers=keys["authority"]).json()
    assert len(loads) == 1  # the refused load is not on record, and the table is as it was
    with d.log.engine.connect() as conn:
        rows = conn.execute(text("SELECT id_number, name FROM dept_identities")).all()
    assert [tuple(row) for row in rows] == [(BUYER[1], BUYER[0])]


def test_a_json_body_nested_too_deep_is_a_documented_400(api: Api) -> None:
    client, _, _ = api
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/v1/verification", content=deep, headers={"content-type": "application/json"})
    _problem(r, 400, "unreadable-body")
