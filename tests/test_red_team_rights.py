"""Red team, parties' rights on the sales side, over HTTP on SQLite and PostgreSQL: each party
attacks with nothing but the documented API. A test that passes is a defence that held; a
fix is named in its docstring; an open finding is ``xfail(strict=True)`` with the reason."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import auth
from api.app import create_app
from filing import api_keys, invitations
from filing.deployment import Deployment
from filing.platform import Platform
from keys.pki import new_key
from ledger import schema as ledger_schema
from ledger.database import write_transaction
from tests.helpers import judgment_pdf
from tests.sms import phone_of, sent, token_for
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    DEVELOPER_ID,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    file_contract,
)
from tests.test_fund_api import BANK, _bank, _race, server
from tests.test_invitations import _base, _draft, _h, phone_sign, raw_sign
from tests.test_ownership_api import LI, OLD, ZHANG
from tests.test_resale_pipeline import (
    AGENT,
    SUPERVISION,
    TRANSFER,
    WANG,
    _type,
    file_resale,
    resale_body,
    setup_resale,
    sign,
)

__all__ = ["server"]  # the fixture

# The sweeps below make hundreds of reads with one key: a limiter of their own (no Redis,
# shared by every test with the same keys) and a rate that lets them.
RATE = 100_000
PROBLEM = "application/problem+json"


@pytest.fixture
def api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """tests/test_filing_api.py's deployment, with this module's rate limit."""
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    monkeypatch.delenv("WANGQIAN_REDIS_URL", raising=False)
    d = Deployment.open(tmp_path / "data")
    d.save_config(dataclasses.replace(d.config, rate_per_minute=RATE))
    app = create_app(d)
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("authority", "长沙市住建局", auth.Role.AUTHORITY),
            ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
            ("other", "91430100OTHER00000", auth.Role.DEVELOPER),
            ("buyer", BUYER[1], auth.Role.BUYER),
            ("bank", BANK, auth.Role.BANK),
            ("tax", "长沙市税务局", auth.Role.TAX),
            ("court", "岳麓区人民法院", auth.Role.COURT),
            ("stats", "长沙市统计局", auth.Role.DEPARTMENT),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with TestClient(app) as client:
        yield client, keys, d
    d.close()


ZHANG_P = (ZHANG["name"], ZHANG["id_number"])
LI_P = (LI["name"], LI["id_number"])


def _pem(key: ec.EllipticCurvePrivateKey | None = None) -> str:
    key = key or new_key()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _propose(client: Any, headers: dict[str, str], number: str, kind: str, **body: str) -> Any:
    path = f"/v1/filings/{number}/{kind}-agreements"
    return _post(client, path, headers, json={"reason": "协商一致", **body})


def _status(client: Any, keys: dict[str, dict[str, str]], number: str) -> str:
    return str(client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()["status"])


# -- 2. privacy: the original developer and roles without the right -----------------------


def _every_read(
    client: Any, headers: dict[str, str], ids: dict[str, list[str]], ok_only: bool = False
) -> str:
    """Every GET route of the API (from its OpenAPI) a caller can make about the unit, its
    filings, contracts, agreements and funds, joined (JSON, PDF, ZIP, SVG alike)."""
    spec = client.get("/openapi.json").json()
    seen: list[str] = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path.startswith(("/log/tile", "/ocsp", "/crl", "/pki")):
            continue
        fills = [path]
        for name, values in ids.items():
            fills = [f.replace("{" + name + "}", v) for f in fills for v in values]
        for url in fills:
            if "{" in url:
                continue
            for params in ({}, {"unit": CODES[0]}):
                r = client.get(url, headers=headers, params=params)
                assert r.status_code < 500, (url, r.text)
                if ok_only and r.status_code >= 300:
                    continue  # a refusal echoes the id it was asked about
                seen.append(r.content.decode("utf-8", "replace"))
                seen.append(r.content.decode("latin-1"))
    return "\n".join(seen)


def test_no_resale_party_reaches_the_original_developer_by_any_get_route(api: Api) -> None:
    """The developer sold 2-1203 to 王小明, who resells it (a seller's own draft, so its
    drafter is recorded as that person) to 王五 through the brokerage's agent; a change
    agreement is signed, a deposit made, the transfer registered. Every GET route the
    platform has, with every id of the story, for the developer and the roles without the
    right to personal data: neither 王五 nor the agent, by name or ID number."""
    client, keys, d = api
    _setup_registry(client, keys)
    first_cid, first = file_contract(client, keys)
    old = {**REGISTRATION, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    setup_resale(client, keys, d)
    body = resale_body("ESF-RT-1", sellers=(BUYER,), buyers=(WANG,), code=CODES[0])
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    assert sign(client, keys["wang"], cid, "buyer-1", WANG).status_code == 200
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    second = r.json()["filing"]
    # Free text a party writes (the reason, the changes) naming the people: never shown to
    # those who may not see them.
    r = _propose(
        client,
        keys["wang"],
        second,
        "change",
        reason=f"{WANG[0]}（{WANG[1]}）与经纪人{AGENT[0]}协商一致",
        changes=f"交付日期改为 2027-04-30，{WANG[0]} 签收。",
    )
    assert r.status_code == 201, r.text
    change = r.json()["id"]
    for field, who, person in (("seller-1", "buyer", BUYER), ("buyer-1", "wang", WANG)):
        assert sign(client, keys[who], change, field, person).status_code == 200
    assert sign(client, keys["agent"], change, "agent", AGENT).status_code == 201
    bank = _bank(client, keys["bank"], BANK)
    deposit = bank.signed("deposit", second, 1_000, account=SUPERVISION)
    r = _post(client, f"/v1/filings/{second}/funds/deposits", keys["bank"], json=deposit)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    d.sequencer().step()

    ids = {
        "code": [CODES[0]],
        "number": [first, second],
        "filing": [first, second],
        "contract_id": [first_cid, cid, change],
        "index": ["0", "1"],
        "chart": ["monthly"],
        "kind": ["identities"],
        "field": ["buyer-1"],
        "sub_id": ["1"],
    }
    hidden = (WANG[0], WANG[1], AGENT[0], AGENT[1])
    for role in ("developer", "other", "stats", "bank", "tax"):
        seen = _every_read(client, keys[role], ids)
        for value in hidden:
            assert value not in seen, (role, value)
    # Nor does the developer learn the resale's contracts by any read (its filing number is
    # in the public log, with the unit: that a home was resold is public; who, is not).
    seen = _every_read(client, keys["developer"], ids, ok_only=True)
    for value in (cid, change):
        assert value not in seen, value
    # Nor do the developer's events tell of the resale or its agreement at all.
    events = client.get("/v1/events", headers=keys["developer"]).json()["events"]
    assert {e["contract"] for e in events} <= {first_cid}, events
    # The parties see their own (the sweep finds what is there).
    assert WANG[1] in _every_read(client, keys["wang"], {**ids, "contract_id": [cid]})
    # The public log names nobody: every leaf, as written.
    with d.log.engine.connect() as conn:
        leaves = [bytes(b) for b in conn.execute(select(ledger_schema.leaves.c.data)).scalars()]
    assert len(leaves) >= 6
    people = (*hidden, *BUYER, ZHANG["name"], ZHANG["id_number"])
    for leaf in leaves:
        text = leaf.decode("utf-8", "replace")
        for value in people:
            assert value not in text, value


# -- 3. lists and cursors --------------------------------------------------------------


def test_a_forged_cursor_widens_no_scope(api: Api) -> None:
    """A cursor carries a position and a digest of (list, scope, filters): another caller's
    cursor is refused, and one forged with the caller's own digest pages its own rows only."""
    client, keys, d = api
    setup_resale(client, keys, d)
    cid, _, _ = file_resale(client, keys)
    r = client.get("/v1/contracts", headers=keys["authority"], params={"limit": 1})
    assert r.status_code == 200, r.text
    # The authority's cursor in the hands of a seller, an agent, a stranger.
    authority_cursor = r.json()["next"]
    for who in ("zhang", "agent", "wang", "developer", "agency"):
        if authority_cursor is None:
            break
        r = client.get("/v1/contracts", headers=keys[who], params={"cursor": authority_cursor})
        assert r.status_code == 422 and _type(r) == "bad-cursor", (who, r.text)
    # A cursor forged from scratch, by a stranger, with every digest one might guess.
    from filing.listing import CURSOR_VERSION, ContractFilter, ListScope, _digest

    for scope in (ListScope(person=WANG[1]), ListScope(), ListScope(person=ZHANG["id_number"])):
        digest = _digest("contracts", scope, ContractFilter())
        raw = {"v": CURSOR_VERSION, "l": "contracts", "f": digest, "t": "1970-01-01T00:00:00+00:00"}
        for key in ("0", "~", cid):
            token = base64.urlsafe_b64encode(json.dumps({**raw, "k": key}).encode()).decode()
            r = client.get("/v1/contracts", headers=keys["wang"], params={"cursor": token})
            assert r.status_code in (200, 422), r.text
            if r.status_code == 200:
                assert r.json()["items"] == [], (scope, key, r.text)
    for who in ("developer", "wang", "other"):
        for path in ("/v1/contracts", "/v1/filings"):
            r = client.get(path, headers=keys[who], params={"unit": OLD[0]})
            assert r.status_code == 200 and r.json()["items"] == [], (who, path, r.text)


def test_contract_events_name_nobody_and_reach_only_the_drafters_scope(api: Api) -> None:
    """contract-signed, draft-withdrawn: no name or ID number in any event any role reads;
    another agency and the developer get none of a resale's."""
    client, keys, d = api
    setup_resale(client, keys, d)
    with write_transaction(d.log.engine) as conn:
        other = api_keys.create_key(conn, "长房经备字（2025）第 0999 号", auth.Role.AGENCY)
    keys["other-agency"] = {"Authorization": f"Bearer {other}"}
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-EV-1"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert sign(client, keys["zhang"], cid, "seller-1", ZHANG_P).status_code == 200
    assert _post(client, f"/v1/contracts/{cid}/withdraw", keys["agency"]).status_code == 200  # type: ignore[attr-defined]
    # Drafted again and left to expire (the platform's sweep, a month on).
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-EV-2"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    expired = r.json()["id"]  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    assert Platform(d).service.expire_drafts(later) == [expired]
    kinds_seen = {
        e["event"] for e in client.get("/v1/events", headers=keys["agency"]).json()["events"]
    }
    assert {"contract-signed", "draft-withdrawn", "draft-expired"} <= kinds_seen, kinds_seen
    people = (ZHANG["name"], ZHANG["id_number"], LI["name"], LI["id_number"], *BUYER, *AGENT)
    for role in ("authority", "stats", "tax", "bank", "court", "agency"):
        text = client.get("/v1/events", headers=keys[role]).text
        assert cid in text, role
        for value in people:
            assert value not in text, (role, value)
    for role in ("developer", "other-agency"):
        events = client.get("/v1/events", headers=keys[role]).json()["events"]
        assert events == [], (role, events)


# -- 4. phone signing invitations -------------------------------------------------------


def test_the_token_opens_nothing_from_a_url_and_stays_out_of_the_logs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A token in the query string (which logs and Referers carry) opens nothing; the sign
    page sends no Referer; no log record holds the token, a name or an ID number."""
    client, keys, d = api
    caplog.set_level(logging.DEBUG)
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    for params in ({"token": token}, {"X-Invitation": token}):
        r = client.get(_base(cid, "buyer-1"), params=params)
        assert r.status_code == 401 and _type(r) == "invitation-invalid", r.text
    page = client.get("/sign")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    # Wrong guesses, then the signature; then the used token again.
    r = client.post(
        _base(cid, "buyer-1") + "/identity",
        headers=_h(token),
        json={"name": BUYER[0], "id_number": "430102199001019999"},
    )
    assert r.status_code == 422 and token not in r.text and "430102" not in r.text
    r = phone_sign(client, cid, "buyer-1", token, BUYER)
    assert r.status_code == 201, r.text
    r = client.get(_base(cid, "buyer-1"), headers=_h(token))
    assert r.status_code == 410 and token not in r.text
    # The server's records (not the test client's own, which logs the URLs it asked for).
    server = [rec for rec in caplog.records if not rec.name.startswith(("httpx", "httpcore"))]
    assert server or caplog.records  # something was captured at DEBUG
    logged = "\n".join(rec.getMessage() + str(rec.args) for rec in server)
    for value in (token, BUYER[0], BUYER[1], "430102199001019999"):
        assert value not in logged, value


def test_an_invitation_ends_with_its_withdrawn_draft(api: Api) -> None:
    """Fixed: a withdrawn draft's invitation still showed the contract, rendered its pages
    and ran identity checks against the records. It now ends with the draft (410)."""
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    assert client.get(_base(cid, "buyer-1"), headers=_h(token)).status_code == 200
    r = _post(client, f"/v1/contracts/{cid}/withdraw", keys["developer"])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    base = _base(cid, "buyer-1")
    for method, path, body in [
        ("GET", "", None),
        ("GET", "/pages/0", None),
        ("POST", "/identity", {"name": BUYER[0], "id_number": BUYER[1]}),
        ("POST", "/start", {"public_key_pem": _pem()}),
        ("POST", "/finish", {"signature": base64.b64encode(b"\1" * 64).decode()}),
    ]:
        r = client.request(method, base + path, headers=_h(token), json=body)
        assert r.status_code == 410 and _type(r) == "invitation-expired", (path, r.text)
    # Nor can the drafter issue it again.
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
    assert r.status_code == 409 and _type(r) == "contract-state", r.text  # type: ignore[attr-defined]


def test_malformed_and_oversize_inputs_are_problems_not_crashes(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    base = _base(cid, "buyer-1")
    # Page numbers: negative, huge, beyond the document, not a number.
    for index, status in (("-1", 422), ("1001", 422), (str(10**30), 422), ("x", 422)):
        r = client.get(f"{base}/pages/{index}", headers=_h(token))
        assert r.status_code == status, (index, r.text)
    r = client.get(f"{base}/pages/999", headers=_h(token))
    assert r.status_code == 404 and _type(r) == "no-such-page"
    # Tokens: huge, non-ASCII, empty.
    for bad in ("A" * 5000, "", "\t"):
        r = client.get(base, headers={"X-Invitation": bad})
        assert r.status_code in (401, 422), r.text
    r = client.get(base, headers={"X-Invitation": "令牌".encode()})
    assert r.status_code in (401, 422), r.text
    # A field name of a mile; a body of a megabyte; JSON that is not an object.
    assert client.get(_base(cid, "b" * 5000), headers=_h(token)).status_code in (403, 404, 422)
    r = client.post(base + "/identity", headers=_h(token), json={"name": "王" * 1_000_000})
    assert r.status_code in (413, 422), r.status_code
    r = client.post(base + "/identity", headers=_h(token), content=b"[1,2,3]")
    assert r.status_code == 422, r.text
    # Nothing of that counted as an identity attempt.
    assert client.get(base, headers=_h(token)).json()["attempts_left"] == 5
    ok = {"name": BUYER[0], "id_number": BUYER[1]}
    assert client.post(base + "/identity", headers=_h(token), json=ok).status_code == 200
    # Keys: not PEM, an RSA key, a P-384 key; signatures: not base64, the wrong length, zero.
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_pem = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    p384 = ec.generate_private_key(ec.SECP384R1())
    for pem in ("nonsense", rsa_pem, _pem(p384)):  # type: ignore[arg-type]
        r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": pem})
        assert r.status_code == 422, r.text
    key = new_key()
    r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": _pem(key)})
    assert r.status_code == 200, r.text
    attrs = base64.b64decode(r.json()["signed_attributes"])
    zero, short = base64.b64encode(b"\0" * 64).decode(), base64.b64encode(b"\1" * 63).decode()
    for sig in ("@@@", zero, short):
        r = client.post(base + "/finish", headers=_h(token), json={"signature": sig})
        assert r.status_code == 422, r.text
    # The real one still signs: nothing above used the invitation up.
    r = client.post(base + "/finish", headers=_h(token), json={"signature": raw_sign(key, attrs)})
    assert r.status_code == 201, r.text


def test_a_signature_is_not_replayed_into_another_draft(api: Api) -> None:
    """The buyer's phone signature over one draft's signed attributes, sent with the
    invitation of the same field of the same contract drafted again: refused."""
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    base = _base(cid, "buyer-1")
    ok = {"name": BUYER[0], "id_number": BUYER[1]}
    client.post(base + "/identity", headers=_h(token), json=ok)
    key = new_key()
    r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": _pem(key)})
    attrs = base64.b64decode(r.json()["signed_attributes"])
    signature = raw_sign(key, attrs)
    # Started again (another key): the first signature no longer fits.
    r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": _pem()})
    assert r.status_code == 200, r.text
    r = client.post(base + "/finish", headers=_h(token), json={"signature": signature})
    assert r.status_code == 422 and _type(r) == "signature-rejected", r.text
    # The draft withdrawn and drafted anew: the old signature opens nothing.
    assert _post(client, f"/v1/contracts/{cid}/withdraw", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    again = {**CONTRACT, "number": "HT-2026-000002"}
    r = _post(client, "/v1/contracts", keys["developer"], json=again)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid2 = r.json()["id"]  # type: ignore[attr-defined]
    token2 = token_for(d, cid2, "buyer-1")
    _post(client, f"/v1/contracts/{cid2}/seal", keys["developer"])
    base2 = _base(cid2, "buyer-1")
    client.post(base2 + "/identity", headers=_h(token2), json=ok)
    assert client.post(base2 + "/start", headers=_h(token2), json={"public_key_pem": _pem(key)})
    r = client.post(base2 + "/finish", headers=_h(token2), json={"signature": signature})
    assert r.status_code == 422 and _type(r) == "signature-rejected", r.text


def test_a_co_buyers_token_signs_no_other_field(api: Api) -> None:
    """Two buyers: the second's token opens neither the first's field nor the sellers'; the
    first's identity does not pass on the second's token."""
    client, keys, d = api
    setup_resale(client, keys, d)
    body = resale_body("ESF-CO-1", buyers=(BUYER, WANG))
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    invited = {i["field"]: token_for(d, cid, i["field"]) for i in r.json()["invitations"]}  # type: ignore[attr-defined]
    assert set(invited) == {"seller-1", "seller-2", "buyer-1", "buyer-2"}
    for field in ("buyer-1", "seller-1", "seller-2", "agent"):
        r = client.get(_base(cid, field), headers=_h(invited["buyer-2"]))
        assert r.status_code == 403 and _type(r) == "invitation-elsewhere", (field, r.text)
    r = client.post(
        _base(cid, "buyer-2") + "/identity",
        headers=_h(invited["buyer-2"]),
        json={"name": BUYER[0], "id_number": BUYER[1]},
    )
    assert r.status_code == 422 and _type(r) == "identity-rejected", r.text
    # The buyer's API key for the co-buyer's field: refused too.
    r = sign(client, keys["buyer"], cid, "buyer-2", WANG)
    assert r.status_code == 403 and _type(r) == "not-your-field", r.text


def test_identity_guesses_racing_are_counted_before_they_are_judged(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    """Fixed: each identity check read the attempts, judged, then counted: guesses sent at
    once were each judged against the same count, so a token allowed many more than five.
    Now a guess is counted (only while attempts are left) before it is judged."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)  # type: ignore[arg-type]
        cid = r.json()["id"]  # type: ignore[attr-defined]
        token = token_for(d, cid, "buyer-1")
    path = _base(cid, "buyer-1") + "/identity"
    wrong = [(path, {"name": BUYER[0], "id_number": f"43010219900101{n:04d}"}) for n in range(16)]
    answers = _race(base, _h(token), wrong)
    codes = [a.status_code for a in answers]
    assert 500 not in codes, codes
    judged = [a for a in answers if a.status_code == 422]
    assert len(judged) <= invitations.MAX_ATTEMPTS, codes
    assert all(_type(a) == "invitation-locked" for a in answers if a.status_code == 403)
    with httpx.Client(base_url=base, timeout=120) as client:
        right = {"name": BUYER[0], "id_number": BUYER[1]}
        r = client.post(path, headers=_h(token), json=right)
        assert r.status_code == 403 and _type(r) == "invitation-locked", r.text


# -- 1. resale agreements ----------------------------------------------------------------


def test_an_agreement_after_a_judgment_cancels_nothing_twice(api: Api) -> None:
    """An agreement being signed when a court cancels the filing: its last signature is
    refused; the log holds one cancellation; the deposit is refunded once."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_resale(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    base = f"/v1/filings/{number}/funds"
    deposit = bank.signed("deposit", number, 3_000, account=SUPERVISION)
    assert _post(client, f"{base}/deposits", keys["bank"], json=deposit).status_code == 201  # type: ignore[attr-defined]
    r = _propose(client, keys["zhang"], number, "cancellation")
    assert r.status_code == 201, r.text
    pending = r.json()["id"]
    for field, who, person in (
        ("seller-1", "zhang", ZHANG_P),
        ("seller-2", "li", LI_P),
        ("buyer-1", "buyer", BUYER),
    ):
        assert sign(client, keys[who], pending, field, person).status_code == 200
    cancel = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["court"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2027)湘0104民初8号"},
        content=judgment_pdf("(2027)湘0104民初8号"),
    )
    assert cancel.status_code == 201, cancel.text  # type: ignore[attr-defined]
    before = d.log.appended()
    r = sign(client, keys["agent"], pending, "agent", AGENT)
    assert r.status_code == 409 and _type(r) == "contract-state", r.text
    assert d.log.appended() == before
    assert _status(client, keys, number) == "CANCELLED"
    # A new agreement on a cancelled filing: refused.
    r = _propose(client, keys["buyer"], number, "cancellation")
    assert r.status_code in (404, 409), r.text
    refund = bank.signed("refund", number, 3_000, account=SUPERVISION)
    assert _post(client, f"{base}/refunds", keys["bank"], json=refund).status_code == 201  # type: ignore[attr-defined]
    again = bank.signed("refund", number, 3_000, account=SUPERVISION)
    assert _post(client, f"{base}/refunds", keys["bank"], json=again).status_code in (409, 422)  # type: ignore[attr-defined]
    deposit = bank.signed("deposit", number, 1, account=SUPERVISION)
    assert _post(client, f"{base}/deposits", keys["bank"], json=deposit).status_code in (409, 422)  # type: ignore[attr-defined]


def test_the_agent_and_the_brokerage_cannot_cancel_or_change_for_the_parties(api: Api) -> None:
    """The agent signs last: the agency's key, the developer's, a seller's key for the
    agent's field are refused; an agent's field signed by the agent with another person's
    identity is refused; the filing stands."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_resale(client, keys)
    r = _propose(client, keys["buyer"], number, "change", changes="价款改为 1 元。")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for field, who, person in (
        ("seller-1", "zhang", ZHANG_P),
        ("seller-2", "li", LI_P),
        ("buyer-1", "buyer", BUYER),
    ):
        assert sign(client, keys[who], cid, field, person).status_code == 200
    for who, person in (("zhang", ZHANG_P), ("buyer", AGENT), ("agent", BUYER), ("wang", AGENT)):
        r = sign(client, keys[who], cid, "agent", person)
        assert r.status_code in (403, 404), (who, r.text)
    for who in ("agency", "developer", "bank"):
        r = sign(client, keys[who], cid, "agent", AGENT)
        assert r.status_code in (403, 404), (who, r.text)
    changes = client.get(f"/v1/filings/{number}/changes", headers=keys["authority"]).json()
    assert changes == []
    # The developer that built nothing here cannot even see the agreement.
    assert client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).status_code == 404


# -- the drafter never holds an invitation -------------------------------------------------
# It types the parties' names and ID numbers into the draft, so it would pass every identity
# check; the token, sent only to the party's phone of record, is what it cannot have.


def _answers_hold_no_token(d: Any, cid: str, *answers: Any) -> None:
    tokens = [t for f in ("buyer-1", "seller-1", "seller-2") for _, t in sent(d, cid, f)]
    assert tokens
    for r in answers:
        assert not any(t in r.text for t in tokens), "a token reached the drafter"


def test_a_developer_cannot_sign_for_its_buyer_with_the_buyers_invitation(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    # Everything the developer can read of its draft, and a fresh invitation it asks for.
    again = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
    assert again.status_code == 201  # type: ignore[attr-defined]
    reads = [
        client.get(f"/v1/contracts/{cid}", headers=keys["developer"]),
        client.get("/v1/contracts", headers=keys["developer"]),
        client.get("/v1/events", headers=keys["developer"], params={"after": 0}),
    ]
    _answers_hold_no_token(d, cid, r, again, *reads)
    # With what it does hold (the buyer's name and ID number), no token: refused.
    for guess in ("", cid, r.json()["draft_sha256"]):  # type: ignore[attr-defined]
        v = client.get(f"/v1/invitations/{cid}/buyer-1", headers={"X-Invitation": guess})
        assert v.status_code == 401, v.text
    state = client.get(f"/v1/contracts/{cid}", headers=keys["developer"]).json()
    assert state["status"] == "DRAFT" and state["signed"] == ["seller"]
    # The buyer, with the token on their own phone, signs.
    r = phone_sign(client, cid, "buyer-1", token_for(d, cid, "buyer-1"), BUYER)
    assert r.status_code == 201, r.text


def test_a_brokerage_cannot_cancel_a_resale_without_its_sellers_and_buyer(api: Api) -> None:
    """The agency drafted the resale; the buyer proposes a cancellation (the agreement is
    the agency's draft too); the agency has every party's invitation sent again, but each
    goes to the party's phone: it signs its agent's field only and the sale stands."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_resale(client, keys)
    r = _post(
        client,
        f"/v1/filings/{number}/cancellation-agreements",
        keys["buyer"],
        json={"reason": "协商解除"},
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    answers = []
    for field, person in (("seller-1", ZHANG_P), ("seller-2", LI_P), ("buyer-1", BUYER)):
        r = _post(client, f"/v1/contracts/{cid}/invitations/{field}", keys["agency"])
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        assert r.json()["sent"] is True  # type: ignore[attr-defined]
        assert sent(d, cid, field)[-1][0] == phone_of(person[1])
        answers.append(r)
    _answers_hold_no_token(d, cid, *answers)
    assert sign(client, keys["agent"], cid, "agent", AGENT).status_code in (200, 409)
    assert _status(client, keys, number) == "ACTIVE"


# -- 5. the one pipeline ------------------------------------------------------------------


def test_a_filed_unit_is_neither_resold_nor_sold_again_before_its_registration(api: Api) -> None:
    """The buyer of a filed new home (not yet registered) tries to resell it; the developer
    tries to sell it again; a stranger names the true owners as sellers to learn whether
    they own it. Each is refused, and the stranger learns nothing of the owners."""
    client, keys, d = api
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    setup_resale(client, keys, d)
    body = resale_body("ESF-FILED", sellers=(BUYER,), buyers=(WANG,), code=CODES[0])
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code in (409, 422), r.text  # type: ignore[attr-defined]
    assert _type(r) == "unit-not-sellable", r.text
    again = {**CONTRACT, "number": "HT-2026-000009"}
    r = _post(client, "/v1/contracts", keys["developer"], json=again)
    assert r.status_code in (409, 422), r.text  # type: ignore[attr-defined]
    assert _status(client, keys, first) == "ACTIVE"
    # 王五 (no owner of OLD[0]) drafts naming its true owners, or himself and one of them.
    for sellers in ((ZHANG, LI), (WANG, ZHANG)):
        r = _post(client, "/v1/resale-contracts", keys["wang"], json=resale_body(sellers=sellers))
        assert r.status_code in (403, 422), r.text  # type: ignore[attr-defined]
        for value in (ZHANG["name"], ZHANG["id_number"], LI["name"], LI["id_number"]):
            assert value not in r.text, (sellers, value)  # type: ignore[attr-defined]
    r = _post(client, "/v1/resale-contracts", keys["wang"], json=resale_body(sellers=(ZHANG, LI)))
    assert r.status_code == 403 and _type(r) == "not-a-drafter", r.text  # type: ignore[attr-defined]


def test_a_cancelled_resales_deposit_is_not_released_by_the_next_sales_registration(
    api: Api,
) -> None:
    """Cancelled by agreement with its deposit still held; the home is sold again and the
    transfer registered: the old filing's deposit is not released to the sellers on the new
    sale's registration; it is refunded, once; the new filing's money is its own."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, old, _ = file_resale(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    funds = f"/v1/filings/{old}/funds"
    deposit = bank.signed("deposit", old, 3_000, account=SUPERVISION)
    assert _post(client, f"{funds}/deposits", keys["bank"], json=deposit).status_code == 201  # type: ignore[attr-defined]
    r = _propose(client, keys["li"], old, "cancellation")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for field, who, person in (
        ("seller-1", "zhang", ZHANG_P),
        ("seller-2", "li", LI_P),
        ("buyer-1", "buyer", BUYER),
        ("agent", "agent", AGENT),
    ):
        assert sign(client, keys[who], cid, field, person).status_code in (200, 201)
    assert _status(client, keys, old) == "CANCELLED"
    # Sold again, to the same buyer, and registered.
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-AGAIN"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    again = r.json()["id"]  # type: ignore[attr-defined]
    for field, who, person in (
        ("seller-1", "zhang", ZHANG_P),
        ("seller-2", "li", LI_P),
        ("buyer-1", "buyer", BUYER),
    ):
        assert sign(client, keys[who], again, field, person).status_code == 200
    r = sign(client, keys["agent"], again, "agent", AGENT)
    assert r.status_code == 201, r.text
    new = r.json()["filing"]
    r = _post(client, f"/v1/units/{OLD[0]}/registration", keys["authority"], json=TRANSFER)
    assert r.status_code == 200 and r.json()["filing"] == new, r.text  # type: ignore[attr-defined]
    release = bank.signed("release", old, 3_000, account=SUPERVISION)
    r = _post(client, f"{funds}/releases", keys["bank"], json=release)
    assert r.status_code in (409, 422), r.text  # type: ignore[attr-defined]
    refund = bank.signed("refund", old, 3_000, account=SUPERVISION)
    assert _post(client, f"{funds}/refunds", keys["bank"], json=refund).status_code == 201  # type: ignore[attr-defined]
    for kind in ("refund", "release"):
        twice = bank.signed(kind, old, 1, account=SUPERVISION)
        r = _post(client, f"{funds}/{kind}s", keys["bank"], json=twice)
        assert r.status_code in (409, 422), (kind, r.text)  # type: ignore[attr-defined]
    # The new filing's account knows nothing of the old money.
    r = client.get(f"/v1/filings/{new}/funds", headers=keys["authority"])
    assert r.status_code in (200, 404), r.text
    seen = r.json()
    assert seen.get("balance_fen", 0) == 0 and "3000" not in json.dumps(seen), seen
    release = bank.signed("release", new, 3_000, account=SUPERVISION)
    r = _post(client, f"/v1/filings/{new}/funds/releases", keys["bank"], json=release)
    assert r.status_code in (409, 422), r.text  # type: ignore[attr-defined]


def test_a_strangers_idempotency_key_replays_nothing_of_anothers(api: Api) -> None:
    """Another developer sending the developer's Idempotency-Key gets no answer of the
    developer's (the draft's answer carries invitation tokens)."""
    client, keys, _ = api
    _setup_registry(client, keys)
    headers = {**keys["developer"], "Idempotency-Key": "shared-key"}
    r = client.post("/v1/contracts", json=CONTRACT, headers=headers)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    stranger = {**keys["other"], "Idempotency-Key": "shared-key"}
    r = client.post("/v1/contracts", json=CONTRACT, headers=stranger)
    assert r.status_code != 201 and cid not in r.text, r.text
    assert "token" not in r.text or r.json().get("invitations") is None, r.text


def test_an_unused_invitation_ends_when_the_contract_is_filed_without_it(api: Api) -> None:
    """Fixed with the withdrawn case: the buyer signs with an API key instead; the filed
    contract's unused invitation no longer shows it or checks identities."""
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    r = sign(client, keys["buyer"], cid, "buyer-1", BUYER)
    assert r.status_code == 201, r.text
    for method, path, body in [
        ("GET", "", None),
        ("GET", "/pages/0", None),
        ("POST", "/identity", {"name": BUYER[0], "id_number": BUYER[1]}),
    ]:
        r = client.request(method, _base(cid, "buyer-1") + path, headers=_h(token), json=body)
        assert r.status_code == 410 and _type(r) == "invitation-expired", (path, r.text)


def test_an_agent_or_a_stranger_proposes_nothing_for_the_parties(api: Api) -> None:
    """Who may propose a resale's cancellation: its sellers and buyers. Not the agency, nor
    a person named nowhere; the agent is a signer, and whatever it may propose, nothing is
    cancelled without every party."""
    client, keys, d = api
    setup_resale(client, keys, d)
    _, number, _ = file_resale(client, keys)
    r = _propose(client, keys["agent"], number, "cancellation")
    assert r.status_code in (201, 403), r.text
    if r.status_code == 201:
        cid = r.json()["id"]
        r = sign(client, keys["agent"], cid, "agent", AGENT)
        assert r.status_code == 409 and _type(r) == "contract-state", r.text
    for who in ("agency", "wang", "developer", "bank", "tax", "stats"):
        r = _propose(client, keys[who], number, "cancellation")
        assert r.status_code in (403, 404, 409), (who, r.text)
    assert _status(client, keys, number) == "ACTIVE"


def test_agreements_proposed_at_once_leave_one_being_signed(
    server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    """Fixed (PostgreSQL): eight proposals at once (cancellations and changes, by the
    buyer) each saw no agreement being signed, and a cancellation and a change were both
    drafted. Now one agreement is drafted, the others a problem, never a 500."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        setup_resale(client, keys, d)
        _, number, _ = file_resale(client, keys)
    calls = [
        (
            f"/v1/filings/{number}/{kind}-agreements",
            {"reason": "协商一致", **({"changes": "改期"} if kind == "change" else {})},
        )
        for kind in ("cancellation", "change") * 4
    ]
    answers = _race(base, keys["buyer"], calls)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, [a.text[:200] for a in answers]


def test_nul_and_control_characters_on_the_new_routes_are_problems(api: Api) -> None:
    """PostgreSQL refuses NUL in text: every new route answers a problem, never a 500, and
    writes nothing. Fixed: an agreement's reason with a NUL was drafted on SQLite (and
    refused on PostgreSQL); its free text now admits no control characters on either."""
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-NUL"))
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    token = token_for(d, cid, "seller-1")
    for method, path, headers, body in [
        ("POST", f"/v1/contracts/{cid}%00/invitations/seller-1", keys["agency"], None),
        ("POST", f"/v1/contracts/{cid}/invitations/seller-1%00", keys["agency"], None),
        ("GET", f"/v1/invitations/{cid}%00/seller-1", _h(token), None),
        ("GET", f"/v1/invitations/{cid}/seller-1%00", _h(token), None),
        ("POST", f"/v1/invitations/{cid}/seller-1/identity", _h(token), {"name": "\x00"}),
        (
            "POST",
            f"/v1/invitations/{cid}/seller-1/identity",
            _h(token),
            {"name": ZHANG["name"], "id_number": "\x00", "id_type": "\x00"},
        ),
        ("GET", f"/v1/contracts/{cid}%00", keys["zhang"], None),
        ("GET", "/v1/contracts", keys["zhang"], {"unit": "\x00"}),
    ]:
        if method == "GET" and body is not None:
            r = client.get(path, headers=headers, params=body)
        else:
            r = client.request(
                method, path, headers={**headers, "Idempotency-Key": path}, json=body
            )
        assert r.status_code < 500, (path, r.text)
        if r.status_code == 200:  # a filter matching nothing
            assert r.json() == {"items": [], "next": None}, (path, r.text)
        else:
            assert r.headers["content-type"].startswith(PROBLEM), (path, r.text)
    # Signed by everyone, filed: agreements with NUL in their free text.
    for field, who, person in (
        ("seller-1", "zhang", ZHANG_P),
        ("seller-2", "li", LI_P),
        ("buyer-1", "buyer", BUYER),
    ):
        assert sign(client, keys[who], cid, field, person).status_code == 200
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201, r.text
    number = r.json()["filing"]
    for kind, body in (
        ("cancellation", {"reason": "\x00"}),
        ("change", {"reason": "x", "changes": "改\x00期"}),
        ("cancellation", {"reason": "x" * 100_000}),
    ):
        r = _post(client, f"/v1/filings/{number}/{kind}-agreements", keys["buyer"], json=body)
        assert r.status_code in (413, 422), (kind, r.text)  # type: ignore[attr-defined]
    r = _post(client, f"/v1/filings/{number}%00/cancellation-agreements", keys["buyer"], json={})
    assert r.status_code in (404, 422), r.text  # type: ignore[attr-defined]
    assert _status(client, keys, number) == "ACTIVE"


def test_a_brokerage_without_the_certificate_learns_nothing_of_a_homes_owners(
    api: Api,
) -> None:
    """Fixed: a brokerage drafting a resale with guessed sellers learned from the refusal
    whether they own the home (and, guessing right, held it with a draft). Now the owners'
    certificate number comes first: without it every guess gets the same answer."""
    client, keys, d = api
    setup_resale(client, keys, d)
    answers = []
    for sellers in ((ZHANG, LI), (WANG,), (ZHANG,)):
        body = resale_body(
            "ESF-GUESS", sellers=sellers, certificate="湘（2015）长沙市不动产权第 0000001 号"
        )
        r = _post(client, "/v1/resale-contracts", keys["agency"], json=body)
        assert r.status_code == 422 and r.json()["checks"] == ["CERTIFICATE_MISMATCH"], r.text  # type: ignore[attr-defined]
        answers.append({k: v for k, v in r.json().items() if k != "instance"})  # type: ignore[attr-defined]
    assert answers[0] == answers[1] == answers[2]
    units = client.get("/v1/units", headers=keys["authority"]).json()
    assert [u["status"] for u in units if u["code"] == OLD[0]] == ["REGISTERED"]  # not held
    # With the certificate (the owners showed it), wrong sellers are told as such.
    r = _post(
        client, "/v1/resale-contracts", keys["agency"], json=resale_body("ESF-G2", sellers=(WANG,))
    )
    assert r.status_code == 422 and r.json()["checks"] == ["SELLERS_NOT_OWNERS"], r.text  # type: ignore[attr-defined]
