"""Invitations go to the party's phone of record through the SMS gateway's spool, never to
the drafter: what is sent, to whom, how often, and that a crash between the draft's commit
and the message's move neither loses an invitation nor sends one that does not exist."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from filing import invitations, schema
from filing.deployment import ConfigError, DeploymentConfig
from filing.invitation_delivery import (
    DeliveryError,
    SpoolCourier,
    TextMessage,
    invitation_in,
    masked,
    read_smsd_file,
    smsd_file,
)
from tests.sms import identities_csv, phone_of, sent, token_for
from tests.test_filing_api import BUYER, CONTRACT, Api, _post, _setup_registry, api
from tests.test_invitations import _type, phone_sign

__all__ = ["api"]  # the fixture

SHA = "ab" * 32


def _message(phone: str = "13800001111", sha: str = SHA) -> TextMessage:
    return TextMessage(phone, "【网签】合同 https://x/sign#contract=c&field=buyer-1&token=t", sha)


def test_a_message_is_in_smsd_format_and_reads_back() -> None:
    raw = smsd_file(_message())
    head, _, body = raw.decode().partition("\n\n")
    assert head.splitlines()[:2] == ["To: 8613800001111", "Alphabet: UTF-8"]
    assert body.startswith("【网签】")
    assert read_smsd_file(raw) == _message()
    assert invitation_in(_message().text) == ("c", "buyer-1", "t")
    assert masked("13800001111") == "138****1111"
    for bad in (b"", b"To: 8613800001111\n\nno invitation header\n", b"\xff\xfe"):
        with pytest.raises((ValueError, UnicodeDecodeError)):
            read_smsd_file(bad)


def test_staged_messages_go_out_on_success_and_vanish_on_failure(tmp_path: Path) -> None:
    courier = SpoolCourier(tmp_path / "staged", tmp_path / "outgoing")
    with pytest.raises(RuntimeError), courier.staged() as send:
        send(_message())
        assert len(list(courier.staging.iterdir())) == 1
        raise RuntimeError("the draft's transaction failed")
    assert not list(courier.staging.iterdir()) and not list(courier.outgoing.iterdir())
    with courier.staged() as send:
        send(_message())
        send(_message("13900002222"))
        assert not list(courier.outgoing.iterdir())  # nothing before the commit
    out = sorted(read_smsd_file(p.read_bytes()).phone for p in courier.outgoing.iterdir())
    assert out == ["13800001111", "13900002222"] and not list(courier.staging.iterdir())
    assert all(p.stat().st_mode & 0o077 == 0 for p in courier.outgoing.iterdir())


def _stage_and_die(staging: str, outgoing: str, sha: str) -> None:
    """A process that stages a message and dies before its transaction's end."""
    courier = SpoolCourier(Path(staging), Path(outgoing))
    with courier.staged() as send:
        send(_message(sha=sha))
        os._exit(0)


def test_recovery_sends_the_committed_drops_the_rest_and_spares_the_living(
    tmp_path: Path,
) -> None:
    courier = SpoolCourier(tmp_path / "staged", tmp_path / "outgoing")
    ctx = multiprocessing.get_context("fork")
    for sha in ("11" * 32, "22" * 32):
        p = ctx.Process(
            target=_stage_and_die, args=(str(courier.staging), str(courier.outgoing), sha)
        )
        p.start()
        p.join()
    (courier.staging / ".wq-0000.sms").write_bytes(b"To: 86138")  # half written, long ago
    os.utime(courier.staging / ".wq-0000.sms", (0, 0))
    (courier.staging / "wq-0001.sms").write_bytes(b"garbage")  # unreadable: dropped
    with courier.staged() as send:  # a live transaction in this process: left alone
        send(_message(sha="33" * 32))
        sent_, dropped = courier.recover(lambda sha: sha in ("11" * 32, "33" * 32))
        assert (sent_, dropped) == (1, 3)
        assert len(list(courier.staging.glob("wq-*.sms"))) == 1  # the live one
    shas = sorted(
        read_smsd_file(p.read_bytes()).invitation_sha256 for p in courier.outgoing.iterdir()
    )
    assert shas == ["11" * 32, "33" * 32]


def test_an_outgoing_directory_on_another_file_system_is_refused(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system here")
    with pytest.raises(DeliveryError, match="file system"):
        SpoolCourier(tmp_path / "staged", other / f"wq-test-{os.getpid()}")


def test_a_relative_outgoing_directory_is_refused_at_load() -> None:
    # Resolved against each process's working directory, one deployment's workers (or
    # its `admin` commands) would spool to different places: refused, not guessed.
    with pytest.raises(ConfigError, match="sms_outgoing"):
        DeploymentConfig.from_json('{"sms_outgoing": "spool/outgoing"}')
    config = DeploymentConfig.from_json('{"sms_outgoing": "/var/spool/sms/outgoing"}')
    assert config.sms_outgoing == "/var/spool/sms/outgoing"
    assert DeploymentConfig.from_json("{}").sms_outgoing == ""


def test_a_draft_committed_before_a_crash_still_reaches_the_phone(api: Api) -> None:
    """The process died after the draft committed, before it moved the message: the next
    start sends it. A message of a draft that never committed is dropped."""
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    cid = r.json()["id"]  # type: ignore[attr-defined]
    [path] = list(d.courier.outgoing.glob("wq-*.sms"))
    path.rename(d.courier.staging / path.name)  # as the dead process left it
    (d.courier.staging / "wq-dead.sms").write_bytes(smsd_file(_message(sha="44" * 32)))
    assert d.settle_staged_messages() == (1, 1)
    token = token_for(d, cid, "buyer-1")
    assert _post(client, f"/v1/contracts/{cid}/seal", keys["developer"]).status_code == 200  # type: ignore[attr-defined]
    assert phone_sign(client, cid, "buyer-1", token, BUYER).status_code == 201


def test_no_phone_of_record_no_invitation_until_the_records_have_one(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    _post(
        client,
        "/v1/departments/identities",
        {**keys["authority"], "content-type": "text/csv"},
        content=f"id_number,name\n{BUYER[1]},{BUYER[0]}\n".encode(),
    )
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cid = r.json()["id"]  # type: ignore[attr-defined]
    assert r.json()["invitations"] == [  # type: ignore[attr-defined]
        {
            "field": "buyer-1",
            "expires_at": r.json()["invitations"][0]["expires_at"],
            "sent": False,
        }  # type: ignore[attr-defined]
    ]
    with d.log.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(schema.signing_invitations)).scalar() == 0
        )
    assert not list(d.courier.outgoing.iterdir())
    # A phone number the developer types into the contract is never used.
    body = {
        **CONTRACT,
        "number": "HT-PHONE",
        "buyers": [{**CONTRACT["buyers"][0], "phone": "13700009999"}],
    }  # type: ignore[dict-item]
    r = _post(client, "/v1/contracts", keys["other"], json=body)
    assert not list(d.courier.outgoing.iterdir())
    # The police's extract gains the number: the developer has the invitation sent.
    _post(
        client,
        "/v1/departments/identities",
        {**keys["authority"], "content-type": "text/csv"},
        content=identities_csv([BUYER]).encode(),
    )
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
    assert r.status_code == 201 and r.json()["sent"] is True, r.text  # type: ignore[attr-defined]
    assert [p for p, _ in sent(d, cid, "buyer-1")] == [phone_of(BUYER[1])]


def test_a_drafter_cannot_flood_a_phone_with_invitations(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)
    cid = r.json()["id"]  # type: ignore[attr-defined]
    for _ in range(invitations.MAX_PER_FIELD - 1):
        r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = _post(client, f"/v1/contracts/{cid}/invitations/buyer-1", keys["developer"])
    assert r.status_code == 409 and _type(r) == "too-many-invitations", r.text  # type: ignore[attr-defined]
    assert len(sent(d, cid, "buyer-1")) == invitations.MAX_PER_FIELD
    # The newest still signs; the refused request revoked nothing.
    _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])
    r = phone_sign(client, cid, "buyer-1", token_for(d, cid, "buyer-1"), BUYER)
    assert r.status_code == 201, r.text
