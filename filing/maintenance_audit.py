"""The audit of maintenance funds: every event row against its log entry, and back, each
row against the document it stores (a deposit's or refund's amount, kind, filing, unit,
bank and reference are those of the bank's signed statement; a use's debit is the one its
use record names for the unit), each unit's balance, replayed in order, never below zero,
and each refund of a cancelled filing's deposits, once.

``filing.audit`` hands over the maintenance entries it read from the log; each problem
is a (claim, message) pair of the audit's claims (``entry``, ``state``, ``document``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, select

from filing import schema
from filing.entry import EntryEvent, FilingEntry
from filing.fund_audit import bank_signature_problems, booked_twice
from filing.maintenance_schema import maintenance_dues, maintenance_events, maintenance_uses
from filing.status import FilingStatus
from verifier.fund_statement import FundStatement, StatementRejected

KINDS = {
    EntryEvent.MAINTENANCE_DEPOSITED: "deposit",
    EntryEvent.MAINTENANCE_USED: "use",
    EntryEvent.MAINTENANCE_REFUNDED: "refund",
}


def check(
    conn: Connection, entries: dict[int, FilingEntry], bank_issuers: Sequence[x509.Certificate]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    e, u = maintenance_events, schema.units
    rows = {
        int(r.log_index): r
        for r in conn.execute(
            select(
                e.c.log_index,
                e.c.unit_id,
                e.c.seq,
                e.c.filing_number,
                e.c.kind,
                e.c.amount_fen,
                e.c.document,
                e.c.document_sha256,
                e.c.signature,
                e.c.certificate,
                e.c.actor,
                e.c.reference,
                u.c.code,
            ).join(u, u.c.id == e.c.unit_id)
        )
    }
    filings = {
        str(r.number): r
        for r in conn.execute(
            select(schema.filings.c.number, schema.filings.c.log_index, schema.filings.c.status)
        )
    }
    filed = {number: int(r.log_index) for number, r in filings.items()}
    for index, entry in sorted(entries.items()):
        row = rows.get(index)
        what = f"log entry {index} ({entry.event.value} {entry.filing})"
        if row is None or row.filing_number != entry.filing:
            problems.append(("entry", f"{what} has no maintenance-fund row"))
            continue
        if row.kind != KINDS[entry.event] or row.code != entry.unit:
            problems.append(("state", f"{what}: its row says {row.kind} of {row.code}"))
        if row.document_sha256 != entry.doc_sha256:
            problems.append(("document", f"{what}: its row's document hash is not the one logged"))
        if hashlib.sha256(bytes(row.document)).hexdigest() != row.document_sha256:
            problems.append(("document", f"{what}: the stored document does not match its hash"))
        else:
            problems.extend(("state", f"{what}: {p}") for p in _row_against_document(row))
            if row.kind in STATEMENT_KINDS:
                problems.extend(
                    ("document", f"{what}: {p}")
                    for p in bank_signature_problems(
                        row.document, row.signature, row.certificate, bank_issuers
                    )
                )
        if filed.get(entry.filing) != entry.ref:
            problems.append(("entry", f"{what} refers to {entry.ref}, which does not file it"))
    problems.extend(("document", p) for p in _uses_against_events(conn, rows.values()))
    statements = [r for r in rows.values() if r.kind in STATEMENT_KINDS]
    problems.extend(("state", p) for p in booked_twice(statements, "document_sha256"))
    refunds: dict[str, int] = defaultdict(int)
    for row in rows.values():
        if row.kind != "refund":
            continue
        number = str(row.filing_number)
        refunds[number] += 1
        f = filings.get(number)
        if f is None or f.status != FilingStatus.CANCELLED:
            problems.append(("state", f"filing {number}'s maintenance fund is refunded in force"))
        if refunds[number] == 2:
            problems.append(("state", f"filing {number}'s maintenance fund is refunded twice"))
    by_unit: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for index, row in rows.items():
        if index not in entries:
            problems.append(
                ("state", f"maintenance-fund row at log index {index} has no entry in the log")
            )
        by_unit[int(row.unit_id)].append((int(row.seq), str(row.kind), int(row.amount_fen)))
    for unit_id, events in sorted(by_unit.items()):
        balance = 0
        for _, kind, amount in sorted(events):
            balance += amount if kind == "deposit" else -amount
            if balance < 0:
                problems.append(("state", f"unit {unit_id}'s maintenance fund goes negative"))
                break
    return problems


def _uses_against_events(conn: Connection, rows: Iterable[Any]) -> list[str]:
    """Each stored use record (what the authority and owners read) is the document its
    logged debits carry, and each use has its record: the events' copy alone is checked
    against the log, so a record rewritten in ``maintenance_uses`` would pass unseen."""
    stored = {
        str(r.number): (bytes(r.record), str(r.record_sha256))
        for r in conn.execute(
            select(
                maintenance_uses.c.number,
                maintenance_uses.c.record,
                maintenance_uses.c.record_sha256,
            )
        )
    }
    problems: list[str] = []
    debited: set[str] = set()
    for row in rows:
        if row.kind != "use":
            continue
        number = str(row.reference)
        debited.add(number)
        record = stored.get(number)
        if record is None:
            problems.append(f"use {number} (log entry {row.log_index}) has no use record")
        elif record != (bytes(row.document), str(row.document_sha256)):
            problems.append(f"use {number}'s record is not the one log entry {row.log_index} holds")
    unlogged = sorted(set(stored) - debited)
    problems.extend(f"use {number}'s record debits no unit in the log" for number in unlogged)
    return problems


def gate_problems(conn: Connection, entries: dict[int, FilingEntry]) -> list[str]:
    """Each logged registration of a purchase that owed a maintenance fund came after its
    deposits covered the amount due (the gate ``maintenance_dues.require_deposited`` keeps:
    a registration written past it would otherwise pass)."""
    due = {
        str(r.filing_number): int(r.amount_fen)
        for r in conn.execute(
            select(maintenance_dues.c.filing_number, maintenance_dues.c.amount_fen)
        )
    }
    deposits: dict[str, list[tuple[int, int]]] = defaultdict(list)
    e = maintenance_events
    for r in conn.execute(
        select(e.c.filing_number, e.c.log_index, e.c.amount_fen).where(e.c.kind == "deposit")
    ):
        deposits[str(r.filing_number)].append((int(r.log_index), int(r.amount_fen)))
    problems: list[str] = []
    for index, entry in sorted(entries.items()):
        if entry.event is not EntryEvent.REGISTERED or entry.filing not in due:
            continue
        paid = sum(amount for at, amount in deposits[entry.filing] if at < index)
        if paid < due[entry.filing]:
            problems.append(
                f"log entry {index} registers {entry.filing} with {paid} of "
                f"{due[entry.filing]} fen of its maintenance fund deposited"
            )
    return problems


# The statement kind (verifier/fund_statement.py) each statement row records.
STATEMENT_KINDS = {"deposit": "maintenance-deposit", "refund": "maintenance-refund"}


def _row_against_document(row: Any) -> list[str]:
    """What a maintenance row says that its own (logged) document does not: the row's amount
    is what balances, refunds and statistics add up; the document is what the log proves."""
    if row.kind in STATEMENT_KINDS:
        try:
            statement = FundStatement.decode(bytes(row.document))
        except StatementRejected as exc:
            return [f"its stored statement is unreadable ({exc})"]
        differ = [
            name
            for name, stored, signed in (
                ("amount", int(row.amount_fen), statement.amount_fen),
                ("kind", STATEMENT_KINDS[str(row.kind)], statement.kind),
                ("filing", str(row.filing_number), statement.filing),
                ("unit", str(row.code), statement.account),
                ("bank", str(row.actor), statement.bank),
                ("reference", str(row.reference), statement.reference),
            )
            if stored != signed
        ]
        return [f"its row's {', '.join(differ)} differ from the bank's statement"] if differ else []
    try:
        record = json.loads(bytes(row.document).decode("utf-8"))
        debits = {str(d["unit"]): int(d["amount_fen"]) for d in record["debits"]}
        number = str(record["number"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return [f"its stored use record is unreadable ({exc})"]
    if debits.get(str(row.code)) != int(row.amount_fen) or number != str(row.reference):
        return ["its row's debit differs from its use record"]
    return []
