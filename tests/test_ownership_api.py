"""Ownership of record over HTTP, on SQLite and PostgreSQL: registration of a filed purchase,
import of an existing home, mortgages and consents, who sees owners, and the resale facts."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from api import auth
from filing import access_log, api_keys, holdings, ownership_records, registry, schema
from filing.audit import audit_records
from filing.checks import Reason
from filing.resale import CHANGSHA_2018, ResaleRuleSet, check_resale
from filing.status import UnitEvent, UnitStatus
from ledger.database import write_transaction
from signing.contract import Party
from tests.test_filing_api import (
    BUYER,
    CODES,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    api,  # noqa: F401
    file_contract,
)

OLD = [f"430104001001GB00001F0001{n:04d}" for n in (301, 302)]  # existing homes, never offered
OLD_CSV = (
    "project,district,address,developer,developer_id,building,code,floor,room,use,forecast_building,forecast_inner,forecast_shared\n"
    + "".join(
        f"岳麓老小区,岳麓区,长沙市岳麓区老街 9 号,某原开发公司,91430100OLD0000000,"
        f"1 栋,{code},3,30{n},住宅,88.20,72.10,16.10\n"
        for n, code in enumerate(OLD, start=1)
    )
)  # fmt: skip
ZHANG = {"name": "张三", "id_number": "430104198001010011", "share": "1/2"}
LI = {"name": "李四", "id_number": "43010419820202002X", "share": "1/2"}
CERT = "湘（2015）长沙市不动产权第 0001234 号"
MORTGAGE = {"mortgagee": "示范银行", "reference": "湘（2016）长沙市不动产证明第 77 号"}
INVALID = "invalid-ownership"
BAD = "invalid-request"
NO_LIMITS = ResaleRuleSet("none", dt.date(2000, 1, 1), ())


def _import_old(client: object, keys: dict[str, dict[str, str]]) -> None:
    r = client.post(  # type: ignore[attr-defined]
        "/v1/registry/import",
        content=OLD_CSV.encode(),
        headers={**keys["authority"], "Idempotency-Key": "old", "content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text


def _sellers(*people: dict[str, str]) -> list[Party]:
    return [Party("seller", p["name"], "居民身份证", p["id_number"]) for p in people]


def test_registration_makes_the_filing_s_buyers_the_owners_of_record(
    api: Api,  # noqa: F811
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    authority = keys["authority"]
    _, number = file_contract(client, keys)
    with d.log.engine.connect() as conn:
        before = ownership_records.resale_facts(conn, CODES[0])
    assert before.status is UnitStatus.FILED and before.ownership is None
    assert len(before.live_contracts) == 1  # the filed, unregistered purchase is live
    nul = _post(
        client, f"/v1/units/{CODES[0]}/registration", authority, json={"certificate": "x\x00"}
    )
    assert nul.status_code == 422  # type: ignore[attr-defined]  # never a 500 (PostgreSQL)
    bad = _post(
        client,
        f"/v1/units/{CODES[0]}/registration",
        authority,
        json={**REGISTRATION, "shares": ["1/2"]},  # a sole buyer owns the whole
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-ownership")  # type: ignore[attr-defined]
    r = _post(
        client,
        f"/v1/units/{CODES[0]}/registration",
        authority,
        json={**REGISTRATION, "registered_on": "2027-09-01"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    done = r.json()  # type: ignore[attr-defined]
    assert done["status"] == "REGISTERED" and done["basis"] == "filing"
    assert done["filing"] == number and done["co_ownership"] == "SOLE" and done["owners"] == 1
    assert done["registered_on"] == "2027-09-01"
    assert done["acquired_on"] == dt.datetime.now(dt.UTC).date().isoformat()  # the filing's day
    again = _post(client, f"/v1/units/{CODES[0]}/registration", authority, json=REGISTRATION)
    assert again.status_code == 409  # type: ignore[attr-defined]

    # Who sees the owners: the authority, a court and the owner; others a pseudonym.
    for who in ("authority", "court", "buyer"):
        seen = client.get(f"/v1/units/{CODES[0]}/ownership", headers=keys[who]).json()
        assert seen["owners"] == [
            {"owner": BUYER[0], "id_type": "居民身份证", "id_number": BUYER[1], "share": None}
        ], who
        assert seen["certificate"] == REGISTRATION["certificate"]
    for who in ("bank", "developer", "other", "tax", "stats"):
        r = client.get(f"/v1/units/{CODES[0]}/ownership", headers=keys[who])
        assert r.status_code == 200, who
        shown = r.json()["owners"]
        assert len(shown) == 1 and shown[0]["owner"].startswith("owner:") and BUYER[1] not in r.text
        assert BUYER[0] not in r.text
    with d.log.engine.connect() as conn:
        reads = conn.execute(
            select(access_log.access_log.c.role).where(
                access_log.access_log.c.action == "read-ownership"
            )
        ).scalars()
        assert sorted(reads) == ["authority", "buyer", "court"]
        facts = ownership_records.resale_facts(conn, CODES[0])
    # Registered: the purchase is complete, not live; the owner may sell, but not yet (限售).
    assert facts.status is UnitStatus.REGISTERED and facts.live_contracts == ()
    seller = [Party("seller", BUYER[0], "居民身份证", BUYER[1])]
    refused = check_resale(facts, seller, dt.date(2028, 1, 1), CHANGSHA_2018)
    assert [f.reason for f in refused] == [Reason.RESALE_RESTRICTED]
    assert "2031-09-01" in refused[0].detail  # four years after the registration
    assert check_resale(facts, seller, dt.date(2031, 9, 1), CHANGSHA_2018) == []
    nobody = client.get(f"/v1/units/{CODES[1]}/ownership", headers=authority)
    assert nobody.status_code == 404 and nobody.json()["type"].endswith("/no-ownership-record")
    # A resale drafted and withdrawn leaves the unit held by the purchase of record again.
    with write_transaction(d.log.engine) as conn:
        holder = registry.unit(conn, CODES[0]).reserved_for
        registry.apply(conn, CODES[0], UnitEvent.RESERVE_RESALE, "t", "draft", reserved_for="x")
        assert registry.unit(conn, CODES[0]).reserved_for == "x"
        registry.apply(conn, CODES[0], UnitEvent.RELEASE_RESALE_RESERVATION, "t", "withdrawn")
        back = registry.unit(conn, CODES[0])
    assert back.status is UnitStatus.REGISTERED and back.reserved_for == holder is not None
    assert audit_records(d.log.engine, d.bank_issuers()).problems == []


def test_an_existing_home_is_imported_mortgaged_consented_and_discharged(
    api: Api,  # noqa: F811
) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _import_old(client, keys)
    authority, bank = keys["authority"], keys["bank"]
    body = {"certificate": CERT, "owners": [ZHANG, LI], "registered_on": "2015-03-02"}
    for path, headers, payload, status, slug in [
        (OLD[0], keys["developer"], body, 403, "forbidden"),
        ("430104001001GB00001F99999999", authority, body, 404, "unknown-unit"),
        (CODES[1], authority, body, 409, "invalid-transition"),  # offered here: not an import
        (OLD[0], authority, {**body, "owners": [ZHANG, {**LI, "share": "1/3"}]}, 422, INVALID),
        (OLD[0], authority, {**body, "owners": [ZHANG, {**LI, "share": None}]}, 422, INVALID),
        (OLD[0], authority, {**body, "owners": [ZHANG, {**LI, "name": "李\x00四"}]}, 422, BAD),
        (OLD[0], authority, {**body, "certificate": "湘\x00"}, 422, BAD),
    ]:  # fmt: skip
        r = _post(client, f"/v1/units/{path}/ownership", headers, json=payload)
        assert r.status_code == status and r.json()["type"].endswith(f"/{slug}"), r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/ownership", authority, json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.json()["basis"] == "import" and r.json()["co_ownership"] == "SHARES"  # type: ignore[attr-defined]
    for path, slug in [(OLD[0], "ownership-exists"), (OLD[1], "certificate-exists")]:
        r = _post(client, f"/v1/units/{path}/ownership", authority, json=body)
        assert r.status_code == 409 and r.json()["type"].endswith(f"/{slug}"), r.text  # type: ignore[attr-defined]
    assert (
        client.get(f"/v1/units/{OLD[1]}", headers=bank).json()["unit"]["status"] == "NOT_RELEASED"
    )

    def facts() -> object:
        with d.log.engine.connect() as conn:
            return ownership_records.resale_facts(conn, OLD[0])

    both = _sellers(ZHANG, LI)
    assert check_resale(facts(), both, dt.date(2026, 12, 1), CHANGSHA_2018) == []  # type: ignore[arg-type]
    only = check_resale(facts(), _sellers(ZHANG), dt.date(2026, 12, 1), CHANGSHA_2018)  # type: ignore[arg-type]
    assert [f.reason for f in only] == [Reason.SELLERS_NOT_OWNERS]

    # A mortgage: only on a unit with owners, once; the unit is flagged.
    r = _post(
        client,
        f"/v1/units/{OLD[1]}/mortgages",
        authority,
        json={**MORTGAGE, "registered_on": "2016-01-05"},
    )
    assert r.status_code == 409 and r.json()["type"].endswith("/no-ownership-record")  # type: ignore[attr-defined]
    m = {**MORTGAGE, "registered_on": "2016-01-05"}
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages", authority, json=m)
    assert r.status_code == 201 and r.json()["consent"] is None, r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages", authority, json=m)
    assert r.status_code == 409 and r.json()["type"].endswith("/mortgage-exists")  # type: ignore[attr-defined]
    assert client.get(f"/v1/units/{OLD[0]}", headers=bank).json()["unit"]["status"] == "REGISTERED"
    refused = check_resale(facts(), both, dt.date(2026, 12, 1), NO_LIMITS)  # type: ignore[arg-type]
    assert [f.reason for f in refused] == [Reason.UNIT_MORTGAGED_WITHOUT_CONSENT]

    # The consent: by the mortgagee itself (or the authority), once, to its own mortgage.
    consent = {
        "mortgage": MORTGAGE["reference"],
        "reference": "同意转让 DY-1",
        "given_on": "2026-11-30",
    }
    with write_transaction(d.log.engine) as conn:
        other_bank = {
            "Authorization": f"Bearer {api_keys.create_key(conn, '另一银行', auth.Role.BANK)}"
        }
    for headers, payload, status, slug in [
        (keys["developer"], consent, 403, "forbidden"),
        (other_bank, consent, 403, "not-the-mortgagee"),
        (bank, {**consent, "mortgage": "nope"}, 404, "unknown-mortgage"),
    ]:
        r = _post(client, f"/v1/units/{OLD[0]}/mortgages/consent", headers, json=payload)
        assert r.status_code == status and r.json()["type"].endswith(f"/{slug}"), r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages/consent", bank, json=consent)
    assert r.status_code == 200 and r.json()["consent"] == "同意转让 DY-1", r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages/consent", authority, json=consent)
    assert r.status_code == 409 and r.json()["type"].endswith("/consent-exists")  # type: ignore[attr-defined]
    assert check_resale(facts(), both, dt.date(2026, 12, 1), NO_LIMITS) == []  # type: ignore[arg-type]
    with d.log.engine.connect() as conn:
        view = registry.unit_view(conn, OLD[0])
    assert view.mortgagee_consent  # new-home checks see the same state

    # Discharged: the flag goes, and nothing more is recorded against the mortgage.
    discharge = {
        "mortgage": MORTGAGE["reference"],
        "reference": "注销 1",
        "discharged_on": "2026-12-01",
    }
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages/discharge", authority, json=discharge)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{OLD[0]}/mortgages/discharge", authority, json=discharge)
    assert r.status_code == 409 and r.json()["type"].endswith("/mortgage-discharged")  # type: ignore[attr-defined]
    shown = client.get(f"/v1/units/{OLD[0]}", headers=bank)
    assert shown.json()["unit"]["status"] == "REGISTERED"
    events = [e["event"] for e in shown.json()["history"]]
    assert events == [
        "IMPORT", "IMPORT_REGISTRATION", "MORTGAGE", "SET_MORTGAGED", "MORTGAGEE_CONSENT",
        "MORTGAGE_DISCHARGE", "CLEAR_MORTGAGED",
    ]  # fmt: skip
    assert all(
        p["id_number"] not in shown.text and p["name"] not in shown.text for p in (ZHANG, LI)
    )
    ownership = client.get(f"/v1/units/{OLD[0]}/ownership", headers=bank).json()
    assert ownership["mortgages"] == [] and [o["share"] for o in ownership["owners"]] == [
        "1/2",
        "1/2",
    ]
    with d.log.engine.connect() as conn:
        assert not registry.unit_view(conn, OLD[0]).flags

    # An imported home is REGISTERED without a filing here: the audit knows why.
    assert audit_records(d.log.engine, d.bank_issuers()).problems == []

    # The records are append-only in the database itself.
    for table in ("ownerships", "ownership_owners", "mortgages", "mortgage_consents"):
        with pytest.raises(DBAPIError), d.log.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))


def test_a_transfer_registration_makes_the_resale_s_buyers_the_owners(
    api: Api,  # noqa: F811
) -> None:
    """转移登记 of a resale filed through the pipeline: an imported home's two co-owners
    sell it (with a brokerage and its agent) to a buyer, over HTTP."""
    from tests.test_resale_pipeline import TRANSFER, file_resale, setup_resale

    client, keys, d = api
    setup_resale(client, keys, d)
    cid, number, _ = file_resale(client, keys)
    with d.log.engine.connect() as conn:
        facts = ownership_records.resale_facts(conn, OLD[0])
        # The buyer holds the home on the platform until it is registered to them.
        buyer = [BUYER[1]]
        assert holdings.homes_on_platform(conn, buyer, frozenset({"岳麓区"}), -1) == 1
    assert facts.status is UnitStatus.UNDER_CONTRACT and facts.live_contracts == (cid,)
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert r.json()["basis"] == "transfer" and r.json()["filing"] == number  # type: ignore[attr-defined]
    owners = client.get(f"/v1/units/{OLD[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in owners["owners"]] == [BUYER[1]]
    with d.log.engine.connect() as conn:
        after = ownership_records.resale_facts(conn, OLD[0])
        history = registry.history(conn, OLD[0])
        assert holdings.homes_on_platform(conn, buyer, frozenset({"岳麓区"}), -1) == 0
    assert after.status is UnitStatus.REGISTERED and after.live_contracts == ()
    assert history[-1]["event"] == "TRANSFER" and "转移登记" in history[-1]["reason"]
    # The former owners sell no more; the new one may (when the restriction allows).
    former = check_resale(after, _sellers(ZHANG, LI), dt.date(2032, 1, 1), CHANGSHA_2018)
    assert [f.reason for f in former] == [Reason.SELLERS_NOT_OWNERS]
    new_owner = [Party("seller", BUYER[0], "居民身份证", BUYER[1])]
    assert check_resale(after, new_owner, dt.date(2032, 1, 1), CHANGSHA_2018) == []
    assert json.loads(json.dumps(owners))["basis"] == "transfer"


def test_racing_records_of_one_unit_give_one_winner(
    api: Api,  # noqa: F811
) -> None:
    """Real threads over HTTP: imports of one home's owners (a home never offered here, and
    a unit registered before owners were recorded), and two consents to one mortgage."""
    client, keys, d = api
    _setup_registry(client, keys)
    _import_old(client, keys)
    file_contract(client, keys)
    with write_transaction(d.log.engine) as conn:  # registered the way release 0.1 did
        registry.apply(conn, CODES[0], UnitEvent.REGISTER, "长沙市住建局", "不动产登记 旧")

    def race(calls: list[tuple[str, dict[str, str], dict[str, object]]]) -> list[int]:
        barrier = threading.Barrier(len(calls))
        results: list[int] = []

        def run(path: str, headers: dict[str, str], body: dict[str, object]) -> None:
            barrier.wait()
            results.append(_post(client, path, headers, json=body).status_code)  # type: ignore[attr-defined]

        threads = [threading.Thread(target=run, args=call) for call in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return sorted(results)

    n = 6
    for code in (OLD[0], CODES[0]):
        calls = [
            (
                f"/v1/units/{code}/ownership",
                keys["authority"],
                {
                    "owners": [{**ZHANG, "share": None}],
                    "registered_on": "2015-03-02",
                    "certificate": f"{code}-{i}",
                },
            )
            for i in range(n)
        ]
        assert race(calls) == [201] + [409] * (n - 1), code
        with d.log.engine.connect() as conn:
            unit = registry.unit(conn, code)
            count = conn.execute(
                select(func.count())
                .select_from(schema.ownerships)
                .where(schema.ownerships.c.unit_id == unit.id)
            ).scalar()
        assert count == 1 and unit.status is UnitStatus.REGISTERED

    m = {**MORTGAGE, "registered_on": "2016-01-05"}
    assert (
        _post(client, f"/v1/units/{OLD[0]}/mortgages", keys["authority"], json=m).status_code == 201
    )  # type: ignore[attr-defined]
    consent = {"mortgage": MORTGAGE["reference"], "reference": "同意", "given_on": "2026-11-30"}
    path = f"/v1/units/{OLD[0]}/mortgages/consent"
    assert race([(path, keys["bank"], consent), (path, keys["authority"], consent)]) == [200, 409]
    assert audit_records(d.log.engine, d.bank_issuers()).problems == []
