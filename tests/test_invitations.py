"""Signing invitations over HTTP on SQLite and PostgreSQL: a party signs with the one-time
token the platform sent to their phone of record (never to the drafter), no API key; every
misuse of a token is refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from sqlalchemy import select, update

from filing import schema
from filing.idempotency import idempotency_keys
from filing.invitation_delivery import read_smsd_file
from filing.invitations import InvitationUsed
from filing.platform import Platform
from keys.pki import new_key
from ledger.database import write_transaction
from tests.sms import phone_of, sent, token_for
from tests.test_filing_api import BUYER, CONTRACT, Api, _post, _setup_registry, api
from tests.test_ownership_api import LI, ZHANG
from tests.test_resale_pipeline import AGENT, resale_body, setup_resale, sign

__all__ = ["api"]  # the fixture


def _type(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"].rsplit("/", 1)[1])


def _base(cid: str, field: str) -> str:
    return f"/v1/invitations/{cid}/{field}"


def _h(token: str) -> dict[str, str]:
    return {"X-Invitation": token}


def phone_sign(client: Any, cid: str, field: str, token: str, person: tuple[str, str]) -> Any:
    """What /sign does: identity check, then a P-256 key signs the signed attributes with
    ECDSA-SHA256 (as WebCrypto does) and sends r || s."""
    r = client.post(
        _base(cid, field) + "/identity",
        headers=_h(token),
        json={"name": person[0], "id_number": person[1]},
    )
    assert r.status_code == 200, r.text
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = client.post(_base(cid, field) + "/start", headers=_h(token), json={"public_key_pem": pem})
    assert r.status_code == 200, r.text
    attrs = base64.b64decode(r.json()["signed_attributes"])
    assert base64.b64decode(r.json()["digest_to_sign"]) == hashlib.sha256(attrs).digest()
    return client.post(
        _base(cid, field) + "/finish", headers=_h(token), json={"signature": raw_sign(key, attrs)}
    )


def raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def _draft(client: Any, keys: dict[str, dict[str, str]]) -> tuple[str, dict[str, Any]]:
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    return body["id"], {i["field"]: i for i in body["invitations"]}


def test_a_buyer_signs_with_the_invitation_and_the_contract_is_filed(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    dev = {**keys["developer"], "Idempotency-Key": "draft-phone"}
    r = client.post("/v1/contracts", json=CONTRACT, headers=dev)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    [inv] = r.json()["invitations"]  # the buyer's; the developer seals with its key
    # The developer learns where it went, masked, and nothing that opens it.
    assert inv["field"] == "buyer-1" and inv["sent"] is True
    assert set(inv) == {"field", "expires_at", "sent"}
    [(phone, token)] = sent(d, cid, "buyer-1")
    assert phone == phone_of(BUYER[1]) and len(base64.urlsafe_b64decode(token + "=")) >= 16
    [message] = [read_smsd_file(p.read_bytes()) for p in d.courier.outgoing.glob("wq-*.sms")]
    assert f"/sign#contract={cid}&field=buyer-1&token={token}" in message.text
    assert BUYER[1] not in message.text and "北京时间" in message.text
    assert not list(d.courier.staging.iterdir())  # moved to the gateway on commit
    # A repeat of the request answers as the first did and sends nothing again; the token
    # was never stored, neither as the invitation (its hash only) nor as the answer.
    again = client.post("/v1/contracts", json=CONTRACT, headers=dev)
    assert again.json() == r.json() and len(sent(d, cid, "buyer-1")) == 1
    with d.log.engine.connect() as conn:
        stored = [bytes(b or b"") for b in conn.execute(select(idempotency_keys.c.body)).scalars()]
        hashes_ = list(conn.execute(select(schema.signing_invitations.c.token_sha256)).scalars())
    assert not any(token.encode() in b for b in stored)
    assert hashes_ == [hashlib.sha256(token.encode()).hexdigest()]

    seen = client.get(_base(cid, "buyer-1"), headers=_h(token)).json()
    assert (seen["role"], seen["name"], seen["next_field"]) == ("买受人", BUYER[0], "seller")
    assert not seen["identity_checked"] and seen["attempts_left"] == 5 and seen["pages"] >= 2
    png = client.get(_base(cid, "buyer-1") + "/pages/0", headers=_h(token))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    r = client.get(_base(cid, "buyer-1") + f"/pages/{seen['pages']}", headers=_h(token))
    assert r.status_code == 404 and _type(r) == "no-such-page"

    # Not the buyer's turn before the developer's seal: refused, the invitation still good.
    client.post(
        _base(cid, "buyer-1") + "/identity",
        headers=_h(token),
        json={"name": BUYER[0], "id_number": BUYER[1]},
    )
    pem = (
        new_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = client.post(
        _base(cid, "buyer-1") + "/start", headers=_h(token), json={"public_key_pem": pem}
    )
    assert r.status_code == 409 and _type(r) == "contract-state", r.text

    r = _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    r = phone_sign(client, cid, "buyer-1", token, BUYER)
    assert r.status_code == 201 and r.json()["filed"], r.text
    state = client.get(f"/v1/contracts/{cid}", headers=keys["buyer"]).json()
    assert state["status"] == "FILED" and state["filing"]["number"] == r.json()["filing"]

    # The phone lost the answer and sends its signature again: the outcome as recorded,
    # nothing signed or filed twice.
    entries = d.log.appended()
    again = client.post(
        _base(cid, "buyer-1") + "/finish",
        headers=_h(token),
        json={"signature": base64.b64encode(b"\0" * 64).decode()},
    )
    assert again.status_code == 201, again.text
    first = r.json()
    assert {k: again.json()[k] for k in ("filing", "log_index", "document_sha256")} == {
        k: first[k] for k in ("filing", "log_index", "document_sha256")
    }
    assert d.log.appended() == entries

    # Used once: every other step refuses it now.
    for method, path, body in [
        ("GET", "", None),
        ("POST", "/identity", {"name": BUYER[0], "id_number": BUYER[1]}),
    ]:
        r = client.request(method, _base(cid, "buyer-1") + path, headers=_h(token), json=body)
        assert r.status_code == 410 and _type(r) == "invitation-used", (path, r.text)


def test_every_misuse_of_a_token_is_refused(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    base = _base(cid, "buyer-1")

    for headers in ({}, _h("nonsense"), _h(token[:-1] + ("A" if token[-1] != "A" else "B"))):
        r = client.get(base, headers=headers)
        assert r.status_code == 401 and _type(r) == "invitation-invalid", r.text
    # Another contract's field, another field of this contract: the token opens neither.
    for other in (_base(str(uuid.uuid4()), "buyer-1"), _base(cid, "seller"), _base(cid, "buyer-2")):
        r = client.get(other, headers=_h(token))
        assert r.status_code == 403 and _type(r) == "invitation-elsewhere", (other, r.text)
    # Signing starts only after the identity check.
    pem = (
        new_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": pem})
    assert r.status_code == 409 and _type(r) == "identity-not-checked", r.text

    # Wrong identities: each counts; the fifth locks the invitation, the right one too late.
    wrong = [
        {"name": "李四", "id_number": BUYER[1]},  # not the party's name
        {"name": BUYER[0], "id_number": "430102199001019999"},  # not the party's number
        {"name": "张三", "id_number": "430104196001010011"},  # someone else entirely
        {"name": BUYER[0], "id_number": BUYER[1], "id_type": "护照"},
        {"name": BUYER[0] + " ", "id_number": BUYER[1]},
    ]
    for n, body in enumerate(wrong, start=1):
        r = client.post(base + "/identity", headers=_h(token), json=body)
        assert r.status_code == 422 and _type(r) == "identity-rejected", r.text
        assert r.json()["attempts_left"] == 5 - n
        assert "430102" not in r.json().get("detail", "")  # no ID number echoed
    right = {"name": BUYER[0], "id_number": BUYER[1]}
    r = client.post(base + "/identity", headers=_h(token), json=right)
    assert r.status_code == 403 and _type(r) == "invitation-locked", r.text

    # The drafter issues it again: the old token is revoked, the new one signs.
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["other"])
    assert r.status_code == 404 and _type(r) == "unknown-contract"  # not their contract
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["buyer"])
    assert r.status_code == 404 and _type(r) == "unknown-contract"  # a person drafts resales
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["bank"])
    assert r.status_code == 403 and _type(r) == "forbidden"
    r = _post(client, f"/v1/contracts/{cid}/invitations/seller", keys["developer"])
    assert r.status_code == 403 and _type(r) == "not-your-field"
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.json()["sent"] is True  # type: ignore[attr-defined]
    assert "token" not in r.json()  # type: ignore[attr-defined]
    fresh = token_for(d, cid, "buyer-1")
    assert fresh != token
    r = client.get(base, headers=_h(token))
    assert r.status_code == 401 and _type(r) == "invitation-invalid"

    # A signature that is not 64 raw bytes, or not the party's: refused, token still good.
    client.post(base + "/identity", headers=_h(fresh), json=right)
    client.post(base + "/start", headers=_h(fresh), json={"public_key_pem": pem})
    for bad in (base64.b64encode(b"\1" * 70).decode(), raw_sign(new_key(), b"other")):
        r = client.post(base + "/finish", headers=_h(fresh), json={"signature": bad})
        assert r.status_code == 422 and _type(r) == "signature-rejected", r.text
    assert client.get(base, headers=_h(fresh)).status_code == 200

    # Expired with the draft.
    with write_transaction(d.log.engine) as conn:
        conn.execute(
            update(schema.signing_invitations).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    r = client.get(base, headers=_h(fresh))
    assert r.status_code == 410 and _type(r) == "invitation-expired", r.text


def test_a_resale_is_signed_by_its_owners_and_buyer_with_invitations(api: Api) -> None:
    client, keys, d = api
    setup_resale(client, keys, d)
    r = _post(client, "/v1/resale-contracts", keys["agency"], json=resale_body())
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    fields = [i["field"] for i in r.json()["invitations"]]  # type: ignore[attr-defined]
    assert fields == ["seller-1", "seller-2", "buyer-1"]  # the agent signs with a key
    # Each to its own party's phone of record.
    for field, person in (("seller-1", ZHANG), ("seller-2", LI)):
        assert [p for p, _ in sent(d, cid, field)] == [phone_of(person["id_number"])]
    assert [p for p, _ in sent(d, cid, "buyer-1")] == [phone_of(BUYER[1])]
    # The brokerage that drafted it re-issues; a seller's token does not open the buyer's field.
    r = _post(client, f"/v1/contracts/{cid}/invitations/seller-2", keys["agency"])
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    invited = {f: token_for(d, cid, f) for f in fields}
    r = client.get(_base(cid, "buyer-1"), headers=_h(invited["seller-1"]))
    assert r.status_code == 403 and _type(r) == "invitation-elsewhere"
    for field, person in [
        ("seller-1", (ZHANG["name"], ZHANG["id_number"])),
        ("seller-2", (LI["name"], LI["id_number"])),
        ("buyer-1", BUYER),
    ]:
        r = phone_sign(client, cid, field, invited[field], person)
        assert r.status_code == 200 and r.json() == {"filed": False}, r.text
    r = sign(client, keys["agent"], cid, "agent", AGENT)
    assert r.status_code == 201 and r.json()["filed"], r.text


def test_a_signature_whose_invitation_cannot_be_consumed_is_not_recorded(api: Api) -> None:
    """The invitation is consumed in the transaction that records the signature: if that
    fails (a racing use, a revocation), nothing of the signature is kept."""
    client, keys, d = api
    _setup_registry(client, keys)
    cid, _ = _draft(client, keys)
    token = token_for(d, cid, "buyer-1")
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    base = _base(cid, "buyer-1")
    client.post(
        base + "/identity", headers=_h(token), json={"name": BUYER[0], "id_number": BUYER[1]}
    )
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    r = client.post(base + "/start", headers=_h(token), json={"public_key_pem": pem})
    attrs = base64.b64decode(r.json()["signed_attributes"])
    der = key.sign(attrs, ec.ECDSA(hashes.SHA256()))

    def used_meanwhile(conn: Any) -> None:
        raise InvitationUsed("used by a racing request")

    service = Platform(d).service
    with pytest.raises(InvitationUsed):
        service.finish_remote_signing(cid, "buyer-1", der, BUYER[1], also=used_meanwhile)
    state = client.get(f"/v1/contracts/{cid}", headers=keys["buyer"]).json()
    assert state["signed"] == ["seller"] and state["status"] == "DRAFT"
    # The invitation itself is still good: the same signature, sent by the phone, files.
    r = client.post(base + "/finish", headers=_h(token), json={"signature": raw_sign(key, attrs)})
    assert r.status_code == 201 and r.json()["filed"], r.text
