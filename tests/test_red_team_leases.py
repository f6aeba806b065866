"""Red team, leases (租赁备案), issue 14: each party's attack over HTTP on SQLite and
PostgreSQL. A defence that holds keeps its test; a fixed hole keeps the test that found it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from api import auth
from filing import api_keys
from filing.audit import audit_records
from keys.signers import key_signer
from ledger.database import write_transaction
from signing import pades
from tests import pdf_attacks as attacks
from tests.helpers import judgment_pdf
from tests.pki_helpers import issue
from tests.test_filing_api import BUYER, Api, _post, api
from tests.test_fund_api import _race, server
from tests.test_lease_pipeline import ENTERPRISE, ENTRUSTMENT, TODAY, file_lease, lease_body
from tests.test_ownership_api import LI, OLD, ZHANG
from tests.test_resale_pipeline import TRANSFER, WANG, _type, resale_body, setup_resale, sign
from verifier.models import Verdict
from verifier.signatures import SignedDocument
from verifier.verify import verify

__all__ = ["api", "server"]  # the fixtures

ZHANG_P = (ZHANG["name"], ZHANG["id_number"])
LI_P = (LI["name"], LI["id_number"])


def _sell_to_wang(client: Any, keys: dict[str, dict[str, str]]) -> None:
    """张三 and 李四 resell OLD[0] to 王五, and the transfer is registered (转移登记)."""
    body = resale_body("ESF-RED-1", buyers=(WANG,), brokerage=False)
    r = _post(client, "/v1/resale-contracts", keys["zhang"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], cid, "seller-1", ZHANG_P).status_code == 200
    assert sign(client, keys["li"], cid, "seller-2", LI_P).status_code == 200
    r = sign(client, keys["wang"], cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [WANG[1]]


def _leases(client: Any, keys: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    r = client.get(f"/v1/units/{OLD[0]}/leases", headers=keys["stats"])
    assert r.status_code == 200, r.text
    return list(r.json()["leases"])


def _enterprise_key(api: Api) -> dict[str, str]:
    _, _, d = api
    with write_transaction(d.log.engine) as conn:
        key = api_keys.create_key(conn, ENTERPRISE[1], auth.Role.DEVELOPER)
    return {"Authorization": f"Bearer {key}"}


def _entrust(client: Any, keys: dict[str, dict[str, str]], reference: str = ENTRUSTMENT) -> None:
    body = {
        "reference": reference,
        "enterprise": ENTERPRISE[1],
        "enterprise_name": ENTERPRISE[0],
        "valid_from": (TODAY - dt.timedelta(days=30)).isoformat(),
        "valid_until": (TODAY + dt.timedelta(days=3 * 365)).isoformat(),
    }
    r = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["authority"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]


# -- lessors who are not (or no longer) the owners ---------------------------------------


def test_a_lease_the_former_owners_drafted_is_not_filed_after_they_sold(api: Api) -> None:
    """Broken, fixed: the lessors were checked only at the draft. 张三 and 李四 draft and
    sign a lease, sell the home to 王五 and register the transfer; the lessee's last
    signature then filed a lease of 王五's home by people who no longer own it."""
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=lease_body("ZL-RED-1"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], cid, "lessor-1", ZHANG_P).status_code == 200
    assert sign(client, keys["li"], cid, "lessor-2", LI_P).status_code == 200
    _sell_to_wang(client, keys)
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 422, r.text
    assert (_type(r), r.json()["checks"]) == ("unit-not-sellable", ["LESSORS_NOT_OWNERS"])
    assert _leases(client, keys) == []  # nothing filed
    # The new owner leases the home himself.
    mine = lease_body("ZL-RED-2", lessors=(WANG,), start=TODAY + dt.timedelta(days=400))
    r = _post(client, "/v1/lease-contracts", keys["wang"], json=mine)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_the_sellers_entrustment_does_not_let_an_enterprise_lease_the_buyers_home(
    api: Api,
) -> None:
    """Broken, fixed: an entrustment the former owners gave outlived their ownership; the
    rental enterprise went on leasing the home after its transfer to 王五."""
    client, keys, d = api
    setup_resale(client, keys, d)
    keys["enterprise"] = _enterprise_key(api)
    _entrust(client, keys)
    _sell_to_wang(client, keys)
    body = lease_body("ZL-RED-E1", enterprise=True)
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=body)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert r.json()["checks"] == ["NOT_ENTRUSTED"]  # type: ignore[attr-defined]
    # 王五's own entrustment, recorded after the transfer, is one.
    _entrust(client, keys, "长住租委（2027）第 0002 号")
    body["enterprise"]["entrustment"] = "长住租委（2027）第 0002 号"
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]


def test_an_entrusted_lease_drafted_before_the_sale_is_not_filed_after_it(api: Api) -> None:
    """Broken, fixed (as above, at the last signature): the enterprise drafts under the
    sellers' entrustment, the transfer is registered, the lessee signs last."""
    client, keys, d = api
    setup_resale(client, keys, d)
    keys["enterprise"] = _enterprise_key(api)
    _entrust(client, keys)
    r = _post(
        client, "/v1/lease-contracts", keys["enterprise"], json=lease_body("ZL-E2", enterprise=True)
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["enterprise"]).status_code == 200  # type: ignore[attr-defined]
    _sell_to_wang(client, keys)
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text
    assert _leases(client, keys) == []


def test_one_co_owner_or_a_stranger_cannot_lease_and_is_told_no_names(api: Api) -> None:
    """Held: one of two co-owners, or a stranger naming himself, is refused; the refusal
    names nobody (a stranger learns nothing of who owns the home)."""
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/lease-contracts", keys["li"], json=lease_body("ZL-S1", lessors=(LI,)))
    assert r.status_code == 422 and r.json()["checks"] == ["LESSORS_NOT_OWNERS"]  # type: ignore[attr-defined]
    r = _post(
        client, "/v1/lease-contracts", keys["wang"], json=lease_body("ZL-S2", lessors=(WANG,))
    )
    assert r.status_code == 422 and r.json()["checks"] == ["LESSORS_NOT_OWNERS"]  # type: ignore[attr-defined]
    text = r.text  # type: ignore[attr-defined]
    for secret in (ZHANG["name"], ZHANG["id_number"], LI["name"], LI["id_number"]):
        assert secret not in text
    # Naming the owners as lessors while drafting as a stranger: not a drafter.
    r = _post(client, "/v1/lease-contracts", keys["wang"], json=lease_body("ZL-S3"))
    assert r.status_code == 403 and _type(r) == "not-a-drafter"


def test_an_enterprise_cannot_use_another_enterprises_entrustment(api: Api) -> None:
    """Held: the entrustment is the named enterprise's; another key cannot draft under it,
    nor name both owners and an enterprise."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _entrust(client, keys)
    with write_transaction(d.log.engine) as conn:
        other = api_keys.create_key(conn, "91430100MA4OTHER02", auth.Role.DEVELOPER)
    headers = {"Authorization": f"Bearer {other}"}
    body = lease_body("ZL-O1", enterprise=True)
    r = _post(client, "/v1/lease-contracts", headers, json=body)
    assert r.status_code == 403 and _type(r) == "not-a-drafter", r.text
    body["enterprise"]["credit_code"] = "91430100MA4OTHER02"
    r = _post(client, "/v1/lease-contracts", headers, json=body)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text  # type: ignore[attr-defined]
    # The enterprise's own entrustment of another unit (OLD[1], 王五's) does not cover OLD[0],
    # nor does its entrustment of OLD[0] a term that starts before it.
    a = keys["authority"]
    mine = {"Authorization": _enterprise_key(api)["Authorization"]}
    owners = {
        "certificate": "湘（2016）长沙市不动产权第 0100302 号",
        "owners": [{"name": WANG[0], "id_type": "居民身份证", "id_number": WANG[1]}],
        "registered_on": "2016-05-02",
    }
    r = _post(client, f"/v1/units/{OLD[1]}/ownership", a, json=owners)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    entrust = {
        "reference": "长住租委（2026）第 0302 号",
        "enterprise": ENTERPRISE[1],
        "enterprise_name": ENTERPRISE[0],
        "valid_from": (TODAY - dt.timedelta(days=30)).isoformat(),
        "valid_until": (TODAY + dt.timedelta(days=3 * 365)).isoformat(),
    }
    r = _post(client, f"/v1/units/{OLD[1]}/lease-entrustments", a, json=entrust)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    elsewhere = lease_body("ZL-O3", enterprise=True)
    elsewhere["enterprise"]["entrustment"] = entrust["reference"]
    r = _post(client, "/v1/lease-contracts", mine, json=elsewhere)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text  # type: ignore[attr-defined]
    early = lease_body("ZL-O4", enterprise=True, start=TODAY - dt.timedelta(days=60))
    r = _post(client, "/v1/lease-contracts", mine, json=early)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text  # type: ignore[attr-defined]
    both = {**lease_body("ZL-O2"), "enterprise": lease_body(enterprise=True)["enterprise"]}
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=both)
    assert r.status_code == 422 and _type(r) == "invalid-contract"


# -- overlaps, ends, renewals -------------------------------------------------------------


def test_touching_terms_overlap_the_day_after_does_not(api: Api) -> None:
    """Held: a lease starting on another's last day overlaps it; one starting the next day
    does not; a room of the unit in the whole unit's term does."""
    client, keys, d = api
    setup_resale(client, keys, d)
    file_lease(client, keys)
    last = dt.date.fromisoformat(_leases(client, keys)[0]["end"])
    touching = lease_body("ZL-T1", start=last, days=30)
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=touching)
    assert r.status_code == 409 and r.json()["checks"] == ["LEASE_OVERLAPS"], r.text  # type: ignore[attr-defined]
    after = lease_body("ZL-T2", start=last + dt.timedelta(days=1), days=30)
    assert _post(client, "/v1/lease-contracts", keys["zhang"], json=after).status_code == 201  # type: ignore[attr-defined]
    # Two rooms: different rooms coexist, the same room twice does not.
    far = TODAY + dt.timedelta(days=1000)
    a = lease_body("ZL-R1", start=far, space="主卧", room_area="20.00", occupants=1)
    b = lease_body("ZL-R2", start=far, space="次卧", room_area="12.00", occupants=1)
    c = lease_body("ZL-R3", start=far, space=" 主卧 ", room_area="20.00", occupants=1)
    assert _post(client, "/v1/lease-contracts", keys["zhang"], json=a).status_code == 201  # type: ignore[attr-defined]
    assert _post(client, "/v1/lease-contracts", keys["zhang"], json=b).status_code == 201  # type: ignore[attr-defined]
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=c)
    assert r.status_code in (409, 422), r.text  # type: ignore[attr-defined]


def test_racing_drafts_of_one_space_hold_it_once(
    server: tuple[str, dict[str, dict[str, str]], Any],
) -> None:
    """Held: eight whole-unit leases drafted at once over real HTTP: one is drafted, the
    others are told the space is taken (409), none is a 500."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
    calls = [("/v1/lease-contracts", lease_body(f"ZL-RACE-{i}")) for i in range(8)]
    answers = _race(base, keys["zhang"], calls)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, [a.text for a in answers]


def test_no_party_ends_a_lease_alone_and_expiry_twice_ends_nothing_twice(api: Api) -> None:
    """Held: a lessor or the lessee cannot cancel a filed lease (a court's judgment or
    everyone's agreement does); expiry run twice (two keys) logs one end."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_lease(client, keys)
    for who in ("zhang", "buyer"):
        r = _post(
            client,
            f"/v1/filings/{number}/cancellation",
            {**keys[who], "content-type": "application/pdf"},
            params={"reason": "我不租了", "judgment": "none"},
            content=b"%PDF-1.7",
        )
        assert r.status_code == 403, r.text  # type: ignore[attr-defined]
    # An agreement one party signed ends nothing.
    r = _post(
        client, f"/v1/filings/{number}/cancellation-agreements", keys["buyer"],
        json={"reason": "提前退租"},
    )  # fmt: skip
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    aid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], aid, "lessor-1", ZHANG_P).status_code == 200
    assert _leases(client, keys)[0]["status"] == "LEASED"
    _, old, _ = file_lease(
        client, keys, number="ZL-OLD", start=TODAY - dt.timedelta(days=800), days=30
    )
    first = client.post(
        "/v1/leases/expiry", headers={**keys["authority"], "Idempotency-Key": "expiry-a"}
    )
    second = client.post(
        "/v1/leases/expiry", headers={**keys["authority"], "Idempotency-Key": "expiry-b"}
    )
    assert (first.json()["expired"], second.json()["expired"]) == (1, 0), second.text
    assert client.get(f"/v1/filings/{old}", headers=keys["authority"]).json()["status"] == "ENDED"
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_lease_blocks_no_sale_and_a_sale_erases_no_lease(api: Api) -> None:
    """Held: a filed lease leaves the unit sellable (买卖不破租赁); after the transfer the
    lease stays on record and in force, the certificate still readable by its lessee."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_lease(client, keys)
    _sell_to_wang(client, keys)
    [x] = _leases(client, keys)
    assert (x["filing"], x["status"]) == (number, "LEASED")
    cert = client.get(f"/v1/filings/{number}/lease-certificate", headers=keys["buyer"])
    assert cert.status_code == 200 and cert.content.startswith(b"%PDF")


# -- who reads what ---------------------------------------------------------------------


def test_the_developer_and_other_people_do_not_read_a_lease(api: Api) -> None:
    """Held: the project's developer, a bank, tax, another person and another enterprise
    neither read the 租赁登记备案证明 (404, not told it exists) nor a unit's lease status."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_lease(client, keys)
    other = _enterprise_key(api)
    for headers in (keys["developer"], keys["other"], keys["wang"], other):
        r = client.get(f"/v1/filings/{number}/lease-certificate", headers=headers)
        assert r.status_code == 404, r.text
    for headers in (keys["developer"], keys["bank"], keys["tax"], keys["wang"], keys["buyer"]):
        assert client.get(f"/v1/units/{OLD[0]}/leases", headers=headers).status_code == 403
    for who in ("stats", "court", "authority"):
        r = client.get(f"/v1/filings/{number}/lease-certificate", headers=keys[who])
        assert r.status_code == 200, who


def test_no_personal_data_in_the_lease_status_or_events(api: Api) -> None:
    """Held: the unit's lease status and the event stream name nobody."""
    client, keys, d = api
    setup_resale(client, keys, d)
    file_lease(client, keys)
    status = client.get(f"/v1/units/{OLD[0]}/leases", headers=keys["stats"]).text
    events = client.get("/v1/events", headers=keys["authority"]).text
    for secret in (ZHANG["name"], ZHANG["id_number"], BUYER[0], BUYER[1], LI["id_number"]):
        assert secret not in status and secret not in events


# -- bounds ------------------------------------------------------------------------------


def test_lease_inputs_are_bounded(api: Api) -> None:
    """Held: numbers past 64 bits, far dates, deep JSON and huge bodies are 4xx, never 500,
    on the lease routes."""
    client, keys, d = api
    setup_resale(client, keys, d)
    url = "/v1/lease-contracts"
    for change in (
        {"occupants": 2**64},
        {"occupants": 0},
        {"rent": "1e400"},
        {"rent": "NaN"},
        {"room_area": "-1", "space": "主卧"},
        {"start": "0001-01-01", "end": "9999-12-31"},
        {"end": "99999-01-01"},
        {"lessees": [lease_body()["lessees"][0]] * 50},
    ):
        r = _post(client, url, keys["zhang"], json={**lease_body("ZL-B"), **change})
        assert 400 <= r.status_code < 500, (change, r.text)  # type: ignore[attr-defined]
    deep = "[" * 100_000 + "]" * 100_000
    for path in (url, f"/v1/units/{OLD[0]}/lease-entrustments", "/v1/filings/X/renewal-agreements"):
        r = client.post(
            path,
            content=deep.encode(),
            headers={
                **keys["authority"],
                "Idempotency-Key": "deep",
                "content-type": "application/json",
            },
        )
        assert 400 <= r.status_code < 500, (path, r.status_code)
        huge = json.dumps({"reason": "x" * 5_000_000}).encode()
        r = client.post(
            path,
            content=huge,
            headers={
                **keys["authority"],
                "Idempotency-Key": "huge",
                "content-type": "application/json",
            },
        )
        assert r.status_code == 413, (path, r.status_code)
    # Far dates on a renewal: refused, not a date overflow.
    _, number, _ = file_lease(client, keys)
    r = _post(
        client, f"/v1/filings/{number}/renewal-agreements", keys["buyer"],
        json={"reason": "续租", "end": "9999-12-31"},
    )  # fmt: skip
    assert r.status_code < 500, r.text  # type: ignore[attr-defined]


def test_expiry_runs_racing_end_each_lease_once(
    server: tuple[str, dict[str, dict[str, str]], Any],
) -> None:
    """Expiry run at once by several callers (the daily job twice, say) over real HTTP:
    every run answers, each lease ends once, with one log entry."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
        for n in range(3):
            start = TODAY - dt.timedelta(days=900 - 40 * n)
            file_lease(client, keys, number=f"ZL-EXP-{n}", start=start, days=30)
    answers = _race(base, keys["authority"], [("/v1/leases/expiry", {})] * 6)
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert sum(a.json()["expired"] for a in answers) == 3
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_forged_or_altered_lease_certificate_does_not_pass(api: Api) -> None:
    """Held: the 租赁登记备案证明 altered after its seal (content appended, an annotation)
    fails the verifier; a PDF that a party's own certificate (issued by the platform's CA)
    signs in a field named ``filing-seal`` is no filing seal: the verifier does not pass it."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_lease(client, keys)
    cert = client.get(f"/v1/filings/{number}/lease-certificate", headers=keys["buyer"]).content
    trust = d.verifier_trust()
    genuine = SignedDocument(cert).assess(trust, complete=False)
    assert genuine.passed and [s.is_filing_seal for s in genuine.signatures] == [True]
    for attack in (attacks.append_content, attacks.add_annotation, attacks.retitle):
        assessed = SignedDocument(attack(cert)).assess(trust, complete=False)
        assert not assessed.passed, attack.__name__
    mallory = issue(d.pki, "Mallory")
    signer = key_signer(mallory.key, mallory.cert, [d.pki.ca.issuing])
    forged = pades.sign(
        judgment_pdf("租赁登记备案证明"),
        "filing-seal",
        signer,
        pades.Level.B_T,
        timestamper=d.pki.timestamper(),
    )
    assessed = SignedDocument(forged).assess(trust, complete=False)
    assert [s.is_filing_seal for s in assessed.signatures] == [False]
    assert verify(forged, trust).verdict is not Verdict.PASSED


def test_a_renewal_into_days_a_later_draft_took_is_refused_at_its_last_signature(
    api: Api,
) -> None:
    """Held: a renewal is proposed; before everyone signs it, the owners draft a new lease
    into the days it would add; the renewal's last signature is refused (409
    LEASE_OVERLAPS), the term unchanged; nothing is half-written."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_lease(client, keys)
    end = dt.date.fromisoformat(_leases(client, keys)[0]["end"])
    body = {"reason": "续租半年", "end": (end + dt.timedelta(days=180)).isoformat()}
    r = _post(client, f"/v1/filings/{number}/renewal-agreements", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    aid = r.json()["id"]  # type: ignore[attr-defined]
    later = lease_body("ZL-IN", start=end + dt.timedelta(days=10), days=60)
    assert _post(client, "/v1/lease-contracts", keys["li"], json=later).status_code == 201  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], aid, "lessor-1", ZHANG_P).status_code == 200
    assert sign(client, keys["li"], aid, "lessor-2", LI_P).status_code == 200
    r = sign(client, keys["buyer"], aid, "lessee-1", BUYER)
    assert r.status_code == 409 and r.json()["checks"] == ["LEASE_OVERLAPS"], r.text
    assert _leases(client, keys)[0]["end"] == end.isoformat()
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_the_former_owners_do_not_renew_a_lease_of_the_home_they_sold(api: Api) -> None:
    """Broken, fixed: a filed lease survives the sale (买卖不破租赁), but its renewal (续订)
    is a new agreement: 张三 and 李四, owners no more, extended the lessee's term in 王五's
    home, by signing a renewal proposed before the transfer, or proposing one after it."""
    client, keys, d = api
    setup_resale(client, keys, d)
    room = {"space": "主卧", "room_area": "20.00", "occupants": 1}
    _, first, _ = file_lease(client, keys, number="ZL-A", **room)
    _, second, _ = file_lease(client, keys, number="ZL-B", **{**room, "space": "次卧"})
    end = dt.date.fromisoformat(_leases(client, keys)[0]["end"])
    body = {"reason": "续租半年", "end": (end + dt.timedelta(days=180)).isoformat()}
    r = _post(client, f"/v1/filings/{first}/renewal-agreements", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    aid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], aid, "lessor-1", ZHANG_P).status_code == 200
    _sell_to_wang(client, keys)
    assert sign(client, keys["li"], aid, "lessor-2", LI_P).status_code == 200
    r = sign(client, keys["buyer"], aid, "lessee-1", BUYER)
    assert r.status_code == 422 and r.json()["checks"] == ["LESSORS_NOT_OWNERS"], r.text
    r = _post(client, f"/v1/filings/{second}/renewal-agreements", keys["zhang"], json=body)
    assert r.status_code == 422 and r.json()["checks"] == ["LESSORS_NOT_OWNERS"], r.text  # type: ignore[attr-defined]
    assert {x["end"] for x in _leases(client, keys)} == {end.isoformat()}
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems
