"""Red team, refunds of maintenance funds (住宅专项维修资金退还), issue 14: each party's attack
on the refund of a cancelled purchase's deposits, over HTTP on SQLite and PostgreSQL. A
defence that holds keeps its test; a fixed hole keeps the test that found it."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update

from api import auth
from filing.audit import audit_records, check_records
from filing.deployment import Deployment
from filing.maintenance_schema import maintenance_events
from keys.pki import new_key
from signing import remote
from tests.helpers import BIN
from tests.test_audit import drop_guards
from tests.test_filing_api import (
    BUYER,
    CODES,
    CONTRACT,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    api,
    file_contract,
)
from tests.test_fund_api import BANK, _add_key, _bank, _leaf, _race, _type
from tests.test_maintenance import DUE, _cancel, _deposit, _refund, maint_server, mapi
from tests.test_red_team_funds import raw_signed
from tests.test_resale_pipeline import WANG, resale_body, setup_resale, sign
from verifier import fund_statement

__all__ = ["api", "maint_server", "mapi"]  # the fixtures

REFUNDS = "/v1/filings/{}/maintenance/refunds"
USES = "/v1/maintenance/uses"


def _rows(d: Deployment) -> int:
    with d.log.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(maintenance_events)).scalar_one())


def _account(client: Any, headers: dict[str, str], code: str = CODES[0]) -> dict[str, Any]:
    r = client.get(f"/v1/units/{code}/maintenance", headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def _use(client: Any, headers: dict[str, str], number: str, amount: int) -> Any:
    body: dict[str, Any] = {"number": number, "approval": "业主大会决议"}
    body["debits"] = [{"unit": CODES[0], "amount_fen": amount}]
    return _post(client, USES, headers, json=body)


def _agreement(client: Any, keys: dict[str, dict[str, str]], number: str, route: str) -> Any:
    """A change or cancellation agreement (变更 / 解除协议) the developer proposes and both
    parties sign; the answer of the last signature."""
    body: dict[str, str] = {"reason": "双方协商"}
    if route == "change-agreements":
        body["changes"] = "交付日期变更为 2028-12-31。"
    r = _post(client, f"/v1/filings/{number}/{route}", keys["developer"], json=body)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    assert _post(client, f"/v1/contracts/{aid}/seal", keys["developer"]).status_code == 200
    key = new_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    base = f"/v1/contracts/{aid}/remote-signing/buyer-1"
    r = _post(
        client,
        f"{base}/start",
        keys["buyer"],
        json={"public_key_pem": pem, "name": BUYER[0], "id_number": BUYER[1]},
    )
    assert r.status_code in (200, 201), r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    r = _post(
        client,
        f"{base}/finish",
        keys["buyer"],
        json={"signature": base64.b64encode(sig).decode()},
    )
    assert r.status_code == 201, r.text
    return r


# -- a bank: not the designated one, twice, with the wrong statement ---------------------


def test_a_refund_is_of_a_cancelled_purchase_by_its_bank_once(mapi: Api) -> None:
    """Held: a refund is refused while the filing is in force or only changed (a change
    agreement cancels nothing), of a cancelled filing nothing was deposited under, by a
    bank other than the designated one (even one with a certificate of its own), by the
    developer or the buyer, of a resale (nothing is due); a second refund with another
    reference, the same statement replayed, the deposit's own statement or reference
    presented as a refund: refused, nothing recorded."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    path = REFUNDS.format(number)
    deposit = bank.signed("maintenance-deposit", number, DUE, account=CODES[0])
    r = _post(client, f"/v1/filings/{number}/maintenance/deposits", keys["bank"], json=deposit)
    assert r.status_code == 201, r.text
    deposited_ref = json.loads(base64.b64decode(deposit["statement"]))["reference"]

    # A change agreement: the filing stands (CHANGED), nothing to refund.
    _agreement(client, keys, number, "change-agreements")
    r = _refund(client, bank, keys["bank"], number, DUE)
    assert (r.status_code, _type(r)) == (409, "not-cancelled"), r.text
    before = (_rows(d), d.log.appended())

    # Cancelled by agreement (解除协议) this time.
    done = _agreement(client, keys, number, "cancellation-agreements")
    assert done.json()["event"] == "cancelled", done.text
    before = (_rows(d), d.log.appended())
    other_key = _add_key(d, "另一银行", auth.Role.BANK)
    other = _bank(client, other_key, "另一银行")
    attempts = [
        # another bank, its own statement, certificate and key
        (other_key, other.signed("maintenance-refund", number, DUE, account=CODES[0])),
        # the designated bank's statement, posted by another bank's key
        (other_key, bank.signed("maintenance-refund", number, DUE, account=CODES[0])),
        # the developer and the buyer, with the bank's statement in hand
        (keys["developer"], bank.signed("maintenance-refund", number, DUE, account=CODES[0])),
        (keys["buyer"], bank.signed("maintenance-refund", number, DUE, account=CODES[0])),
        (keys["authority"], bank.signed("maintenance-refund", number, DUE, account=CODES[0])),
        # a refund statement of another filing (of another unit), of this one's amount
        (
            keys["bank"],
            bank.signed("maintenance-refund", "CS-2026-999999", DUE, account=CODES[0]),
        ),
        (keys["bank"], bank.signed("maintenance-refund", number, DUE, account=CODES[1])),
        # the deposit's statement presented as the refund
        (keys["bank"], deposit),
        # a refund statement reusing the deposit's reference
        (
            keys["bank"],
            bank.signed(
                "maintenance-refund", number, DUE, account=CODES[0], reference=deposited_ref
            ),
        ),
    ]
    expected = [
        (403, "wrong-bank"),
        (403, "wrong-bank"),
        (403, "forbidden"),
        (403, "forbidden"),
        (403, "forbidden"),
        (422, "statement-mismatch"),
        (422, "wrong-account"),
        (422, "statement-mismatch"),
        (409, "duplicate-statement"),
    ]
    for (headers, body), want in zip(attempts, expected, strict=True):
        r = _post(client, path, headers, json=body)
        assert (r.status_code, _type(r)) == want, r.text
    assert (_rows(d), d.log.appended()) == before

    body = bank.signed("maintenance-refund", number, DUE, account=CODES[0])
    assert _post(client, path, keys["bank"], json=body).status_code == 201
    after = (_rows(d), d.log.appended())
    # Twice: another reference, the same statement (a fresh idempotency key), the same
    # statement under the deposit route.
    r = _refund(client, bank, keys["bank"], number, DUE)
    assert (r.status_code, _type(r)) == (409, "already-refunded"), r.text
    r = _post(client, path, keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (409, "duplicate-statement"), r.text
    r = _post(client, f"/v1/filings/{number}/maintenance/deposits", keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (422, "statement-mismatch"), r.text
    assert (_rows(d), d.log.appended()) == after

    # The refund's idempotency key reused for another body: not a second refund.
    headers = {**keys["bank"], "Idempotency-Key": "refund-again"}
    first = client.post(
        path, headers=headers, json=bank.signed("maintenance-refund", number, DUE, account=CODES[0])
    )
    assert first.status_code == 409, first.text
    account = _account(client, keys["authority"])
    assert (account["balance_fen"], account["refunded_fen"]) == (0, DUE)

    # A cancelled filing nothing was deposited under.
    _, second = file_contract(client, keys, {**CONTRACT, "number": "HT-RED-R-2"})
    assert _cancel(client, keys["court"], second, "(2027)湘0104民初21号").status_code == 201
    after = (_rows(d), d.log.appended())
    for amount in (1, DUE):
        r = _refund(client, bank, keys["bank"], second, amount)
        assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    assert (_rows(d), d.log.appended()) == after
    assert audit_records(d.log.engine, d.bank_issuers()).ok


def test_a_resale_has_no_maintenance_refund(mapi: Api) -> None:
    """Held: a resale owes no maintenance fund: its cancellation refunds none (nor can the
    bank refund the new home's deposit under the resale's number)."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    old = {**REGISTRATION, "registered_on": "2020-01-02"}
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=old)
    assert r.status_code == 200, r.text
    setup_resale(client, keys, d)
    body = resale_body(
        "ESF-RED-R", sellers=(BUYER,), buyers=(WANG,), code=CODES[0], brokerage=False
    )
    r = _post(client, "/v1/resale-contracts", keys["buyer"], json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert sign(client, keys["buyer"], cid, "seller-1", BUYER).status_code == 200
    r = sign(client, keys["wang"], cid, "buyer-1", WANG)
    assert r.status_code == 201, r.text
    resale = str(r.json()["filing"])
    assert _cancel(client, keys["court"], resale, "(2031)湘0104民初3号").status_code == 201
    before = (_rows(d), d.log.appended())
    r = _refund(client, bank, keys["bank"], resale, DUE)
    assert (r.status_code, _type(r)) == (409, "no-maintenance-due"), r.text
    # The registered new home's deposit is the unit's: no refund of it either.
    r = _refund(client, bank, keys["bank"], number, DUE)
    assert (r.status_code, _type(r)) == (409, "not-cancelled"), r.text
    assert (_rows(d), d.log.appended()) == before
    assert _account(client, keys["authority"])["balance_fen"] == DUE


# -- the buyer who cancelled, the next buyer ----------------------------------------------


def test_the_cancelled_buyer_cannot_keep_the_deposit_counted(mapi: Api) -> None:
    """Held: the buyer whose purchase was cancelled buys the same unit again: the new filing
    owes its full amount (the old deposit does not count for it), is not registered on
    it, no use spends it; once refunded, the old deposit is gone from the unit, and a
    second refund (of either filing) is refused. The next buyer's deposit is theirs."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], first, DUE).status_code == 201
    assert _cancel(client, keys["court"], first, "(2027)湘0104民初22号").status_code == 201
    _, again = file_contract(client, keys, {**CONTRACT, "number": "HT-RED-R-3"})
    register = f"/v1/units/{CODES[0]}/registration"
    r = _post(client, register, keys["authority"], json=REGISTRATION)
    assert (r.status_code, _type(r)) == (409, "maintenance-fund-due"), r.text
    r = _use(client, keys["authority"], "WX-RR-1", 1)
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    # The refund of the old purchase, presented under the new filing: it is in force.
    r = _refund(client, bank, keys["bank"], again, DUE)
    assert (r.status_code, _type(r)) == (409, "not-cancelled"), r.text
    assert _refund(client, bank, keys["bank"], first, DUE).status_code == 201
    # Half of the new amount, then registration: still refused.
    assert _deposit(client, bank, keys["bank"], again, DUE // 2).status_code == 201
    r = _post(client, register, keys["authority"], json=REGISTRATION)
    assert (r.status_code, _type(r)) == (409, "maintenance-fund-due"), r.text
    # Only the new deposit is spendable.
    r = _use(client, keys["authority"], "WX-RR-2", DUE // 2 + 1)
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    # The new purchase cancelled too: its own deposit goes back, the first one not again.
    assert _cancel(client, keys["court"], again, "(2027)湘0104民初23号").status_code == 201
    r = _refund(client, bank, keys["bank"], first, DUE)
    assert (r.status_code, _type(r)) == (409, "already-refunded"), r.text
    r = _refund(client, bank, keys["bank"], again, DUE)
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    assert _refund(client, bank, keys["bank"], again, DUE // 2).status_code == 201
    account = _account(client, keys["authority"])
    assert (account["balance_fen"], account["held_fen"], account["refunded_fen"]) == (
        0,
        0,
        DUE + DUE // 2,
    )
    assert audit_records(d.log.engine, d.bank_issuers()).ok


# -- races over HTTP on both databases ----------------------------------------------------


def test_the_same_statement_replayed_at_once_refunds_once(
    maint_server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    """Held: one refund statement sent six times at once (six idempotency keys), then
    uses of the next purchase's deposit racing the refund of the cancelled one: one
    refund; the uses spend only the next buyer's deposit; the balance is never negative."""
    import httpx

    base, keys, d = maint_server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        _, first = file_contract(client, keys)  # type: ignore[arg-type]
        bank = _bank(client, keys["bank"], BANK)
        assert _deposit(client, bank, keys["bank"], first, DUE).status_code == 201
        assert _cancel(client, keys["authority"], first, "(2027)湘0104民初24号").status_code == 201
        body = bank.signed("maintenance-refund", first, DUE, account=CODES[0])
        answers = _race(base, keys["bank"], [(REFUNDS.format(first), body)] * 6)
        assert sorted(a.status_code for a in answers) == [201] + [409] * 5, [
            a.text for a in answers
        ]
        assert {_type(a) for a in answers if a.status_code == 409} <= {
            "already-refunded",
            "duplicate-statement",
        }

        # The next purchase, and the bank's refund of the cancelled one racing its uses.
        contract = {**CONTRACT, "number": "HT-RED-R-4"}
        _, second = file_contract(client, keys, contract)  # type: ignore[arg-type]
        assert _deposit(client, bank, keys["bank"], second, DUE).status_code == 201
        assert _cancel(client, keys["authority"], second, "(2027)湘0104民初25号").status_code == 201
        _, third = file_contract(client, keys, {**CONTRACT, "number": "HT-RED-R-5"})  # type: ignore[arg-type]
        assert _deposit(client, bank, keys["bank"], third, DUE).status_code == 201
        results: list[Any] = [None] * 5
        start = threading.Barrier(5)

        def run(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                start.wait()
                if i == 0:
                    results[i] = _refund(c, bank, keys["bank"], second, DUE)
                else:
                    results[i] = _use(c, keys["authority"], f"WX-RR-RACE-{i}", DUE // 3)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refund, *uses = results
        assert refund.status_code == 201, refund.text
        spent = [u for u in uses if u.status_code == 201]
        assert len(spent) == 3, [u.text for u in uses]  # the third buyer's DUE, thrice a third
        account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["stats"]).json()
        assert account["balance_fen"] == DUE - 3 * (DUE // 3) and account["held_fen"] == 0
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


# -- the operator with database access ----------------------------------------------------


def test_the_audit_catches_refund_rows_changed_inserted_or_removed(mapi: Api) -> None:
    """Broken, fixed: ``wangqian audit`` compared a maintenance row's document hash with its
    entry but never the row's amount with the bank's signed statement it stores: an
    operator who lowered a refund's amount in the table (or raised a deposit's) changed
    every balance, the unit's spendable money and the statistics, and the audit passed.
    Now each statement row is read against its own statement (amount, kind, filing,
    unit, bank, reference) and each use row against its use record; a row without an
    entry and an entry without a row were caught already."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    r = _use(client, keys["authority"], "WX-RR-AUDIT", 100_000)
    assert r.status_code == 201, r.text
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初26号").status_code == 201
    r = _refund(client, bank, keys["bank"], number, DUE - 100_000)
    assert r.status_code == 201, r.text
    refund_index = r.json()["log_index"]
    assert audit_records(d.log.engine, d.bank_issuers()).ok
    e = maintenance_events

    def problems_after(change: Any) -> list[str]:
        with d.log.engine.connect() as conn:
            tx = conn.begin()
            try:
                drop_guards(conn, "maintenance_events")
                change(conn)
                return list(check_records(conn, d.bank_issuers()).problems)
            finally:
                tx.rollback()

    # The refund's amount lowered: the unit seems to keep 1,000 元 of the buyer's money.
    found = problems_after(
        lambda c: c.execute(
            update(e).where(e.c.log_index == refund_index).values(amount_fen=DUE - 200_000)
        )
    )
    assert any("differ from the bank's statement" in p for p in found), found
    # A deposit's amount raised (its balance, then its refund, would follow).
    found = problems_after(
        lambda c: c.execute(update(e).where(e.c.kind == "deposit").values(amount_fen=DUE + 100_000))
    )
    assert any("differ from the bank's statement" in p for p in found), found
    # A use's debit lowered below what its record says.
    found = problems_after(
        lambda c: c.execute(update(e).where(e.c.kind == "use").values(amount_fen=1))
    )
    assert any("use record" in p for p in found), found
    # The refund's bank or reference rewritten.
    found = problems_after(
        lambda c: c.execute(
            update(e).where(e.c.log_index == refund_index).values(reference="FORGED-1")
        )
    )
    assert any("differ from the bank's statement" in p for p in found), found
    # The refund row removed: its entry has no row (and the unit's balance grows).
    found = problems_after(lambda c: c.execute(e.delete().where(e.c.log_index == refund_index)))
    assert any("has no maintenance-fund row" in p for p in found), found
    # A second refund row inserted without an entry in the log.

    def insert_copy(c: Any) -> None:
        row = c.execute(select(e).where(e.c.log_index == refund_index)).one()._asdict()
        c.execute(
            e.insert().values(
                {**row, "log_index": 10**9, "seq": row["seq"] + 1, "reference": "FORGED-2"}
            )
        )

    found = problems_after(insert_copy)
    assert any("has no entry in the log" in p for p in found), found
    assert any("refunded twice" in p for p in found), found


# -- anyone reading ------------------------------------------------------------------------


def test_a_refund_leaks_no_personal_data(mapi: Api) -> None:
    """Held: the refund's log entry, its event on the stream (as the authority, the
    department and the developer read it) name no buyer and no amount; another developer,
    another bank and the cancelled buyer (no owner of record) read no account; another
    bank gets no refund of this filing's statement either."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初27号").status_code == 201
    r = _refund(client, bank, keys["bank"], number, DUE)
    assert r.status_code == 201, r.text
    done = r.json()
    assert BUYER[0] not in r.text and BUYER[1] not in r.text
    data = _leaf(d, done["log_index"])
    for secret in (BUYER[0].encode(), BUYER[1].encode(), str(DUE).encode(), BANK.encode()):
        assert secret not in data
    for who in ("authority", "stats", "developer"):
        events = client.get("/v1/events", headers=keys[who], params={"limit": 500})
        assert events.status_code == 200, events.text
        refunded = [e for e in events.json()["events"] if e["event"] == "maintenance-refunded"]
        assert [e["log_index"] for e in refunded] == [done["log_index"]], who
        text = json.dumps(refunded, ensure_ascii=False)
        assert BUYER[0] not in text and BUYER[1] not in text and str(DUE) not in text, who
    events = client.get("/v1/events", headers=keys["other"], params={"limit": 500}).json()
    assert all(e["filing"] != number for e in events["events"])
    other_key = _add_key(d, "另一银行", auth.Role.BANK)
    path = f"/v1/units/{CODES[0]}/maintenance"
    for headers in (keys["other"], keys["buyer"], keys["developer"], other_key, keys["tax"]):
        assert client.get(path, headers=headers).status_code == 403
    account = _account(client, keys["court"])
    assert BUYER[0] not in json.dumps(account, ensure_ascii=False)
    assert BUYER[1] not in json.dumps(account, ensure_ascii=False)


# -- bad input ------------------------------------------------------------------------------


def test_hostile_refund_statements_are_refused_and_write_nothing(mapi: Api) -> None:
    """Held: amounts zero, negative, fractional, boolean, past 10^15; NUL and control
    characters in the reference, bank or account; extra keys; a statement past 4 KiB;
    malformed base64 and PEM; a NUL in the route's filing number: each a 4xx, nothing
    recorded."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初28号").status_code == 201
    path = REFUNDS.format(number)

    def fields(amount: Any, **changes: Any) -> dict[str, Any]:
        f: dict[str, Any] = {
            "account": CODES[0],
            "amount_fen": amount,
            "at": "2026-12-01T08:00:00Z",
            "bank": BANK,
            "filing": number,
            "kind": "maintenance-refund",
            "reference": f"RR-HOSTILE-{amount!r}",
            "type": "wangqian-fund-statement",
            "v": 1,
        }
        f.update(changes)
        return f

    before = (_rows(d), d.log.appended())
    bodies: list[dict[str, str]] = [
        raw_signed(bank, fields(a)) for a in (0, -DUE, 1.5, True, 10**15 + 1, 2**64, "1", None)
    ]
    for name in ("reference", "bank", "account"):
        for value in ("\x00", "x\x00y", "\n", "a" * 3000, ""):
            bodies.append(raw_signed(bank, fields(DUE, **{name: value})))
    bodies.append(raw_signed(bank, {**fields(DUE), "extra": "x" * 5000}))
    bodies.append({"statement": "!!!", "signature": "", "certificate": "not pem"})
    bodies.append(
        {
            "statement": base64.b64encode(b"\x00" * 10_000).decode(),
            "signature": "AA==",
            "certificate": bank.cert_pem,
        }
    )
    for body in bodies:
        r = _post(client, path, keys["bank"], json=body)
        assert 400 <= r.status_code < 500, (body["statement"][:40], r.text)
    signed = bank.signed("maintenance-refund", number, DUE, account=CODES[0])
    for route in ("CS%002026", "%00", "x" * 5000):
        r = _post(client, REFUNDS.format(route), keys["bank"], json=signed)
        assert 400 <= r.status_code < 500, (route[:20], r.status_code, r.text)
    assert (_rows(d), d.log.appended()) == before
    assert _post(client, path, keys["bank"], json=signed).status_code == 201


# -- the offline verifier ------------------------------------------------------------------


def test_the_verifier_refuses_forged_and_foreign_refund_statements(
    mapi: Api, tmp_path: Path
) -> None:
    """Held: in the court's evidence package of a cancelled filing, its refund statement
    replaced by another filing's (with that refund's own receipt), by a statement of
    another amount the bank signs afresh, by a deposit's, or the refund's statement's kind
    or filing altered: each fails offline; the package as served passes (已注销)."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    numbers = []
    for i, judgment in enumerate(("(2027)湘0104民初29号", "(2027)湘0104民初30号")):
        contract = CONTRACT if i == 0 else {**CONTRACT, "number": f"HT-RED-R-V{i}"}
        _, number = file_contract(client, keys, contract)
        assert _deposit(client, bank, keys["bank"], number, DUE - i).status_code == 201
        assert _cancel(client, keys["court"], number, judgment).status_code == 201
        assert _refund(client, bank, keys["bank"], number, DUE - i).status_code == 201
        numbers.append(number)
    d.sequencer().step()
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    packages = []
    for number in numbers:
        r = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"])
        assert r.status_code == 200, r.text
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            packages.append({n: z.read(n) for n in z.namelist()})

    def verify(members: dict[str, bytes], name: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            for member, data in members.items():
                z.writestr(member, data)
        return subprocess.run(
            [str(BIN / "wangqian-verify"), str(path), "--trust", str(trust)],
            capture_output=True,
            text=True,
        )

    def funds(members: dict[str, bytes]) -> list[str]:
        return sorted(
            (n for n in members if n.startswith("funds/") and n.endswith(".json")),
            key=lambda n: int(n.split("/")[1].split(".")[0]),
        )

    mine, theirs = packages
    good = verify(mine, "good.zip")
    assert good.returncode == 1 and "已注销" in good.stdout, good.stdout + good.stderr
    assert "不通过" not in good.stdout and "不成立" not in good.stdout, good.stdout
    deposit_name, refund_name = funds(mine)
    their_refund = funds(theirs)[-1]

    def failed(members: dict[str, bytes], name: str) -> None:
        run = verify(members, name)
        bad = "不通过" in run.stdout or "不成立" in run.stdout or run.returncode >= 2
        assert bad, (name, run.returncode, run.stdout)

    # Another filing's refund, with its own receipt, in place of (or beside) this one's.
    proof = f"{their_refund}.tlog-proof"
    foreign = {**mine, their_refund: theirs[their_refund], proof: theirs[proof]}
    failed(foreign, "foreign.zip")
    swapped = {**mine, refund_name: theirs[their_refund]}
    failed(swapped, "swapped.zip")
    # This filing's deposit statement in the refund's place.
    failed({**mine, refund_name: mine[deposit_name]}, "deposit-as-refund.zip")
    member = json.loads(mine[refund_name])
    statement = json.loads(base64.b64decode(member["statement"]))
    for changes in ({"amount_fen": DUE * 10}, {"filing": numbers[1]}, {"kind": "refund"}):
        forged = json.dumps({**statement, **changes}, sort_keys=True, separators=(",", ":"))
        data = forged.encode()
        resigned = {
            **member,
            "statement": base64.b64encode(data).decode(),
            "signature": base64.b64encode(fund_statement.sign(data, bank.key)).decode(),
        }
        failed({**mine, refund_name: json.dumps(resigned).encode()}, f"forged-{changes}.zip")


# -- statements that contradict the record ---------------------------------------------


def test_a_bank_reference_is_one_transaction_across_supervision_and_maintenance(
    mapi: Api,
) -> None:
    """Broken, fixed: formats.md says a statement's ``reference`` is the bank's own
    transaction reference, unique per bank, but each side checked only its own table: the
    reference of a supervision (资金监管) deposit was taken again as a maintenance refund's
    (and a maintenance deposit's as a supervision deposit's), one transfer recorded as two
    kinds of money. Now either is refused ``duplicate-statement``."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    supervised = bank.signed("deposit", number, 1_000_000)
    r = _post(client, f"/v1/filings/{number}/funds/deposits", keys["bank"], json=supervised)
    assert r.status_code == 201, r.text
    reference = json.loads(base64.b64decode(supervised["statement"]))["reference"]
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初31号").status_code == 201
    before = (_rows(d), d.log.appended())
    body = bank.signed("maintenance-refund", number, DUE, account=CODES[0], reference=reference)
    r = _post(client, REFUNDS.format(number), keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (409, "duplicate-statement"), r.text
    # The other way round: a maintenance deposit's reference under a supervision refund.
    account = _account(client, keys["authority"])
    deposited = account["events"][0]["reference"]
    again = bank.signed("refund", number, 1_000_000, reference=deposited)
    r = _post(client, f"/v1/filings/{number}/funds/refunds", keys["bank"], json=again)
    assert (r.status_code, _type(r)) == (409, "duplicate-statement"), r.text
    assert (_rows(d), d.log.appended()) == before
    assert _refund(client, bank, keys["bank"], number, DUE).status_code == 201
    r = _post(
        client,
        f"/v1/filings/{number}/funds/refunds",
        keys["bank"],
        json=bank.signed("refund", number, 1_000_000),
    )
    assert r.status_code == 201, r.text


def test_a_refund_booked_before_its_deposit_is_refused(mapi: Api) -> None:
    """Broken, fixed: a refund's statement says when the bank booked it; one booked before
    the deposit it refunds (by the same bank's clock) was recorded, and the court's
    evidence package proved a refund of money the bank had not received yet. Now it is
    refused ``statement-rejected``, nothing recorded."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    early = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.1)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初33号").status_code == 201
    before = (_rows(d), d.log.appended())
    body = bank.signed("maintenance-refund", number, DUE, account=CODES[0], at=early)
    r = _post(client, REFUNDS.format(number), keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (422, "statement-rejected"), r.text
    assert "before a deposit" in r.json()["detail"]
    assert (_rows(d), d.log.appended()) == before
    assert _refund(client, bank, keys["bank"], number, DUE).status_code == 201


def test_a_refund_booked_before_the_cancellation_is_refused(mapi: Api) -> None:
    """Fixed (no allowance for a lagging bank clock: such a bank sends it again later).
    A refund is only once the filing is cancelled; the bank's statement says when it
    booked the refund. One booked before the cancellation (while the purchase was in
    force, after its deposit) says the bank paid the deposit back against the rule, and
    the court's evidence package would prove it as a refund."""
    client, keys, _ = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    time.sleep(1.1)
    early = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.1)
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初32号").status_code == 201
    body = bank.signed("maintenance-refund", number, DUE, account=CODES[0], at=early)
    r = _post(client, REFUNDS.format(number), keys["bank"], json=body)
    assert r.status_code == 422 and r.json()["type"].endswith("/statement-rejected"), r.text
    # Booked after the cancellation, the same refund is recorded.
    body = bank.signed("maintenance-refund", number, DUE, account=CODES[0])
    r = _post(client, REFUNDS.format(number), keys["bank"], json=body)
    assert r.status_code == 201, r.text
