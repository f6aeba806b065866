"""An operator with the database forges a bank's deposit: a statement row and a log entry
that agree with each other. Only the bank's key is out of their reach, so the audit checks
every stored statement's signature as a court's verifier would."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import Table, select

from filing import fund_schema, schema
from filing.audit import audit_records
from filing.entry import FilingEntry
from filing.maintenance_schema import maintenance_events
from ledger.database import write_transaction
from ledger.schema import leaves
from tests.test_filing_api import Api, _setup_registry, api, file_contract
from tests.test_fund_api import BANK, _bank, _funds, self_signed_bank
from tests.test_maintenance import _deposit, mapi
from verifier import fund_statement
from verifier.fund_statement import FundStatement

__all__ = ["api", "mapi"]  # the fixtures


def _deposited(api: Api) -> tuple[Any, int]:
    """A filing with one genuine deposit by the bank; (the deployment, its log index)."""
    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    body = bank.signed("deposit", number, 1_000)
    r = _funds(client, f"/v1/filings/{number}/funds/deposits", keys["bank"], body)
    assert r.status_code == 201, r.text
    return d, int(r.json()["log_index"])


def test_a_deposit_forged_in_the_database_and_the_log_is_caught(api: Api) -> None:
    d, real = _deposited(api)
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems  # the bank's own statement passes

    e = fund_schema.fund_events
    with d.log.engine.connect() as conn:
        stored = conn.execute(select(e.c.statement).where(e.c.log_index == real)).scalar_one()
    # A second, larger deposit "by the bank", signed with a key the operator made.
    key, cert = self_signed_bank()
    statement = dataclasses.replace(
        FundStatement.decode(bytes(stored)), amount_fen=90_000_000, reference=f"{BANK}-FORGED-1"
    ).encode()
    index = _forge_after(
        d,
        e,
        real,
        {
            "statement": statement,
            "amount_fen": 90_000_000,
            "signature": fund_statement.sign(statement, key),
            "certificate": cert.public_bytes(serialization.Encoding.DER),
            "bank_reference": f"{BANK}-FORGED-1",
        },
        "statement",
    )
    found = audit_records(d.log.engine, d.bank_issuers()).problems
    forged = [p for p in found if f"log entry {index} " in p]
    assert forged and all("bank's signature does not hold" in p for p in forged), found
    assert "not issued by the platform's CA" in forged[0]
    # The row and the entry agree in every other respect: only the signature betrays it.
    assert [p for p in found if p not in forged] == [], found


def _forge_after(d: Any, table: Table, real: int, changes: dict[str, Any], doc: str) -> int:
    """What an operator with the database writes: a copy of the row at log index ``real``
    with ``changes``, its own log entry (the real one's with the forged document's hash)
    and its ``filing_events`` row, all agreeing. Returns the forged entry's index."""
    fe = schema.filing_events
    with write_transaction(d.log.engine) as conn:
        row = conn.execute(select(table).where(table.c.log_index == real)).one()._asdict()
        event = conn.execute(select(fe).where(fe.c.log_index == real)).one()._asdict()
        leaf = conn.execute(select(leaves.c.data).where(leaves.c.idx == real)).scalar_one()
        entry = FilingEntry.decode(bytes(leaf))
        digest = hashlib.sha256(changes[doc]).hexdigest()
        [index] = d.log.append_in(conn, [dataclasses.replace(entry, doc_sha256=digest).encode()])
        del event["id"]
        conn.execute(fe.insert().values({**event, "log_index": index}))
        values = {**row, **changes, "log_index": index, "seq": row["seq"] + 1}
        conn.execute(table.insert().values({**values, f"{doc}_sha256": digest}))
    return index


def test_a_maintenance_deposit_forged_in_the_database_and_the_log_is_caught(mapi: Api) -> None:
    client, keys, d = mapi
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    bank = _bank(client, keys["bank"], BANK)
    r = _deposit(client, bank, keys["bank"], number, 1_000)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    real = r.json()["log_index"]  # type: ignore[attr-defined]
    audited = audit_records(d.log.engine, d.bank_issuers())
    assert audited.ok, audited.problems

    with d.log.engine.connect() as conn:
        stored = conn.execute(
            select(maintenance_events.c.document).where(maintenance_events.c.log_index == real)
        ).scalar_one()
    # The bank's real key signs the real statement; the forger signs a bigger one with hers.
    key, cert = self_signed_bank()
    statement = dataclasses.replace(
        FundStatement.decode(bytes(stored)), amount_fen=5_000, reference=f"{BANK}-FORGED-2"
    ).encode()
    index = _forge_after(
        d,
        maintenance_events,
        real,
        {
            "document": statement,
            "amount_fen": 5_000,
            "signature": fund_statement.sign(statement, key),
            "certificate": cert.public_bytes(serialization.Encoding.DER),
            "reference": f"{BANK}-FORGED-2",
        },
        "document",
    )
    found = audit_records(d.log.engine, d.bank_issuers()).problems
    assert found == [
        f"[document] log entry {index} (maintenance-deposited {number}): the bank's signature "
        "does not hold (the certificate was not issued by the platform's CA)"
    ], found


def test_a_genuine_statement_booked_twice_is_caught(api: Api) -> None:
    # The bank's real deposit, replayed under a second log entry to book the money again:
    # every signature holds, so only the second booking of one statement betrays it.
    d, real = _deposited(api)
    with write_transaction(d.log.engine) as conn:
        # The unique index in the way: the table rebuilt without it, as an operator can.
        conn.exec_driver_sql("ALTER TABLE fund_events RENAME TO fund_events_old")
        conn.exec_driver_sql("CREATE TABLE fund_events AS SELECT * FROM fund_events_old")
        conn.exec_driver_sql("DROP TABLE fund_events_old")
        stored = conn.execute(
            select(fund_schema.fund_events.c.statement).where(
                fund_schema.fund_events.c.log_index == real
            )
        ).scalar_one()
    index = _forge_after(
        d, fund_schema.fund_events, real, {"statement": bytes(stored)}, "statement"
    )
    found = audit_records(d.log.engine, d.bank_issuers()).problems
    assert [p for p in found if "is booked under log entries" in p] == [
        f"[state] one statement (SHA-256 {hashlib.sha256(bytes(stored)).hexdigest()[:16]}…) "
        f"is booked under log entries {real}, {index}"
    ], found
