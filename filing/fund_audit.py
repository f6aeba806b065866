"""The audit of fund supervision: every fund event row against its log entry, and back.

``filing.audit`` hands over the fund entries it read from the log; each problem is a
(claim, message) pair of the audit's claims (``entry``, ``state``, ``document``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, select

from filing import fund_schema, funds, schema
from filing.entry import EntryEvent, FilingEntry
from filing.funds import FundEvent, FundEventKind
from verifier import fund_statement
from verifier.fund_statement import FundStatement, StatementRejected

KINDS = {
    EntryEvent.FUNDS_DEPOSITED: FundEventKind.DEPOSIT,
    EntryEvent.FUNDS_RELEASED: FundEventKind.RELEASE,
    EntryEvent.FUNDS_REFUNDED: FundEventKind.REFUND,
}


def check(
    conn: Connection, entries: dict[int, FilingEntry], bank_issuers: Sequence[x509.Certificate]
) -> list[tuple[str, str]]:
    """Problems between the fund entries of the log (by index) and the fund tables; each
    stored statement's signature checked against ``bank_issuers`` as a court would."""
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
                e.c.signature,
                e.c.certificate,
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
            problems.extend(
                ("document", f"{what}: {p}")
                for p in bank_signature_problems(
                    row.statement, row.signature, row.certificate, bank_issuers
                )
            )
        if filed.get(entry.filing) != entry.ref:
            problems.append(("entry", f"{what} refers to {entry.ref}, which does not file it"))
    problems.extend(("state", p) for p in booked_twice(rows.values(), "statement_sha256"))
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


def booked_twice(rows: Iterable[Any], column: str) -> list[str]:
    """A bank's statement stored under two log entries: a genuine signature replayed to book
    the money again (the unique index that refuses it is within an operator's reach)."""
    seen: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        seen[str(getattr(row, column))].append(int(row.log_index))
    return [
        f"one statement (SHA-256 {digest[:16]}…) is booked under log entries "
        + ", ".join(str(i) for i in sorted(indexes))
        for digest, indexes in sorted(seen.items())
        if len(indexes) > 1
    ]


def bank_signature_problems(
    statement: Any, signature: Any, certificate: Any, bank_issuers: Sequence[x509.Certificate]
) -> list[str]:
    """Why a stored statement is not the bank's own, as the offline verifier judges an
    evidence package's (a row and its log entry alone are what an operator with the
    database can write; the bank's key is what they cannot)."""
    if signature is None or certificate is None:
        return ["the bank's signature or certificate is missing"]
    try:
        cert = x509.load_der_x509_certificate(bytes(certificate))
        statement_at = FundStatement.decode(bytes(statement)).at
        fund_statement.verify(
            bytes(statement), bytes(signature), cert, list(bank_issuers), statement_at
        )
    except (StatementRejected, ValueError) as exc:
        return [f"the bank's signature does not hold ({exc})"]
    return []


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
