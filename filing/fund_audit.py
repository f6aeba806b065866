"""The audit of fund supervision: every fund event row against its log entry, and back.

``filing.audit`` hands over the fund entries it read from the log; each problem is a
(claim, message) pair of the audit's claims (``entry``, ``state``, ``document``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from filing import fund_schema, funds, schema
from filing.entry import EntryEvent, FilingEntry
from filing.funds import FundEvent, FundEventKind
from verifier.fund_statement import FundStatement, StatementRejected

KINDS = {
    EntryEvent.FUNDS_DEPOSITED: FundEventKind.DEPOSIT,
    EntryEvent.FUNDS_RELEASED: FundEventKind.RELEASE,
    EntryEvent.FUNDS_REFUNDED: FundEventKind.REFUND,
}


def check(conn: Connection, entries: dict[int, FilingEntry]) -> list[tuple[str, str]]:
    """Problems between the fund entries of the log (by index) and the fund tables."""
    problems: list[tuple[str, str]] = []
    e = fund_schema.fund_events
    rows = {
        int(r.log_index): r
        for r in conn.execute(
            select(
                e.c.log_index,
                e.c.filing_number,
                e.c.seq,
                e.c.kind,
                e.c.amount_fen,
                e.c.statement,
                e.c.statement_sha256,
                e.c.bank,
                e.c.bank_reference,
                e.c.booked_at,
            )
        )
    }
    filed = {
        str(r.number): int(r.log_index)
        for r in conn.execute(select(schema.filings.c.number, schema.filings.c.log_index))
    }
    for index, entry in sorted(entries.items()):
        row = rows.get(index)
        what = f"log entry {index} ({entry.event.value} {entry.filing})"
        if row is None or row.filing_number != entry.filing:
            problems.append(("entry", f"{what} has no fund event row"))
            continue
        if row.kind != KINDS[entry.event].value:
            problems.append(("state", f"{what}: its row says {row.kind}"))
        if row.statement_sha256 != entry.doc_sha256:
            problems.append(("document", f"{what}: its row's statement hash is not the one logged"))
        if hashlib.sha256(bytes(row.statement)).hexdigest() != row.statement_sha256:
            problems.append(("document", f"{what}: the stored statement does not match its hash"))
        else:
            problems.extend(("state", f"{what}: {p}") for p in _row_against_statement(row))
        if filed.get(entry.filing) != entry.ref:
            problems.append(("entry", f"{what} refers to {entry.ref}, which does not file it"))
    by_filing: dict[str, list[tuple[int, FundEvent]]] = defaultdict(list)
    for index, row in rows.items():
        if index not in entries:
            problems.append(
                (
                    "state",
                    f"fund event row at log index {index} of {row.filing_number} "
                    "has no fund entry in the log",
                )
            )
        by_filing[str(row.filing_number)].append(
            (int(row.seq), FundEvent(FundEventKind(row.kind), int(row.amount_fen)))
        )
    for number, events in sorted(by_filing.items()):
        try:
            funds.replay(event for _, event in sorted(events, key=lambda p: p[0]))
        except funds.FundRuleError as exc:
            problems.append(("state", f"the fund events of {number}: {exc}"))
    return problems


def _row_against_statement(row: Any) -> list[str]:
    """What a fund event row says that its own (logged) statement does not: the row's
    amount is what the accounts and statistics add up, the statement what the log proves."""
    try:
        statement = FundStatement.decode(bytes(row.statement))
    except StatementRejected as exc:
        return [f"its stored statement is unreadable ({exc})"]
    booked = row.booked_at if row.booked_at.tzinfo else row.booked_at.replace(tzinfo=dt.UTC)
    differ = [
        name
        for name, stored, signed in (
            ("amount", int(row.amount_fen), statement.amount_fen),
            ("kind", str(row.kind), statement.kind),
            ("filing", str(row.filing_number), statement.filing),
            ("bank", str(row.bank), statement.bank),
            ("reference", str(row.bank_reference), statement.reference),
            ("booking time", booked, statement.at),
        )
        if stored != signed
    ]
    return [f"its row's {', '.join(differ)} differ from the bank's statement"] if differ else []
