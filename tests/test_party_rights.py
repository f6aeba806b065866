"""Every party acts only for itself, over HTTP on SQLite and PostgreSQL: a co-buyer cannot
sign for the other buyer, a key certified for one contract signs no other."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select, update

from api import auth
from api.app import create_app
from api.demo import _Server
from filing import access_log, api_keys, schema
from filing.deployment import Deployment
from filing.entry import CancellationBasis, FilingEntry
from keys.identity import purpose_of
from keys.pki import BACKDATE, new_key
from keys.signers import key_signer
from ledger.database import write_transaction
from ledger.receipt import Receipt
from signing import pades, remote
from tests.helpers import judgment_pdf
from tests.pki_helpers import buyer_holder
from tests.test_filing_api import CODES, CONTRACT, DEVELOPER_ID, _setup_registry
from verifier.later import LogData
from verifier.models import Verdict
from verifier.reports import to_text
from verifier.signatures import assess
from verifier.verify import verify

BUYER_A = ("王小明", "430102199001011234")
BUYER_B = ("李小红", "430104199202022345")
TWO_BUYERS = {
    **CONTRACT,
    "buyers": [
        {"name": BUYER_A[0], "id_number": BUYER_A[1]},
        {"name": BUYER_B[0], "id_number": BUYER_B[1]},
    ],
}

Api = tuple[TestClient, dict[str, dict[str, str]], Deployment]


@pytest.fixture
def api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    d = Deployment.open(tmp_path / "data")
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for label, org, role in [
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
            ("a", BUYER_A[1], auth.Role.BUYER),
            ("b", BUYER_B[1], auth.Role.BUYER),
            ("court", "岳麓区人民法院", auth.Role.COURT),
            ("bank", "示范银行", auth.Role.BANK),
            ("stats", "长沙市统计局", auth.Role.DEPARTMENT),
            ("other", "91430100OTHER00000", auth.Role.DEVELOPER),
        ]:
            keys[label] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with TestClient(create_app(d)) as client:
        _setup_registry(client, keys)
        people = "".join(f"{i},{n}\n" for n, i in (BUYER_A, BUYER_B))
        households = "".join(f"{i},1,,\n" for _, i in (BUYER_A, BUYER_B))
        for kind, body in [
            ("households", "id_number,local,spouse,minor_children\n" + households),
            ("identities", "id_number,name\n" + people),
        ]:
            headers = {**keys["authority"], "content-type": "text/csv"}
            r = post(client, f"/v1/departments/{kind}", headers, content=body.encode())
            assert r.status_code == 201, r.text
        yield client, keys, d
    d.close()


_n = 0


def post(client: TestClient, path: str, who: dict[str, str], **kw: Any) -> Any:
    global _n
    _n += 1
    return client.post(path, headers={**who, "Idempotency-Key": f"r{_n}"}, **kw)


def _pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sealed_draft(client: TestClient, keys: dict[str, dict[str, str]], data: dict[str, Any]) -> str:
    r = post(client, "/v1/contracts", keys["developer"], json=data)
    assert r.status_code == 201, r.text
    cid = str(r.json()["id"])
    assert post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200
    return cid


def _start(
    client: TestClient, who: dict[str, str], cid: str, field: str, person: tuple[str, str]
) -> Any:
    key = new_key()
    body = {"public_key_pem": _pem(key), "name": person[0], "id_number": person[1]}
    return key, post(client, f"/v1/contracts/{cid}/remote-signing/{field}/start", who, json=body)


def test_a_co_buyer_cannot_sign_for_the_other_buyer(api: Api) -> None:
    client, keys, _ = api
    cid = _sealed_draft(client, keys, TWO_BUYERS)
    # A signs first, as buyer-1, for herself: allowed.
    key, r = _start(client, keys["a"], cid, "buyer-1", BUYER_A)
    assert r.status_code == 200, r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    done = post(client, f"/v1/contracts/{cid}/remote-signing/buyer-1/finish", keys["a"],
                json={"signature": base64.b64encode(sig).decode()})  # fmt: skip
    assert done.status_code == 200 and done.json() == {"filed": False}, done.text
    # A, with her own key and phone, names B (whose name and ID number the contract prints).
    _, r = _start(client, keys["a"], cid, "buyer-2", BUYER_B)
    assert r.status_code == 403 and r.json()["type"].endswith("/not-your-field"), r.text
    # Nor as herself for B's field, nor for the seller's field.
    _, r = _start(client, keys["a"], cid, "buyer-2", BUYER_A)
    assert r.status_code == 403
    _, r = _start(client, keys["b"], cid, "seller", BUYER_B)
    assert r.status_code == 403
    state = client.get(f"/v1/contracts/{cid}", headers=keys["b"]).json()
    assert state["signed"] == ["seller", "buyer-1"] and state["status"] == "DRAFT"
    # B starts her own field; A cannot finish it with a signature of her own device.
    key_b, r = _start(client, keys["b"], cid, "buyer-2", BUYER_B)
    assert r.status_code == 200, r.text
    digest = base64.b64decode(r.json()["digest_to_sign"])
    forged = remote.device_sign(new_key(), digest)
    r = post(client, f"/v1/contracts/{cid}/remote-signing/buyer-2/finish", keys["a"],
             json={"signature": base64.b64encode(forged).decode()})  # fmt: skip
    assert r.status_code == 403, r.text
    signature = base64.b64encode(remote.device_sign(key_b, digest)).decode()
    r = post(client, f"/v1/contracts/{cid}/remote-signing/buyer-2/finish", keys["b"],
             json={"signature": signature})  # fmt: skip
    assert r.status_code == 201 and r.json()["filed"], r.text


def test_the_identity_records_answer_a_buyer_only_about_herself(api: Api) -> None:
    """No oracle (redteam2 M2): whatever name and ID number a buyer tries on her own field,
    another person's gets one answer, the same whether it exists, matches or not."""
    client, keys, _ = api
    cid = _sealed_draft(client, keys, TWO_BUYERS)
    answers = set()
    for person in (BUYER_B, (BUYER_A[0], BUYER_B[1]), ("无此人", "430104199909099999")):
        for path in ("remote-signing/buyer-1/start", "parties/buyer-1/certificate"):
            body = {"public_key_pem": _pem(new_key()), "name": person[0], "id_number": person[1]}
            r = post(client, f"/v1/contracts/{cid}/{path}", keys["a"], json=body)
            assert r.status_code == 403, r.text
            answers.add(r.text)
    assert len(answers) == 1 and "not-your-field" in answers.pop()


def test_a_buyer_certificate_serves_one_field_of_one_contract(api: Api) -> None:
    client, keys, d = api
    cid = _sealed_draft(client, keys, CONTRACT)
    key = new_key()
    body = {"public_key_pem": _pem(key), "name": BUYER_A[0], "id_number": BUYER_A[1]}
    r = post(client, f"/v1/contracts/{cid}/parties/buyer-1/certificate", keys["a"], json=body)
    assert r.status_code == 201, r.text
    chain = x509.load_pem_x509_certificates(r.content)
    assert purpose_of(chain[0]) == f"sign {CONTRACT['number']} buyer-1"
    assert BUYER_A[1] not in chain[0].subject.rfc4514_string()  # a hash, never the number
    again = post(client, f"/v1/contracts/{cid}/parties/buyer-1/certificate", keys["b"],
                 json={**body, "name": BUYER_B[0], "id_number": BUYER_B[1]})  # fmt: skip
    assert again.status_code == 404  # B is no party of this contract: it is not even shown her
    wrong = post(client, f"/v1/contracts/{cid}/parties/buyer-1/certificate", keys["a"],
                 json={**body, "name": "冒名"})  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/identity-rejected")

    current = client.get(f"/v1/contracts/{cid}/document", headers=keys["a"]).content
    ts = d.pki.timestamper()

    def sign_with(cert: x509.Certificate, k: Any) -> bytes:
        signer = key_signer(k, cert, [d.pki.ca.issuing])
        return pades.sign(current, "buyer-1", signer, pades.Level.B_T, timestamper=ts)

    # A key certified for another contract (or for no contract) signs nothing here.
    for holder in (
        buyer_holder(d.pki, BUYER_A[0], "HT-2026-OTHER", "buyer-1"),
        buyer_holder(d.pki, BUYER_A[0], CONTRACT["number"], "buyer-2"),
    ):
        signed = sign_with(holder.cert, holder.key)
        r = post(client, f"/v1/contracts/{cid}/signatures", keys["a"], content=signed)
        assert r.status_code == 422 and "issued for" in r.json()["detail"], r.text
    # The offline verifier sees a certificate used in another field than it names, too.
    purpose = {c.name: c for c in assess(signed, d.verifier_trust(), complete=False).checks}
    assert purpose["signer-purpose"].sub_indication == "SIGNER_PURPOSE"
    good = sign_with(chain[0], key)
    purpose = {c.name: c for c in assess(good, d.verifier_trust(), complete=False).checks}
    assert purpose["signer-purpose"].passed, purpose["signer-purpose"]
    r = post(client, f"/v1/contracts/{cid}/signatures", keys["a"], content=good)
    assert r.status_code == 201 and r.json()["filed"], r.text
    assert (
        client.get(f"/v1/units/{CODES[0]}", headers=keys["bank"]).json()["unit"]["status"]
        == "FILED"
    )


def _file(client: TestClient, keys: dict[str, dict[str, str]], data: dict[str, Any]) -> str:
    """Draft, seal and have each buyer sign on the phone; returns the filing number."""
    cid = _sealed_draft(client, keys, data)
    people = {b["id_number"]: (b["name"], b["id_number"]) for b in data["buyers"]}
    labels = {BUYER_A[1]: "a", BUYER_B[1]: "b"}
    done: Any = None
    for i, b in enumerate(data["buyers"], start=1):
        who = keys[labels[b["id_number"]]]
        key, r = _start(client, who, cid, f"buyer-{i}", people[b["id_number"]])
        assert r.status_code == 200, r.text
        sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
        done = post(client, f"/v1/contracts/{cid}/remote-signing/buyer-{i}/finish", who,
                    json={"signature": base64.b64encode(sig).decode()})  # fmt: skip
    assert done.status_code == 201 and done.json()["filed"], done.text
    return str(done.json()["filing"])


def _unit_status(client: TestClient, keys: dict[str, dict[str, str]]) -> str:
    return str(client.get(f"/v1/units/{CODES[0]}", headers=keys["bank"]).json()["unit"]["status"])


def test_neither_party_cancels_a_filing_alone(api: Api) -> None:
    client, keys, _ = api
    number = _file(client, keys, CONTRACT)
    pdf = {"content-type": "application/pdf"}
    for who in ("developer", "a"):
        r = post(client, f"/v1/filings/{number}/cancellation", {**keys[who], **pdf},
                 params={"reason": "我方要求解除"}, content=judgment_pdf())  # fmt: skip
        assert r.status_code == 403 and r.json()["type"].endswith("/consent-required"), r.text
    r = post(client, f"/v1/filings/{number}/cancellation", {**keys["bank"], **pdf},
             params={"reason": "x", "judgment": "(x)"}, content=judgment_pdf())  # fmt: skip
    assert r.status_code == 403
    assert _unit_status(client, keys) == "FILED"
    # The developer proposes an agreement and seals it; the buyer does not sign: it stands.
    r = post(client, f"/v1/filings/{number}/cancellation-agreements", keys["developer"],
             json={"reason": "出卖人要求解除"})  # fmt: skip
    assert r.status_code == 201, r.text
    agreement = r.json()
    assert agreement["required"] == ["seller", "buyer-1", "filing-seal"]
    assert post(client, f"/v1/contracts/{agreement['id']}/seal", keys["developer"]).json() == {
        "filed": False
    }
    again = post(client, f"/v1/filings/{number}/cancellation-agreements", keys["developer"],
                 json={"reason": "再来一份"})  # fmt: skip
    assert again.status_code == 409  # one agreement at a time
    assert client.get(f"/v1/filings/{number}", headers=keys["a"]).json()["status"] == "ACTIVE"
    # A key the platform certified for signing the contract does not sign the agreement.
    current = client.get(f"/v1/contracts/{agreement['id']}/document", headers=keys["a"]).content
    holder = buyer_holder(api[2].pki, BUYER_A[0], CONTRACT["number"])
    signer = key_signer(holder.key, holder.cert, [api[2].pki.ca.issuing])
    signed = pades.sign(current, "buyer-1", signer, pades.Level.B_T,
                        timestamper=api[2].pki.timestamper())  # fmt: skip
    r = post(client, f"/v1/contracts/{agreement['id']}/signatures", keys["a"], content=signed)
    assert r.status_code == 422 and "issued for" in r.json()["detail"], r.text
    # Withdrawn, the agreement leaves the filing and the unit as they were.
    r = post(client, f"/v1/contracts/{agreement['id']}/withdraw", keys["developer"])
    assert r.status_code == 200, r.text
    assert _unit_status(client, keys) == "FILED"


def test_cancellation_by_an_agreement_every_party_signed(api: Api) -> None:
    client, keys, d = api
    number = _file(client, keys, TWO_BUYERS)
    # The developer cannot squat the agreement's number with a draft (redteam2 L1).
    squat = {**CONTRACT, "unit_code": CODES[1], "number": f"{number}-JC1"}
    r = post(client, "/v1/contracts", keys["developer"], json=squat)
    assert r.status_code == 409 and r.json()["type"].endswith("/duplicate-contract-number")
    r = post(client, f"/v1/filings/{number}/cancellation-agreements", keys["b"],
             json={"reason": "买受人工作调动，双方协商解除"})  # fmt: skip
    assert r.status_code == 201, r.text
    agreement = r.json()
    aid = agreement["id"]
    assert post(client, f"/v1/contracts/{aid}/seal", keys["developer"]).status_code == 200
    for field, who, person in (("buyer-1", "a", BUYER_A), ("buyer-2", "b", BUYER_B)):
        key, r = _start(client, keys[who], aid, field, person)
        assert r.status_code == 200, r.text
        sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
        done = post(client, f"/v1/contracts/{aid}/remote-signing/{field}/finish", keys[who],
                    json={"signature": base64.b64encode(sig).decode()})  # fmt: skip
    assert done.status_code == 201 and done.json()["event"] == "cancelled", done.text
    assert done.json()["filing"] == number and done.json()["receipt"]
    assert _unit_status(client, keys) == "AVAILABLE"
    filing = client.get(f"/v1/filings/{number}", headers=keys["a"]).json()
    assert filing["status"] == "CANCELLED"
    [basis] = filing["cancellation"]
    assert basis["basis"] == "agreement" and basis["reference"] == agreement["number"]
    sealed = client.get(f"/v1/contracts/{aid}/document", headers=keys["a"]).content
    assert hashlib.sha256(sealed).hexdigest() == basis["document_sha256"]
    # The log entry names the basis and the sealed agreement; the agreement verifies as one
    # every party signed; the verifier reports the contract cancelled by that agreement.
    entry = FilingEntry.decode(d.log.entry(basis["log_index"]))
    assert (
        entry.basis is CancellationBasis.AGREEMENT and entry.doc_sha256 == basis["document_sha256"]
    )
    judged = assess(sealed, d.verifier_trust())
    assert judged.passed and [s.field for s in judged.signatures] == [
        "seller", "buyer-1", "buyer-2", "filing-seal"
    ]  # fmt: skip
    cp = d.sequencer().step() or d.latest_witnessed_checkpoint()
    assert cp is not None
    contract_pdf = client.get(f"/v1/filings/{number}/document", headers=keys["a"]).content
    receipt = Receipt.parse(client.get(f"/v1/filings/{number}/receipt", headers=keys["a"]).text)
    log_data = LogData(cp.cosigned_note, tuple(d.log.entries(0, cp.size)))
    report = verify(contract_pdf, d.verifier_trust(), receipt, log_data=log_data)
    assert report.verdict is Verdict.CANCELLED, report.reason
    assert "agreement every party signed" in report.reason
    assert "解除协议" in to_text(report, "zh")


def test_cancellation_by_judgment_records_the_document(api: Api) -> None:
    client, keys, d = api
    number = _file(client, keys, CONTRACT)
    pdf = {"content-type": "application/pdf"}
    missing = post(client, f"/v1/filings/{number}/cancellation", {**keys["court"], **pdf},
                   params={"reason": "判决解除合同"}, content=judgment_pdf())  # fmt: skip
    assert missing.status_code == 422 and missing.json()["type"].endswith("/judgment-required")
    not_pdf = post(client, f"/v1/filings/{number}/cancellation", {**keys["court"], **pdf},
                   params={"reason": "判决解除合同", "judgment": "(2026)湘0104民初7号"},
                   content=b"a scanned photo")  # fmt: skip
    assert not_pdf.status_code == 422
    document = judgment_pdf("(2026)湘0104民初7号")
    r = post(client, f"/v1/filings/{number}/cancellation", {**keys["court"], **pdf},
             params={"reason": "判决解除合同", "judgment": "(2026)湘0104民初7号"},
             content=document)  # fmt: skip
    assert r.status_code == 201 and r.json()["basis"] == "judgment", r.text
    assert r.json()["document_sha256"] == hashlib.sha256(document).hexdigest()
    entry = FilingEntry.decode(d.log.entry(r.json()["log_index"]))
    assert entry.basis is CancellationBasis.JUDGMENT
    assert entry.doc_sha256 == hashlib.sha256(document).hexdigest()
    assert _unit_status(client, keys) == "AVAILABLE"


# -- purchase limits count what the platform knows ------------------------------------------

LIMIT_CODES = [f"430104001001GB00001F0002{n:04d}" for n in range(301, 306)]


@pytest.fixture
def city(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Five units on sale, A and B a local couple (spouses), no home on record: the city's
    rule (Changsha 2017) allows the family two homes in 岳麓区."""
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    d = Deployment.open(tmp_path / "data")
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for label, org, role in [
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
        ]:
            keys[label] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    csv = (
        "project,district,address,developer,developer_id,building,code,floor,room,use,"
        "forecast_building,forecast_inner,forecast_shared\n"
    ) + "".join(
        f"湘江示范花园,岳麓区,长沙市岳麓区示范路 1 号,湘江示范置业有限公司,{DEVELOPER_ID},"
        f"3 栋,{code},8,80{i},住宅,98.00,80.00,18.00\n"
        for i, code in enumerate(LIMIT_CODES, start=1)
    )
    with _Server(create_app(d)) as base, httpx.Client(base_url=base, timeout=60) as client:
        a = keys["authority"]
        csv_headers = {**a, "Idempotency-Key": "imp", "content-type": "text/csv"}
        r = client.post("/v1/registry/import", content=csv.encode(), headers=csv_headers)
        assert r.status_code == 201, r.text
        couple = (
            "id_number,local,spouse,minor_children\n"
            f"{BUYER_A[1]},1,{BUYER_B[1]},\n{BUYER_B[1]},1,{BUYER_A[1]},\n"
        )
        r = client.post("/v1/departments/households", content=couple.encode(), headers={
            **a, "Idempotency-Key": "hh", "content-type": "text/csv"})  # fmt: skip
        assert r.status_code == 201, r.text
        r = client.post("/v1/registry/permits", headers={**a, "Idempotency-Key": "permit"}, json={
            "number": "长住建预许字（2026）第 0099 号", "authority": "长沙市住房和城乡建设局",
            "valid_from": "2026-01-01", "units": LIMIT_CODES})  # fmt: skip
        assert r.status_code == 201, r.text
        for code in LIMIT_CODES:
            release = {**keys["developer"], "Idempotency-Key": f"rel-{code}"}
            r = client.post(f"/v1/units/{code}/release", headers=release)
            assert r.status_code == 200, r.text
        yield client, keys, d
    d.close()


def _draft_for(
    client: Any, keys: dict[str, dict[str, str]], code: str, buyer: tuple[str, str]
) -> Any:
    data = {**CONTRACT, "unit_code": code, "number": f"HT-L-{code[-4:]}-{uuid.uuid4().hex[:6]}",
            "buyers": [{"name": buyer[0], "id_number": buyer[1]}]}  # fmt: skip
    headers = {**keys["developer"], "Idempotency-Key": uuid.uuid4().hex}
    return client.post("/v1/contracts", json=data, headers=headers)


def test_purchase_limits_count_the_family_s_filings_and_drafts(city: Any) -> None:
    client, keys, _ = city
    first = _draft_for(client, keys, LIMIT_CODES[0], BUYER_A)
    assert first.status_code == 201, first.text
    second = _draft_for(client, keys, LIMIT_CODES[1], BUYER_A)
    assert second.status_code == 201, second.text
    # Two homes held (drafts hold their units): a third for A, or for her husband, is refused.
    for buyer in (BUYER_A, BUYER_B):
        refused = _draft_for(client, keys, LIMIT_CODES[2], buyer)
        assert refused.status_code == 422, refused.text
        decision = next(d for d in refused.json()["decisions"] if not d["eligible"])
        assert decision["reasons"] == ["LOCAL_HOME_LIMIT"]
        # The developer learns the verdict, not the family's records (redteam2 M3) ...
        assert set(decision) == {"eligible", "reasons", "rule_set"}
    # ... which the authority reads on the drafts: the second counted the first.
    path = f"/v1/contracts/{second.json()['id']}"
    [recorded] = client.get(path, headers=keys["authority"]).json()["eligibility"]
    assert recorded["inputs"]["homes_on_platform"] == 1
    assert recorded["inputs"]["homes_registered"] == 0
    [summary] = client.get(path, headers=keys["developer"]).json()["eligibility"]
    assert "inputs" not in summary and summary["eligible"]
    # A draft given up frees its place.
    again = {**keys["developer"], "Idempotency-Key": uuid.uuid4().hex}
    withdrawn = client.post(f"/v1/contracts/{second.json()['id']}/withdraw", headers=again)
    assert withdrawn.status_code == 200, withdrawn.text
    assert _draft_for(client, keys, LIMIT_CODES[2], BUYER_B).status_code == 201


CHILD = ("王小宝", "430104201801012345")


def test_a_family_is_one_family_whichever_member_applies(city: Any) -> None:
    """A names B as spouse and C as minor child; B's record names nobody and C's is a
    child's: drafting for B or C alone still counts the family's homes (redteam2 M1)."""
    client, keys, _ = city
    one_way = (
        "id_number,local,spouse,minor_children\n"
        f"{BUYER_A[1]},1,{BUYER_B[1]},{CHILD[1]}\n{BUYER_B[1]},1,,\n{CHILD[1]},1,,\n"
    )
    headers = {**keys["authority"], "Idempotency-Key": "hh-one-way", "content-type": "text/csv"}
    r = client.post("/v1/departments/households", content=one_way.encode(), headers=headers)
    assert r.status_code == 201, r.text
    for code in LIMIT_CODES[:2]:
        assert _draft_for(client, keys, code, BUYER_A).status_code == 201
    for buyer in (BUYER_B, CHILD):
        refused = _draft_for(client, keys, LIMIT_CODES[2], buyer)
        assert refused.status_code == 422, (buyer, refused.text)
        decision = next(d for d in refused.json()["decisions"] if not d["eligible"])
        assert decision["reasons"] == ["LOCAL_HOME_LIMIT"]


def test_two_drafts_racing_for_a_family_s_last_home_cannot_both_pass(city: Any) -> None:
    client, keys, _ = city
    assert _draft_for(client, keys, LIMIT_CODES[0], BUYER_A).status_code == 201
    barrier = threading.Barrier(3)
    results: list[int] = []

    def race(code: str, buyer: tuple[str, str]) -> None:
        barrier.wait()
        results.append(_draft_for(client, keys, code, buyer).status_code)

    threads = [
        threading.Thread(target=race, args=(LIMIT_CODES[1], BUYER_A)),
        threading.Thread(target=race, args=(LIMIT_CODES[2], BUYER_B)),
        threading.Thread(target=race, args=(LIMIT_CODES[3], BUYER_A)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [201, 422, 422], results


def test_a_unit_s_history_names_buyers_only_to_those_who_may_know_them(api: Api) -> None:
    client, keys, d = api
    number = _file(client, keys, TWO_BUYERS)
    pdf = {"content-type": "application/pdf"}
    r = post(client, f"/v1/filings/{number}/cancellation", {**keys["court"], **pdf},
             params={"reason": "王小明与出卖人纠纷，判决解除", "judgment": "(2026)湘0104民初8号"},
             content=judgment_pdf())  # fmt: skip
    assert r.status_code == 201, r.text
    seen: dict[str, str] = {}
    for role in ("bank", "stats", "other", "b"):
        text = client.get(f"/v1/units/{CODES[0]}", headers=keys[role]).text
        for secret in (BUYER_A[1], BUYER_B[1], BUYER_A[0], BUYER_B[0]):
            assert secret not in text, (role, secret)
        history = client.get(f"/v1/units/{CODES[0]}", headers=keys[role]).json()["history"]
        filed = next(e for e in history if e["event"] == "FILE")
        assert filed["actor"].startswith("buyer:") and filed["reason"] == "（不公开）"
        seen[role] = filed["actor"]
    assert len(set(seen.values())) == 1  # one person, one pseudonym, whoever asks
    with d.log.engine.connect() as conn:
        reads_before = conn.execute(
            select(func.count()).select_from(access_log.access_log)
        ).scalar()
    full = client.get(f"/v1/units/{CODES[0]}", headers=keys["authority"]).text
    assert BUYER_B[1] in full  # B signed last: the filing's actor
    with d.log.engine.connect() as conn:
        logged = conn.execute(
            select(access_log.access_log.c.action, access_log.access_log.c.subject).order_by(
                access_log.access_log.c.id.desc()
            )
        ).first()
        reads_after = conn.execute(select(func.count()).select_from(access_log.access_log)).scalar()
    assert reads_after == (reads_before or 0) + 1
    assert logged is not None and tuple(logged) == ("read-unit-history", CODES[0])


def test_a_party_s_certificate_is_in_force_as_long_as_the_draft_can_be_signed(api: Api) -> None:
    """Found 2026-12-02: party certificates were valid one hour, so a co-buyer who signed
    more than an hour after the first could not file: the judgement before the seal found
    the first buyer's certificate expired and her signature without proof of when it was
    valid (INDETERMINATE OUT_OF_BOUNDS_NO_POE). A certificate now ends with its draft's
    reservation, after which nobody can sign or seal the draft."""
    client, keys, d = api
    cid = _sealed_draft(client, keys, TWO_BUYERS)
    ends = dt.datetime.fromisoformat(
        client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).json()["expires_at"]
    )
    assert ends - dt.datetime.now(dt.UTC) > dt.timedelta(days=6)  # a week's reservation
    key, r = _start(client, keys["a"], cid, "buyer-1", BUYER_A)
    assert r.status_code == 200, r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    done = post(client, f"/v1/contracts/{cid}/remote-signing/buyer-1/finish", keys["a"],
                json={"signature": base64.b64encode(sig).decode()})  # fmt: skip
    assert done.status_code == 200, done.text
    signed = client.get(f"/v1/contracts/{cid}/document", headers=keys["a"]).content
    reader = PdfFileReader(BytesIO(signed), strict=False)
    [first] = [s for s in reader.embedded_signatures if s.field_name == "buyer-1"]
    assert ends <= first.signer_cert.not_valid_after <= ends + BACKDATE  # a seal's margin

    body = {"public_key_pem": _pem(new_key()), "name": BUYER_B[0], "id_number": BUYER_B[1]}
    path = f"/v1/contracts/{cid}/parties/buyer-2/certificate"
    r = post(client, path, keys["b"], json=body)
    assert r.status_code == 201, r.text
    own = x509.load_pem_x509_certificates(r.content)[0]
    assert ends <= own.not_valid_after_utc <= ends + BACKDATE

    # Once the reservation has run out there is nothing left to sign: no certificate either
    # (a 409, not a certificate that would end before it starts).
    with d.log.engine.begin() as conn:
        conn.execute(
            update(schema.contracts)
            .where(schema.contracts.c.id == cid)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    r = post(client, path, keys["b"], json=body)
    assert r.status_code == 409 and r.json()["type"].endswith("/contract-state"), r.text
    _, r = _start(client, keys["b"], cid, "buyer-2", BUYER_B)
    assert r.status_code == 409 and r.json()["type"].endswith("/contract-state"), r.text
