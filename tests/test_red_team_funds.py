"""Red team: fund supervision, ownership of record and the new kinds, attacked as each party.

Written from the documents (docs/api.md "Fund supervision", docs/formats.md "Fund
statements", docs/supervision.md, docs/verifier.md) against a real server over HTTP
(uvicorn on a loopback port), on SQLite and PostgreSQL. Tests named ``test_finding_*``
showed a gap between the documents and the code (fixed, or ``xfail(strict=True)`` where
not); the others pin attacks that were refused, so they stay refused.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import update

from api.app import create_app
from api.demo import _Server
from filing import api_keys, fund_schema
from filing.audit import audit_records
from filing.deployment import Deployment
from filing.policy import Role
from ledger.database import write_transaction
from tests.helpers import BIN, judgment_pdf
from tests.test_filing_api import (
    BUYER,
    CODES,
    DEVELOPER_ID,
    REGISTRATION,
    _setup_registry,
    file_contract,
)
from tests.test_fund_api import ACCOUNT, BANK, Bank, _bank, self_signed_bank
from verifier import fund_statement

PROBLEM = "application/problem+json"

Rt = tuple[httpx.Client, dict[str, dict[str, str]], Deployment]


@pytest.fixture
def rt(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rt]:
    monkeypatch.setenv("WANGQIAN_DATABASE_URL", db_url)
    d = Deployment.open(tmp_path / "data")
    d.save_config(dataclasses.replace(d.config, rate_per_minute=100_000))
    keys: dict[str, dict[str, str]] = {}
    with write_transaction(d.log.engine) as conn:
        for name, org, role in [
            ("authority", "长沙市住建局", Role.AUTHORITY),
            ("developer", DEVELOPER_ID, Role.DEVELOPER),
            ("other", "91430100OTHER00000", Role.DEVELOPER),
            ("buyer", BUYER[1], Role.BUYER),
            ("stranger", "430102199909099999", Role.BUYER),
            ("bank", BANK, Role.BANK),
            ("bank2", "另一银行", Role.BANK),
            ("court", "岳麓区人民法院", Role.COURT),
            ("stats", "长沙市统计局", Role.DEPARTMENT),
        ]:
            keys[name] = {"Authorization": f"Bearer {api_keys.create_key(conn, org, role)}"}
    with _Server(create_app(d)) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, keys, d
    d.close()


_n = 0


def post(client: httpx.Client, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    global _n
    _n += 1
    return client.post(path, headers={**headers, "Idempotency-Key": f"rt13-{_n}"}, **kw)


def slug(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith(PROBLEM), (r.status_code, r.text)
    return str(r.json()["type"].rsplit("/", 1)[1])


def raw_signed(bank: Bank, fields: dict[str, Any]) -> dict[str, str]:
    """A statement built by hand (canonical JSON), signed by the bank's own key."""
    data = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {
        "statement": base64.b64encode(data).decode(),
        "signature": base64.b64encode(fund_statement.sign(data, bank.key)).decode(),
        "certificate": bank.cert_pem,
    }


def fields(number: str, amount: Any, **changes: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "account": ACCOUNT, "amount_fen": amount,
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "bank": BANK,
        "filing": number, "kind": "deposit", "reference": f"RT-{_n}-{amount!r}",
        "type": "wangqian-fund-statement", "v": 1,
    }  # fmt: skip
    f.update(changes)
    return f


def filed(rt: Rt) -> tuple[str, Bank]:
    client, keys, _ = rt
    _setup_registry(client, keys)  # type: ignore[arg-type]
    _, number = file_contract(client, keys)  # type: ignore[arg-type]
    return number, _bank(client, keys["bank"], BANK)


def _drop_fund_triggers(d: Deployment) -> None:
    """The operator with database access turns the append-only guard off."""
    with d.log.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for t in ("fund_events_no_update", "fund_events_no_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {t}")
        else:
            conn.exec_driver_sql("ALTER TABLE fund_events DISABLE TRIGGER USER")


# -- a bank --------------------------------------------------------------------------


def test_finding_any_bank_binds_another_banks_account_by_depositing_first(rt: Rt) -> None:
    client, keys, _ = rt
    number, bank = filed(rt)  # the contract names the test bank as its escrow bank
    base = f"/v1/filings/{number}/funds"
    rogue = _bank(client, keys["bank2"], "另一银行")
    r = post(
        client,
        f"{base}/deposits",
        keys["bank2"],
        json=rogue.signed("deposit", number, 1, bank="另一银行"),
    )
    # Found by the red team: the first deposit bound the account to whichever bank sent it,
    # locking the bank the contract names out. Only the named bank keeps the account.
    assert r.status_code == 403 and slug(r) == "wrong-bank", r.text
    assert "the contract names" in r.json()["detail"]
    r = post(client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, 1))
    assert r.status_code == 201, r.text


def test_hostile_statements_are_refused_and_write_nothing(rt: Rt) -> None:
    client, keys, d = rt
    number, bank = filed(rt)
    base = f"/v1/filings/{number}/funds"
    before = d.log.appended()
    refused: list[dict[str, str]] = []
    for amount in [0, -1, 1.5, True, 10**15 + 1, 10**30, "100", None, 1e3]:
        refused.append(raw_signed(bank, fields(number, amount)))
    for ref in ["\x00", "a" * 3000, "x\u202e", ""]:
        refused.append(raw_signed(bank, fields(number, 5, reference=ref)))
    refused.append(raw_signed(bank, fields(number, 5, bank="示范银行\x00")))
    refused.append(raw_signed(bank, {**fields(number, 5), "extra": 1}))
    # Duplicate keys: the signed bytes say one amount twice; never the larger one.
    dup = json.dumps(fields(number, 5), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    dup = dup.replace('"amount_fen":5,', '"amount_fen":5,"amount_fen":900000000,')
    refused.append(
        {
            "statement": base64.b64encode(dup.encode()).decode(),
            "signature": base64.b64encode(fund_statement.sign(dup.encode(), bank.key)).decode(),
            "certificate": bank.cert_pem,
        }
    )
    # A certificate the platform did not issue, naming the bank and the purpose.
    key, self_signed = self_signed_bank()
    forged = Bank(BANK, key, self_signed.public_bytes(serialization.Encoding.PEM).decode())
    refused.append(forged.signed("deposit", number, 5))
    for body in refused:
        r = post(client, f"{base}/deposits", keys["bank"], json=body)
        assert r.status_code == 422 and slug(r) == "statement-rejected", r.text
    # Deposits add up to at most 10^15 fen; the one past it is refused, not wrapped.
    r = post(client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, 10**15))
    assert r.status_code == 201, r.text
    r = post(client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, 1))
    assert r.status_code == 422 and slug(r) == "bad-amount", r.text
    account = client.get(base, headers=keys["bank"]).json()
    assert account["balance_fen"] == 10**15 and len(account["events"]) == 1
    assert d.log.appended() == before + 1
    # A statement for this filing replayed on another route, or by another bank: refused.
    r = client.get(f"{base}/0/statement", headers=keys["bank"])  # the filing's own entry
    assert r.status_code == 404 and slug(r) == "unknown-fund-event", r.text
    r = post(client, f"{base}/refunds", keys["bank"], json=bank.signed("deposit", number, 1))
    assert r.status_code == 422 and slug(r) == "statement-mismatch"
    r = post(client, f"{base}/releases", keys["bank"], json=bank.signed("release", number, 10**15))
    assert r.status_code == 409 and slug(r) == "not-registered"


def test_finding_a_statement_booked_before_its_certificate_existed(rt: Rt) -> None:
    """The offline verifier checks the certificate was valid when the statement was
    booked; the platform must refuse what the court's verifier would fail."""
    client, keys, _ = rt
    number, bank = filed(rt)
    base = f"/v1/filings/{number}/funds"
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = post(
        client, f"{base}/deposits", keys["bank"], json=raw_signed(bank, fields(number, 7, at=past))
    )
    assert r.status_code == 422 and slug(r) == "statement-rejected", r.text
    assert client.get(base, headers=keys["authority"]).json()["events"] == []


# -- a developer, a buyer ------------------------------------------------------------


def test_developers_and_strangers_learn_nothing_of_owners_and_funds(rt: Rt) -> None:
    client, keys, _ = rt
    number, bank = filed(rt)
    base = f"/v1/filings/{number}/funds"
    r = post(client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, 100))
    assert r.status_code == 201, r.text
    r = post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text
    # Re-releasing a filed (now registered) unit, and its completion or registration by the
    # developer itself, are refused.
    assert post(client, f"/v1/units/{CODES[0]}/release", keys["developer"]).status_code == 409
    r = post(
        client,
        "/v1/projects/1/buildings/1/completion",
        keys["developer"],
        json={
            "acceptance_record": "a",
            "survey_report": "b",
            "units": [{"code": CODES[0], "building": 100, "inner": 80, "shared": 20}],
        },
    )
    assert r.status_code == 403, r.text
    r = post(
        client,
        f"/v1/units/{CODES[1]}/corrections",
        keys["developer"],
        json={"room": "9", "reason": "x"},
    )
    assert r.status_code == 403
    # Owners' ID numbers: the owner and the authority, not the developer or a stranger.
    for who, sees in [
        ("developer", False),
        ("other", False),
        ("stranger", False),
        ("bank", False),
        ("buyer", True),
        ("authority", True),
    ]:
        r = client.get(f"/v1/units/{CODES[0]}/ownership", headers=keys[who])
        assert r.status_code == 200, (who, r.text)
        assert (BUYER[1] in r.text) is sees and (BUYER[0] in r.text) is sees, (who, r.text)
    # The account: not another developer, another buyer, another bank, a department.
    for who in ("other", "stranger", "bank2", "stats"):
        r = client.get(base, headers=keys[who])
        assert r.status_code in (403, 404) and r.headers["content-type"].startswith(PROBLEM)
        r = client.get(f"{base}/{1}/statement", headers=keys[who])
        assert r.status_code in (403, 404), (who, r.text)
    # Statistics and the event stream: not for developers or buyers.
    for who in ("developer", "buyer", "bank"):
        assert client.get("/v1/stats/funds", headers=keys[who]).status_code == 403
        assert client.get("/v1/stats/filings?by=kind", headers=keys[who]).status_code == 403
    # Buyers subscribe to nothing; a developer's webhook carries only its own filings'
    # events (tests/test_lists.py).
    r = post(
        client,
        "/v1/webhooks",
        keys["buyer"],
        json={"url": "https://example.com/h", "from_event": 0},
    )
    assert r.status_code == 403
    # A buyer does not consent or mortgage for anyone.
    r = post(
        client,
        f"/v1/units/{CODES[0]}/mortgages/consent",
        keys["buyer"],
        json={"mortgage": "m", "reference": "r", "given_on": "2026-01-01"},
    )
    assert r.status_code == 403


def test_a_sole_owner_is_given_no_share_but_the_whole(rt: Rt) -> None:
    client, keys, _ = rt
    filed(rt)
    for shares in (["1/2"], ["2"], ["1/2", "1/2"], ["0"]):
        r = post(
            client,
            f"/v1/units/{CODES[0]}/registration",
            keys["authority"],
            json={**REGISTRATION, "shares": shares},
        )
        assert r.status_code == 422 and slug(r) == "invalid-ownership", (shares, r.text)
    r = client.get(f"/v1/units/{CODES[0]}", headers=keys["authority"])
    assert r.json()["unit"]["status"] == "FILED"


# -- anyone: crafted bodies and paths ------------------------------------------------


def test_crafted_bodies_on_the_new_routes_are_problems_never_500(rt: Rt) -> None:
    client, keys, d = rt
    number, _ = filed(rt)
    a, code = keys["authority"], CODES[0]
    before = d.log.appended()
    nul = "湘\x00"
    owner = {"name": "张三", "id_type": "身份证", "id_number": "430102199001015678"}
    cases: list[tuple[str, Any, int]] = [
        (f"/v1/units/{code}/registration", {"certificate": nul}, 422),
        (f"/v1/units/{code}/registration", {"certificate": "c", "registered_on": 10**40}, 422),
        (f"/v1/units/{code}/registration", {"certificate": "c", "shares": ["1/0"]}, 422),
        (
            f"/v1/units/{code}/registration",
            {"certificate": "c", "shares": ["9" * 5000 + "/1"]},
            422,
        ),
        (f"/v1/units/{code}/registration", {"certificate": "证" * 20000}, 422),
        (
            f"/v1/units/{CODES[1]}/ownership",
            {"certificate": "o", "owners": [{**owner, "name": nul}], "registered_on": "2020-01-01"},
            422,
        ),
        (
            f"/v1/units/{CODES[1]}/ownership",
            {
                "certificate": "o",
                "owners": [{**owner, "share": "1/0"}, {**owner, "id_number": "1", "share": "1/0"}],
                "registered_on": "2020-01-01",
            },
            422,
        ),
        (
            f"/v1/units/{CODES[1]}/ownership",
            {
                "certificate": "o",
                "owners": [{**owner, "id_number": str(i)} for i in range(1500)],
                "registered_on": "2020-01-01",
            },
            413,
        ),
        (
            f"/v1/units/{code}/mortgages",
            {"mortgagee": nul, "reference": "m", "registered_on": "2020-01-01"},
            422,
        ),
        (
            f"/v1/units/{code}/mortgages/consent",
            {"mortgage": nul, "reference": "x", "given_on": "2020-01-01"},
            422,
        ),
        (
            f"/v1/units/{code}/mortgages/discharge",
            {"mortgage": nul, "reference": "x", "discharged_on": "2020-01-01"},
            422,
        ),
        (
            "/v1/projects/1/buildings/1/completion",
            {"acceptance_record": nul, "survey_report": "s", "units": []},
            422,
        ),
        (
            "/v1/projects/1/buildings/1/completion",
            {
                "acceptance_record": "a",
                "survey_report": "b",
                "units": [{"code": code, "building": 10**40, "inner": 10**40, "shared": 0}],
            },
            422,
        ),
        (
            "/v1/projects/1/buildings/1/completion",
            {
                "acceptance_record": "a",
                "survey_report": "b",
                "units": [{"code": code, "building": "NaN", "inner": "NaN", "shared": "NaN"}],
            },
            422,
        ),
        (f"/v1/units/{CODES[1]}/corrections", {"forecast_building": 10**40, "reason": "x"}, 422),
        (f"/v1/units/{CODES[1]}/corrections", {"floor": 10**40, "reason": "x"}, 422),
        ("/v1/banks/certificate", {"public_key_pem": "-----BEGIN PUBLIC KEY-----\x00"}, 422),
        (
            f"/v1/filings/{number}/funds/deposits",
            {"statement": "\x00", "signature": "\x00", "certificate": "\x00"},
            422,
        ),
        (
            f"/v1/filings/{number}/funds/releases",
            {"statement": 5, "signature": [], "certificate": {}},
            422,
        ),
    ]
    deep = ("[" * 30000 + "]" * 30000).encode()
    huge = b'{"statement":"' + b"A" * (10 * 2**20) + b'"}'
    for path in (
        f"/v1/units/{code}/registration",
        f"/v1/filings/{number}/funds/deposits",
        "/v1/banks/certificate",
        f"/v1/units/{code}/ownership",
    ):
        cases.append((path, deep, 400))
        cases.append((path, huge, 413))
    for path, body, status in cases:
        who = keys["bank"] if "/funds/" in path or "banks" in path else a
        if isinstance(body, bytes):
            r = post(client, path, {**who, "content-type": "application/json"}, content=body)
        else:
            r = post(client, path, who, json=body)
        assert r.status_code == status and r.headers["content-type"].startswith(PROBLEM), (
            path,
            r.status_code,
            r.text[:300],
        )
    assert d.log.appended() == before
    assert client.get(f"/v1/units/{code}", headers=a).json()["unit"]["status"] == "FILED"


def test_finding_a_nul_in_a_correction_is_a_500_on_postgresql(rt: Rt) -> None:
    client, keys, _ = rt
    _setup_registry(client, keys)  # type: ignore[arg-type]
    for body in (
        {"room": "湘\x00", "reason": "x"},
        {"use": "住\x01宅", "reason": "x"},
        {"room": "9", "reason": "\x00"},
    ):
        r = post(client, f"/v1/units/{CODES[1]}/corrections", keys["authority"], json=body)
        assert r.status_code == 422 and slug(r) == "invalid-request", r.text
    unit = client.get(f"/v1/units/{CODES[1]}", headers=keys["authority"]).json()
    assert not [h for h in unit["history"] if h["event"] == "CORRECT"], unit


def test_finding_a_nul_in_a_path_is_a_500_on_postgresql(rt: Rt) -> None:
    client, keys, _ = rt
    number, _ = filed(rt)
    for path in (
        f"/v1/units/{CODES[0]}%00/ownership",
        f"/v1/units/{CODES[0]}%00/measurements",
        f"/v1/units/{CODES[0]}%00",
        f"/v1/filings/{number}%00/funds",
        f"/v1/filings/{number}%00/funds/1/statement",
        f"/v1/filings/{number}%00",
    ):
        r = client.get(path, headers=keys["authority"])
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), (
            path,
            r.text,
        )


# -- an operator with database access -------------------------------------------------


def test_finding_an_operator_changing_a_fund_amount_is_not_caught_by_the_audit(
    rt: Rt, db_url: str
) -> None:
    """The row's amount is what the accounts and /v1/stats/funds add up; the log holds
    only the statement's hash. The audit must read the amount from the statement."""
    client, keys, d = rt
    number, bank = filed(rt)
    base = f"/v1/filings/{number}/funds"
    for amount in (1_000, 2_000):
        r = post(
            client, f"{base}/deposits", keys["bank"], json=bank.signed("deposit", number, amount)
        )
        assert r.status_code == 201, r.text
    assert audit_records(d.log.engine, d.bank_issuers()).ok
    _drop_fund_triggers(d)
    e = fund_schema.fund_events
    with d.log.engine.begin() as conn:
        conn.execute(
            update(e).where(e.c.filing_number == number, e.c.seq == 1).values(amount_fen=9_000_000)
        )
    problems = audit_records(d.log.engine, d.bank_issuers()).problems
    assert any("amount" in p for p in problems), problems
    done = subprocess.run(
        [str(BIN / "wangqian"), "audit", "--data", str(d.data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "WANGQIAN_DATABASE_URL": db_url},
    )
    assert done.returncode != 0 and "amount" in done.stdout + done.stderr, done.stdout
    # The account as the API shows it would be what the statement says, or the audit says why.
    with d.log.engine.begin() as conn:
        conn.execute(
            update(e).where(e.c.filing_number == number, e.c.seq == 1).values(amount_fen=1_000)
        )
        conn.execute(e.delete().where(e.c.filing_number == number, e.c.seq == 2))
    problems = audit_records(d.log.engine, d.bank_issuers()).problems
    assert any("has no fund event row" in p for p in problems), problems


# -- races ---------------------------------------------------------------------------


def test_deposits_racing_a_cancellation_never_land_after_it(rt: Rt) -> None:
    """A bank keeps depositing while a court cancels the filing: every deposit recorded
    comes before the cancellation in the log, and the refund then takes exactly them."""
    client, keys, d = rt
    number, bank = filed(rt)
    base = f"/v1/filings/{number}/funds"
    url = str(client.base_url)
    answers: list[httpx.Response | None] = [None] * 9
    start = threading.Barrier(9)

    def run(i: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            start.wait()
            if i == 0:
                answers[i] = c.post(
                    f"/v1/filings/{number}/cancellation",
                    headers={
                        **keys["authority"],
                        "Idempotency-Key": f"rt13-cancel-{i}",
                        "content-type": "application/pdf",
                    },
                    params={"reason": "判决解除", "judgment": "(2027)湘0104民初7号"},
                    content=judgment_pdf("(2027)湘0104民初7号"),
                )
            else:
                answers[i] = c.post(
                    f"{base}/deposits",
                    headers={**keys["bank"], "Idempotency-Key": f"rt13-race-{i}"},
                    json=bank.signed("deposit", number, 100 * i),
                )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cancelled, *deposits = answers
    assert cancelled is not None and cancelled.status_code == 201, cancelled
    cut = cancelled.json()["log_index"]
    landed = [a.json() for a in deposits if a is not None and a.status_code == 201]
    for a in deposits:
        assert a is not None and a.status_code in (201, 409), a.text if a else a
        if a.status_code == 409:
            assert slug(a) == "filing-cancelled"
    assert all(x["log_index"] < cut for x in landed), (cut, landed)
    held = sum(x["amount_fen"] for x in landed)
    if held:
        r = post(client, f"{base}/refunds", keys["bank"], json=bank.signed("refund", number, held))
        assert r.status_code == 201, r.text
    assert client.get(base, headers=keys["authority"]).json()["balance_fen"] == 0
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems
