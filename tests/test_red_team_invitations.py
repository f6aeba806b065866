"""Red team, signing invitations by SMS (issue 15), over HTTP on SQLite and PostgreSQL: a
drafter (developer, brokerage, drafting seller) tries to get hold of a party's token, or to
misuse the platform's SMS channel, with nothing but the documented API; the spool's recovery
is pressed where its processes meet. A test that passes is a defence that held; a fix is named
in its docstring; an open finding is ``xfail(strict=True)`` with the reason."""

from __future__ import annotations

import fcntl
import logging
import re
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from filing import invitations, schema
from filing.invitation_delivery import SpoolCourier, TextMessage, read_smsd_file, smsd_file
from tests.sms import identities_csv, phone_of, sent, token_for
from tests.test_filing_api import BUYER, CODES, CONTRACT, Api, _post, _setup_registry
from tests.test_fund_api import _race, server
from tests.test_invitations import _base, _h, _type, phone_sign
from tests.test_lease_pipeline import lease_body
from tests.test_ownership_api import LI, ZHANG
from tests.test_red_team_rights import _answers_hold_no_token, api
from tests.test_resale_pipeline import AGENT, WANG, resale_body, setup_resale

__all__ = ["api", "server"]  # the fixtures

ZHANG_P = (ZHANG["name"], ZHANG["id_number"])
LI_P = (LI["name"], LI["id_number"])

ACCOMPLICE = ("李小四", "430102199202022222")  # someone whose phone the developer holds


def _messages(d: Any) -> list[TextMessage]:
    return [read_smsd_file(p.read_bytes()) for p in sorted(d.courier.outgoing.glob("*"))]


def _load(client: Any, keys: dict[str, dict[str, str]], kind: str, body: str) -> Any:
    return _post(
        client,
        f"/v1/departments/{kind}",
        {**keys["authority"], "content-type": "text/csv"},
        content=body.encode(),
    )


def _invitation_rows(d: Any, cid: str, field: str) -> int:
    t = schema.signing_invitations
    with d.log.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(t.c.contract_id == cid, t.c.field == field)
            ).scalar_one()
        )


# -- what the drafter types never reaches the phone as the platform's words -----------------


def test_control_characters_in_names_and_numbers_are_refused(api: Api) -> None:
    """Fixed: a party's name and a contract number with a newline were drafted (the name and
    number go into the contract and the SMS). Now a problem, and nothing is sent."""
    client, keys, d = api
    _setup_registry(client, keys)
    buyer = CONTRACT["buyers"][0]  # type: ignore[index]
    for number, name in [
        ("HT-NL-1", "王小明\n\nTo: 8613700000000"),
        ("HT-NL-2\nTo: 8613700000000", BUYER[0]),
        ("HT-NL-3", "王小明\r"),
    ]:
        body = {**CONTRACT, "number": number, "buyers": [{**buyer, "name": name}]}
        r = _post(client, "/v1/contracts", keys["developer"], json=body)
        assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert not _messages(d) and not list(d.courier.staging.iterdir())


def test_the_drafter_writes_no_link_into_the_platforms_message(api: Api) -> None:
    """Fixed: the drafter's typed name and contract number went into the SMS as they were, so
    a developer could have the platform's own 【网签】 message carry a link of its choosing
    (phishing with the government's sender). Now the message greets the party by the name of
    record and names the contract only by a number without links."""
    client, keys, d = api
    _setup_registry(client, keys)
    buyer = CONTRACT["buyers"][0]  # type: ignore[index]
    evil = "https://evil.example/sign#contract=x&field=buyer-1&token=EVIL"
    body = {
        **CONTRACT,
        "number": "HT-1 evil.example/x",
        "buyers": [{**buyer, "name": f"王小明 请改用 {evil}"}],
    }
    r = _post(client, "/v1/contracts", keys["developer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    [message] = _messages(d)
    assert "evil" not in message.text, message.text
    assert message.text.startswith(f"【网签】{BUYER[0]}您好"), message.text
    assert len(re.findall(r"https?://", message.text)) == 1, message.text
    # The real party still signs with it (after the seller's seal).
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    check = client.post(
        _base(cid, "buyer-1") + "/identity",
        headers=_h(token_for(d, cid, "buyer-1")),
        json={"name": BUYER[0], "id_number": BUYER[1]},
    )
    assert check.status_code == 422, check.text  # the name on the draft is not the person's


def test_a_plain_contract_number_is_in_the_message(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    for number in ("HT-2026-000001", "长预（2026）第123号"):
        body = {**CONTRACT, "number": number}
        r = _post(client, "/v1/contracts", keys["developer"], json=body)
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        [message] = _messages(d)
        assert f"合同{number}请您作为买受人签署" in message.text, message.text
        for p in d.courier.outgoing.iterdir():
            p.unlink()
        cid = r.json()["id"]  # type: ignore[attr-defined]
        assert _post(client, f"/v1/contracts/{cid}/withdraw", keys["developer"]).status_code == 200  # type: ignore[attr-defined]


# -- the police's extract: only a plain mobile number is a phone of record ------------------


def test_a_phone_of_record_is_eleven_ascii_digits_or_the_extract_is_refused(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    for phone in (
        "138 0000 1234",
        "+8613800001234",
        "8613800001234",
        "１３８００００１２３４",  # full-width
        "١٣٨٠٠٠٠١٢٣٤",  # Arabic-Indic
        "13800001234\u200b",
        "1" * 10_000,
        "12800001234",
    ):
        r = _load(
            client, keys, "identities", f"id_number,name,phone\n{BUYER[1]},{BUYER[0]},{phone}\n"
        )
        assert r.status_code == 422 and _type(r) == "bad-extract", (phone, r.text)  # type: ignore[attr-defined]
    # The extract loaded before stands: the draft goes to that phone.
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert [m.phone for m in _messages(d)] == [phone_of(BUYER[1])]


# -- the drafter never holds a token --------------------------------------------------------


def test_replays_errors_openapi_and_logs_hold_no_token_or_phone(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An idempotent replay of a draft or a re-issue answers as before and sends nothing
    again; a refused re-issue, the OpenAPI document and the server's log records hold no token,
    no phone number and no name."""
    client, keys, d = api
    caplog.set_level(logging.DEBUG)
    _setup_registry(client, keys)
    dev = {**keys["developer"], "Idempotency-Key": "draft-once"}
    first = client.post("/v1/contracts", headers=dev, json=CONTRACT)
    again = client.post("/v1/contracts", headers=dev, json=CONTRACT)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    cid = first.json()["id"]
    assert len(sent(d, cid, "buyer-1")) == 1
    re_h = {**keys["developer"], "Idempotency-Key": "reissue-once"}
    path = f"/v1/contracts/{cid}/invitations/buyer-1"
    answers = [client.post(path, headers=re_h) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201] and answers[0].json() == answers[1].json()
    assert len(sent(d, cid, "buyer-1")) == 2
    for _ in range(invitations.MAX_PER_FIELD - 2):
        assert _post(client, path, keys["developer"]).status_code == 201  # type: ignore[attr-defined]
    refused = _post(client, path, keys["developer"])
    assert refused.status_code == 409 and _type(refused) == "too-many-invitations"  # type: ignore[attr-defined]
    spec = client.get("/openapi.json")
    tokens = [t for _, t in sent(d, cid, "buyer-1")]
    assert len(tokens) == invitations.MAX_PER_FIELD
    for r in (first, again, *answers, refused, spec):
        assert not any(t in r.text for t in tokens)  # type: ignore[attr-defined]
        assert phone_of(BUYER[1]) not in r.text  # type: ignore[attr-defined]
    assert "token" not in spec.json()["components"]["schemas"]["InvitationIssued"]["properties"]
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    assert phone_sign(client, cid, "buyer-1", tokens[-1], BUYER).status_code == 201
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() + str(r.args) for r in server_side)
    for value in (*tokens, phone_of(BUYER[1]), BUYER[0], BUYER[1]):
        assert value not in logged, value


def test_a_party_named_with_an_accomplices_id_number_cannot_be_signed_for(api: Api) -> None:
    """The developer names the real buyer but types the ID number of someone whose phone it
    holds: the SMS goes to that phone, and there the token passes no identity check, neither
    as the buyer (the records name the accomplice) nor as the accomplice (not the party)."""
    client, keys, d = api
    _setup_registry(client, keys)
    people = [BUYER, ACCOMPLICE]
    households = "".join(f"{i},1,,\n" for _, i in people)
    assert (
        _load(
            client, keys, "households", f"id_number,local,spouse,minor_children\n{households}"
        ).status_code
        == 201
    )  # type: ignore[attr-defined]
    assert _load(client, keys, "identities", identities_csv(people)).status_code == 201  # type: ignore[attr-defined]
    body = {**CONTRACT, "buyers": [{"name": BUYER[0], "id_number": ACCOMPLICE[1]}]}
    r = _post(client, "/v1/contracts", keys["developer"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert [p for p, _ in sent(d, cid, "buyer-1")] == [phone_of(ACCOMPLICE[1])]
    token = token_for(d, cid, "buyer-1")
    for person in ((BUYER[0], ACCOMPLICE[1]), ACCOMPLICE, BUYER):
        check = client.post(
            _base(cid, "buyer-1") + "/identity",
            headers=_h(token),
            json={"name": person[0], "id_number": person[1]},
        )
        assert check.status_code == 422 and _type(check) == "identity-rejected", check.text
    key = client.post(
        _base(cid, "buyer-1") + "/start", headers=_h(token), json={"public_key_pem": "x"}
    )
    assert key.status_code in (409, 422), key.text


def test_a_field_with_no_phone_of_record_gets_no_token_by_any_route(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    assert (
        _load(
            client, keys, "identities", f"id_number,name,phone\n{BUYER[1]},{BUYER[0]},\n"
        ).status_code
        == 201
    )  # type: ignore[attr-defined]
    body = {**CONTRACT, "buyers": [{**CONTRACT["buyers"][0], "phone": "13700009999"}]}  # type: ignore[index]
    r = _post(client, "/v1/contracts", keys["developer"], json=body)
    assert r.status_code == 201 and r.json()["invitations"][0]["sent"] is False, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for _ in range(invitations.MAX_PER_FIELD + 1):  # nothing sent, nothing counted
        again = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
        assert again.status_code == 201 and again.json()["sent"] is False, again.text  # type: ignore[attr-defined]
    assert not _messages(d) and _invitation_rows(d, cid, "buyer-1") == 0


# -- flooding -------------------------------------------------------------------------------


def test_racing_reissues_send_no_more_than_the_limit(server: Any) -> None:
    """Fixed: on PostgreSQL ten re-issues at once each counted the field's invitations before
    any committed, and each sent an SMS (the count is taken under the contract's row lock
    now). SQLite serialises its writers."""
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)  # type: ignore[arg-type]
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        cid = r.json()["id"]  # type: ignore[attr-defined]
    path = f"/v1/contracts/{cid}/invitations/buyer-1"
    answers = _race(base, keys["developer"], [(path, {})] * 10)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * (invitations.MAX_PER_FIELD - 1) + [409] * 6, [a.text for a in answers]
    assert len(sent(d, cid, "buyer-1")) == invitations.MAX_PER_FIELD
    assert _invitation_rows(d, cid, "buyer-1") == invitations.MAX_PER_FIELD
    t = schema.signing_invitations
    with d.log.engine.connect() as conn:
        live = conn.execute(
            select(func.count()).where(t.c.contract_id == cid, t.c.revoked_at.is_(None))
        ).scalar_one()
    assert live == 1


def test_drafting_again_and_again_does_not_flood_a_phone(api: Api) -> None:
    """Fixed: the limit was per field and draft, so a drafter that withdrew and drafted
    again sent the same person one more SMS each time. Now one drafter sends one person at
    most ``MAX_PER_PERSON_PER_DAY`` invitations a day; the draft past it is refused whole."""
    client, keys, d = api
    _setup_registry(client, keys)
    limit = invitations.MAX_PER_PERSON_PER_DAY
    for n in range(limit + 2):
        body = {**CONTRACT, "number": f"HT-FLOOD-{n}"}
        r = _post(client, "/v1/contracts", keys["developer"], json=body)
        if n >= limit:
            assert r.status_code == 409 and _type(r) == "too-many-invitations", r.text  # type: ignore[attr-defined]
            continue
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        cid = r.json()["id"]  # type: ignore[attr-defined]
        assert _post(client, f"/v1/contracts/{cid}/withdraw", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    to_buyer = [m for m in _messages(d) if m.phone == phone_of(BUYER[1])]
    assert len(to_buyer) == limit
    # The refused drafts held nothing: the unit is free for the next day's draft.
    with d.log.engine.connect() as conn:
        drafts = conn.execute(select(func.count()).select_from(schema.contracts)).scalar()
    assert drafts == limit


# -- consistency: refused drafts and recovery -----------------------------------------------


def test_a_refused_draft_leaves_no_message(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    for body in (
        {**CONTRACT, "unit_code": CODES[1]},  # the number again
        {**CONTRACT, "number": "HT-OTHER"},  # the unit again
    ):
        r = _post(client, "/v1/contracts", keys["developer"], json=body)
        assert r.status_code == 409, r.text  # type: ignore[attr-defined]
    assert len(_messages(d)) == 1 and not list(d.courier.staging.iterdir())


def test_drafts_racing_for_a_unit_send_the_winners_message_only(server: Any) -> None:
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
    calls = [("/v1/contracts", {**CONTRACT, "number": f"HT-RACE-{i}"}) for i in range(4)]
    answers = _race(base, keys["developer"], calls)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    [won] = [a.json()["id"] for a in answers if a.status_code == 201]
    assert len(_messages(d)) == 1 and len(sent(d, won, "buyer-1")) == 1
    assert not list(d.courier.staging.iterdir())


def _as_if_left_staged(d: Any, cid: str) -> list[Path]:
    """Move this contract's messages back into staging, as a process that died after its
    commit, before the move, would have left them."""
    moved = []
    for path in d.courier.outgoing.glob("wq-*.sms"):
        text = read_smsd_file(path.read_bytes()).text
        if f"contract={cid}&" in text:
            path.rename(d.courier.staging / path.name)
            moved.append(d.courier.staging / path.name)
    return moved


def test_recovery_drops_messages_of_revoked_and_used_invitations(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    cid = r.json()["id"]  # type: ignore[attr-defined]
    [old] = [p.name for p in d.courier.outgoing.iterdir()]
    assert (
        _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"]).status_code
        == 201
    )  # type: ignore[attr-defined]
    (d.courier.outgoing / old).rename(d.courier.staging / old)  # the revoked one
    assert d.settle_staged_messages() == (0, 1)
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    assert (
        phone_sign(client, cid, "buyer-1", token_for(d, cid, "buyer-1"), BUYER).status_code == 201
    )
    assert len(_as_if_left_staged(d, cid)) == 1  # the used one
    assert d.settle_staged_messages() == (0, 1)
    assert not _messages(d) and not list(d.courier.staging.iterdir())


def test_recovery_sends_nothing_for_a_withdrawn_draft(api: Api) -> None:
    """Fixed: a message left staged for a draft withdrawn before the next start was sent
    (its invitation was neither revoked nor used), a link that opens nothing. Now only an
    invitation that can still be used has its message sent."""
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert _post(client, f"/v1/contracts/{cid}/withdraw", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    assert len(_as_if_left_staged(d, cid)) == 1
    assert d.settle_staged_messages() == (0, 1)
    assert not _messages(d)


def test_recovery_racing_a_live_commit_neither_fails_nor_sends_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fixed: a start-up recovery that opened a staged file just before its (live) process
    moved it and let go of it found it gone when it went to move it, and the start failed
    with FileNotFoundError. The live process's move is forced into that moment."""
    courier = SpoolCourier(tmp_path / "staged", tmp_path / "outgoing")
    live = courier.staged()
    send = live.__enter__()
    send(TextMessage("13800001111", "x https://x/sign#contract=c&field=buyer-1&token=t", "aa" * 32))
    real = fcntl.flock
    moved = []

    def flock(fd: int, op: int) -> None:
        if op & fcntl.LOCK_NB and not moved:  # recovery's try, after it opened the file
            moved.append(live.__exit__(None, None, None))  # the live process commits
        real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    courier.recover(lambda sha: True)
    assert moved and len(list(courier.outgoing.iterdir())) == 1
    assert not list(courier.staging.iterdir())


def test_spool_files_are_private_and_named_by_the_platform(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    [path] = list(d.courier.outgoing.iterdir())
    assert re.fullmatch(r"wq-[0-9a-f]{16}\.sms", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (d.courier.staging, d.courier.outgoing):
        assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    raw = path.read_bytes()
    head = raw.split(b"\n\n", 1)[0].decode().splitlines()
    assert [h.split(":", 1)[0] for h in head] == ["To", "Alphabet", "X-Wangqian-Invitation"]
    assert raw == smsd_file(read_smsd_file(raw))


def test_a_drafter_learns_nothing_of_a_strangers_phone(api: Api) -> None:
    """Fixed: ``sent_to`` (138****5678) told a drafter 7 of the 11 digits of the phone of
    record of any ID number it typed as a lessee. The answer now says only ``sent``."""
    client, keys, d = api
    setup_resale(client, keys, d)
    people = [BUYER, ZHANG_P, LI_P, AGENT, WANG, ACCOMPLICE]
    assert _load(client, keys, "identities", identities_csv(people)).status_code == 201  # type: ignore[attr-defined]
    body = lease_body(number="ZL-PROBE", lessees=(("某人", ACCOMPLICE[1]),))
    r = _post(client, "/v1/lease-contracts", keys["zhang"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert phone_of(ACCOMPLICE[1])[-4:] not in r.text  # type: ignore[attr-defined]


def test_recovery_sends_a_committed_message_whatever_its_length(tmp_path: Path) -> None:
    """Fixed: recovery read the first 4 KiB of a staged file and decoded them; a message
    whose text passed that (a long name of record: the police's extract bounds none) was cut
    inside a character and dropped although its invitation was committed. Only the headers
    decide now."""
    courier = SpoolCourier(tmp_path / "staged", tmp_path / "outgoing")
    text = "【网签】" + "王" * 3000 + "您好 https://x/sign#contract=c&field=buyer-1&token=t"
    message = TextMessage("13800001111", text, "cd" * 32)
    (courier.staging / "wq-0123456789abcdef.sms").write_bytes(smsd_file(message))
    assert courier.recover(lambda sha: sha == "cd" * 32) == (1, 0)
    [path] = list(courier.outgoing.iterdir())
    assert read_smsd_file(path.read_bytes()) == message


def test_a_drafting_seller_gets_no_token_of_its_co_owner_or_buyer(api: Api) -> None:
    """张三 drafts the resale of the home he owns with 李四 and has every invitation sent
    again: each goes to its own party's phone; nothing 张三 can read holds 李四's or the
    buyer's token, and his own (on his own phone) opens neither of their fields."""
    client, keys, d = api
    setup_resale(client, keys, d)
    body = {
        **resale_body("ESF-SELLER-1"),
        "buyers": [{"name": BUYER[0], "id_number": BUYER[1], "phone": "13700009999"}],
    }
    r = _post(client, "/v1/resale-contracts", keys["zhang"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    answers = [r]
    for field in ("seller-2", "buyer-1"):
        again = _post(client, f"/v1/contracts/{cid}/invitations/{field}", keys["zhang"])
        assert again.status_code == 201, again.text  # type: ignore[attr-defined]
        answers.append(again)
    answers += [
        client.get(f"/v1/contracts/{cid}", headers=keys["zhang"]),
        client.get("/v1/contracts", headers=keys["zhang"]),
        client.get("/v1/events", headers=keys["agency"], params={"after": 0}),
    ]
    _answers_hold_no_token(d, cid, *answers)
    phones = {f: {p for p, _ in sent(d, cid, f)} for f in ("seller-1", "seller-2", "buyer-1")}
    assert phones == {
        "seller-1": {phone_of(ZHANG["id_number"])},
        "seller-2": {phone_of(LI["id_number"])},
        "buyer-1": {phone_of(BUYER[1])},  # never the number typed into the contract
    }
    own = token_for(d, cid, "seller-1")
    for field in ("seller-2", "buyer-1"):
        v = client.get(_base(cid, field), headers=_h(own))
        assert v.status_code == 403 and _type(v) == "invitation-elsewhere", v.text
