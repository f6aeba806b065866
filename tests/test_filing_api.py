"""The filing API over HTTP on SQLite and PostgreSQL: roles, the path, errors, idempotency."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import auth
from api.app import create_app
from filing import access_log, api_keys
from filing.deployment import Deployment
from keys.pki import new_key
from ledger.database import write_transaction
from ledger.receipt import Receipt
from signing import remote
from tests.helpers import judgment_pdf
from tests.sms import identities_csv, sent

DEVELOPER_ID = "91430100MA4L000000"
BUYER = ("王小明", "430102199001011234")
CODES = [f"430104001001GB00001F0001{n:04d}" for n in (203, 204)]
CSV = (
    "project,district,address,developer,developer_id,building,code,floor,room,use,forecast_building,forecast_inner,forecast_shared\n"
    + "".join(
        f"湘江示范花园,岳麓区,长沙市岳麓区示范路 1 号,湘江示范置业有限公司,{DEVELOPER_ID},"
        f"2 栋,{code},12,12{n},住宅,118.56,96.30,22.26\n"
        for n, code in enumerate(CODES, start=3)
    )
)
CONTRACT = {
    "unit_code": CODES[0], "number": "HT-2026-000001",
    "buyers": [{"name": BUYER[0], "id_number": BUYER[1]}],
    "price": "1422720.00", "payment_method": "LOAN", "down_payment": "430000.00",
    "loan_bank": "示范银行",
    # The test bank key's organisation: only the bank the contract names keeps the account.
    "escrow_bank": "示范银行", "escrow_account_name": "预售资金监管账户",
    "escrow_account_number": "4300 0000 0000 8888", "delivery_date": "2028-06-30",
    "dispute_body": "长沙市岳麓区人民法院",
}  # fmt: skip

Api = tuple[TestClient, dict[str, dict[str, str]], Deployment]
SELLER = "湘江示范置业有限公司"
REGISTRATION = {"certificate": "湘（2027）长沙市不动产权第 0012345 号"}


@pytest.fixture
def api(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Deployment]]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    monkeypatch.setenv("WANGQIAN_REDIS_URL", "redis://127.0.0.1:6379/0")
    d = Deployment.open(tmp_path / "data")
    app = create_app(d)
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
            ("other", "91430100OTHER00000", auth.Role.DEVELOPER),
            ("buyer", BUYER[1], auth.Role.BUYER),
            ("bank", "示范银行", auth.Role.BANK),
            ("tax", "长沙市税务局", auth.Role.TAX),
            ("court", "岳麓区人民法院", auth.Role.COURT),
            ("stats", "长沙市统计局", auth.Role.DEPARTMENT),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with TestClient(app) as client:  # runs the sequencer in the background, as serve does
        yield client, keys, d
    d.close()


_n = 0


def _post(client: TestClient, path: str, headers: dict[str, str], **kw: object) -> object:
    global _n
    _n += 1
    return client.post(path, headers={**headers, "Idempotency-Key": f"k{_n}"}, **kw)  # type: ignore[arg-type]


def _setup_registry(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    a = keys["authority"]
    r = client.post(
        "/v1/registry/import",
        content=CSV.encode(),
        headers={**a, "Idempotency-Key": "imp", "content-type": "text/csv"},
    )
    assert r.status_code == 201 and r.json() == {"imported": 2}, r.text
    for kind, body in [
        ("households", f"id_number,local,spouse,minor_children\n{BUYER[1]},1,,\n"),
        ("identities", identities_csv([BUYER])),
    ]:
        r = client.post(
            f"/v1/departments/{kind}",
            content=body.encode(),
            headers={**a, "Idempotency-Key": kind, "content-type": "text/csv"},
        )
        assert r.status_code == 201, r.text
    r = _post(
        client,
        "/v1/registry/permits",
        a,
        json={
            "number": "长住建预许字（2026）第 0088 号",
            "authority": "长沙市住房和城乡建设局",
            "valid_from": "2026-01-01",
            "units": CODES,
        },
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    for code in CODES:
        r = _post(client, f"/v1/units/{code}/release", keys["developer"])
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]


def test_signing_equals_filing_over_http(
    api: Api,
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    dev, buyer = keys["developer"], keys["buyer"]
    r = client.post("/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "draft-1"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    again = client.post(
        "/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "draft-1"}
    )
    # Replayed, not drafted twice (and no second invitation sent): the same answer, which
    # carries no token (the invitation went to the buyer's phone).
    assert again.json() == r.json()
    assert r.json()["invitations"][0]["sent"] is True
    assert len(sent(d, cid, "buyer-1")) == 1
    other = client.post(
        "/v1/contracts",
        json={**CONTRACT, "number": "HT-2"},
        headers={**dev, "Idempotency-Key": "draft-1"},
    )
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    taken = client.post(
        "/v1/contracts",
        json={**CONTRACT, "number": "HT-3"},
        headers={**dev, "Idempotency-Key": "draft-3"},
    )
    assert taken.status_code == 409 and taken.json()["checks"] == ["UNIT_RESERVED"]

    r = _post(client, f"/v1/contracts/{cid}/seal", dev)
    assert r.status_code == 200 and r.json() == {"filed": False}, r.text  # type: ignore[attr-defined]
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = _post(
        client,
        f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
        buyer,
        json={"public_key_pem": pem, "name": BUYER[0], "id_number": BUYER[1]},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    digest = base64.b64decode(r.json()["digest_to_sign"])  # type: ignore[attr-defined]
    sig = base64.b64encode(remote.device_sign(key, digest)).decode()
    r = _post(
        client, f"/v1/contracts/{cid}/remote-signing/buyer-1/finish", buyer, json={"signature": sig}
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    filed = r.json()  # type: ignore[attr-defined]
    assert filed["filed"] and filed["receipt"], filed
    receipt = Receipt.parse(filed["receipt"])
    assert receipt.index == filed["log_index"]

    number = filed["filing"]
    pdf = client.get(f"/v1/filings/{number}/document", headers=buyer).content
    assert hashlib.sha256(pdf).hexdigest() == filed["document_sha256"]
    found = client.get(
        "/v1/filings", params={"sha256": filed["document_sha256"]}, headers=keys["bank"]
    ).json()
    assert found[0]["filing"] == number and found[0]["status"] == "ACTIVE"
    assert (
        client.get(f"/v1/filings/{number}", headers=keys["other"]).status_code == 404
    )  # not theirs
    assert (
        client.get(f"/v1/units/{CODES[0]}", headers=keys["bank"]).json()["unit"]["status"]
        == "FILED"
    )
    with d.log.engine.connect() as conn:
        reads = conn.execute(select(func.count()).select_from(access_log.access_log)).scalar()
    assert reads and reads >= 1

    # 变更: a change agreement the developer proposes, both parties sign, filed against the filing.
    r = _post(
        client,
        f"/v1/filings/{number}/change-agreements",
        dev,
        json={"reason": "补充协议：交付日期顺延", "changes": "交付日期变更为 2028-12-31。"},
    )
    assert r.status_code == 201 and r.json()["kind"] == "change", r.text  # type: ignore[attr-defined]
    agreement = r.json()  # type: ignore[attr-defined]
    assert agreement["number"] == f"{number}-BG1"
    r = _post(client, f"/v1/contracts/{agreement['id']}/seal", dev)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = _post(
        client,
        f"/v1/contracts/{agreement['id']}/remote-signing/buyer-1/start",
        buyer,
        json={"public_key_pem": pem, "name": BUYER[0], "id_number": BUYER[1]},
    )
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))  # type: ignore[attr-defined]
    r = _post(
        client,
        f"/v1/contracts/{agreement['id']}/remote-signing/buyer-1/finish",
        buyer,
        json={"signature": base64.b64encode(sig).decode()},
    )
    assert r.status_code == 201 and r.json()["event"] == "changed", r.text  # type: ignore[attr-defined]
    change = r.json()  # type: ignore[attr-defined]
    assert Receipt.parse(change["receipt"]).index == change["log_index"]
    listed = client.get(f"/v1/filings/{number}/changes", headers=buyer).json()
    assert [c["log_index"] for c in listed] == [change["log_index"]]
    sealed = client.get(
        f"/v1/filings/{number}/changes/{change['log_index']}/document", headers=buyer
    ).content
    assert hashlib.sha256(sealed).hexdigest() == change["document_sha256"]
    assert (
        client.get(f"/v1/filings/{number}/changes/999999/document", headers=buyer).status_code
        == 404
    )
    other = _post(
        client,
        f"/v1/filings/{number}/change-agreements",
        keys["other"],
        json={"reason": "x", "changes": "y"},
    )
    assert other.status_code == 404  # type: ignore[attr-defined]  # another developer's filing

    view = client.get(f"/v1/contracts/{cid}", headers=buyer).json()
    assert view["filing"]["number"] == number and view["unit_status"] == "FILED"
    assert view["required"] == ["seller", "buyer-1", "filing-seal"]

    pdf_body = {"content-type": "application/pdf"}
    r = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], **pdf_body},
        params={"reason": "判决解除"},
        content=judgment_pdf(),
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/judgment-required")  # type: ignore[attr-defined]
    r = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], **pdf_body},
        params={"reason": "判决解除", "judgment": "(2026)湘0104民初1号"},
        content=judgment_pdf(),
    )
    assert r.status_code == 201 and r.json()["basis"] == "judgment", r.text  # type: ignore[attr-defined]
    assert (
        client.get(f"/v1/units/{CODES[0]}", headers=keys["bank"]).json()["unit"]["status"]
        == "AVAILABLE"
    )


def test_errors_are_problems_and_write_nothing(
    api: Api,
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    assert client.get("/v1/units").status_code == 401
    huge = client.get("/v1/units", params={"offset": 10**30}, headers=keys["bank"])
    assert huge.status_code == 422  # past 64 bits: a clear error, not an OverflowError (a 500)
    bad_key = client.get("/v1/units", headers={"Authorization": "Bearer nope"})
    assert (
        bad_key.status_code == 401 and bad_key.headers["content-type"] == "application/problem+json"
    )
    r = client.post(
        "/v1/contracts", json=CONTRACT, headers={**keys["buyer"], "Idempotency-Key": "x"}
    )
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
    assert (
        client.post("/v1/contracts", json=CONTRACT, headers=keys["developer"]).status_code == 400
    )  # no key
    r = client.post(
        "/v1/contracts",
        json={**CONTRACT, "price": "-1"},
        headers={**keys["developer"], "Idempotency-Key": "neg"},
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-request")
    r = client.post(
        "/v1/contracts",
        json={**CONTRACT, "unit_code": "430104001001GB00001F00019999"},
        headers={**keys["developer"], "Idempotency-Key": "u"},
    )
    assert r.status_code == 404
    r = client.post(
        "/v1/contracts", json=CONTRACT, headers={**keys["other"], "Idempotency-Key": "o"}
    )
    assert r.status_code == 409 and "another developer" in r.json()["detail"]
    seized = client.post(
        f"/v1/units/{CODES[1]}/flags/SEIZED",
        json={"on": True, "reason": "查封"},
        headers={**keys["authority"], "Idempotency-Key": "s"},
    )
    assert seized.status_code == 200, seized.text
    r = client.post(
        "/v1/contracts",
        json={**CONTRACT, "unit_code": CODES[1]},
        headers={**keys["developer"], "Idempotency-Key": "sz"},
    )
    assert r.status_code == 422 and r.json()["checks"] == ["UNIT_SEIZED"]
    bad_csv = client.post(
        "/v1/registry/import",
        content=b"project,code\nx,short\n",
        headers={**keys["authority"], "Idempotency-Key": "bad", "content-type": "text/csv"},
    )
    assert bad_csv.status_code == 422 and bad_csv.json()["errors"][0]["row"] == 1

    r = client.post(
        "/v1/contracts", json=CONTRACT, headers={**keys["developer"], "Idempotency-Key": "ok"}
    )
    cid = r.json()["id"]
    for payload, status in [(b"not a pdf", 422), (b"%PDF-1.7 garbage", 422)]:
        r = client.post(
            f"/v1/contracts/{cid}/signatures",
            content=payload,
            headers={**keys["developer"], "Idempotency-Key": f"p{status}{len(payload)}"},
        )
        assert r.status_code == status and r.json()["type"].endswith("/signature-rejected"), r.text
    huge = client.post(
        f"/v1/contracts/{cid}/signatures",
        content=b"%PDF-" + b"0" * (21 * 1024 * 1024),
        headers={**keys["developer"], "Idempotency-Key": "huge"},
    )
    assert huge.status_code == 413
    state = client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).json()
    assert state["signed"] == [] and state["status"] == "DRAFT"
    assert d.log.appended() == 0  # nothing reached the log


def file_contract(
    client: TestClient, keys: dict[str, dict[str, str]], contract: dict[str, Any] = CONTRACT
) -> tuple[str, str]:
    """Draft, seal and sign ``contract`` (CONTRACT, or one of another unit and number) over
    HTTP; returns the contract id and filing number."""
    dev, buyer = keys["developer"], keys["buyer"]
    draft_key = "d" if contract is CONTRACT else f"d-{contract['number']}"
    cid = client.post(
        "/v1/contracts", json=contract, headers={**dev, "Idempotency-Key": draft_key}
    ).json()["id"]
    _post(client, f"/v1/contracts/{cid}/seal", dev)
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    start = f"/v1/contracts/{cid}/remote-signing/buyer-1/start"
    r = _post(
        client, start, buyer, json={"public_key_pem": pem, "name": BUYER[0], "id_number": BUYER[1]}
    )
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))  # type: ignore[attr-defined]
    finish = f"/v1/contracts/{cid}/remote-signing/buyer-1/finish"
    filed = _post(client, finish, buyer, json={"signature": base64.b64encode(sig).decode()})
    return cid, str(filed.json()["filing"])  # type: ignore[attr-defined]


def test_registration_ends_the_sale_and_a_registered_filing_stands(api: Api) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    dev, buyer, authority = keys["developer"], keys["buyer"], keys["authority"]
    # Releasing a unit twice was a 500 once (a misnamed exception): a 409 now.
    twice = _post(client, f"/v1/units/{CODES[1]}/release", dev)
    assert twice.status_code == 409, twice.text  # type: ignore[attr-defined]
    early = _post(client, f"/v1/units/{CODES[0]}/registration", authority, json=REGISTRATION)
    assert early.status_code == 409  # type: ignore[attr-defined]
    assert early.json()["type"].endswith("/invalid-transition")  # type: ignore[attr-defined]
    cid, number = file_contract(client, keys)

    wrong = _post(client, f"/v1/units/{CODES[0]}/registration", dev, json=REGISTRATION)
    assert wrong.status_code == 403  # type: ignore[attr-defined]
    unknown = _post(
        client, "/v1/units/430104001001GB00001F99999999/registration", authority, json=REGISTRATION
    )
    assert unknown.status_code == 404  # type: ignore[attr-defined]
    done = _post(client, f"/v1/units/{CODES[0]}/registration", authority, json=REGISTRATION)
    assert done.status_code == 200 and done.json()["status"] == "REGISTERED"  # type: ignore[attr-defined]
    assert client.get(f"/v1/contracts/{cid}", headers=buyer).json()["unit_status"] == "REGISTERED"
    history = client.get(f"/v1/units/{CODES[0]}", headers=authority).json()["history"]
    assert (
        history[-1]["event"] == "REGISTER" and REGISTRATION["certificate"] in history[-1]["reason"]
    )
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**authority, "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初9号"},
        content=judgment_pdf("(2027)湘0104民初9号"),
    )
    assert cancel.status_code == 409, cancel.text  # type: ignore[attr-defined]
    assert client.get(f"/v1/filings/{number}", headers=authority).json()["status"] == "ACTIVE"
