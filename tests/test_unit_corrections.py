"""The 楼盘表 is maintained through the API: a unit's data corrected, on record, before any
contract states it (over HTTP, SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.test_filing_api import (
    CODES,
    CSV,
    Api,
    _post,
    _setup_registry,
    api,  # noqa: F401 (the fixture)
)

NEW_CODE = "430104001001GB00001F00010299"


def _correct(
    client: TestClient, keys: dict[str, dict[str, str]], code: str, body: dict[str, str]
) -> Any:
    return _post(client, f"/v1/units/{code}/corrections", keys["authority"], json=body)


def test_a_units_data_is_corrected_on_record_until_a_contract_states_it(api: Api) -> None:  # noqa: F811
    client, keys, _ = api
    _setup_registry(client, keys)  # the units are on sale (AVAILABLE)
    code = CODES[0]
    body = {"room": "203A", "forecast_building": "118.60", "forecast_inner": "96.34",
            "forecast_shared": "22.26", "reason": "测绘报告更正"}  # fmt: skip
    r = _correct(client, keys, code, body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    changed = r.json()["changed"]  # type: ignore[attr-defined]
    assert changed["room"]["new"] == "203A" and changed["forecast_building"]["new"] == "118.60"
    assert "forecast_shared" not in changed  # unchanged values are no change
    unit = client.get(f"/v1/units/{code}", headers=keys["authority"]).json()
    assert unit["unit"]["room"] == "203A"
    [event] = [e for e in unit["history"] if e["event"] == "CORRECT"]
    assert (
        "room: " in event["reason"]
        and "→ 203A" in event["reason"]
        and "测绘报告更正" in event["reason"]
    )

    # Refused, all or nothing: areas that do not add up, an unknown field, no reason.
    for bad, status, slug in [
        ({"forecast_inner": "90.00", "reason": "x"}, 422, "bad-correction"),
        ({"room": "", "reason": "x"}, 422, "bad-correction"),
        ({"reason": "x"}, 422, "bad-correction"),
        ({"room": "1", "reason": ""}, 422, "validation-error"),
        ({"developer_id": "another", "reason": "x"}, 422, "validation-error"),
    ]:
        r = _correct(client, keys, code, bad)
        assert r.status_code == status, (bad, r.text)  # type: ignore[attr-defined]
        if slug != "validation-error":
            assert r.json()["type"].endswith(f"/{slug}"), r.text  # type: ignore[attr-defined]
    assert (
        client.get(f"/v1/units/{code}", headers=keys["authority"]).json()["unit"]["room"] == "203A"
    )

    # Only the authority keeps the 楼盘表; an unknown unit is 404.
    r = _post(client, f"/v1/units/{code}/corrections", keys["developer"], json=body)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert _correct(client, keys, NEW_CODE, body).status_code == 404  # type: ignore[attr-defined]

    # Once a draft reserves the unit, its data is what the contract states: no correction.
    from tests.test_filing_api import CONTRACT

    r = _post(client, "/v1/contracts", keys["developer"], json={**CONTRACT, "unit_code": code})
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = _correct(client, keys, code, {"room": "203B", "reason": "再更正"})
    assert r.status_code == 409 and r.json()["type"].endswith("/unit-under-contract")  # type: ignore[attr-defined]


def test_new_units_join_an_imported_building_and_old_ones_are_not_imported_twice(
    api: Api,  # noqa: F811
) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    header, first = CSV.splitlines()[0], CSV.splitlines()[1]
    added = first.replace(CODES[0], NEW_CODE).replace(",203,", ",299,")
    r = client.post(
        "/v1/registry/import",
        content=f"{header}\n{added}\n".encode(),
        headers={**keys["authority"], "Idempotency-Key": "imp-new", "content-type": "text/csv"},
    )
    assert r.status_code == 201 and r.json() == {"imported": 1}, r.text
    unit = client.get(f"/v1/units/{NEW_CODE}", headers=keys["authority"]).json()["unit"]
    old = client.get(f"/v1/units/{CODES[0]}", headers=keys["authority"]).json()["unit"]
    assert (unit["project"], unit["building"]) == (old["project"], old["building"])
    again = client.post(
        "/v1/registry/import",
        content=f"{header}\n{first}\n".encode(),
        headers={**keys["authority"], "Idempotency-Key": "imp-old", "content-type": "text/csv"},
    )
    assert again.status_code == 422 and "already exists" in again.text
