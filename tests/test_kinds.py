"""Transaction kinds: presale (GF-2014-0171) and 现售 (0172) through one pipeline.

Over HTTP on SQLite and PostgreSQL: the 楼盘表 decides the kind; a completed building's
measured unit drafts, files and shows as ``new-completed`` with its measured areas in the
rendered contract; presale without a valid permit is refused; the completion route
validates, keeps history and corrections, and is idempotent. The declarations and the
migration of existing rows are checked too.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import text

from filing import kinds
from filing.checks import PermitView, Reason, UnitView
from filing.kinds import KINDS, Kind, LaterEvent, SigningMethod
from filing.migrations import revisions
from filing.status import UnitEvent, UnitStatus
from keys.pki import new_key
from signing import remote
from signing.sample import sample_contract, sample_resale_contract
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    DEVELOPER_ID,
    Api,
    _post,
    _setup_registry,
    api,  # noqa: F401 (the fixture)
)
from tests.test_filing_races import (  # noqa: F401 (the fixture)
    _at_once,
    _contract,
    sample_inventory,
    server,
)
from tests.test_migrations import database, load_release

# A third building of the same project, never covered by a presale permit.
DONE = [f"430104001001GB00001F0003{n:04d}" for n in (101, 102)]
DONE_CSV = (
    "project,district,address,developer,developer_id,building,code,floor,room,use,"
    "forecast_building,forecast_inner,forecast_shared\n"
    + "".join(
        f"湘江示范花园,岳麓区,长沙市岳麓区示范路 1 号,湘江示范置业有限公司,{DEVELOPER_ID},"
        f"3 栋,{code},1,10{n},住宅,118.56,96.30,22.26\n"
        for n, code in enumerate(DONE, start=1)
    )
)
MEASURED = {"building": "119.02", "inner": "96.77", "shared": "22.25"}
ACCEPTANCE = "长建竣备字（2027）第 0123 号"


def _import_completed_building(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    """Building 3, imported and not on sale: no presale permit covers it, so its units go
    on sale only once its completion and their measured areas are recorded (现售)."""
    r = client.post(
        "/v1/registry/import",
        content=DONE_CSV.encode(),
        headers={**keys["authority"], "Idempotency-Key": "imp-3", "content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text


def _release(client: TestClient, keys: dict[str, dict[str, str]], code: str) -> Any:
    return _post(client, f"/v1/units/{code}/release", keys["developer"])


def _ids(client: TestClient, keys: dict[str, dict[str, str]], code: str) -> tuple[int, int]:
    unit = client.get(f"/v1/units/{code}", headers=keys["authority"]).json()["unit"]
    return int(unit["project_id"]), int(unit["building_id"])


def _completion(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    code: str,
    units: list[dict[str, str]],
    correction: str = "",
    key: str | None = None,
) -> Any:
    project, building = _ids(client, keys, code)
    body = {
        "acceptance_record": ACCEPTANCE,
        "survey_report": "长测（2027）第 0456 号",
        "units": units,
        "correction": correction,
    }
    path = f"/v1/projects/{project}/buildings/{building}/completion"
    if key is not None:
        headers = {**keys["authority"], "Idempotency-Key": key}
        return client.post(path, json=body, headers=headers)
    return _post(client, path, keys["authority"], json=body)


def _draft(client: TestClient, keys: dict[str, dict[str, str]], code: str, number: str) -> Any:
    return _post(
        client,
        "/v1/contracts",
        keys["developer"],
        json={**CONTRACT, "unit_code": code, "number": number},
    )


def _sign(client: TestClient, keys: dict[str, dict[str, str]], cid: str) -> dict[str, Any]:
    """The developer's seal and the buyer's phone: the last signature files the contract."""
    r = _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    assert r.status_code == 200, r.text
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    buyer = keys["buyer"]
    r = _post(
        client,
        f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
        buyer,
        json={"public_key_pem": pem, "name": BUYER[0], "id_number": BUYER[1]},
    )
    assert r.status_code == 200, r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    r = _post(
        client,
        f"/v1/contracts/{cid}/remote-signing/buyer-1/finish",
        buyer,
        json={"signature": base64.b64encode(sig).decode()},
    )
    assert r.status_code == 201, r.text
    filed: dict[str, Any] = r.json()
    return filed


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "contract.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.replace("\n", "")


# -- over HTTP ----------------------------------------------------------------------


def test_a_completed_buildings_measured_unit_is_sold_and_filed_as_0172(
    api: Api,  # noqa: F811
    tmp_path: Path,
) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    _import_completed_building(client, keys)

    # Before its completion is recorded the building's units are presale, and no permit
    # covers them: they cannot go on sale (开盘), naming the kind and the check.
    r = _release(client, keys, DONE[0])
    assert r.status_code == 422 and r.json()["type"].endswith("/unit-not-releasable"), r.text
    assert r.json()["checks"] == ["NO_PRESALE_PERMIT"] and r.json()["kind"] == "new-presale"
    r = _draft(client, keys, DONE[0], "HT-K-0")
    assert r.status_code == 422 and r.json()["type"].endswith("/unit-not-sellable"), r.text
    assert "NO_PRESALE_PERMIT" in r.json()["checks"] and r.json()["kind"] == "new-presale"

    r = _completion(client, keys, DONE[0], [{"code": DONE[0], **MEASURED}])
    assert r.status_code == 201, r.text
    assert r.json()["completed_units"] == 2 and r.json()["measured"] == [DONE[0]]
    r = _release(client, keys, DONE[0])  # 现售: no permit needed
    assert r.status_code == 200 and r.json()["status"] == "AVAILABLE", r.text

    r = _draft(client, keys, DONE[0], "HT-K-1")
    assert r.status_code == 201 and r.json()["kind"] == "new-completed", r.text
    cid = r.json()["id"]
    view = client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).json()
    assert view["kind"] == "new-completed"
    assert view["required"] == ["seller", "buyer-1", "filing-seal"]
    drafted = client.get(f"/v1/contracts/{cid}/document", headers=keys["developer"]).content
    words = _pdf_text(drafted, tmp_path)
    assert "商品房买卖合同（现售）" in words and "GF-2014-0172" in words
    assert "实测建筑面积 119.02 平方米" in words and "分摊共有建筑面积 22.25" in words
    assert f"竣工验收备案号：{ACCEPTANCE}" in words and "预售许可证" not in words
    assert "单价为每平方米 11,953.62 元" in words  # priced per measured m²

    filed = _sign(client, keys, cid)
    number = filed["filing"]
    f = client.get(f"/v1/filings/{number}", headers=keys["developer"]).json()
    assert f["kind"] == "new-completed" and f["status"] == "ACTIVE"
    unit = client.get(f"/v1/units/{DONE[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["status"] == "FILED"

    # The same building's unit without measured areas is not 现售: presale, which needs
    # the permit it lacks.
    r = _release(client, keys, DONE[1])
    assert r.status_code == 422 and r.json()["kind"] == "new-presale", r.text
    assert r.json()["checks"] == ["NO_PRESALE_PERMIT"]
    r = _draft(client, keys, DONE[1], "HT-K-2")
    assert r.status_code == 422 and r.json()["kind"] == "new-presale", r.text
    assert "NO_PRESALE_PERMIT" in r.json()["checks"]

    # A presale unit stays presale: the existing path is unchanged, and says so.
    r = _draft(client, keys, CODES[0], "HT-K-3")
    assert r.status_code == 201 and r.json()["kind"] == "new-presale", r.text


def test_presale_without_a_permit_in_force_is_refused(api: Api) -> None:  # noqa: F811
    client, keys, _ = api
    _setup_registry(client, keys)
    _import_completed_building(client, keys)
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    r = _post(
        client,
        "/v1/registry/permits",
        keys["authority"],
        json={
            "number": "长住建预许字（2026）第 0099 号",
            "authority": "长沙市住房和城乡建设局",
            "valid_from": tomorrow.isoformat(),
            "units": [DONE[0]],
        },
    )
    assert r.status_code == 201, r.text
    # Neither goes on sale (开盘) without a permit in force, nor can be drafted.
    for code, reason in ((DONE[0], "PERMIT_NOT_YET_VALID"), (DONE[1], "NO_PRESALE_PERMIT")):
        r = _release(client, keys, code)
        assert r.status_code == 422 and r.json()["checks"] == [reason], r.text
        r = _draft(client, keys, code, f"HT-P-{code[-2:]}")
        assert r.status_code == 422 and reason in r.json()["checks"], r.text
    for code in DONE:
        unit = client.get(f"/v1/units/{code}", headers=keys["authority"]).json()["unit"]
        assert unit["status"] == "NOT_RELEASED"  # nothing changed


def test_measured_areas_are_validated_all_or_nothing(api: Api) -> None:  # noqa: F811
    client, keys, _ = api
    _setup_registry(client, keys)
    _import_completed_building(client, keys)
    bad = [
        {"code": DONE[0], "building": "100.00", "inner": "80.00", "shared": "10.00"},  # sum
        {"code": DONE[1], "building": "0", "inner": "0", "shared": "0"},  # not positive
        {"code": CODES[0], **MEASURED},  # another building's
        {"code": "430104001001GB00001F00039999", **MEASURED},  # no such unit
        {"code": DONE[0], **MEASURED},  # twice
    ]
    r = _completion(client, keys, DONE[0], bad)
    assert r.status_code == 422 and r.json()["type"].endswith("/bad-measurements"), r.text
    problems = r.json()["errors"]
    assert {e["unit"] for e in problems} == {DONE[0], DONE[1], CODES[0], bad[3]["code"]}
    assert len(problems) == 5
    r = _completion(
        client,
        keys,
        DONE[0],
        [{"code": DONE[0], "building": "119.021", "inner": "96.771", "shared": "22.25"}],
    )
    assert r.status_code == 422 and "decimal places" in r.json()["errors"][0]["message"]
    r = _completion(
        client, keys, DONE[0], [{"code": DONE[0], "building": "1e9", "inner": "1e9", "shared": "0"}]
    )
    assert r.status_code == 422 and "out of range" in r.json()["errors"][0]["message"]
    r = _completion(
        client, keys, DONE[0], [{"code": DONE[0], "building": "-1", "inner": "-1", "shared": "0"}]
    )
    assert r.status_code == 422
    # Nothing was recorded: no history, the building is not completed.
    assert client.get(f"/v1/units/{DONE[0]}/measurements", headers=keys["bank"]).json() == []
    unit = client.get(f"/v1/units/{DONE[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["completed"] is False and unit["measured_building"] is None

    project, building = _ids(client, keys, DONE[0])
    body = {
        "acceptance_record": "x",
        "survey_report": "y",
        "units": [{"code": DONE[0], **MEASURED}],
    }
    for path, status, who in [
        (f"/v1/projects/{project + 1}/buildings/{building}/completion", 404, "authority"),
        (f"/v1/projects/{project}/buildings/999999/completion", 404, "authority"),
        (f"/v1/projects/{project}/buildings/{2**40}/completion", 422, "authority"),
        (f"/v1/projects/{project}/buildings/{building}/completion", 403, "developer"),
    ]:
        r = _post(client, path, keys[who], json=body)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert (
        client.get(
            "/v1/units/430104001001GB00001F00039999/measurements", headers=keys["bank"]
        ).status_code
        == 404
    )


def test_measured_areas_history_corrections_and_idempotency(api: Api) -> None:  # noqa: F811
    client, keys, _ = api
    _setup_registry(client, keys)
    _import_completed_building(client, keys)

    # Idempotent like every POST: a repeat gets the stored answer and records nothing more.
    first = _completion(client, keys, DONE[0], [{"code": DONE[0], **MEASURED}], key="done-1")
    again = _completion(client, keys, DONE[0], [{"code": DONE[0], **MEASURED}], key="done-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(client.get(f"/v1/units/{DONE[0]}/measurements", headers=keys["bank"]).json()) == 1

    # An AVAILABLE unit's measured areas may be re-recorded without a correction.
    remeasured = {"building": "119.10", "inner": "96.85", "shared": "22.25"}
    r = _completion(client, keys, DONE[0], [{"code": DONE[0], **remeasured}])
    assert r.status_code == 201 and r.json()["measured"] == [DONE[0]], r.text

    # Once a contract may state them (reserved, filed, registered), only a correction
    # with its reason changes them.
    assert _release(client, keys, DONE[0]).status_code == 200
    cid = _draft(client, keys, DONE[0], "HT-C-1").json()["id"]
    filed = _sign(client, keys, cid)
    corrected = {"building": "119.20", "inner": "96.95", "shared": "22.25"}
    r = _completion(client, keys, DONE[0], [{"code": DONE[0], **corrected}])
    assert r.status_code == 409 and r.json()["type"].endswith("/correction-required"), r.text
    assert r.json()["units"] == [DONE[0]]
    # Unchanged areas of a filed unit are no correction: accepted, nothing changes.
    r = _completion(client, keys, DONE[0], [{"code": DONE[0], **remeasured}])
    assert r.status_code == 201 and r.json()["measured"] == [], r.text
    r = _completion(
        client, keys, DONE[0], [{"code": DONE[0], **corrected}], correction="测绘单位复核更正"
    )
    assert r.status_code == 201 and r.json()["measured"] == [DONE[0]], r.text

    history = client.get(f"/v1/units/{DONE[0]}/measurements", headers=keys["bank"]).json()
    assert [(h["old_building"], h["new_building"]) for h in history] == [
        (None, "119.02"),
        ("119.02", "119.10"),
        ("119.10", "119.20"),
    ]
    assert [h["correction"] for h in history] == ["", "", "测绘单位复核更正"]
    assert all(h["recorded_by"] == "长沙市住建局" and h["at"] for h in history)
    events = client.get(f"/v1/units/{DONE[0]}", headers=keys["authority"]).json()["history"]
    measures = [e for e in events if e["event"] == "MEASURE"]
    assert (
        len(measures) == 3 and "119.10/96.85/22.25 → 119.20/96.95/22.25" in measures[-1]["reason"]
    )
    completes = [
        e
        for e in client.get(f"/v1/units/{DONE[1]}", headers=keys["authority"]).json()["history"]
        if e["event"] == "COMPLETE"
    ]
    assert len(completes) == 1  # marked completed once, without measured areas
    # The filed contract stands as filed (its own areas); the filing is unaffected.
    f = client.get(f"/v1/filings/{filed['filing']}", headers=keys["developer"]).json()
    assert f["status"] == "ACTIVE" and f["kind"] == "new-completed"
    unit = client.get(f"/v1/units/{DONE[0]}", headers=keys["authority"]).json()["unit"]
    assert unit["measured_building"] == "119.20" and unit["status"] == "FILED"


# -- races over real HTTP -------------------------------------------------------------


def _building_of(base: str, keys: dict[str, str], code: str) -> tuple[int, int]:
    auth_headers = {"Authorization": f"Bearer {keys['authority']}"}
    with httpx.Client(base_url=base, headers=auth_headers) as c:
        unit = c.get(f"/v1/units/{code}").json()["unit"]
    return int(unit["project_id"]), int(unit["building_id"])


def _measure(base: str, keys: dict[str, str], path: str, code: str, i: int) -> httpx.Response:
    inner = Decimal("90.00") + i
    body = {
        "acceptance_record": ACCEPTANCE,
        "survey_report": f"长测（2027）第 {i:04d} 号",
        "units": [{"code": code, "building": str(inner + 20), "inner": str(inner), "shared": "20"}],
    }
    headers = {"Authorization": f"Bearer {keys['authority']}", "Idempotency-Key": f"m{i}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        return c.post(path, json=body)


def test_racing_completions_keep_one_unbroken_history(
    server: tuple[str, dict[str, str], Any],  # noqa: F811
) -> None:
    base, keys, _ = server
    code = sample_inventory().splitlines()[1].split(",")[6]
    project, building = _building_of(base, keys, code)
    path = f"/v1/projects/{project}/buildings/{building}/completion"
    answers = _at_once(8, lambda i: _measure(base, keys, path, code, i))
    assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
    won = [r for r in answers if r.status_code == 201]
    assert won and all(r.json()["type"].endswith("/unit-changed") for r in answers if r not in won)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['authority']}"}) as c:
        history = c.get(f"/v1/units/{code}/measurements").json()
        unit = c.get(f"/v1/units/{code}").json()["unit"]
    # Every record that won changed the areas once, each from the areas the one before set.
    assert len(history) == len(won)
    assert history[0]["old_building"] is None
    for before, after in itertools.pairwise(history):
        assert after["old_building"] == before["new_building"]
    assert unit["measured_building"] == history[-1]["new_building"]


def test_drafts_racing_a_completion_get_one_winner_of_one_kind(
    server: tuple[str, dict[str, str], Any],  # noqa: F811
) -> None:
    base, keys, _ = server
    code = sample_inventory().splitlines()[1].split(",")[6]
    project, building = _building_of(base, keys, code)
    path = f"/v1/projects/{project}/buildings/{building}/completion"
    dev = {"Authorization": f"Bearer {keys['developer']}"}

    def act(i: int) -> httpx.Response:
        if i == 0:
            return _measure(base, keys, path, code, i)
        with httpx.Client(base_url=base, headers=dev, timeout=120) as c:
            return c.post(
                "/v1/contracts",
                json=_contract(code, f"HT-KR-{i}"),
                headers={"Idempotency-Key": f"kr{i}"},
            )

    answers = _at_once(9, act)
    assert all(r.status_code < 500 for r in answers), [r.text for r in answers]
    drafts = [r for r in answers if r.request.url.path == "/v1/contracts"]
    drafted = [r for r in drafts if r.status_code == 201]
    # At most one wins (a draft that read the facts before the completion and records
    # after it is refused: 409 kind-mismatch, draft again).
    assert len(drafted) <= 1, [r.text for r in answers]
    refused = [r for r in drafts if r.status_code != 201]
    assert all(
        r.json()["type"].rsplit("/", 1)[1] in ("unit-not-sellable", "unit-taken", "kind-mismatch")
        for r in refused
    ), [r.text for r in refused]
    [completion] = [r for r in answers if r.request.url.path.endswith("/completion")]
    assert completion.status_code == 201, completion.text  # first areas: no correction needed
    with httpx.Client(base_url=base, headers=dev) as c:
        if not drafted:  # drafted again, now after the completion: 现售
            again = c.post(
                "/v1/contracts",
                json=_contract(code, "HT-KR-again"),
                headers={"Idempotency-Key": "kr-again"},
            )
            assert again.status_code == 201 and again.json()["kind"] == "new-completed"
            drafted = [again]
        contract = c.get(f"/v1/contracts/{drafted[0].json()['id']}").json()
    assert contract["kind"] == drafted[0].json()["kind"] in ("new-presale", "new-completed")


# -- the declarations (pure) --------------------------------------------------------


def _view(**kw: Any) -> UnitView:
    base: dict[str, Any] = dict(
        status=UnitStatus.AVAILABLE,
        flags=frozenset(),
        reserved_for=None,
        mortgagee_consent=False,
        completed=False,
        permit=PermitView("p", dt.date(2020, 1, 1), None),
    )
    base.update(kw)
    return UnitView(**base)


def test_every_kind_is_declared_once_and_the_facts_decide_it() -> None:
    assert set(KINDS) == set(Kind)
    assert all(k.kind is name for name, k in KINDS.items())
    # The model text names the kind; the two lease kinds' differ in who the lessor is (the
    # owners sign in person, an entrusted enterprise with its seal).
    named = {(k.model_text, k.parties[0].signs_with) for k in KINDS.values()}
    assert len(named) == len(KINDS)
    assert kinds.for_unit(_view()).kind is Kind.NEW_PRESALE
    assert kinds.for_unit(_view(completed=True)).kind is Kind.NEW_PRESALE
    assert kinds.for_unit(_view(measured=True)).kind is Kind.NEW_PRESALE
    assert kinds.for_unit(_view(completed=True, measured=True)).kind is Kind.NEW_COMPLETED
    completed = KINDS[Kind.NEW_COMPLETED]
    assert completed.sellable(_view(permit=None), dt.date(2026, 1, 1)) != []
    assert [f.reason for f in completed.sellable(_view(permit=None), dt.date(2026, 1, 1))] == [
        Reason.BUILDING_NOT_COMPLETED,
        Reason.NO_MEASURED_AREAS,
    ]
    assert kinds.get("new-completed") is completed
    assert kinds.get("resale").kind is Kind.RESALE
    with pytest.raises(kinds.UnknownKind):
        kinds.get("rental")


def test_a_kind_declares_its_parties_fields_and_later_events() -> None:
    contract = sample_contract()
    two = sample_contract(buyers=2)
    for k in (KINDS[Kind.NEW_PRESALE], KINDS[Kind.NEW_COMPLETED]):
        assert k.signature_fields(contract) == contract.signature_fields  # what render declares
        assert k.signature_fields(two) == ("seller", "buyer-1", "buyer-2", "filing-seal")
        signers = k.signers(two)
        assert signers["seller"][0].signs_with is SigningMethod.ENTERPRISE_SEAL
        assert signers["buyer-2"][1] == two.buyers[1]
        assert signers["buyer-2"][0].signs_with is SigningMethod.PERSONAL
        assert k.on_filing is UnitEvent.FILE and k.on_cancellation is UnitEvent.CANCEL_FILING
        lease_only = (LaterEvent.EXPIRY, LaterEvent.RENEWAL)  # a sale neither expires nor renews
        assert all(k.allows(e) for e in LaterEvent if e not in lease_only)
        assert not any(k.allows(e) for e in lease_only)
        assert k.purchase_limits
    assert kinds.of_contract(contract).kind is Kind.NEW_PRESALE


def test_the_resale_kind_declares_sellers_buyers_and_the_agent() -> None:
    resale = sample_resale_contract()
    k = kinds.of_contract(resale)
    assert k.kind is Kind.RESALE and k.owners_of_record and k.purchase_limits
    assert k.signature_fields(resale) == resale.signature_fields  # what render_resale declares
    no_agent = sample_resale_contract(sellers=1, brokerage=False)
    assert k.signature_fields(no_agent) == ("seller-1", "buyer-1", "filing-seal")
    signers = k.signers(resale)
    assert all(d.signs_with is SigningMethod.PERSONAL for d, _ in signers.values())
    assert [d.label for d, _ in signers.values()] == ["出卖人", "出卖人", "买受人", "经纪人员"]
    assert signers["seller-2"][1] == resale.sellers[1]
    assert [p.name for p in k.logged_parties(resale)] == ["张三", "李四", "王小明"]
    assert k.on_filing is UnitEvent.FILE_RESALE
    assert k.on_cancellation is UnitEvent.CANCEL_RESALE_FILING
    assert k.reserved is UnitStatus.RESALE_RESERVED and k.filed is UnitStatus.UNDER_CONTRACT
    assert not k.allows(LaterEvent.MAINTENANCE_FUND) and k.allows(LaterEvent.REGISTRATION)
    assert kinds.load("resale", kinds.dump(resale)) == resale
    assert kinds.unit_code(resale) == resale.house.code


# -- the migration of rows made before kinds --------------------------------------------


def test_existing_contracts_and_filings_get_their_kind_by_model_text(db_url: str) -> None:
    load_release(db_url)
    with database(db_url) as engine:
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, data FROM contracts ORDER BY id")).all()
            assert rows, "the release fixture has contracts"
            # Make one of them a 现售 contract, as release 0.1 could draft them.
            data = json.loads(rows[0][1])
            data["template"] = "COMPLETED"
            conn.execute(
                text("UPDATE contracts SET data = :d WHERE id = :i"),
                {"d": json.dumps(data, ensure_ascii=False, sort_keys=True), "i": rows[0][0]},
            )
        revisions.migrate(engine)
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, kind FROM contracts")).all())
            filings = conn.execute(
                text(
                    "SELECT f.kind, c.kind FROM filings f JOIN contracts c ON c.id = f.contract_id"
                )
            ).all()
    assert found[rows[0][0]] == "new-completed"
    assert set(found.values()) == {"new-presale", "new-completed"}
    assert filings and all(f == c for f, c in filings)
