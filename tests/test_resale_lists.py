"""Sellers and agencies list their resales, over HTTP on SQLite and PostgreSQL: a person
lists the contracts naming them as buyer, seller or agent; an agency the resales naming its
brokerage, and gets their events; nobody lists another's, nor another sale of the unit."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from api import auth
from filing import api_keys
from filing.migrations import revisions
from ledger.database import write_transaction
from tests.test_filing_api import BUYER, Api, _post, api
from tests.test_fund_api import server
from tests.test_ownership_api import OLD
from tests.test_resale_pipeline import (
    TRANSFER,
    WANG,
    file_resale,
    resale_body,
    setup_resale,
    sign,
)

__all__ = ["api", "server"]  # the fixtures


def _all(client: Any, headers: dict[str, str], path: str, key: str) -> list[str]:
    """Every row of a list, a page of one at a time (the cursor carries on)."""
    out: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        r = client.get(path, headers=headers, params=params)
        assert r.status_code == 200, r.text
        out += [i[key] for i in r.json()["items"]]
        cursor = r.json()["next"]
        if cursor is None:
            return out
    raise AssertionError("the list did not end")


def _events(client: Any, headers: dict[str, str]) -> set[str]:
    """The contracts the caller's events are about (signatures, filings, …)."""
    r = client.get("/v1/events", headers=headers)
    assert r.status_code == 200, r.text
    return {e["contract"] for e in r.json()["events"]}


def test_sellers_agents_and_agencies_list_their_own_resales_only(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    with write_transaction(d.log.engine) as conn:
        other = api_keys.create_key(conn, "长房经备字（2025）第 0999 号", auth.Role.AGENCY)
    keys["other-agency"] = {"Authorization": f"Bearer {other}"}
    # 张三 and 李四 sell through the agency to the buyer ...
    first_cid, first, _ = file_resale(client, keys)
    # Registered years back: 限售 (counted from the registration) is past.
    transfer = {**TRANSFER, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=transfer)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    # ... who sells on, by themself, to 王五.
    body = resale_body(
        "ESF-L-2",
        sellers=(BUYER,),
        buyers=(WANG,),
        brokerage=False,
        certificate=TRANSFER["certificate"],
    )
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    second_cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["buyer"], second_cid, "seller-1", BUYER).status_code == 200
    r = sign(client, keys["wang"], second_cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    second = r.json()["filing"]

    expected = {
        "zhang": ([first_cid], [first]),  # a seller: their sale, not the unit's next one
        "li": ([first_cid], [first]),
        "agent": ([first_cid], [first]),
        "buyer": ([first_cid, second_cid], [first, second]),  # bought, then sold
        "wang": ([second_cid], [second]),
        "agency": ([first_cid], [first]),  # the sale it brokered only
        "other-agency": ([], []),
    }
    for who, (contracts, filings) in expected.items():
        assert _all(client, keys[who], "/v1/contracts", "id") == contracts, who
        assert _all(client, keys[who], "/v1/filings", "number") == filings, who
    # Filters narrow the scope, never widen it.
    r = client.get("/v1/contracts", headers=keys["zhang"], params={"unit": OLD[0]})
    assert [i["id"] for i in r.json()["items"]] == [first_cid]
    # The agency's events: its resale's, not the next one's; another agency none of them.
    assert _events(client, keys["agency"]) == {first_cid}
    assert _events(client, keys["other-agency"]) == set()
    assert {first_cid, second_cid} <= _events(client, keys["authority"])


def test_resales_drafted_before_0009a_are_listed_after_the_migration(api: Api) -> None:
    """Revision 0009a_rights indexes the parties of the resales already on record."""
    client, keys, d = api
    setup_resale(client, keys, d)
    cid, number, _ = file_resale(client, keys)
    engine = d.log.engine
    config = revisions.alembic_config()
    before = ScriptDirectory.from_config(config).get_revision("0009a_rights").down_revision
    assert isinstance(before, str)
    with write_transaction(engine) as conn:  # back to before it: the table did not exist
        conn.exec_driver_sql("DROP TABLE contract_parties")
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": before})
    with write_transaction(engine) as conn:  # this revision alone (the later ones stand)
        command.upgrade(revisions.alembic_config(conn), "0009a_rights")
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revisions.head()})
    assert revisions.migrate(engine).after == revisions.head()
    for who in ("zhang", "li", "agent", "agency"):
        assert _all(client, keys[who], "/v1/contracts", "id") == [cid], who
        assert _all(client, keys[who], "/v1/filings", "number") == [number], who
    assert _all(client, keys["wang"], "/v1/contracts", "id") == []


def test_an_agency_lists_and_opens_a_sellers_draft_naming_it(api: Api) -> None:
    """A seller may draft naming the brokerage: the agency lists it and may open it (what
    it lists it can read); another agency neither."""
    client, keys, d = api
    setup_resale(client, keys, d)
    with write_transaction(d.log.engine) as conn:
        other = api_keys.create_key(conn, "长房经备字（2025）第 0999 号", auth.Role.AGENCY)
    r = _post(client, "/v1/resale-contracts", keys["zhang"], json=resale_body("ESF-B-1"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _all(client, keys["agency"], "/v1/contracts", "id") == [cid]
    assert client.get(f"/v1/contracts/{cid}", headers=keys["agency"]).status_code == 200
    stranger = {"Authorization": f"Bearer {other}"}
    assert _all(client, stranger, "/v1/contracts", "id") == []
    assert client.get(f"/v1/contracts/{cid}", headers=stranger).status_code == 404
    # The drafter withdraws it, not the agency it names.
    r = _post(client, f"/v1/contracts/{cid}/withdraw", keys["agency"])
    assert r.status_code == 403, r.text  # type: ignore[attr-defined]
