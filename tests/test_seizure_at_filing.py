"""A seizure (查封) recorded while a contract is being signed stops its filing: the last
signature, which files, is judged against the unit as it is then, not as it was at the draft.
Lifted, the same signature files. New homes and resales over HTTP on both databases."""

from __future__ import annotations

from typing import Any

from tests.test_filing_api import BUYER, CODES, CONTRACT, Api, _post, _setup_registry, api
from tests.test_invitations import _type
from tests.test_lease_pipeline import lease_body
from tests.test_ownership_api import LI, OLD, ZHANG
from tests.test_resale_pipeline import AGENT, resale_body, setup_resale, sign

__all__ = ["api"]  # the fixture


def _seize(client: Any, keys: dict[str, dict[str, str]], code: str, on: bool) -> None:
    r = _post(
        client,
        f"/v1/units/{code}/flags/SEIZED",
        keys["court"],
        json={"on": on, "reason": "（2026）湘0104执保1号"},
    )
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]


def _state(client: Any, keys: dict[str, dict[str, str]], cid: str) -> dict[str, Any]:
    return client.get(f"/v1/contracts/{cid}", headers=keys["authority"]).json()  # type: ignore[no-any-return]


def test_a_new_home_seized_before_the_buyers_signature_is_not_filed(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    _seize(client, keys, CODES[0], True)
    entries = d.log.appended()
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 422 and _type(r) == "unit-not-sellable", r.text
    assert r.json()["checks"] == ["UNIT_SEIZED"], r.text
    assert d.log.appended() == entries  # nothing logged
    state = _state(client, keys, cid)
    assert state["status"] == "DRAFT" and state["signed"] == ["seller"]  # signature not kept
    _seize(client, keys, CODES[0], False)
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 201 and r.json()["filed"], r.text


def test_a_resale_seized_before_its_last_signature_is_not_filed(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body())
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in [
        ("seller-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("seller-2", "li", (LI["name"], LI["id_number"])),
        ("buyer-1", "buyer", BUYER),
    ]:
        assert sign(client, keys[who], cid, field, person).status_code == 200
    _seize(client, keys, OLD[0], True)
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 422 and _type(r) == "unit-not-sellable", r.text
    assert r.json()["checks"] == ["UNIT_SEIZED"], r.text
    assert _state(client, keys, cid)["status"] == "DRAFT"
    _seize(client, keys, OLD[0], False)
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201 and r.json()["filed"], r.text


def test_a_lease_of_a_home_seized_while_it_was_signed_is_not_filed(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=lease_body())
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in [
        ("lessor-1", "zhang", (ZHANG["name"], ZHANG["id_number"])),
        ("lessor-2", "li", (LI["name"], LI["id_number"])),
    ]:
        assert sign(client, keys[who], cid, field, person).status_code == 200
    _seize(client, keys, OLD[0], True)
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 422 and r.json()["checks"] == ["UNIT_SEIZED"], r.text
    assert _state(client, keys, cid)["status"] == "DRAFT"
    _seize(client, keys, OLD[0], False)
    r = sign(client, keys["buyer"], cid, "lessee-1", BUYER)
    assert r.status_code == 201 and r.json()["filed"], r.text
