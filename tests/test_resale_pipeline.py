"""Resale (存量房买卖) on the one pipeline, over real HTTP on SQLite and PostgreSQL: drafted
by a brokerage or a seller from the ownership record, signed by every owner, the buyers and
the agent, filed and logged as a resale; supervised funds; the transfer registration
(转移登记) logged as ``registered``; the evidence package verified offline."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from api import auth
from filing import api_keys
from filing.audit import audit_records
from filing.deployment import Deployment
from filing.entry import EntryEvent, EntryKind, FilingEntry
from keys.pki import new_key
from ledger import schema as ledger_schema
from ledger.database import write_transaction
from signing import remote
from tests.helpers import BIN, judgment_pdf
from tests.sms import identities_csv
from tests.test_filing_api import BUYER, CODES, REGISTRATION, Api, _post, api
from tests.test_fund_api import BANK, _bank, _fund_rows, _race, server
from tests.test_ownership_api import CERT, LI, OLD, ZHANG, _import_old

__all__ = ["api", "server"]  # the fixtures

AGENCY = "长房经备字（2025）第 0101 号"  # the brokerage's filing number: its key's org
AGENT = ("钱七", "430104198505050055")
WANG = ("王五", "430104197707070077")  # nobody's owner
SUPERVISION = "4300 0000 0000 9999"
TRANSFER = {"certificate": "湘（2027）长沙市不动产权第 0200001 号"}


def _person(p: dict[str, str] | tuple[str, str]) -> dict[str, str]:
    if isinstance(p, tuple):
        return {"name": p[0], "id_number": p[1]}
    return {"name": p["name"], "id_number": p["id_number"]}


def resale_body(
    number: str = "ESF-2026-000001",
    sellers: tuple[Any, ...] = (ZHANG, LI),
    buyers: tuple[Any, ...] = (BUYER,),
    code: str = OLD[0],
    brokerage: bool = True,
    certificate: str | None = None,
) -> dict[str, Any]:
    """A resale of ``code``; ``certificate`` by default the one its owners were recorded
    with in these tests (a new home's registration, or the imported existing homes')."""
    if certificate is None:
        certificate = REGISTRATION["certificate"] if code in CODES else CERT
    return {
        "unit_code": code,
        "number": number,
        "certificate_number": certificate,
        "sellers": [_person(p) for p in sellers],
        "buyers": [_person(p) for p in buyers],
        "brokerage": {
            "name": "长沙示范房地产经纪有限公司",
            "credit_code": "91430100MA4L111111",
            "filing_number": AGENCY,
            "agent_name": AGENT[0],
            "agent_registration": "经纪人登记 43-2025-0001",
            "agent_id_number": AGENT[1],
            "fee": "15000.00",
        }
        if brokerage
        else None,
        "price": "1500000.00",
        "payment_method": "LOAN",
        "down_payment": "500000.00",
        "loan_bank": "示范银行长沙分行",
        "supervision": {
            "bank": BANK,
            "account_name": "长沙市存量房交易资金监管专户",
            "account_number": SUPERVISION,
            "amount": "500000.00",
        },
        "delivery_date": "2027-03-31",
        "transfer_deadline": "2027-02-28",
        "dispute_body": "长沙市岳麓区人民法院",
    }


def setup_resale(client: Any, keys: dict[str, dict[str, str]], d: Deployment) -> None:
    """An existing home (OLD[0]) owned jointly by 张三 and 李四; department records for
    every person; keys for the sellers, the agent and the brokerage."""
    a = keys["authority"]
    _import_old(client, keys)
    body = {"certificate": CERT, "owners": [ZHANG, LI], "registered_on": "2015-03-02"}
    r = _post(client, f"/v1/units/{OLD[0]}/ownership", a, json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    people = [BUYER, (ZHANG["name"], ZHANG["id_number"]), (LI["name"], LI["id_number"]), AGENT]
    people.append(WANG)
    for kind, csv in [
        (
            "households",
            "id_number,local,spouse,minor_children\n"
            + "".join(f"{p[1]},1,,\n" for p in (BUYER, WANG)),
        ),
        ("identities", identities_csv((p[0], p[1]) for p in people)),
    ]:
        r = client.post(
            f"/v1/departments/{kind}",
            content=csv.encode(),
            headers={**a, "Idempotency-Key": f"resale-{kind}", "content-type": "text/csv"},
        )
        assert r.status_code == 201, r.text
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("zhang", ZHANG["id_number"], auth.Role.BUYER),
            ("li", LI["id_number"], auth.Role.BUYER),
            ("agent", AGENT[1], auth.Role.BUYER),
            ("wang", WANG[1], auth.Role.BUYER),
            ("agency", AGENCY, auth.Role.AGENCY),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}


def sign(
    client: Any, headers: dict[str, str], cid: str, field: str, person: tuple[str, str]
) -> Any:
    """Remote signing of ``field`` by ``person`` from their phone: start, then finish."""
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    start = f"/v1/contracts/{cid}/remote-signing/{field}/start"
    body = {"public_key_pem": pem, "name": person[0], "id_number": person[1]}
    r = _post(client, start, headers, json=body)
    if r.status_code != 200:  # type: ignore[attr-defined]
        return r
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))  # type: ignore[attr-defined]
    finish = f"/v1/contracts/{cid}/remote-signing/{field}/finish"
    return _post(client, finish, headers, json={"signature": base64.b64encode(sig).decode()})


def _type(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"].rsplit("/", 1)[1])


def _entry(d: Deployment, index: int) -> FilingEntry:
    with d.log.engine.connect() as conn:
        data = conn.execute(
            select(ledger_schema.leaves.c.data).where(ledger_schema.leaves.c.idx == index)
        ).scalar_one()
    return FilingEntry.decode(bytes(data))


def file_resale(client: Any, keys: dict[str, dict[str, str]]) -> tuple[str, str, int]:
    """The agency drafts; 张三, 李四, the buyer and the agent sign. (id, filing, log index)"""
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body())
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["kind"] == "resale"  # type: ignore[attr-defined]
    for field, who, person in [
        ("seller-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("seller-2", "li", (LI["name"], LI["id_number"])),
        ("buyer-1", "buyer", BUYER),
    ]:
        r = sign(client, keys[who], cid, field, person)
        assert r.status_code == 200 and r.json() == {"filed": False}, r.text
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    return cid, str(r.json()["filing"]), int(r.json()["log_index"])


def test_a_resale_end_to_end(api: Api, tmp_path: Path) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-W-1"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    seen = client.get(f"/v1/contracts/{cid}", headers=keys["agency"]).json()
    assert seen["kind"] == "resale" and seen["unit_status"] == "RESALE_RESERVED"
    assert seen["required"] == ["seller-1", "seller-2", "buyer-1", "agent", "filing-seal"]
    # The house is the register's: its certificate is on the draft.
    pdf = client.get(f"/v1/contracts/{cid}/document", headers=keys["li"]).content
    assert pdf.startswith(b"%PDF")
    # Out of order, or another's field: refused.
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 409 and _type(r) == "contract-state", r.text
    r = sign(client, keys["zhang"], cid, "buyer-1", (ZHANG["name"], ZHANG["id_number"]))
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text
    r = sign(client, keys["li"], cid, "seller-1", (LI["name"], LI["id_number"]))
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text
    other = client.get(f"/v1/contracts/{cid}", headers=keys["wang"])
    assert other.status_code == 404
    # Withdrawn by its drafter, the unit returns to its owners (not to the market).
    r = _post(client, f"/v1/contracts/{cid}/withdraw", keys["zhang"])
    assert r.status_code == 403 and _type(r) == "not-a-drafter", r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/contracts/{cid}/withdraw", keys["agency"])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    unit = client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["status"] == "REGISTERED"

    cid, number, index = file_resale(client, keys)
    entry = _entry(d, index)
    assert entry.event is EntryEvent.FILED and entry.kind is EntryKind.RESALE
    assert len(entry.parties) == 3  # two sellers and the buyer; the agent is no party
    unit = client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["status"] == "UNDER_CONTRACT"
    assert client.get(f"/v1/filings/{number}", headers=keys["zhang"]).status_code == 200

    # Funds: deposited into the contract's supervision account; released only after the
    # transfer registration.
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    wrong = _post(
        client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, 100)
    )  # the test bank's default account is a new home's escrow: not this contract's
    assert wrong.status_code == 422 and _type(wrong) == "wrong-account", wrong.text  # type: ignore[attr-defined]
    body = bank.signed("deposit", number, 50_000_000, account=SUPERVISION)
    r = _post(client, f"{base}/deposits", keys["bank"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert _entry(d, r.json()["log_index"]).kind is EntryKind.RESALE  # type: ignore[attr-defined]
    early = bank.signed("release", number, 50_000_000, account=SUPERVISION)
    r = _post(client, f"{base}/releases", keys["bank"], json=early)
    assert r.status_code == 409, r.text  # type: ignore[attr-defined]

    # 转移登记: the buyer becomes the owner, and the log says the filing is registered.
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    done = r.json()  # type: ignore[attr-defined]
    assert done["basis"] == "transfer" and done["filing"] == number
    registered = _entry(d, done["log_index"])
    assert registered.event is EntryEvent.REGISTERED and registered.ref == index
    assert registered.kind is EntryKind.RESALE and registered.parties == ()
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [BUYER[1]]
    assert client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()["status"] == (
        "ACTIVE"
    )
    r = _post(
        client, f"{base}/releases", keys["bank"],
        json=bank.signed("release", number, 50_000_000, account=SUPERVISION),
    )  # fmt: skip
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    # A cancellation after the registration stays refused.
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初9号"},
        content=judgment_pdf("(2027)湘0104民初9号"),
    )
    assert cancel.status_code == 409, cancel.text  # type: ignore[attr-defined]

    # The evidence package verifies offline and names the kind and the registration.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "e.zip").write_bytes(zipped)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        assert sum(n.startswith("funds/") for n in z.namelist()) == 4
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "存量房买卖" in run.stdout and "转移登记" in run.stdout, run.stdout
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def _refused(client: Any, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    r = _post(client, "/v1/resale-contracts", headers, json=body)
    assert r.status_code != 500, r.text  # type: ignore[attr-defined]
    return r.status_code, r.json()  # type: ignore[attr-defined]


def test_each_refusal_is_a_problem_and_writes_nothing(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    a, agency = keys["authority"], keys["agency"]
    # Not every owner sells; a non-owner sells; not the recorded name.
    for n, sellers in enumerate([(ZHANG,), (ZHANG, WANG), (ZHANG, LI, WANG)]):
        status, p = _refused(client, agency, resale_body(f"R-{n}", sellers=sellers))
        assert status == 422 and p["type"].endswith("/unit-not-sellable"), p
        assert p["checks"] == ["SELLERS_NOT_OWNERS"] and p["kind"] == "resale", p
        assert WANG[1] not in json.dumps(p) and "王五" not in json.dumps(p)
    # Drafters: a person only as a seller; an agency only for a contract naming it.
    status, p = _refused(client, keys["wang"], resale_body("R-d1"))
    assert status == 403 and p["type"].endswith("/not-a-drafter"), p
    status, p = _refused(client, agency, resale_body("R-d2", brokerage=False))
    assert status == 403 and p["type"].endswith("/not-a-drafter"), p
    for role in ("developer", "bank", "court"):
        status, p = _refused(client, keys[role], resale_body("R-d3"))
        assert status == 403, (role, p)
    # A buyer beyond the purchase limits (no household here, no social security).
    status, p = _refused(
        client, agency, resale_body("R-e", buyers=(("赵某", "430104199909090099"),))
    )
    assert status == 422 and p["type"].endswith("/buyer-not-eligible"), p
    # Seized; mortgaged without the mortgagee's consent.
    r = _post(
        client,
        f"/v1/units/{OLD[0]}/flags/SEIZED",
        keys["court"],
        json={"on": True, "reason": "查封"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    status, p = _refused(client, agency, resale_body("R-s"))
    assert status == 422 and p["checks"] == ["UNIT_SEIZED"], p
    r = _post(
        client,
        f"/v1/units/{OLD[0]}/flags/SEIZED",
        keys["court"],
        json={"on": False, "reason": "解封"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    mortgage = {
        "mortgagee": "示范银行",
        "reference": "湘（2016）长沙市不动产证明第 77 号",
        "registered_on": "2016-01-01",
    }
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages", a, json=mortgage)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    status, p = _refused(client, agency, resale_body("R-m"))
    assert status == 422 and p["checks"] == ["UNIT_MORTGAGED_WITHOUT_CONSENT"], p
    r = _post(
        client,
        f"/v1/units/{OLD[0]}/mortgages/consent",
        a,
        json={"mortgage": mortgage["reference"], "reference": "DY-1", "given_on": "2026-11-01"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    # 限售: a home bought in 2025 in a restricted district, four years not yet past.
    body = {
        "certificate": "湘（2025）长沙市不动产权第 0000099 号",
        "owners": [{"name": WANG[0], "id_number": WANG[1]}],
        "registered_on": "2025-06-01",
    }
    r = _post(client, f"/v1/units/{OLD[1]}/ownership", a, json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    status, p = _refused(
        client,
        keys["wang"],
        resale_body(
            "R-x",
            sellers=(WANG,),
            buyers=(BUYER,),
            code=OLD[1],
            brokerage=False,
            certificate=body["certificate"],
        ),
    )
    assert status == 422 and p["checks"] == ["RESALE_RESTRICTED"], p
    # Nothing was written by any refusal: no contract, the units still their owners'.
    with d.log.engine.connect() as conn:
        from filing import schema

        assert conn.execute(select(schema.contracts.c.id)).all() == []
    # With the consent recorded, the draft passes; a second one meets the live contract.
    r = _post(client, "/v1/resale-contracts", agency, json=resale_body("R-ok"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    status, p = _refused(client, agency, resale_body("R-2"))
    assert status == 409 and p["checks"] == ["UNIT_RESERVED", "OTHER_LIVE_CONTRACT"], p


def test_a_registered_new_home_is_resold_beside_its_filing(api: Api) -> None:
    """The filing of a registered new home stays ACTIVE (completed by registration) and
    no longer blocks a resale of the unit: its owner sells it on the same pipeline."""
    from tests.test_filing_api import CODES, REGISTRATION, _setup_registry, file_contract

    client, keys, d = api
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    # Registered on a day four years back: 限售 (counted from the registration) is past.
    old = {**REGISTRATION, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    registered = _entry(d, r.json()["log_index"])  # type: ignore[attr-defined]
    assert registered.event is EntryEvent.REGISTERED and registered.kind is EntryKind.NEW_HOME
    setup_resale(client, keys, d)
    body = resale_body(
        "ESF-NEW-1", sellers=(BUYER,), buyers=(WANG,), code=CODES[0], brokerage=False
    )
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    drafting = audit_records(
        d.log.engine, d.bank_issuers()
    )  # the registered filing beside a resale's draft
    assert drafting.ok, drafting.problems
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    r = sign(client, keys["wang"], cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    second = r.json()["filing"]
    for number in (first, second):
        assert (
            client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()["status"]
            == "ACTIVE"
        )
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200 and r.json()["filing"] == second, r.text  # type: ignore[attr-defined]
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


# -- races over real HTTP, with real threads ----------------------------------------------


def test_one_unit_many_buyers_drafts_one_winner(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
        calls = [
            (
                "/v1/resale-contracts",
                resale_body(f"ESF-RACE-{i}", buyers=(BUYER if i % 2 else WANG,)),
            )
            for i in range(8)
        ]
        answers = _race(base, keys["agency"], calls)
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * 7, [a.text for a in answers]
        assert {_type(a) for a in answers if a.status_code == 409} <= {
            "unit-taken",
            "unit-not-sellable",
        }
        unit = client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"]).json()["unit"]
        assert unit["status"] == "RESALE_RESERVED"
    with d.log.engine.connect() as conn:
        from filing import schema

        assert len(conn.execute(select(schema.contracts.c.id)).all()) == 1


def test_the_last_signature_of_a_resale_racing_files_it_once(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    """The signature that files (the agent's, the last field) sent by eight clients at once:
    one filing, one log entry, the others a problem+json 409."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
        r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-LAST"))
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        cid = r.json()["id"]  # type: ignore[attr-defined]
        for field, who, person in [
            ("seller-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
            ("seller-2", "li", (LI["name"], LI["id_number"])),
            ("buyer-1", "buyer", BUYER),
        ]:
            r = sign(client, keys[who], cid, field, person)
            assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        key = new_key()
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        body = {"public_key_pem": pem.decode(), "name": AGENT[0], "id_number": AGENT[1]}
        path = f"/v1/contracts/{cid}/remote-signing/agent"
        r = _post(client, f"{path}/start", keys["agent"], json=body)
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        digest = base64.b64decode(r.json()["digest_to_sign"])  # type: ignore[attr-defined]
        signature = base64.b64encode(remote.device_sign(key, digest)).decode()
        before = d.log.appended()
        answers = _race(base, keys["agent"], [(f"{path}/finish", {"signature": signature})] * 8)
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * 7, [a.text[:200] for a in answers]
        assert all(_type(a) for a in answers if a.status_code == 409)
        [won] = [a for a in answers if a.status_code == 201]
        assert won.json()["filed"] is True
    with d.log.engine.connect() as conn:
        from filing import schema

        filings = conn.execute(select(schema.filings.c.number, schema.filings.c.kind)).all()
    assert [(f.number, f.kind) for f in filings] == [(won.json()["filing"], "resale")]
    assert d.log.appended() == before + 1  # exactly one log entry
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_deposits_and_releases_racing_on_a_resale_move_the_money_once(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
        _, number, _ = file_resale(client, keys)
        bank = _bank(client, keys["bank"], BANK)
        path = f"/v1/filings/{number}/funds"
        r = _post(
            client,
            f"{path}/deposits",
            keys["bank"],
            json=bank.signed("deposit", number, 1_000, account=SUPERVISION),
        )
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        calls = [
            (f"{path}/releases", bank.signed("release", number, 1_000, account=SUPERVISION))
            for _ in range(8)
        ]
        calls += [
            (f"{path}/deposits", bank.signed("deposit", number, 7, account=SUPERVISION))
            for _ in range(8)
        ]
        answers = _race(base, keys["bank"], calls)
        codes = [a.status_code for a in answers]
        assert 500 not in codes and all(c in (201, 409, 422) for c in codes), codes
        releases = [a for a in answers[:8] if a.status_code == 201]
        assert len(releases) <= 1
        rows = sorted(_fund_rows(d, number), key=lambda row: row.seq)
        settled = [row for row in rows if row.settlement is not None]
        assert len(settled) == len(releases)
        if settled:
            before = sum(row.amount_fen for row in rows if row.seq < settled[0].seq)
            assert settled[0].amount_fen == before == 1_000
            assert all(row.seq < settled[0].seq for row in rows if row.kind == "deposit")
        assert client.get(path, headers=keys["bank"]).json()["balance_fen"] >= 0
        for row in rows:
            assert _entry(d, int(row.log_index)).kind is EntryKind.RESALE
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_resale_cancelled_by_judgment_returns_the_home_to_its_owners(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_resale(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    body = bank.signed("deposit", number, 2_000, account=SUPERVISION)
    assert _post(client, f"{base}/deposits", keys["bank"], json=body).status_code == 201  # type: ignore[attr-defined]
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["court"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初7号"},
        content=judgment_pdf("(2027)湘0104民初7号"),
    )
    assert cancel.status_code == 201, cancel.text  # type: ignore[attr-defined]
    entry = _entry(d, cancel.json()["log_index"])  # type: ignore[attr-defined]
    assert entry.event is EntryEvent.CANCELLED and entry.kind is EntryKind.RESALE
    assert entry.ref == index
    unit = client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["status"] == "REGISTERED"  # back to its owners, not to the market
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [ZHANG["id_number"], LI["id_number"]]
    body = bank.signed("refund", number, 2_000, account=SUPERVISION)
    assert _post(client, f"{base}/refunds", keys["bank"], json=body).status_code == 201  # type: ignore[attr-defined]
    # The owners may sell again.
    r = _post(
        client,
        "/v1/resale-contracts",
        keys["zhang"],
        json=resale_body("ESF-AGAIN", brokerage=False),
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_registered_entry_reads_alike_on_both_sides() -> None:
    """The platform writes ``registered`` as the verifier reads it: a status event of the
    filing it refers to, naming no parties, its doc the registration record's hash."""
    import datetime as dt
    import hashlib

    import pytest

    from filing.entry import EntryFormatError, registration_record, status_name
    from verifier.entry import EntryUnreadable, LoggedEntry
    from verifier.map_audit import status_name as verifier_status_name

    record = registration_record(
        "CS-2026-000002", OLD[0], TRANSFER["certificate"], dt.date(2027, 3, 1)
    )
    assert json.loads(record) == {
        "certificate": TRANSFER["certificate"],
        "filing": "CS-2026-000002",
        "registered_on": "2027-03-01",
        "unit": OLD[0],
        "v": 1,
    }
    at = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)
    doc = hashlib.sha256(record).hexdigest()
    entry = FilingEntry(
        EntryEvent.REGISTERED, "CS-2026-000002", doc, OLD[0], at, (), ref=5, kind=EntryKind.RESALE
    )
    data = entry.encode()
    assert FilingEntry.decode(data) == entry
    read = LoggedEntry.read(data)
    assert (read.event, read.ref, read.kind, read.doc_sha256) == ("registered", 5, "resale", doc)
    assert status_name(data) == verifier_status_name(data) == "CS-2026-000002"
    with pytest.raises(EntryFormatError):
        FilingEntry(EntryEvent.REGISTERED, "CS-2026-000002", doc, OLD[0], at, (doc,), ref=5)
    with pytest.raises(EntryFormatError):
        FilingEntry(EntryEvent.REGISTERED, "CS-2026-000002", doc, OLD[0], at, ())  # no ref
    forged = data.replace(b'"parties":[]', b'"parties":["' + doc.encode() + b'"]')
    with pytest.raises(EntryUnreadable):
        LoggedEntry.read(forged)


def test_the_brokerage_of_a_sellers_draft_sees_the_supervision_account(api: Api) -> None:
    # A seller drafts and names the brokerage that made the deal: it is a party (its agent
    # signs), so it reads the account as when it drafts itself; another agency does not.
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/resale-contracts", keys["zhang"], json=resale_body("ESF-S-1"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in [
        ("seller-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("seller-2", "li", (LI["name"], LI["id_number"])),
        ("buyer-1", "buyer", BUYER),
    ]:
        assert sign(client, keys[who], cid, field, person).status_code == 200
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    base = f"/v1/filings/{r.json()['filing']}/funds"
    assert client.get(base, headers=keys["agency"]).status_code == 200
    assert client.get(base, headers=keys["zhang"]).status_code == 200
    with write_transaction(d.log.engine) as conn:
        other = api_keys.create_key(conn, "CS-JJ-OTHER", auth.Role.AGENCY)
    r = client.get(base, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403, r.text
