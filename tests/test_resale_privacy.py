"""Who sees the people of a resale, over HTTP on SQLite and PostgreSQL. The developer who
built and sold a home sees the buyers of its own sale; the people of a later resale (its
sellers, buyer and agent) are the authority's and a court's to see, and each party's own:
the developer finds no resale buyer's or agent's name or ID number in any read it can make,
nor does any other role without the right to them."""

from __future__ import annotations

from typing import Any

from tests.test_filing_api import (
    BUYER,
    CODES,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    api,
    file_contract,
)
from tests.test_fund_api import server
from tests.test_resale_pipeline import AGENT, TRANSFER, WANG, resale_body, setup_resale, sign

__all__ = ["api", "server"]  # the fixtures

HIDDEN = (WANG[0], WANG[1], AGENT[0], AGENT[1])  # the resale buyer and agent


def _reads(client: Any, headers: dict[str, str], code: str, numbers: list[str], cid: str) -> str:
    """Every read a caller can make about the unit, its filings and contracts, joined."""
    paths = [
        f"/v1/units/{code}",
        f"/v1/units/{code}/ownership",
        f"/v1/contracts/{cid}",
        f"/v1/contracts/{cid}/document",
        "/v1/contracts",
        "/v1/filings",
        "/v1/events",
        "/v1/tax/filings",
    ]
    for n in numbers:
        paths += [
            f"/v1/filings/{n}",
            f"/v1/filings/{n}/document",
            f"/v1/filings/{n}/changes",
            f"/v1/filings/{n}/funds",
            f"/v1/loans/filings/{n}",
            f"/v1/court/filings/{n}/evidence",
        ]
    seen = []
    for path in paths:
        r = client.get(path, headers=headers)
        assert r.status_code != 500, (path, r.text)
        seen.append(r.content.decode("latin-1"))  # any bytes: a PDF or ZIP as well as JSON
        seen.append(r.text if r.status_code < 300 and "json" in r.headers["content-type"] else "")
    return "\n".join(seen)


def test_the_original_developer_sees_its_own_buyer_and_no_resale_party(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    old = {**REGISTRATION, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    setup_resale(client, keys, d)
    # The developer's buyer resells, through the brokerage, to 王五.
    body = resale_body("ESF-P-1", sellers=(BUYER,), buyers=(WANG,), code=CODES[0])
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    assert sign(client, keys["wang"], cid, "buyer-1", WANG).status_code == 200
    r = sign(client, keys["agent"], cid, "agent", AGENT)  # the agent's signature files it
    assert r.status_code == 201, r.text
    second = r.json()["filing"]
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]

    unit = client.get(f"/v1/units/{CODES[0]}", headers=keys["authority"]).json()
    actors = {e["actor"] for e in unit["history"]}
    assert AGENT[1] in actors  # the authority sees who acted (who signed last)
    # The developer: its own sale's buyer in clear, in its own sale's events ...
    mine = client.get(f"/v1/units/{CODES[0]}", headers=keys["developer"]).json()
    assert any(e["actor"] == BUYER[1] and e["event"] == "FILE" for e in mine["history"])
    # ... but nobody of the resale (nor its own buyer's acts in the resale).
    resale_events = [e for e in mine["history"] if e["event"].endswith("RESALE")]
    assert resale_events and all(BUYER[1] not in e["actor"] for e in resale_events)
    for role in ("developer", "other", "stats", "bank", "tax"):
        seen = _reads(client, keys[role], CODES[0], [first, second], cid)
        for value in HIDDEN:
            assert value not in seen, (role, value)
    # The parties themselves see their own resale, and the court sees everyone.
    assert WANG[1] in _reads(client, keys["wang"], CODES[0], [second], cid)
    court = client.get(f"/v1/units/{CODES[0]}", headers=keys["court"]).json()
    assert AGENT[1] in {e["actor"] for e in court["history"]}
    owners = client.get(f"/v1/units/{CODES[0]}/ownership", headers=keys["court"]).text
    assert WANG[1] in owners
