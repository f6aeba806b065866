"""Department extracts over HTTP: a bad file changes nothing and says what is wrong; every
load is on record; the formats in docs/api.md load as documented."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import select

from filing import departments
from tests.test_filing_api import Api, api

__all__ = ["api"]  # the fixture

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"
GOOD = b"id_number,local,spouse,minor_children\n430102199001011234,1,,\n430104199202022345,0,,\n"

# (kind, body, what the rejection must say, the data row it points at: 0 for the file)
BAD: list[tuple[str, bytes, str, int]] = [
    ("households", b"", "the file is empty", 0),
    ("households", b"id_number,local,spouse,minor_children\n", "no data rows", 0),
    ("households", b"id_number,local\n\n\n", "no data rows", 0),
    ("households", b"430102199001011234,1,,\n", "missing columns: id_number, local", 0),
    ("households", b"430102199001011234,1,,\n", "unknown columns: 430102199001011234, 1", 0),
    ("households", b"id_numbr,local\n430102199001011234,1\n", "missing columns: id_number", 0),
    ("households", b"id_number,local,local\nA,1,1\n", "columns named twice: local", 0),
    ("households", b"id_number,local\nA,1\nB,maybe\n", "local must be 1 or 0", 2),
    ("households", b"id_number,local\nA,1\n,1\n", "id_number is empty", 2),
    ("households", b"id_number,local\nA,1\nA,0\n", "same id_number as row 1", 2),
    ("households", b"id_number,local\nA,1,extra\n", "3 fields, the header has 2", 1),
    ("households", "id_number,local\n甲,1\n".encode("gbk"), "not UTF-8", 0),
    ("payments", b"id_number,consecutive_months,as_of\nA,x,2026-01-01\n", "not a whole", 1),
    ("payments", b"id_number,consecutive_months,as_of\nA,3,2026-13-01\n", "not a date", 1),
    ("payments", b"id_number,consecutive_months,as_of\nA,-3,2026-01-01\n", "negative", 1),
    ("homes", b"id_number,district,homes\nA,,1\n", "district is empty", 1),
    ("homes", b"id_number,district,homes\nA,D,1\nA,D,2\n", "same id_number, district", 2),
    ("identities", b"id_number,name\nA,\n", "name is empty", 1),
    # A name goes into the SMS text and the signing page: bounded and without controls.
    ("identities", b"id_number,name\nA," + "张".encode() * 101 + b"\n", "over 100", 1),
    ("identities", b'id_number,name\nA,"\xe5\xbc\xa0\x1b[2J"\n', "control character", 1),
    ("homes", b"id_number,district,homes\nA," + b"D" * 101 + b",1\n", "over 100", 1),
    ("identities", b"id_number,name,phone\nA,N,13800001111\nB,M,2380000111\n", "not a mobile", 2),
    ("identities", b"id_number,name,phone\nA,N,+8613800001111\n", "not a mobile", 1),
]


def _load(client: object, headers: dict[str, str], kind: str, body: bytes, key: str) -> object:
    return client.post(  # type: ignore[attr-defined]
        f"/v1/departments/{kind}",
        content=body,
        headers={**headers, "Idempotency-Key": key, "content-type": "text/csv"},
    )


def _tables(api: Api) -> dict[str, list[tuple[object, ...]]]:
    _, _, d = api
    with d.log.engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(select(t)))
            for t in (
                departments.households,
                departments.payments,
                departments.homes,
                departments.identities,
            )
        }


def test_a_bad_extract_is_refused_with_its_problems_and_changes_nothing(api: Api) -> None:
    client, keys, _ = api
    authority = keys["authority"]
    good = _load(client, authority, "households", GOOD, "good")
    assert good.status_code == 201, good.text  # type: ignore[attr-defined]
    for kind in ("payments", "homes", "identities"):  # something in every table to lose
        body = {
            "payments": b"id_number,consecutive_months,as_of\nA,3,2026-01-01\n",
            "homes": b"id_number,district,homes\nA,D,1\n",
            "identities": b"id_number,name\nA,N\n",
        }[kind]
        assert _load(client, authority, kind, body, kind).status_code == 201  # type: ignore[attr-defined]
    before = _tables(api)
    assert len(before["dept_households"]) == 2

    for n, (kind, body, says, row) in enumerate(BAD):
        r = _load(client, authority, kind, body, f"bad-{n}")
        assert r.status_code == 422, (kind, body, r.text)  # type: ignore[attr-defined]
        assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
        problem = r.json()  # type: ignore[attr-defined]
        assert problem["type"].endswith("/bad-extract")
        assert any(says in e["message"] and e["row"] == row for e in problem["errors"]), (
            body,
            problem,
        )
        assert _tables(api) == before, body  # nothing loaded, nothing wiped

    load = good.json()["load"]  # type: ignore[attr-defined]
    assert good.json()["loaded"] == 2 and load["rows"] == 2  # type: ignore[attr-defined]
    assert load["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert load["loaded_by"] == "长沙市住建局" and load["kind"] == "households"
    listed = client.get("/v1/departments/households/loads", headers=authority)
    assert [x["sha256"] for x in listed.json()] == [load["sha256"]]  # rejections are no loads
    assert (
        client.get("/v1/departments/households/loads", headers=keys["developer"]).status_code == 403
    )
    assert client.get("/v1/departments/nonsense/loads", headers=authority).status_code == 422
    r = _load(client, authority, "nonsense", GOOD, "nonsense")
    assert r.status_code == 422  # type: ignore[attr-defined]


def test_every_load_is_recorded_newest_first(api: Api) -> None:
    client, keys, _ = api
    authority = keys["authority"]
    second = GOOD + b"430105198803033456,1,,\n"
    for key, body in (("1", GOOD), ("2", second)):
        assert _load(client, authority, "households", body, key).status_code == 201  # type: ignore[attr-defined]
    loads = client.get("/v1/departments/households/loads", headers=authority).json()
    assert [(x["rows"], x["sha256"]) for x in loads] == [
        (3, hashlib.sha256(second).hexdigest()),
        (2, hashlib.sha256(GOOD).hexdigest()),
    ]
    assert loads[0]["id"] > loads[1]["id"] and loads[0]["loaded_at"] >= loads[1]["loaded_at"]
    assert client.get("/v1/departments/payments/loads", headers=authority).json() == []
    one = client.get("/v1/departments/households/loads?limit=1", headers=authority).json()
    assert one == loads[:1]
    # A repeat of the same request (same Idempotency-Key) is answered again, not loaded again.
    assert _load(client, authority, "households", second, "2").status_code == 201  # type: ignore[attr-defined]
    assert len(client.get("/v1/departments/households/loads", headers=authority).json()) == 2


def _documented() -> dict[str, bytes]:
    """The example extract of each kind in docs/api.md."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.findall(
        r"^`(households|payments|homes|identities)` \(.*?\n\n```csv\n(.*?)```", text, re.S | re.M
    )
    return {kind: body.encode() for kind, body in found}


def test_the_documented_example_of_each_kind_loads(api: Api) -> None:
    client, keys, _ = api
    documented = _documented()
    assert sorted(documented) == sorted(k.value for k in departments.ExtractKind)
    for kind, body in documented.items():
        r = _load(client, keys["authority"], kind, body, kind)
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        rows = len(body.decode().strip().splitlines()) - 1
        assert r.json()["loaded"] == rows  # type: ignore[attr-defined]
