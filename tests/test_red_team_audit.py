"""Red team: an operator with the database (rows, triggers, unique indexes, new log leaves)
but none of the banks', the CA's or the parties' keys changes a money or ownership fact,
and ``audit_records`` must report it. Each test performs its attack, shows the forged
state is in the database, then asks the audit. The misses not fixed yet are strict xfails
with the reason: each will fail loudly the day its defence lands, to be unmarked then."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, insert, select, update

from api import auth
from filing import maintenance_dues, schema
from filing.audit import audit_records
from filing.entry import EntryEvent, FilingEntry
from filing.fund_schema import fund_events
from filing.holdings import person_key
from filing.maintenance_schema import maintenance_dues as dues_table
from filing.maintenance_schema import maintenance_events, maintenance_uses
from filing.platform import filing_service
from filing.service import _kind, _load
from filing.status import FilingEvent
from ledger.database import write_transaction
from ledger.schema import leaves
from tests.test_audit import drop_guards
from tests.test_audit_bank_signatures import _forge_after
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
from tests.test_fund_api import BANK, _add_key, _bank, _funds
from tests.test_maintenance import DUE, _deposit, mapi
from tests.test_resale_pipeline import WANG
from verifier import fund_statement
from verifier.fund_statement import FundStatement

__all__ = ["api", "mapi"]  # the fixtures


# Misses without a defence yet (strict: a test that starts passing must be unmarked).
MINTED = (
    "a bank's certificate is issued to any BANK API key, and keys are rows: issuance "
    "must be logged and bound to the bank out of band before the audit can tell a "
    "minted one"
)

LOWERED = "the audit does not yet recompute amounts due from the dated rule set and the contract"

UNSIGNED = "the audit does not yet validate the sealed PDFs' signatures as the verifier does"

UNSIGNED_USE = "a use of funds carries no signature of the authority for the audit to check"


def _audit(d: Any) -> list[str]:
    return audit_records(d.log.engine, d.bank_issuers()).problems


def _unit_id(conn: Any, code: str) -> int:
    u = schema.units
    return int(conn.execute(select(u.c.id).where(u.c.code == code)).scalar_one())


# -- 1. a bank's certificate minted for the operator's own key ------------------------------


@pytest.mark.xfail(strict=True, reason=MINTED)
def test_a_deposit_signed_under_a_bank_certificate_the_operator_minted_is_caught(
    api: Api,
) -> None:
    # Bank certificates are issued to whoever holds a BANK API key of the bank's name, and
    # API keys are rows: the operator writes one, asks the platform for a certificate for a
    # key of her own, and signs "the bank's" statements with it.
    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    r = _funds(
        client,
        f"/v1/filings/{number}/funds/deposits",
        keys["bank"],
        bank.signed("deposit", number, 1_000),
    )
    assert r.status_code == 201, r.text
    real = r.json()["log_index"]
    assert _audit(d) == []

    minted = _add_key(d, BANK, auth.Role.BANK)  # an api_keys row, nothing more
    mine = _bank(client, minted, BANK)  # a platform-CA certificate naming 示范银行
    assert mine.key is not bank.key
    with d.log.engine.connect() as conn:
        stored = conn.execute(
            select(fund_events.c.statement).where(fund_events.c.log_index == real)
        ).scalar_one()
    statement = dataclasses.replace(
        FundStatement.decode(bytes(stored)), amount_fen=90_000_000, reference=f"{BANK}-MINTED"
    ).encode()
    cert = x509.load_pem_x509_certificate(mine.cert_pem.encode())
    index = _forge_after(
        d,
        fund_events,
        real,
        {
            "statement": statement,
            "amount_fen": 90_000_000,
            "signature": fund_statement.sign(statement, mine.key),
            "certificate": cert.public_bytes(serialization.Encoding.DER),
            "bank_reference": f"{BANK}-MINTED",
        },
        "statement",
    )
    with d.log.engine.connect() as conn:
        total = conn.execute(
            select(func.sum(fund_events.c.amount_fen)).where(fund_events.c.filing_number == number)
        ).scalar_one()
    assert total == 90_001_000 and index > real  # the inflated balance is booked
    found = _audit(d)
    assert [p for p in found if f"log entry {index} " in p], found


# -- 2. the owners of record rewritten ------------------------------------------------------


def test_rewritten_owners_of_record_are_caught(api: Api) -> None:
    # The buyer's registered home handed to 王五: ownership_owners is no part of any log
    # entry, and the registration record names no owner.
    client, keys, d = api
    _setup_registry(client, keys)
    file_contract(client, keys)
    r = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert _audit(d) == []

    oo = schema.ownership_owners
    with write_transaction(d.log.engine) as conn:
        drop_guards(conn, "ownership_owners")
        conn.execute(update(oo).values(name=WANG[0], id_number=WANG[1], person=person_key(WANG[1])))
    seen = client.get(f"/v1/units/{CODES[0]}/ownership", headers=keys["authority"]).json()
    assert [o["id_number"] for o in seen["owners"]] == [WANG[1]]  # 王五 owns it now
    assert BUYER[1] not in json.dumps(seen, ensure_ascii=False)
    found = _audit(d)
    assert found, "the owners of record were rewritten and the audit saw nothing"


# -- 3. a registration past the maintenance-fund gate ---------------------------------------


def test_a_registration_without_the_maintenance_deposit_is_caught(
    mapi: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator runs the platform's own registration within a transaction of hers, the
    # maintenance-fund gate skipped: the unit is REGISTERED (and its supervised funds
    # releasable) though not one fen of the 维修资金 due was deposited.
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    refused = _post(
        client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION
    )
    assert refused.status_code == 409  # type: ignore[attr-defined]  # the gate holds
    monkeypatch.setattr(maintenance_dues, "require_deposited", lambda conn, number: None)
    service = filing_service(d)
    with write_transaction(d.log.engine) as conn:
        service.register_in(conn, CODES[0], REGISTRATION["certificate"], "长沙市住建局")
    with d.log.engine.connect() as conn:
        due = conn.execute(
            select(dues_table.c.amount_fen).where(dues_table.c.filing_number == number)
        ).scalar_one()
        paid = maintenance_dues.deposited_under(conn, number)
        registered = conn.execute(
            select(schema.filings.c.registered_at).where(schema.filings.c.number == number)
        ).scalar_one()
    assert (due, paid) == (DUE, 0) and registered is not None
    found = _audit(d)
    assert found, "a filing registered with its maintenance fund unpaid audits clean"


# -- 4. the amount due lowered --------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason=LOWERED)
def test_a_lowered_maintenance_due_is_caught(mapi: Api) -> None:
    # 948,480 fen due becomes 1 fen: the bank's genuine 1-fen deposit then opens the
    # registration gate by the book.
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    with write_transaction(d.log.engine) as conn:
        drop_guards(conn, "maintenance_dues")
        conn.execute(
            update(dues_table).where(dues_table.c.filing_number == number).values(amount_fen=1)
        )
    bank = _bank(client, keys["bank"], BANK)
    r = _deposit(client, bank, keys["bank"], number, 1)
    assert r.status_code == 201, r.text
    done = _post(client, f"/v1/units/{CODES[0]}/registration", keys["authority"], json=REGISTRATION)
    assert done.status_code == 200, done.text  # type: ignore[attr-defined]
    with d.log.engine.connect() as conn:
        assert maintenance_dues.deposited_under(conn, number) == 1
    found = _audit(d)
    assert found, "a home registered on 1 fen of a 948,480-fen maintenance fund audits clean"


# -- 5. a filing nobody signed --------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason=UNSIGNED)
def test_a_filing_the_buyer_never_signed_is_caught(api: Api) -> None:
    # The developer's sealed draft filed as it is: the operator runs the platform's
    # _record_filing on it. The audit checks the sealed PDF's hash, prefix and rendering,
    # not that every party (and the platform's seal) signed it.
    client, keys, d = api
    _setup_registry(client, keys)
    dev = keys["developer"]
    cid = client.post(
        "/v1/contracts", json=CONTRACT, headers={**dev, "Idempotency-Key": "red-draft"}
    ).json()["id"]
    r = _post(client, f"/v1/contracts/{cid}/seal", dev)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    service = filing_service(d)
    with write_transaction(d.log.engine) as conn:
        c = service._contract(conn, cid)
        unsigned = bytes(c["current_pdf"])  # the developer's seal only
        record = service._record_filing(
            conn,
            c,
            _kind(c),
            _load(c),
            unsigned,
            "platform",
            dt.datetime.now(dt.UTC).replace(microsecond=0),
            "网签即备案",
        )
    with d.log.engine.connect() as conn:
        sealed = conn.execute(
            select(schema.filings.c.sealed_pdf).where(schema.filings.c.number == record.number)
        ).scalar_one()
        status = conn.execute(
            select(schema.units.c.status).where(schema.units.c.code == CODES[0])
        ).scalar_one()
    assert bytes(sealed) == unsigned and status == "FILED"  # filed without the buyer
    found = _audit(d)
    assert found, "a filing the buyer never signed audits clean"


# -- 6. maintenance uses --------------------------------------------------------------------


def _funded(client: Any, keys: dict[str, dict[str, str]]) -> str:
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    r = _deposit(client, bank, keys["bank"], number, DUE)
    assert r.status_code == 201, r.text
    return number


@pytest.mark.xfail(strict=True, reason=UNSIGNED_USE)
def test_a_maintenance_use_forged_in_the_database_and_the_log_is_caught(mapi: Api) -> None:
    # A use record is the platform's JSON, signed by nobody: the operator writes one that
    # drains the unit, its maintenance_uses row, its log entry, its event rows.
    client, keys, d = mapi
    number = _funded(client, keys)
    assert _audit(d) == []
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = json.dumps(
        {
            "v": 1,
            "type": "maintenance-use",
            "number": "WX-FORGED-1",
            "approval": "业主大会决议",
            "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "debits": [{"unit": CODES[0], "amount_fen": DUE}],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    digest = hashlib.sha256(record).hexdigest()
    f, me = schema.filings, maintenance_events
    with write_transaction(d.log.engine) as conn:
        filed = conn.execute(select(f.c.log_index).where(f.c.number == number)).scalar_one()
        unit_id = _unit_id(conn, CODES[0])
        seq = conn.execute(select(func.max(me.c.seq)).where(me.c.unit_id == unit_id)).scalar_one()
        entry = FilingEntry(
            EntryEvent.MAINTENANCE_USED, number, digest, CODES[0], at, (), ref=int(filed)
        )
        [index] = d.log.append_in(conn, [entry.encode()])
        conn.execute(
            insert(maintenance_uses).values(
                number="WX-FORGED-1",
                record=record,
                record_sha256=digest,
                recorded_by="长沙市住建局",
                recorded_at=at,
            )
        )
        conn.execute(
            insert(me).values(
                log_index=index,
                unit_id=unit_id,
                seq=int(seq) + 1,
                filing_number=number,
                kind="use",
                amount_fen=DUE,
                document=record,
                document_sha256=digest,
                actor="长沙市住建局",
                reference="WX-FORGED-1",
                recorded_at=at,
            )
        )
        conn.execute(
            insert(schema.filing_events).values(
                filing_number=number,
                event=FilingEvent.MAINTENANCE_USED.value,
                log_index=index,
                at=at,
                actor="长沙市住建局",
                reason="维修资金使用",
            )
        )
    account = client.get(f"/v1/units/{CODES[0]}/maintenance", headers=keys["authority"])
    assert account.json()["balance_fen"] == 0, account.text  # drained
    found = _audit(d)
    assert found, "a use of the whole fund that nobody approved audits clean"


def test_a_rewritten_maintenance_use_record_is_caught(mapi: Api) -> None:
    # The stored use (what the authority and owners read) rewritten: its approval and its
    # debit. The events keep their own copy of the record, which the audit reads instead.
    client, keys, d = mapi
    _funded(client, keys)
    body = {
        "number": "WX-REAL-1",
        "approval": "业主大会决议",
        "debits": [{"unit": CODES[0], "amount_fen": 100_000}],
    }
    r = _post(client, "/v1/maintenance/uses", keys["authority"], json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert _audit(d) == []
    mu = maintenance_uses
    with write_transaction(d.log.engine) as conn:
        drop_guards(conn, "maintenance_uses")
        stored = json.loads(
            conn.execute(select(mu.c.record).where(mu.c.number == "WX-REAL-1")).scalar_one()
        )
        stored["approval"] = "电梯更换（业主大会决议 2027-3）"
        stored["debits"] = [{"unit": CODES[0], "amount_fen": 900_000}]
        forged = json.dumps(
            stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        conn.execute(
            update(mu)
            .where(mu.c.number == "WX-REAL-1")
            .values(record=forged, record_sha256=hashlib.sha256(forged).hexdigest())
        )
    with d.log.engine.connect() as conn:
        now = conn.execute(select(mu.c.record).where(mu.c.number == "WX-REAL-1")).scalar_one()
    assert b"900000" in bytes(now)
    found = _audit(d)
    assert found, "a use record rewritten in maintenance_uses audits clean"


# -- 7. a maintenance deposit moved to another unit (a defence that holds) ---------------------


def test_a_maintenance_deposit_moved_to_another_unit_is_caught(mapi: Api) -> None:
    client, keys, d = mapi
    _funded(client, keys)
    assert _audit(d) == []
    me = maintenance_events
    with write_transaction(d.log.engine) as conn:
        drop_guards(conn, "maintenance_events")
        other = _unit_id(conn, CODES[1])
        conn.execute(update(me).where(me.c.kind == "deposit").values(unit_id=other))
    with d.log.engine.connect() as conn:
        moved = conn.execute(select(me.c.unit_id, me.c.amount_fen)).all()
        assert [(int(u), int(a)) for u, a in moved] == [(_unit_id(conn, CODES[1]), DUE)]
    found = _audit(d)
    assert any("its row says deposit of " + CODES[1] in p for p in found), found


# -- 8. a genuine statement booked under a forged entry of another filing (holds) -------------


def test_a_genuine_deposit_rebooked_on_another_filing_is_caught(api: Api) -> None:
    # The bank's real deposit statement of one filing, copied to a second filing of the
    # same buyer with its own log entry: the signature holds, the statement names the first.
    client, keys, d = api
    _setup_registry(client, keys)
    _, first = file_contract(client, keys)
    second_contract = {**CONTRACT, "unit_code": CODES[1], "number": "HT-RED-2"}
    _, second = file_contract(client, keys, second_contract)
    bank = _bank(client, keys["bank"], BANK)
    r = _funds(
        client,
        f"/v1/filings/{first}/funds/deposits",
        keys["bank"],
        bank.signed("deposit", first, 5_000),
    )
    assert r.status_code == 201, r.text
    real = r.json()["log_index"]
    with write_transaction(d.log.engine) as conn:
        conn.exec_driver_sql("ALTER TABLE fund_events RENAME TO fund_events_old")
        conn.exec_driver_sql("CREATE TABLE fund_events AS SELECT * FROM fund_events_old")
        conn.exec_driver_sql("DROP TABLE fund_events_old")
        row = conn.execute(select(fund_events).where(fund_events.c.log_index == real)).one()
        target = conn.execute(
            select(schema.filings.c.log_index, schema.filings.c.unit_id).where(
                schema.filings.c.number == second
            )
        ).one()
        leaf = conn.execute(select(leaves.c.data).where(leaves.c.idx == real)).scalar_one()
        entry = dataclasses.replace(
            FilingEntry.decode(bytes(leaf)), filing=second, ref=int(target.log_index),
            unit=CODES[1],
        )  # fmt: skip
        [index] = d.log.append_in(conn, [entry.encode()])
        conn.execute(
            insert(fund_events).values(
                {**row._asdict(), "log_index": index, "filing_number": second, "seq": 1}
            )
        )
        conn.execute(
            insert(schema.filing_events).values(
                filing_number=second,
                event=FilingEvent.FUNDS_DEPOSITED.value,
                log_index=index,
                at=entry.at,
                actor=BANK,
                reason="存入 50.00 元",
            )
        )
    with d.log.engine.connect() as conn:
        booked = conn.execute(
            select(fund_events.c.filing_number).where(fund_events.c.log_index == index)
        ).scalar_one()
    assert booked == second
    found = _audit(d)
    assert any(f"log entry {index} " in p and "filing" in p for p in found), found
