"""Refunds of maintenance funds (住宅专项维修资金退还) on SQLite and PostgreSQL, over HTTP: after
a cancellation the designated bank refunds the filing's deposits to its buyer (its signed
statement, a log entry), all that remains of them, once; the next filing on the unit owes
its full amount and its deposits are its buyer's; a use never spends a cancelled
purchase's deposits; racing refunds refund once."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api import auth
from filing.audit import audit_records
from filing.deployment import Deployment
from filing.entry import EntryEvent, FilingEntry, status_name
from filing.maintenance_schema import maintenance_events
from filing.schema import filing_events
from tests.helpers import BIN
from tests.test_filing_api import (
    CODES,
    CONTRACT,
    REGISTRATION,
    Api,
    _post,
    _setup_registry,
    file_contract,
)
from tests.test_filing_api import api as api
from tests.test_fund_api import BANK, _add_key, _bank, _leaf, _race, _type
from tests.test_maintenance import DUE, _cancel, _deposit, _refund, maint_server, mapi
from verifier.entry import LoggedEntry

__all__ = ["api", "maint_server", "mapi"]  # the fixtures

REFUNDS = "/v1/filings/{}/maintenance/refunds"
USES = "/v1/maintenance/uses"


def _account(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def _use(client: Any, headers: dict[str, str], number: str, amount: int) -> Any:
    body = {"number": number, "approval": "业主大会决议", "debits": []}
    body["debits"] = [{"unit": CODES[0], "amount_fen": amount}]  # type: ignore[assignment]
    return _post(client, USES, headers, json=body)


def test_the_bank_refunds_a_cancelled_filings_deposits_once(mapi: Api, tmp_path: Path) -> None:
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, 400_000).status_code == 201
    assert _deposit(client, bank, keys["bank"], number, 100_000).status_code == 201

    # Not while the filing is in force: its buyer may still complete the purchase.
    r = _refund(client, bank, keys["bank"], number, 500_000)
    assert (r.status_code, _type(r)) == (409, "not-cancelled"), r.text
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初7号").status_code == 201
    r = _deposit(client, bank, keys["bank"], number, 1)
    assert (r.status_code, _type(r)) == (409, "filing-cancelled"), r.text

    size = d.log.appended()
    path = REFUNDS.format(number)
    other_key = _add_key(d, "另一银行", auth.Role.BANK)
    other = _bank(client, other_key, "另一银行")
    refusals = [
        # more than was deposited; less than all of it
        (keys["bank"], bank.signed("maintenance-refund", number, 500_001, account=CODES[0])),
        (keys["bank"], bank.signed("maintenance-refund", number, 499_999, account=CODES[0])),
        (keys["bank"], bank.signed("maintenance-refund", number, 500_000, account=CODES[1])),
        (keys["bank"], bank.signed("maintenance-deposit", number, 500_000, account=CODES[0])),
        (keys["bank"], bank.signed("refund", number, 500_000, account=CODES[0])),
        (other_key, other.signed("maintenance-refund", number, 500_000, account=CODES[0])),
        (keys["developer"], bank.signed("maintenance-refund", number, 500_000, account=CODES[0])),
    ]
    expected = [
        (409, "insufficient-balance"),
        (422, "amount-mismatch"),
        (422, "wrong-account"),
        (422, "statement-mismatch"),
        (422, "statement-mismatch"),
        (403, "wrong-bank"),
        (403, "forbidden"),
    ]
    for (headers, body), want in zip(refusals, expected, strict=True):
        r = _post(client, path, headers, json=body)
        assert (r.status_code, _type(r)) == want, r.text
    # A supervision refund (资金监管) is no maintenance refund either.
    body = bank.signed("maintenance-refund", number, 500_000, account=CODES[0])
    r = _post(client, f"/v1/filings/{number}/funds/refunds", keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (422, "statement-mismatch")
    assert d.log.appended() == size  # nothing reached the log

    r = _post(client, path, keys["bank"], json=body)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["kind"], done["amount_fen"], done["deposited_fen"]) == ("refund", 500_000, 500_000)
    assert done["filing"] == number and done["receipt"]
    data = _leaf(d, done["log_index"])
    entry = FilingEntry.decode(data)
    filed = client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()
    assert entry.event is EntryEvent.MAINTENANCE_REFUNDED and entry.filing == number
    assert entry.unit == CODES[0] and entry.parties == () and entry.ref == filed["log_index"]
    assert b"500000" not in data and BANK.encode() not in data and status_name(data) is None
    assert LoggedEntry.read(data).is_fund_event

    # Once: a second refund, and the same statement again, are refused.
    r = _refund(client, bank, keys["bank"], number, 500_000)
    assert (r.status_code, _type(r)) == (409, "already-refunded"), r.text
    r = _post(client, path, keys["bank"], json=body)
    assert (r.status_code, _type(r)) == (409, "duplicate-statement"), r.text

    account = _account(client, keys["authority"])
    assert (account["balance_fen"], account["refunded_fen"], account["held_fen"]) == (
        0,
        500_000,
        0,
    )
    labels = ["维修资金存入", "维修资金存入", "维修资金退还"]
    assert [e["label"] for e in account["events"]] == labels
    [due] = account["dues"]
    assert (due["deposited_fen"], due["refunded_fen"]) == (500_000, 500_000)
    totals = client.get("/v1/stats/maintenance", headers=keys["stats"]).json()
    assert (totals["refunds"], totals["refunded_fen"], totals["balance_fen"]) == (1, 500_000, 0)
    assert totals["deposited_fen"] == 500_000 and totals["balance_yuan"] == "0.00"
    with d.log.engine.connect() as conn:
        lines = conn.execute(
            select(filing_events.c.event, filing_events.c.reason).where(
                filing_events.c.filing_number == number
            )
        ).all()
    assert ("MAINTENANCE-REFUNDED", "住宅专项维修资金退还 5000.00 元") in [tuple(x) for x in lines]
    events = client.get("/v1/events", headers=keys["authority"], params={"limit": 500}).json()
    refunded = [e for e in events["events"] if e["event"] == "maintenance-refunded"]
    assert [(e["filing"], e["log_index"]) for e in refunded] == [(number, done["log_index"])]
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems

    # The court's evidence package of the cancelled filing proves the refund offline.
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    (tmp_path / "e.zip").write_bytes(zipped)
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--trust", str(trust)],
        capture_output=True,
        text=True,
    )
    # The verdict is the filing's (已注销: exit 1); every fund event in it is proven.
    assert run.returncode == 1 and "已注销" in run.stdout, run.stdout + run.stderr
    assert "不成立" not in run.stdout and "不通过" not in run.stdout, run.stdout
    assert run.stdout.count("维修资金记录已证明") == 3, run.stdout
    assert "住宅专项维修资金退还 5,000.00 元" in run.stdout


def test_the_gate_and_uses_keep_a_cancelled_purchases_deposit_apart(mapi: Api) -> None:
    """The registration gate counts each filing's own deposits: a cancelled purchase's
    deposit in the unit's balance unblocks no next filing, and its refund, not yet made,
    blocks none. No use spends it (held for the refund); after the next buyer's
    registration the bank still refunds it, and the balance is then the next buyer's."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], first, DUE).status_code == 201
    assert _cancel(client, keys["authority"], first, "(2027)湘0104民初8号").status_code == 201
    register = f"/v1/units/{CODES[0]}/registration"

    _, second = file_contract(client, keys, {**CONTRACT, "number": "HT-WX-R2"})
    account = _account(client, keys["authority"])
    assert [(x["filing"], x["due_fen"], x["deposited_fen"]) for x in account["dues"]] == [
        (first, DUE, DUE),
        (second, DUE, 0),
    ]
    assert (account["balance_fen"], account["held_fen"]) == (DUE, DUE)
    r = _post(client, register, keys["authority"], json=REGISTRATION)
    assert (r.status_code, _type(r)) == (409, "maintenance-fund-due"), r.text
    r = _use(client, keys["authority"], "WX-HELD-1", 1)
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    assert "held for cancelled purchases' refunds" in r.json()["detail"]
    r = _refund(client, bank, keys["bank"], second, DUE)
    assert (r.status_code, _type(r)) == (409, "not-cancelled"), r.text

    assert _deposit(client, bank, keys["bank"], second, DUE).status_code == 201
    r = _post(client, register, keys["authority"], json=REGISTRATION)
    assert r.status_code == 200 and r.json()["filing"] == second, r.text
    # The cancelled filing stays cancelled: no registration, no deposit revives it.
    assert client.get(f"/v1/filings/{first}", headers=keys["authority"]).json()["status"] == (
        "CANCELLED"
    )
    r = _use(client, keys["authority"], "WX-HELD-2", DUE + 1)  # the second buyer's only
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text

    assert _refund(client, bank, keys["bank"], first, DUE).status_code == 201
    account = _account(client, keys["buyer"])  # the owner of record now
    assert (account["balance_fen"], account["held_fen"], account["refunded_fen"]) == (DUE, 0, DUE)
    r = _use(client, keys["authority"], "WX-HELD-3", DUE)
    assert r.status_code == 201, r.text
    entry = FilingEntry.decode(_leaf(d, r.json()["debits"][0]["log_index"]))
    assert entry.event is EntryEvent.MAINTENANCE_USED and entry.filing == second
    assert _account(client, keys["authority"])["balance_fen"] == 0
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_a_use_while_the_purchase_was_in_force_is_not_refunded(mapi: Api) -> None:
    """The decision (filing/maintenance.py): a use recorded while the purchase held the unit
    spent its buyer's deposit on the building's repair; the refund returns what remains of
    it, all of it, and never more, so the balance never goes negative."""
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    r = _use(client, keys["authority"], "WX-SPENT-1", 100_000)
    assert r.status_code == 201, r.text
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初10号").status_code == 201
    r = _refund(client, bank, keys["bank"], number, DUE)
    assert (r.status_code, _type(r)) == (409, "insufficient-balance"), r.text
    r = _refund(client, bank, keys["bank"], number, DUE - 100_001)
    assert (r.status_code, _type(r)) == (422, "amount-mismatch"), r.text
    r = _refund(client, bank, keys["bank"], number, DUE - 100_000)
    assert r.status_code == 201, r.text
    account = _account(client, keys["authority"])
    assert (account["balance_fen"], account["used_fen"], account["refunded_fen"]) == (
        0,
        100_000,
        DUE - 100_000,
    )
    # A refund of a filing that owes no maintenance fund, or of none at all.
    r = _refund(client, bank, keys["bank"], "CS-2099-999999", 1)
    assert (r.status_code, _type(r)) == (404, "unknown-filing"), r.text
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_uses_racing_the_cancellation_and_racing_refunds_refund_once(
    maint_server: tuple[str, dict[str, dict[str, str]], Deployment],
) -> None:
    import httpx

    base, keys, d = maint_server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        _, number = file_contract(client, keys)  # type: ignore[arg-type]
        bank = _bank(client, keys["bank"], BANK)
        assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
        # The cancellation and four uses at once: a use spends the purchase's deposit only
        # if it was logged before the cancellation, never after it (then held for its refund).
        answers: list[Any] = [None] * 5
        start = threading.Barrier(5)

        def run(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                start.wait()
                if i == 0:
                    answers[i] = _cancel(c, keys["authority"], number, "(2027)湘0104民初11号")
                else:
                    answers[i] = _use(c, keys["authority"], f"WX-RACE-{i}", 100_000)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cancelled, *uses = answers
        assert cancelled.status_code == 201, cancelled.text
        spent = [u for u in uses if u.status_code == 201]
        assert all(
            u.status_code == 409 and _type(u) in ("insufficient-balance", "filing-cancelled")
            for u in uses
            if u.status_code != 201
        ), [u.text for u in uses]
        for u in spent:
            assert u.json()["debits"][0]["log_index"] < cancelled.json()["log_index"]
        left = DUE - 100_000 * len(spent)
        # Six refunds of what remains at once, each its own statement: one is recorded.
        calls = [
            (
                REFUNDS.format(number),
                bank.signed("maintenance-refund", number, left, account=CODES[0]),
            )
            for _ in range(6)
        ]
        answers = _race(base, keys["bank"], calls)
        assert sorted(a.status_code for a in answers) == [201] + [409] * 5, [
            a.text for a in answers
        ]
        assert all(_type(a) == "already-refunded" for a in answers if a.status_code == 409)
        account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["stats"]).json()
        assert (account["balance_fen"], account["refunded_fen"]) == (0, left)
    with d.log.engine.connect() as conn:
        kinds = [
            k
            for (k,) in conn.execute(
                select(maintenance_events.c.kind).where(
                    maintenance_events.c.filing_number == number
                )
            )
        ]
    assert sorted(kinds) == ["deposit", "refund"] + ["use"] * len(spent)
    report = audit_records(d.log.engine, d.bank_issuers())
    assert report.ok, report.problems


def test_the_buyer_follows_her_deposit_until_registered_or_refunded(mapi: Api) -> None:
    # The buyer pays the fund before she is an owner of record (registration waits for it),
    # and after a cancellation waits for its refund: both times it is her money to follow.
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    path = f"/v1/units/{CODES[0]}/maintenance"
    assert client.get(path, headers=keys["buyer"]).status_code == 200  # due, not yet paid
    bank = _bank(client, keys["bank"], BANK)
    assert _deposit(client, bank, keys["bank"], number, DUE).status_code == 201
    assert _account(client, keys["buyer"])["deposited_fen"] == DUE
    assert client.get(path, headers=keys["other"]).status_code == 403
    stranger = _add_key(d, "430102199909099999", auth.Role.BUYER)
    r = client.get(path, headers=stranger)
    assert r.status_code == 403, r.text  # a person who bought nothing here
    assert _cancel(client, keys["court"], number, "(2027)湘0104民初31号").status_code == 201
    assert _account(client, keys["buyer"])["held_fen"] == DUE  # held for her refund
    assert _refund(client, bank, keys["bank"], number, DUE).status_code == 201
    r = client.get(path, headers=keys["buyer"])
    assert r.status_code == 403, r.text  # refunded: the unit's account is no longer hers
