"""Integrators' lists and events over real HTTP, on SQLite and PostgreSQL.

Contracts and filings listed by status, unit, project, kind and time, in cursor pages that
neither repeat nor skip a row while others draft; every role sees exactly its scope; bad
cursors and limits are 422 problems; a developer's event page and webhook carry only its
own filings' events.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from api import auth
from api.app import create_app
from filing import api_keys
from filing.deployment import Deployment
from filing.platform import filing_service
from keys.pki import new_key
from ledger.database import write_transaction
from signing import remote
from tests.helpers import allow_many_homes, judgment_pdf

DEV_A = "91430100MA4L000000"
DEV_B = "91430100OTHER00000"
BUYER = ("王小明", "430102199001011234")
BUYER2 = ("李小红", "430102199202022345")
A_UNITS = [f"430104001001GB00001F0001{n:04d}" for n in range(301, 309)]  # project 1
A_OTHER_PROJECT = "430104001002GB00001F00010101"  # project 2, developer A
B_UNITS = [f"430104001003GB00001F0001{n:04d}" for n in (101, 102)]  # project 3, developer B
UNITS = [
    ("湘江示范花园", "湘江示范置业有限公司", DEV_A, A_UNITS),
    ("麓谷示范苑", "湘江示范置业有限公司", DEV_A, [A_OTHER_PROJECT]),
    ("星城示范府", "星城示范地产有限公司", DEV_B, B_UNITS),
]
HEADER = (
    "project,district,address,developer,developer_id,building,code,floor,room,use,"
    "forecast_building,forecast_inner,forecast_shared\n"
)
CSV = HEADER + "".join(
    f"{project},岳麓区,长沙市岳麓区示范路 1 号,{name},{dev},1 栋,{code},3,3{i:02d},住宅,"
    "118.56,96.30,22.26\n"
    for project, name, dev, codes in UNITS
    for i, code in enumerate(codes)
)
TERMS = {
    "price": "1422720.00", "payment_method": "LOAN", "down_payment": "430000.00",
    "loan_bank": "示范银行",
    "escrow_bank": "示范银行长沙分行", "escrow_account_name": "预售资金监管账户",
    "escrow_account_number": "4300 0000 0000 8888", "delivery_date": "2028-06-30",
    "dispute_body": "长沙市岳麓区人民法院",
}  # fmt: skip
ROLES = [
    ("authority", "长沙市住建局", auth.Role.AUTHORITY),
    ("dev_a", DEV_A, auth.Role.DEVELOPER),
    ("dev_b", DEV_B, auth.Role.DEVELOPER),
    ("buyer", BUYER[1], auth.Role.BUYER),
    ("buyer2", BUYER2[1], auth.Role.BUYER),
    ("bank", "示范银行", auth.Role.BANK),
    ("tax", "长沙市税务局", auth.Role.TAX),
    ("court", "岳麓区人民法院", auth.Role.COURT),
    ("stats", "长沙市统计局", auth.Role.DEPARTMENT),
]
Keys = dict[str, dict[str, str]]


class Receiver:
    """A webhook endpoint on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def city(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Keys, Deployment]]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    monkeypatch.delenv("WANGQIAN_REDIS_URL", raising=False)
    allow_many_homes(tmp_path / "data")
    d = Deployment.open(tmp_path / "data")
    # The receivers of this test listen on loopback, which webhooks reach only when allowed.
    d.config = dataclasses.replace(d.config, webhook_allow=("127.0.0.0/8",))
    app = create_app(d)
    keys: Keys = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in ROLES:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with TestClient(app) as client:
        _registry(client, keys)
        yield client, keys, d
    d.close()


_n = 0


def _post(client: TestClient, path: str, headers: dict[str, str], **kw: Any) -> Any:
    global _n
    _n += 1
    return client.post(path, headers={**headers, "Idempotency-Key": f"l{_n}"}, **kw)


def _registry(client: TestClient, keys: Keys) -> None:
    a = keys["authority"]
    r = _post(client, "/v1/registry/import", {**a, "content-type": "text/csv"}, content=CSV)
    assert r.status_code == 201, r.text
    people = [BUYER, BUYER2]
    for kind, body in [
        ("households", "id_number,local,spouse,minor_children\n"),
        ("identities", "id_number,name\n"),
    ]:
        rows = "".join(
            f"{p[1]},1,,\n" if kind == "households" else f"{p[1]},{p[0]}\n" for p in people
        )
        r = _post(
            client,
            f"/v1/departments/{kind}",
            {**a, "content-type": "text/csv"},
            content=body + rows,
        )
        assert r.status_code == 201, r.text
    every = [c for _, _, _, codes in UNITS for c in codes]
    permit = {
        "number": "长住建预许字（2026）第 0099 号",
        "authority": "长沙市住房和城乡建设局",
        "valid_from": "2026-01-01",
        "units": every,
    }
    assert _post(client, "/v1/registry/permits", a, json=permit).status_code == 201
    for _, _, dev, codes in UNITS:
        key = keys["dev_a" if dev == DEV_A else "dev_b"]
        for code in codes:
            r = _post(client, f"/v1/units/{code}/release", key)
            assert r.status_code == 200, r.text


def _draft(client: TestClient, dev: dict[str, str], code: str, buyer: tuple[str, str]) -> str:
    body = {
        **TERMS,
        "unit_code": code,
        "number": f"HT-{code[9:12]}-{code[-4:]}",
        "buyers": [{"name": buyer[0], "id_number": buyer[1]}],
    }
    r = _post(client, "/v1/contracts", dev, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _file(client: TestClient, dev: dict[str, str], buyer_key: dict[str, str], cid: str) -> str:
    """Seal and have BUYER sign on the device: the contract is filed."""
    buyer = BUYER
    assert _post(client, f"/v1/contracts/{cid}/seal", dev).status_code == 200
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    start = f"/v1/contracts/{cid}/remote-signing/buyer-1/start"
    r = _post(
        client,
        start,
        buyer_key,
        json={"public_key_pem": pem, "name": buyer[0], "id_number": buyer[1]},
    )
    assert r.status_code == 200, r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    finish = f"/v1/contracts/{cid}/remote-signing/buyer-1/finish"
    filed = _post(client, finish, buyer_key, json={"signature": base64.b64encode(sig).decode()})
    assert filed.status_code == 201, filed.text
    return str(filed.json()["filing"])


def _all(
    client: TestClient, path: str, key: dict[str, str], limit: int, between: Callable[[], None]
) -> tuple[list[dict[str, Any]], int]:
    """Every page of a list; ``between`` runs after each page. Returns rows and page count."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        r = client.get(path, params=params, headers=key)
        assert r.status_code == 200, r.text
        pages += 1
        rows += r.json()["items"]
        cursor = r.json()["next"]
        if cursor is None:
            return rows, pages
        between()


def _ids(client: TestClient, path: str, key: dict[str, str], **params: Any) -> list[str]:
    r = client.get(path, params={"limit": 200, **params}, headers=key)
    assert r.status_code == 200, r.text
    assert r.json()["next"] is None
    field = "id" if path.endswith("contracts") else "number"
    return [row[field] for row in r.json()["items"]]


def test_lists_filter_page_and_show_each_caller_its_own(
    city: tuple[TestClient, Keys, Deployment],
) -> None:
    client, keys, _ = city
    dev_a, dev_b = keys["dev_a"], keys["dev_b"]
    a = [_draft(client, dev_a, code, BUYER) for code in A_UNITS[:4]]
    a2 = _draft(client, dev_a, A_OTHER_PROJECT, BUYER2)
    b = _draft(client, dev_b, B_UNITS[0], BUYER)
    filed_a = [_file(client, dev_a, keys["buyer"], cid) for cid in a[:2]]
    filed_b = _file(client, dev_b, keys["buyer"], b)
    drafting_start = dt.datetime.now(dt.UTC)

    # Pages while another thread drafts: no row twice, none of those there at the start
    # missed, strictly in (created_at, id) order.
    before = set(_ids(client, "/v1/contracts", dev_a))
    assert before == {*a, a2}
    added: list[str] = []

    def drafting() -> None:
        for code in A_UNITS[4:8]:
            added.append(_draft(client, dev_a, code, BUYER))

    writer = threading.Thread(target=drafting)
    started = False

    def start_once() -> None:
        nonlocal started
        if not started:
            started = True
            writer.start()

    rows, pages = _all(client, "/v1/contracts", dev_a, 2, start_once)
    writer.join()
    seen = [row["id"] for row in rows]
    assert pages > 1
    assert len(seen) == len(set(seen)), "a row listed twice"
    assert before <= set(seen), "a row of the snapshot missed"
    assert set(seen) <= before | set(added)
    keys_in_order = [(row["created_at"], row["id"]) for row in rows]
    assert keys_in_order == sorted(keys_in_order)
    # Rows added while paging sort after the cursor (the clock moves on): a last page
    # from where the listing ended has them all.
    after_all = set(_ids(client, "/v1/contracts", dev_a))
    assert after_all == before | set(added)

    # Filters.
    assert set(_ids(client, "/v1/contracts", dev_a, status="FILED")) == set(a[:2])
    assert set(_ids(client, "/v1/contracts", dev_a, status="DRAFT")) == (after_all - set(a[:2]))
    assert _ids(client, "/v1/contracts", dev_a, unit=A_UNITS[2]) == [a[2]]
    r = client.get("/v1/contracts", params={"unit": A_OTHER_PROJECT}, headers=dev_a)
    project2 = r.json()["items"][0]["project"]
    assert _ids(client, "/v1/contracts", dev_a, project=project2) == [a2]
    assert set(_ids(client, "/v1/contracts", dev_a, kind="new-presale")) == after_all
    assert set(_ids(client, "/v1/contracts", dev_a, created_from=drafting_start.isoformat())) == (
        set(added)
    )
    assert set(_ids(client, "/v1/contracts", dev_a, created_to=drafting_start.isoformat())) == (
        before
    )
    beijing = drafting_start.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    assert set(_ids(client, "/v1/contracts", dev_a, created_from=beijing)) == set(added)
    row = next(r for r in rows if r["id"] == a[0])
    assert row["filing"] == filed_a[0] and row["signed"] == row["required"][: len(row["signed"])]

    # Scope: a developer its own, a buyer the contracts naming them, authority/court all.
    every = after_all | {b}
    assert set(_ids(client, "/v1/contracts", dev_b)) == {b}
    assert set(_ids(client, "/v1/contracts", keys["buyer"])) == every - {a2}
    assert set(_ids(client, "/v1/contracts", keys["buyer2"])) == {a2}
    for name in ("authority", "court"):
        assert set(_ids(client, "/v1/contracts", keys[name])) == every
    for name in ("bank", "tax", "stats"):
        for path in ("/v1/contracts", "/v1/filings"):
            r = client.get(path, headers=keys[name])
            assert r.status_code == 403 and r.headers["content-type"].startswith(
                "application/problem+json"
            )
    assert client.get("/v1/contracts").status_code == 401

    # Filings: the same scopes, pages and filters.
    rows, pages = _all(client, "/v1/filings", keys["authority"], 2, lambda: None)
    assert [r["number"] for r in rows] == [*filed_a, filed_b] and pages == 2
    assert _ids(client, "/v1/filings", dev_a) == filed_a
    assert _ids(client, "/v1/filings", dev_b) == [filed_b]
    assert _ids(client, "/v1/filings", keys["buyer"]) == [*filed_a, filed_b]
    assert _ids(client, "/v1/filings", keys["buyer2"]) == []
    assert _ids(client, "/v1/filings", dev_a, unit=A_UNITS[1]) == [filed_a[1]]
    assert _ids(client, "/v1/filings", dev_a, status="CANCELLED") == []
    assert _ids(client, "/v1/filings", dev_a, status="ACTIVE") == filed_a
    assert _ids(client, "/v1/filings", dev_a, filed_from=drafting_start.isoformat()) == []
    filing = client.get("/v1/filings", headers=dev_a).json()["items"][0]
    assert filing["contract_id"] == a[0] and filing["unit"] == A_UNITS[0]

    # No names or ID numbers in any list, whoever asks.
    for name in ("authority", "dev_a", "buyer", "court"):
        for path in ("/v1/contracts", "/v1/filings"):
            text = client.get(path, headers=keys[name]).text
            for person in (*BUYER, *BUYER2):
                assert person not in text


def test_bad_cursors_limits_and_filters_are_422_problems(
    city: tuple[TestClient, Keys, Deployment],
) -> None:
    client, keys, _ = city
    dev_a = keys["dev_a"]
    for code in A_UNITS[:3]:
        _draft(client, dev_a, code, BUYER)
    first = client.get("/v1/contracts", params={"limit": 1}, headers=dev_a).json()
    cursor = first["next"]
    assert cursor is not None
    ok = client.get("/v1/contracts", params={"limit": 1, "cursor": cursor}, headers=dev_a)
    assert ok.status_code == 200 and ok.json()["items"][0]["id"] != first["items"][0]["id"]

    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

    def forged(**change: Any) -> str:
        body = json.dumps({**raw, **change}).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=")

    bad_cursors = [
        "not-a-cursor",
        "%%%",
        "",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        forged(t="yesterday"),
        forged(t="2026-01-01T00:00:00"),
        forged(k=""),
        forged(k=7),
        forged(v=2),
        forged(f="0" * 16),  # another filter's or caller's
        cursor[:-3],
        "A" * 600,
    ]
    for bad in bad_cursors:
        r = client.get("/v1/contracts", params={"cursor": bad}, headers=dev_a)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # A cursor of this list, given with other filters, another list or another caller.
    for path, params, who in [
        ("/v1/contracts", {"status": "DRAFT"}, dev_a),
        ("/v1/filings", {}, dev_a),
        ("/v1/contracts", {}, keys["authority"]),
    ]:
        r = client.get(path, params={**params, "cursor": cursor}, headers=who)
        assert r.status_code == 422 and r.json()["type"].endswith("/bad-cursor"), r.text
    for params in [
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
        {"status": "SIGNED"},
        {"project": "x"},
        {"kind": "castle"},
        {"created_from": "2026-01-01T00:00:00"},  # no offset: not guessed
        {"created_from": "2026-02-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
        {"created_from": "yesterday"},
    ]:
        r = client.get("/v1/contracts", params=params, headers=dev_a)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for params in [{"after": -1}, {"limit": 0}, {"limit": 501}]:
        assert client.get("/v1/events", params=params, headers=dev_a).status_code == 422


def _wait(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _filings(events: list[dict[str, Any]]) -> set[str]:
    return {e["filing"] for e in events if e["filing"] is not None}


def test_a_developer_receives_only_its_own_filings_events(
    city: tuple[TestClient, Keys, Deployment],
) -> None:
    client, keys, _ = city
    dev_a, dev_b = keys["dev_a"], keys["dev_b"]
    receivers = {name: Receiver() for name in ("dev_a", "dev_b", "authority")}
    try:
        subs = {}
        for name, receiver in receivers.items():
            r = _post(
                client, "/v1/webhooks", keys[name], json={"url": receiver.url, "from_event": 0}
            )
            assert r.status_code == 201, r.text
            subs[name] = r.json()["id"]
        # Buyers subscribe to nothing; a subscription is its owner's only.
        r = _post(client, "/v1/webhooks", keys["buyer"], json={"url": receivers["dev_a"].url})
        assert r.status_code == 403
        assert [s["id"] for s in client.get("/v1/webhooks", headers=dev_a).json()] == [
            subs["dev_a"]
        ]

        a = [_draft(client, dev_a, code, BUYER) for code in A_UNITS[:2]]
        b = [_draft(client, dev_b, code, BUYER) for code in B_UNITS]
        filed_a = [_file(client, dev_a, keys["buyer"], cid) for cid in a]
        filed_b = [_file(client, dev_b, keys["buyer"], cid) for cid in b]
        # A cancellation of B's (注销 by judgment): B's event, not A's.
        r = client.post(
            f"/v1/filings/{filed_b[0]}/cancellation",
            params={"reason": "判决解除", "judgment": "(2026)湘0104民初9号"},
            content=judgment_pdf(),
            headers={
                **keys["authority"],
                "Idempotency-Key": "cancel-b",
                "content-type": "application/pdf",
            },
        )
        assert r.status_code == 201, r.text
        everyone = {*filed_a, *filed_b}
        got = {name: receiver.events for name, receiver in receivers.items()}
        _wait(lambda: any(e["event"] == "cancelled" for e in got["dev_b"]))
        _wait(lambda: _filings(got["authority"]) >= everyone)
        _wait(lambda: _filings(got["dev_a"]) >= set(filed_a))
        _wait(lambda: _filings(got["dev_b"]) >= set(filed_b))
        time.sleep(1.0)  # a dispatcher pass or more: nothing else arrives
        assert _filings(got["dev_a"]) == set(filed_a)
        assert {e["event"] for e in got["dev_a"]} == {"contract-signed", "filed"}
        # Its own contracts' news: the seal of each (the buyer's signature files it).
        signed = [e for e in got["dev_a"] if e["event"] == "contract-signed"]
        assert [(e["contract"], e["field"]) for e in signed] == [(cid, "seller") for cid in a]
        assert _filings(got["dev_b"]) == set(filed_b)
        assert {e["contract"] for e in got["dev_b"]} == set(b)
        for name in ("dev_a", "dev_b"):
            ids = [e["id"] for e in got[name]]
            assert ids == sorted(set(ids)), "in order, once each"

        # The event page: the same scopes.
        def page(who: dict[str, str], after: int = 0) -> dict[str, Any]:
            r = client.get("/v1/events", params={"after": after}, headers=who)
            assert r.status_code == 200, r.text
            return dict(r.json())

        def filed(events: list[dict[str, Any]]) -> list[str]:
            return [e["filing"] for e in events if e["filing"] is not None]

        mine = page(dev_a)
        assert filed(mine["events"]) == filed_a
        assert filed(page(dev_b)["events"]) == [*filed_b, filed_b[0]]
        assert [e["event"] for e in page(dev_b)["events"] if e["filing"]] == [
            "filed",
            "filed",
            "cancelled",
        ]
        assert _filings(page(keys["stats"])["events"]) == everyone
        assert page(dev_a, mine["next"])["events"] == []
        one = client.get("/v1/events", params={"limit": 1}, headers=dev_a).json()
        assert [(e["event"], e["contract"]) for e in one["events"]] == [("contract-signed", a[0])]
        rest = page(dev_a, one["next"])
        assert filed(rest["events"]) == filed_a
        for name in ("buyer", "buyer2"):
            assert client.get("/v1/events", headers=keys[name]).status_code == 403
        for person in (*BUYER, *BUYER2):
            assert person not in json.dumps(got["dev_a"] + mine["events"])
    finally:
        for receiver in receivers.values():
            receiver.close()


def test_a_developer_hears_of_signatures_withdrawals_and_expiries_without_polling(
    city: tuple[TestClient, Keys, Deployment],
) -> None:
    client, keys, d = city
    dev_a, dev_b = keys["dev_a"], keys["dev_b"]
    first, second, third = (_draft(client, dev_a, code, BUYER) for code in A_UNITS[2:5])
    assert _post(client, f"/v1/contracts/{first}/seal", dev_a).status_code == 200
    r = _post(client, f"/v1/contracts/{second}/withdraw", dev_a)
    assert r.status_code == 200, r.text
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)  # past every reservation
    assert sorted(filing_service(d).expire_drafts(later)) == sorted([first, third])
    events = client.get("/v1/events", headers=dev_a).json()["events"]
    news = [(e["event"], e["contract"], e["field"]) for e in events]
    assert news[:2] == [("contract-signed", first, "seller"), ("draft-withdrawn", second, None)]
    assert sorted(news[2:]) == sorted([("draft-expired", c, None) for c in (first, third)])
    sealed = client.get(f"/v1/contracts/{first}/document", headers=dev_a).content
    assert events[0]["document_sha256"] == hashlib.sha256(sealed).hexdigest()
    assert all(e["filing"] is None and e["log_index"] is None for e in events)
    assert {e["unit"] for e in events} == set(A_UNITS[2:5])
    assert {e["kind"] for e in events} == {"new-presale"}
    # Another developer hears none of it; the authority hears all of it.
    assert client.get("/v1/events", headers=dev_b).json()["events"] == []
    everyone = client.get("/v1/events", headers=keys["authority"]).json()["events"]
    assert [e["id"] for e in everyone] == [e["id"] for e in events]
    assert BUYER[0] not in json.dumps(events) and BUYER[1] not in json.dumps(events)
