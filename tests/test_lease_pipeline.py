"""Leases (租赁备案) on the one pipeline, over real HTTP on SQLite and PostgreSQL: drafted by
the owners or by an entrusted rental enterprise, signed by every lessor and lessee, filed and
logged as ``kind: lease`` with a sealed 租赁登记备案证明; the unit's sale status and owners
untouched; overlap, area per occupant and entrustment refused; early termination by
judgment and expiry as log entries; the evidence verified offline as 房屋租赁."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from api import auth
from filing import api_keys
from filing.audit import audit_records
from filing.entry import EntryEvent, EntryKind
from filing.statistics import city_day
from ledger.database import write_transaction
from tests.helpers import BIN, judgment_pdf
from tests.test_filing_api import BUYER, Api, _post, api
from tests.test_fund_api import server
from tests.test_ownership_api import LI, OLD, ZHANG
from tests.test_resale_pipeline import (
    _entry,
    _person,
    _type,
    resale_body,
    setup_resale,
    sign,
)
from verifier.signatures import SignedDocument

__all__ = ["api", "server"]  # the fixtures

ENTERPRISE = ("长沙示范住房租赁有限公司", "91430100MA4LEASE01")
ENTRUSTMENT = "长住租委（2026）第 0001 号"
TODAY = city_day(dt.datetime.now(dt.UTC))


def lease_body(
    number: str = "ZL-2026-000001",
    lessors: tuple[Any, ...] = (ZHANG, LI),
    lessees: tuple[Any, ...] = (BUYER,),
    start: dt.date = TODAY - dt.timedelta(days=1),
    days: int = 365,
    space: str = "",
    room_area: str | None = None,
    occupants: int = 2,
    enterprise: bool = False,
) -> dict[str, Any]:
    return {
        "unit_code": OLD[0],
        "number": number,
        "lessors": [] if enterprise else [_person(p) for p in lessors],
        "enterprise": {
            "name": ENTERPRISE[0],
            "credit_code": ENTERPRISE[1],
            "entrustment": ENTRUSTMENT,
        }
        if enterprise
        else None,
        "lessees": [_person(p) for p in lessees],
        "space": space,
        "room_area": room_area,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=days - 1)).isoformat(),
        "rent": "3200.00",
        "cycle": "QUARTERLY",
        "deposit": "3200.00",
        "occupants": occupants,
        "dispute_body": "长沙市岳麓区人民法院",
    }


def file_lease(client: Any, keys: dict[str, dict[str, str]], **kw: Any) -> tuple[str, str, int]:
    """张三 drafts; 张三, 李四 and the lessee sign. (contract id, filing, log index)"""
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=lease_body(**kw))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["kind"] == "lease"  # type: ignore[attr-defined]
    for field, who, person in [
        ("lessor-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("lessor-2", "li", (LI["name"], LI["id_number"])),
    ]:
        r = sign(client, keys[who], cid, field, person)
        assert r.status_code == 200 and r.json() == {"filed": False}, r.text
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 201, r.text
    return cid, str(r.json()["filing"]), int(r.json()["log_index"])


def _unit(client: Any, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    return dict(client.get(f"/v1/units/{OLD[0]}", headers=keys["authority"]).json()["unit"])


def _leases(client: Any, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    r = client.get(f"/v1/units/{OLD[0]}/leases", headers=keys["stats"])
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_lease_end_to_end(api: Api, tmp_path: Path) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    cid, number, index = file_lease(client, keys)
    seen = client.get(f"/v1/contracts/{cid}", headers=keys["buyer"]).json()
    assert seen["kind"] == "lease"
    assert seen["required"] == ["lessor-1", "lessor-2", "lessee-1", "filing-seal"]
    entry = _entry(d, index)
    assert entry.event is EntryEvent.FILED and entry.kind is EntryKind.LEASE
    assert len(entry.parties) == 3  # both lessors and the lessee, hashed
    # A lease changes neither the unit's status nor its owners.
    assert _unit(client, keys)["status"] == "REGISTERED"
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [ZHANG["id_number"], LI["id_number"]]
    # Its lease status, for the departments that accept it; nothing for a stranger.
    status = _leases(client, keys)
    assert status["leased"] is True
    assert [(x["filing"], x["status"], x["space"]) for x in status["leases"]] == [
        (number, "LEASED", None)
    ]
    assert "张三" not in json.dumps(status, ensure_ascii=False)
    assert client.get(f"/v1/units/{OLD[0]}/leases", headers=keys["wang"]).status_code == 403
    # The lessee and each lessor list the lease among their contracts; a stranger does not.
    for who in ("buyer", "zhang", "li"):
        listed = client.get("/v1/contracts", headers=keys[who]).json()["items"]
        assert cid in [x["id"] for x in listed], who
    assert cid not in [
        x["id"] for x in client.get("/v1/contracts", headers=keys["wang"]).json()["items"]
    ]

    # The 租赁登记备案证明: sealed by the platform, valid under the verifier's trust alone.
    cert = client.get(f"/v1/filings/{number}/lease-certificate", headers=keys["stats"])
    assert cert.status_code == 200 and cert.content.startswith(b"%PDF"), cert.text
    assert client.get(f"/v1/filings/{number}/lease-certificate", headers=keys["buyer"]).content
    other = client.get(f"/v1/filings/{number}/lease-certificate", headers=keys["wang"])
    assert other.status_code == 404  # not told that another's lease exists
    assessment = SignedDocument(cert.content).assess(d.verifier_trust(), complete=False)
    assert assessment.passed, assessment.problems()
    assert [s.field for s in assessment.signatures] == ["filing-seal"]

    # Statistics: leases and rents by district and month, apart from the sales.
    month = {"period": "month", "by": "district"}
    r = client.get("/v1/stats/filings", headers=keys["stats"], params={**month, "leases": True})
    [row] = r.json()
    assert (row["key"], row["filings"], row["area_m2"], row["value"]) == (
        "岳麓区", 1, "88.20", "3200.00",
    )  # fmt: skip
    sales = client.get("/v1/stats/filings", headers=keys["stats"], params=month).json()
    assert sum(x["filings"] for x in sales) == 0

    # A leased home may still be sold: the owners draft a resale beside the lease.
    r = _post(client, "/v1/resale-contracts", keys["zhang"], json=resale_body(brokerage=False))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]

    # The evidence package verifies offline and names the kind 房屋租赁.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "e.zip").write_bytes(zipped)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        assert z.namelist()
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "房屋租赁" in run.stdout and "出租人" in run.stdout, run.stdout
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_each_lease_refusal_is_a_problem_and_writes_nothing(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)

    def refused(who: str, body: dict[str, Any]) -> tuple[int, str, list[str]]:
        r = _post(client, "/v1/lease-contracts", keys[who], json=body)
        assert r.headers["content-type"].startswith("application/problem+json"), r.text  # type: ignore[attr-defined]
        return r.status_code, _type(r), r.json().get("checks", [])  # type: ignore[attr-defined]

    # Only the owners of record lease it, all of them.
    assert refused("zhang", lease_body("ZL-X1", lessors=(ZHANG,))) == (
        422, "unit-not-sellable", ["LESSORS_NOT_OWNERS"],
    )  # fmt: skip
    # A person drafts only as one of its lessors.
    assert refused("wang", lease_body("ZL-X2"))[:2] == (403, "not-a-drafter")
    # A room too small for its occupants (dated rule: 5 m² each by default).
    small = lease_body("ZL-X3", space="次卧", room_area="9.00", occupants=2)
    assert refused("zhang", small) == (422, "unit-not-sellable", ["AREA_PER_OCCUPANT"])
    # A room larger than the home, or a term the wrong way round: invalid data.
    assert refused("zhang", lease_body("ZL-X4", space="主卧", room_area="99.00"))[:2] == (
        422, "invalid-contract",
    )  # fmt: skip
    # An enterprise with no entrustment of the unit.
    with write_transaction(d.log.engine) as conn:
        key = api_keys.create_key(conn, ENTERPRISE[1], auth.Role.DEVELOPER)
    keys["enterprise"] = {"Authorization": f"Bearer {key}"}
    assert refused("enterprise", lease_body("ZL-X5", enterprise=True)) == (
        422, "unit-not-sellable", ["NOT_ENTRUSTED"],
    )  # fmt: skip

    # The whole unit leased: a room of it in an overlapping term is a conflict (409); the
    # same room after the term ends is not.
    _, number, _ = file_lease(client, keys)
    room = lease_body("ZL-X6", space="次卧", room_area="12.00", occupants=1)
    assert refused("zhang", room) == (409, "unit-not-sellable", ["LEASE_OVERLAPS"])
    later = lease_body(
        "ZL-X7", start=TODAY + dt.timedelta(days=400), space="次卧", room_area="12.00",
        occupants=1,
    )  # fmt: skip
    assert _post(client, "/v1/lease-contracts", keys["li"], json=later).status_code == 201  # type: ignore[attr-defined]
    assert [x["filing"] for x in _leases(client, keys)["leases"]] == [number]  # drafts unlisted

    # Seized (查封): no lease is filed.
    r = _post(
        client,
        f"/v1/units/{OLD[0]}/flags/SEIZED",
        keys["court"],
        json={"on": True, "reason": "查封"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    code, slug, checks = refused("zhang", lease_body("ZL-X8", start=TODAY + dt.timedelta(800)))
    assert (code, slug, checks) == (422, "unit-not-sellable", ["UNIT_SEIZED"])
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def _enterprise(keys: dict[str, dict[str, str]], d: Any) -> dict[str, Any]:
    """The enterprise's key (as keys["enterprise"]) and the body of its entrustment."""
    with write_transaction(d.log.engine) as conn:
        key = api_keys.create_key(conn, ENTERPRISE[1], auth.Role.DEVELOPER)
    keys["enterprise"] = {"Authorization": f"Bearer {key}"}
    return {
        "reference": ENTRUSTMENT,
        "enterprise": ENTERPRISE[1],
        "enterprise_name": ENTERPRISE[0],
        "valid_from": (TODAY - dt.timedelta(days=30)).isoformat(),
        "valid_until": (TODAY + dt.timedelta(days=3 * 365)).isoformat(),
    }


def _file_entrusted(client: Any, keys: dict[str, dict[str, str]], number: str) -> str:
    """The enterprise drafts and seals, the lessee signs: the filing's number."""
    body = lease_body(number, enterprise=True)
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=body)
    assert r.status_code == 201 and r.json()["kind"] == "lease-entrusted", r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    r = _post(client, f"/v1/contracts/{cid}/seal", keys["enterprise"])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 201, r.text
    return str(r.json()["filing"])


def test_an_entrusted_enterprise_leases_with_its_seal(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    entrust = _enterprise(keys, d)
    r = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["enterprise"], json=entrust)
    assert r.status_code == 403  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["authority"], json=entrust)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    again = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["authority"], json=entrust)
    assert again.status_code == 409 and _type(again) == "entrustment-exists"  # type: ignore[attr-defined]
    # Beyond the entrustment's end: refused.
    long = lease_body("ZL-E0", enterprise=True, days=4 * 365)
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=long)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text  # type: ignore[attr-defined]
    r = _post(
        client, "/v1/lease-contracts", keys["enterprise"], json=lease_body("ZL-E1", enterprise=True)
    )
    assert r.status_code == 201 and r.json()["kind"] == "lease-entrusted", r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    r = _post(client, f"/v1/contracts/{cid}/seal", keys["enterprise"])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 201, r.text
    entry = _entry(d, r.json()["log_index"])
    assert entry.kind is EntryKind.LEASE and len(entry.parties) == 2
    assert _unit(client, keys)["status"] == "REGISTERED"


def test_termination_by_judgment_and_expiry_are_log_entries(api: Api, tmp_path: Path) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_lease(client, keys)
    # Neither party ends it alone; a court's judgment does.
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["court"], "content-type": "application/pdf"},
        params={"reason": "判决解除租赁合同", "judgment": "(2027)湘0104民初8号"},
        content=judgment_pdf("(2027)湘0104民初8号"),
    )
    assert cancel.status_code == 201, cancel.text  # type: ignore[attr-defined]
    ended = _entry(d, cancel.json()["log_index"])  # type: ignore[attr-defined]
    assert ended.event is EntryEvent.CANCELLED and ended.kind is EntryKind.LEASE
    assert ended.ref == index
    [x] = _leases(client, keys)["leases"]
    assert (x["status"], x["end_reason"]) == ("ENDED", "judgment")
    assert _unit(client, keys)["status"] == "REGISTERED"

    # A lease whose term ended yesterday (filed late) expires when the authority runs expiry.
    _, old, old_index = file_lease(
        client, keys, number="ZL-OLD", start=TODAY - dt.timedelta(days=60), days=59
    )
    assert _post(client, "/v1/leases/expiry", keys["stats"]).status_code == 403  # type: ignore[attr-defined]
    r = _post(client, "/v1/leases/expiry", keys["authority"])
    assert r.status_code == 200 and r.json()["expired"] == 1, r.text  # type: ignore[attr-defined]
    expired = _entry(d, r.json()["log_indexes"][0])  # type: ignore[attr-defined]
    assert expired.event is EntryEvent.EXPIRED and expired.kind is EntryKind.LEASE
    assert expired.ref == old_index and expired.parties == ()
    assert client.get(f"/v1/filings/{old}", headers=keys["authority"]).json()["status"] == "ENDED"
    again = _post(client, "/v1/leases/expiry", keys["authority"])
    assert again.json()["expired"] == 0  # type: ignore[attr-defined]
    # The space is free again: a new lease of the whole unit is drafted.
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=lease_body("ZL-NEW"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    # Offline, the expired lease's contract is the filed one, and its end is told.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{old}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "old.zip").write_bytes(zipped)
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "old.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "房屋租赁" in run.stdout and "期满终止" in run.stdout, run.stdout
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_both_parties_end_a_lease_early_by_agreement(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_lease(client, keys)
    r = _post(
        client,
        f"/v1/filings/{number}/cancellation-agreements",
        keys["buyer"],
        json={"reason": "承租人工作调动"},
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    aid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["required"] == ["lessor-1", "lessor-2", "lessee-1", "filing-seal"]  # type: ignore[attr-defined]
    change = _post(
        client,
        f"/v1/filings/{number}/change-agreements",
        keys["buyer"],
        json={"reason": "涨租", "changes": "月租金改为 3500 元"},
    )  # a lease is renewed or ended, not changed
    assert change.status_code == 409 and _type(change) == "contract-state"  # type: ignore[attr-defined]
    for field, who, person in [
        ("lessor-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("lessor-2", "li", (LI["name"], LI["id_number"])),
    ]:
        r = sign(client, keys[who], aid, field, person)
        assert r.status_code == 200 and r.json() == {"filed": False}, r.text
        assert _leases(client, keys)["leases"][0]["status"] == "LEASED"  # not until all sign
    r = sign(client, keys["buyer"], aid, "lessee-1", BUYER)
    assert r.status_code == 201, r.text
    ended = _entry(d, r.json()["log_index"])
    assert ended.event is EntryEvent.CANCELLED and ended.kind is EntryKind.LEASE
    assert ended.ref == index
    [x] = _leases(client, keys)["leases"]
    assert (x["status"], x["end_reason"]) == ("ENDED", "agreement")
    assert _unit(client, keys)["status"] == "REGISTERED"
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_lease_is_renewed_by_both_parties(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, index = file_lease(client, keys)
    end = dt.date.fromisoformat(_leases(client, keys)["leases"][0]["end"])
    later = _post(
        client, "/v1/lease-contracts", keys["li"],
        json=lease_body("ZL-NEXT", start=end + dt.timedelta(days=200), days=100),
    )  # fmt: skip
    assert later.status_code == 201, later.text  # type: ignore[attr-defined]
    url = f"/v1/filings/{number}/renewal-agreements"
    short = {"reason": "续租", "end": end.isoformat()}
    r = _post(client, url, keys["buyer"], json=short)
    assert r.status_code == 409 and _type(r) == "contract-state", r.text  # type: ignore[attr-defined]
    # Into the days of the next lease drafted: a conflict.
    clash = {"reason": "续租", "end": (end + dt.timedelta(days=365)).isoformat()}
    r = _post(client, url, keys["buyer"], json=clash)
    assert r.status_code == 409 and r.json()["checks"] == ["LEASE_OVERLAPS"], r.text  # type: ignore[attr-defined]
    assert _post(client, url, keys["wang"], json=clash).status_code == 404  # type: ignore[attr-defined]
    body = {"reason": "续租半年", "end": (end + dt.timedelta(days=180)).isoformat()}
    r = _post(client, url, keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    aid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["required"] == ["lessor-1", "lessor-2", "lessee-1", "filing-seal"]  # type: ignore[attr-defined]
    for field, who, person in [
        ("lessor-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("lessor-2", "li", (LI["name"], LI["id_number"])),
    ]:
        r = sign(client, keys[who], aid, field, person)
        assert r.status_code == 200, r.text
    r = sign(client, keys["buyer"], aid, "lessee-1", BUYER)
    assert r.status_code == 201, r.text
    renewed = _entry(d, r.json()["log_index"])
    assert renewed.event is EntryEvent.CHANGED and renewed.kind is EntryKind.LEASE
    assert renewed.ref == index
    [x] = _leases(client, keys)["leases"]
    assert (x["status"], x["end"]) == ("LEASED", body["end"])
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_revoked_entrustment_refuses_new_drafts_and_its_leases_stand(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    entrust = _enterprise(keys, d)
    r = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["authority"], json=entrust)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    number = _file_entrusted(client, keys, "ZL-R1")
    ends = f"/v1/units/{OLD[0]}/lease-entrustment-ends"
    end = {"reference": ENTRUSTMENT, "ended_on": TODAY.isoformat(), "reason": "业主书面撤销委托"}
    # Only the authority records it; only an entrustment of this unit, within its term.
    assert _post(client, ends, keys["enterprise"], json=end).status_code == 403  # type: ignore[attr-defined]
    r = _post(client, ends, keys["authority"], json={**end, "reference": "长住租委（2026）第 9 号"})
    assert r.status_code == 404 and _type(r) == "unknown-entrustment", r.text  # type: ignore[attr-defined]
    late = {**end, "ended_on": (TODAY + dt.timedelta(days=4 * 365)).isoformat()}
    r = _post(client, ends, keys["authority"], json=late)
    assert r.status_code == 422 and _type(r) == "invalid-entrustment", r.text  # type: ignore[attr-defined]
    r = _post(client, ends, keys["authority"], json=end)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.json()["ended_on"] == TODAY.isoformat()  # type: ignore[attr-defined]
    again = _post(client, ends, keys["authority"], json=end)
    assert again.status_code == 409 and _type(again) == "entrustment-ended", again.text  # type: ignore[attr-defined]
    # History kept: the entrustment as recorded, and its end.
    listed = client.get(f"/v1/units/{OLD[0]}/lease-entrustments", headers=keys["stats"])
    assert listed.status_code == 200, listed.text
    assert listed.json()["entrustments"] == [
        {
            "reference": ENTRUSTMENT,
            "enterprise": ENTERPRISE[1],
            "valid_from": entrust["valid_from"],
            "valid_until": entrust["valid_until"],
            "ended_on": TODAY.isoformat(),
        }
    ]
    assert (
        client.get(f"/v1/units/{OLD[0]}/lease-entrustments", headers=keys["wang"]).status_code
        == 403
    )
    # A new draft under it, for a term it covered (after the filed lease's), is refused.
    later = lease_body("ZL-R2", enterprise=True, start=TODAY + dt.timedelta(days=400))
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=later)
    assert r.status_code == 422 and r.json()["checks"] == ["NOT_ENTRUSTED"], r.text  # type: ignore[attr-defined]
    # The lease filed under it stands.
    assert [(x["filing"], x["status"]) for x in _leases(client, keys)["leases"]] == [
        (number, "LEASED")
    ]
    # A new entrustment (a new reference) lets the same draft through: the end refused it.
    renewed = {**entrust, "reference": "长住租委（2026）第 0002 号"}
    r = _post(client, f"/v1/units/{OLD[0]}/lease-entrustments", keys["authority"], json=renewed)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    later["enterprise"]["entrustment"] = renewed["reference"]
    r = _post(client, "/v1/lease-contracts", keys["enterprise"], json=later)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
