"""Maintenance-fund (住宅专项维修资金) use-cases: deposits, uses, a unit's account, totals.

A **deposit** is the designated bank's signed statement (``verifier.fund_statement``,
kind ``maintenance-deposit``; ``account``: the unit's code, its 分户账), checked like a
supervision statement (``fund_service.verified_statement``), then, in ONE write
transaction under the unit's lock: the filing is in force and owes an amount
(``maintenance_dues``), the bank is the one its rule set designated, the deposits stay
within the amount; the log entry (``maintenance-deposited``: ref = the filing's index,
doc = the statement's hash; no amount, no account), the event row, the filing's history
line, the event-stream event and the stored answer. All or nothing.

A **refund** (维修资金退还) is the same bank's signed statement (kind
``maintenance-refund``), checked and recorded the same way (``_record_statement``), once
the filing is cancelled: all that remains of its deposits goes back to its buyer, once
(``maintenance.check_refund``); log entry ``maintenance-refunded``. The next filing on
the unit owes its full amount again, and its deposits are its buyer's.

A **use** of funds (repairs the owners approved, recorded by the authority) debits each
unit it names: under the units' locks (taken in one order, so that two uses never wait
for each other in a circle), every unit's spendable balance must cover its debit, else
nothing is recorded. What a use may spend is the deposits of the purchase that holds the
unit, never a cancelled purchase's, held for its refund (``_spendable``; the decision is
``filing.maintenance``'s note). Each debit is a log entry (``maintenance-used``) of that
purchase's filing (the one that opened the unit's account), carrying the SHA-256 of the
canonical use record.

The balance is the unit's: a resale changes nothing here, and its new owners see it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, Engine, exists, func, insert, select, text

from filing import funds, kinds, maintenance, outbox, ownership_records, registry, schema
from filing.completion import completed
from filing.deployment import Deployment
from filing.entry import EntryEvent, FilingEntry
from filing.fund_service import (
    DuplicateStatement,
    FundRuleBroken,
    StatementInvalid,
    WrongAccount,
    WrongBank,
    cancelled_at,
    checked_statement,
    reference_taken,
    statement_members,
)
from filing.holdings import person_key
from filing.maintenance_dues import deposited_under
from filing.maintenance_schema import maintenance_dues, maintenance_events, maintenance_uses
from filing.ownership import is_owner
from filing.policy import Caller, Role, sees_maintenance_account
from filing.service import record_event
from filing.status import FilingEvent, FilingStatus
from ledger.database import write_transaction
from ledger.log import StoredCheckpoint
from verifier import fund_statement

UNIT_LOCKS = 0x4D41494E  # "MAIN": the advisory-lock namespace of the units' accounts
KIND = "maintenance-deposit"  # the statement kinds (verifier/fund_statement.py)
REFUND_KIND = "maintenance-refund"
USE_TYPE = "wangqian-maintenance-use"
MAX_DEBITS = 500  # units one use may name (a building's worth)
_NUMBER = re.compile(r"[\x21-\x7e]{1,32}")


@dataclass(frozen=True)
class _StatementKind:
    """What a kind of the designated bank's statement is recorded as."""

    row: str  # maintenance_events.kind
    entry: EntryEvent
    event: FilingEvent
    words: str  # the filing's history line: 住宅专项维修资金<words> <amount> 元


DEPOSIT = _StatementKind(
    "deposit", EntryEvent.MAINTENANCE_DEPOSITED, FilingEvent.MAINTENANCE_DEPOSITED, "存入"
)
REFUND = _StatementKind(
    "refund", EntryEvent.MAINTENANCE_REFUNDED, FilingEvent.MAINTENANCE_REFUNDED, "退还"
)
STATEMENT_ROWS = (DEPOSIT.row, REFUND.row)  # the events that carry a bank's statement


class MaintenanceError(Exception):
    """Base class: nothing was recorded."""

    slug = "maintenance-error"


class UnknownFiling(MaintenanceError, LookupError):
    slug = "unknown-filing"


class UnknownUnit(MaintenanceError, LookupError):
    slug = "unknown-unit"


class NothingDue(MaintenanceError):
    """The filing owes no maintenance fund (a resale, or filed before the rules applied)."""

    slug = "no-maintenance-due"


class FilingCancelled(MaintenanceError):
    slug = "filing-cancelled"


class DuplicateUse(MaintenanceError):
    slug = "duplicate-use"


class BadUse(MaintenanceError):
    slug = "bad-use"


class RuleBroken(MaintenanceError):
    """The pure rules refuse it (``filing.maintenance``); ``rule`` says which."""

    def __init__(self, rule: maintenance.MaintenanceRuleError) -> None:
        super().__init__(str(rule))
        self.slug = rule.slug


@dataclass(frozen=True)
class DepositView:
    filing: str
    unit: str
    log_index: int
    amount_fen: int
    bank: str
    reference: str
    deposited_fen: int  # under this filing, this one included
    due_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "filing": self.filing,
            "unit": self.unit,
            "log_index": self.log_index,
            "kind": "deposit",
            "amount_fen": self.amount_fen,
            "amount_yuan": maintenance.yuan(self.amount_fen),
            "bank": self.bank,
            "reference": self.reference,
            "deposited_fen": self.deposited_fen,
            "due_fen": self.due_fen,
            "settled": self.deposited_fen >= self.due_fen,
        }


@dataclass(frozen=True)
class RefundView:
    filing: str
    unit: str
    log_index: int
    amount_fen: int
    bank: str
    reference: str
    deposited_fen: int  # under this filing
    due_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "filing": self.filing,
            "unit": self.unit,
            "log_index": self.log_index,
            "kind": "refund",
            "amount_fen": self.amount_fen,
            "amount_yuan": maintenance.yuan(self.amount_fen),
            "bank": self.bank,
            "reference": self.reference,
            "deposited_fen": self.deposited_fen,
            "due_fen": self.due_fen,
        }


@dataclass(frozen=True)
class UseView:
    number: str
    record_sha256: str
    debits: tuple[tuple[str, int, int], ...]  # unit, amount, log index

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "record_sha256": self.record_sha256,
            "debits": [
                {"unit": u, "amount_fen": a, "amount_yuan": maintenance.yuan(a), "log_index": i}
                for u, a, i in self.debits
            ],
        }


@dataclass(frozen=True)
class AccountView:
    unit: str
    deposited_fen: int
    used_fen: int
    refunded_fen: int
    held_fen: int  # cancelled purchases' deposits, held for their refunds
    dues: tuple[dict[str, Any], ...]
    events: tuple[dict[str, Any], ...]

    @property
    def balance_fen(self) -> int:
        return self.deposited_fen - self.used_fen - self.refunded_fen

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "balance_fen": self.balance_fen,
            "balance_yuan": maintenance.yuan(self.balance_fen),
            "deposited_fen": self.deposited_fen,
            "used_fen": self.used_fen,
            "refunded_fen": self.refunded_fen,
            "held_fen": self.held_fen,
            "dues": list(self.dues),
            "events": list(self.events),
        }


class MaintenanceService:
    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.engine: Engine = deployment.log.engine

    # -- the designated bank's statements: deposits and refunds -------------------------

    def deposit(
        self,
        number: str,
        statement: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
    ) -> DepositView:
        now = registry.now().replace(microsecond=0)
        parsed = checked_statement(
            self.d, KIND, number, statement, signature, certificate, bank, now
        )
        with write_transaction(self.engine) as conn:
            f, due = _account_of(conn, number, parsed)
            if f.status == FilingStatus.CANCELLED:
                raise FilingCancelled(f"filing {number} is cancelled")
            _refuse_duplicate(conn, statement, parsed)
            paid = deposited_under(conn, number)
            try:
                maintenance.check_deposit(paid, int(due.amount_fen), parsed.amount_fen)
            except maintenance.MaintenanceRuleError as exc:
                raise RuleBroken(exc) from exc
            index = self._record_statement(
                conn, f, DEPOSIT, statement, parsed, signature, certificate, now
            )
            view = DepositView(
                number,
                f.code,
                index,
                parsed.amount_fen,
                bank,
                parsed.reference,
                paid + parsed.amount_fen,
                int(due.amount_fen),
            )
            completed(conn, view)
        self.d.sequencer().appended()
        return view

    def refund(
        self,
        number: str,
        statement: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
    ) -> RefundView:
        """The designated bank refunds a cancelled filing's deposits to its buyer (维修资金退还):
        its signed statement (kind ``maintenance-refund``, ``account``: the unit's code) of
        all that remains of them (``maintenance.filing_deposits``), once; checked and
        recorded as a deposit is, under the unit's lock, the log entry
        ``maintenance-refunded`` referring to the filing."""
        now = registry.now().replace(microsecond=0)
        parsed = checked_statement(
            self.d, REFUND_KIND, number, statement, signature, certificate, bank, now
        )
        with write_transaction(self.engine) as conn:
            f, due = _account_of(conn, number, parsed)
            _refuse_duplicate(conn, statement, parsed)
            _refuse_booked_before_deposits(conn, number, parsed)
            _refuse_booked_before_cancellation(conn, number, parsed)
            deposits = _filing_deposits(conn, number)
            try:
                maintenance.check_refund(
                    deposits, f.status == FilingStatus.CANCELLED, parsed.amount_fen
                )
            except funds.FundRuleError as exc:
                raise FundRuleBroken(exc) from exc
            try:  # the unit's balance covers it (unless uses recorded before refunds spent it)
                maintenance.check_use(_balance(conn, int(f.unit_id)), parsed.amount_fen)
            except maintenance.MaintenanceRuleError as exc:
                raise RuleBroken(exc) from exc
            index = self._record_statement(
                conn, f, REFUND, statement, parsed, signature, certificate, now
            )
            view = RefundView(
                number,
                f.code,
                index,
                parsed.amount_fen,
                bank,
                parsed.reference,
                deposits.deposited_fen,
                int(due.amount_fen),
            )
            completed(conn, view)
        self.d.sequencer().appended()
        return view

    def _record_statement(
        self,
        conn: Connection,
        f: Any,
        kind: _StatementKind,
        statement: bytes,
        parsed: fund_statement.FundStatement,
        signature: bytes,
        certificate: x509.Certificate,
        now: dt.datetime,
    ) -> int:
        """A judged statement of filing ``f``'s account in the caller's transaction: the log
        entry, the event row, the filing's history line and the event-stream event."""
        number, digest = str(f.number), fund_statement.sha256(statement)
        entry = FilingEntry(
            kind.entry,
            number,
            digest,
            f.code,
            now,
            (),
            ref=int(f.log_index),
            kind=kinds.get(f.kind).log_kind,
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        # Appending took the log's lock, which every cancellation holds until it commits:
        # a cancellation that committed after the judgement refuses a deposit (a cancelled
        # filing stays cancelled: a refund's judgement stands).
        status = conn.execute(
            select(schema.filings.c.status).where(schema.filings.c.number == number)
        ).scalar_one()
        if status != f.status:
            raise FilingCancelled(f"filing {number} was cancelled meanwhile")
        conn.execute(
            insert(maintenance_events).values(
                log_index=index,
                unit_id=int(f.unit_id),
                seq=_next_seq(conn, int(f.unit_id)),
                filing_number=number,
                kind=kind.row,
                amount_fen=parsed.amount_fen,
                document=statement,
                document_sha256=digest,
                signature=signature,
                certificate=certificate.public_bytes(Encoding.DER),
                actor=parsed.bank,
                reference=parsed.reference,
                recorded_at=now,
            )
        )
        words = f"住宅专项维修资金{kind.words} {maintenance.yuan(parsed.amount_fen)} 元"
        record_event(conn, number, kind.event, index, now, parsed.bank, words)
        outbox.enqueue(
            conn, entry.event.value, number, index, now, f.code, digest, int(f.log_index)
        )
        return index

    # -- uses of funds ---------------------------------------------------------------

    def use(
        self, number: str, approval: str, debits: Sequence[tuple[str, int]], actor: str
    ) -> UseView:
        """Record a use of funds the owners approved (``approval``: their resolution's
        reference), debiting each named unit by its amount, all or none."""
        if not _NUMBER.fullmatch(number):
            raise BadUse("a use is numbered by 1 to 32 printable ASCII characters")
        if not 1 <= len(approval) <= 200 or not approval.isprintable():
            raise BadUse("the owners' approval is 1 to 200 printable characters")
        codes = [code for code, _ in debits]
        if not 1 <= len(debits) <= MAX_DEBITS or len(set(codes)) != len(codes):
            raise BadUse(f"a use debits 1 to {MAX_DEBITS} distinct units")
        try:
            for _, amount in debits:
                maintenance.check_amount(amount)
        except maintenance.MaintenanceRuleError as exc:
            raise RuleBroken(exc) from exc
        now = registry.now().replace(microsecond=0)
        ordered = sorted(debits)
        record = json.dumps(
            {
                "v": 1,
                "type": USE_TYPE,
                "number": number,
                "approval": approval,
                "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "debits": [{"unit": c, "amount_fen": a} for c, a in ordered],
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        digest = hashlib.sha256(record).hexdigest()
        with write_transaction(self.engine) as conn:
            units = {code: _unit_id(conn, code) for code, _ in ordered}
            _lock_units(conn, sorted(units.values()))
            taken = conn.execute(
                select(func.count()).where(maintenance_uses.c.number == number)
            ).scalar_one()
            if taken:
                raise DuplicateUse(f"use {number} is recorded already")
            entries: list[FilingEntry] = []
            for code, amount in ordered:
                unit_id = units[code]
                opened, spendable, held = _spendable(conn, unit_id)
                try:
                    maintenance.check_use(spendable, amount, held)
                except maintenance.MaintenanceRuleError as exc:
                    raise RuleBroken(
                        type(exc)(f"{code}: {exc}")  # which unit, for the authority
                    ) from exc
                entries.append(
                    FilingEntry(
                        EntryEvent.MAINTENANCE_USED,
                        str(opened.number),
                        digest,
                        code,
                        now,
                        (),
                        ref=int(opened.log_index),
                        kind=kinds.get(opened.kind).log_kind,
                    )
                )
            conn.execute(
                insert(maintenance_uses).values(
                    number=number,
                    record=record,
                    record_sha256=digest,
                    recorded_by=actor,
                    recorded_at=now,
                )
            )
            indexes = self.d.log.append_in(conn, [e.encode() for e in entries])
            # Appending took the log's lock, which every cancellation holds until it
            # commits: a purchase cancelled after the judgement above is held for its
            # refund, and the use spends none of it.
            f = schema.filings
            spent = {e.filing for e in entries}
            if conn.execute(
                select(func.count()).where(
                    f.c.number.in_(spent), f.c.status == FilingStatus.CANCELLED.value
                )
            ).scalar_one():
                raise FilingCancelled("a purchase whose deposits it spends was cancelled meanwhile")
            done = []
            for (code, amount), entry, index in zip(ordered, entries, indexes, strict=True):
                conn.execute(
                    insert(maintenance_events).values(
                        log_index=index,
                        unit_id=units[code],
                        seq=_next_seq(conn, units[code]),
                        filing_number=entry.filing,
                        kind="use",
                        amount_fen=amount,
                        document=record,
                        document_sha256=digest,
                        actor=actor,
                        reference=number,
                        recorded_at=now,
                    )
                )
                words = f"住宅专项维修资金使用 {maintenance.yuan(amount)} 元（{number}）"
                record_event(
                    conn, entry.filing, FilingEvent.MAINTENANCE_USED, index, now, actor, words
                )
                outbox.enqueue(
                    conn, entry.event.value, entry.filing, index, now, code, digest, entry.ref
                )
                done.append((code, amount, index))
            view = UseView(number, digest, tuple(done))
            completed(conn, view)
        self.d.sequencer().appended()
        return view

    # -- reading ---------------------------------------------------------------------

    def readable(self, code: str, caller: Caller) -> bool:
        """May ``caller`` see unit ``code``'s account (``policy.sees_maintenance_account``:
        its owners of record and the buyer whose fund is due or awaits its refund,
        departments, the authority, a court, its bank)?"""
        with self.engine.connect() as conn:
            unit_id = _unit_id(conn, code)
            record = ownership_records.current(conn, unit_id)
            banks = {
                str(b)
                for (b,) in conn.execute(
                    select(maintenance_dues.c.bank).where(maintenance_dues.c.unit_id == unit_id)
                )
            }
            owner = record is not None and is_owner(record.ownership, caller.org)
            mine = owner or (
                caller.role is Role.BUYER and _pays_or_awaits(conn, unit_id, caller.org)
            )
        return sees_maintenance_account(caller, mine, banks)

    def account(self, code: str) -> AccountView:
        e, d = maintenance_events, maintenance_dues
        with self.engine.connect() as conn:
            unit_id = _unit_id(conn, code)
            rows = conn.execute(select(e).where(e.c.unit_id == unit_id).order_by(e.c.seq)).all()
            dues = conn.execute(
                select(d).where(d.c.unit_id == unit_id).order_by(d.c.computed_at)
            ).all()
            _, _, held = _spendable(conn, unit_id)

        def total(kind: str, filing: str | None = None) -> int:
            return sum(
                int(r.amount_fen)
                for r in rows
                if r.kind == kind and filing in (None, r.filing_number)
            )

        return AccountView(
            code,
            total("deposit"),
            total("use"),
            total("refund"),
            held,
            tuple(
                {
                    "filing": r.filing_number,
                    "due_fen": int(r.amount_fen),
                    "due_yuan": maintenance.yuan(int(r.amount_fen)),
                    "deposited_fen": total("deposit", str(r.filing_number)),
                    "refunded_fen": total("refund", str(r.filing_number)),
                    "rule_version": r.rule_version,
                    "basis": r.basis,
                    "bank": r.bank,
                }
                for r in dues
            ),
            tuple(
                {
                    "log_index": int(r.log_index),
                    "kind": r.kind,
                    "label": maintenance.LABELS[str(r.kind)],
                    "filing": r.filing_number,
                    "amount_fen": int(r.amount_fen),
                    "amount_yuan": maintenance.yuan(int(r.amount_fen)),
                    "by": r.actor,
                    "reference": r.reference,
                    "document_sha256": r.document_sha256,
                    "recorded_at": _utc(r.recorded_at).isoformat(),
                }
                for r in rows
            ),
        )

    def totals(self) -> dict[str, Any]:
        """Statistics: amounts due, deposited, used, refunded and the balances of all units
        (no names)."""
        e, d = maintenance_events, maintenance_dues
        with self.engine.connect() as conn:
            due, filings = conn.execute(
                select(func.coalesce(func.sum(d.c.amount_fen), 0), func.count())
            ).one()
            by_kind = {
                str(k): (int(n), int(s))
                for k, n, s in conn.execute(
                    select(e.c.kind, func.count(), func.sum(e.c.amount_fen)).group_by(e.c.kind)
                )
            }
            units = conn.execute(select(func.count(func.distinct(e.c.unit_id)))).scalar_one()
            uses = conn.execute(select(func.count()).select_from(maintenance_uses)).scalar_one()
        deposits, deposited = by_kind.get("deposit", (0, 0))
        debits, used = by_kind.get("use", (0, 0))
        refunds, refunded = by_kind.get("refund", (0, 0))
        balance = deposited - used - refunded
        return {
            "due_fen": int(due),
            "filings_with_due": int(filings),
            "deposits": deposits,
            "deposited_fen": deposited,
            "uses": int(uses),
            "debits": debits,
            "used_fen": used,
            "refunds": refunds,
            "refunded_fen": refunded,
            "balance_fen": balance,
            "balance_yuan": maintenance.yuan(balance),
            "units_with_account": int(units),
        }


# -- helpers ---------------------------------------------------------------------------


def _filing(conn: Connection, number: str) -> Any:
    f, u = schema.filings, schema.units
    row = conn.execute(
        select(f.c.number, f.c.status, f.c.log_index, f.c.unit_id, f.c.kind, u.c.code)
        .join(u, u.c.id == f.c.unit_id)
        .where(f.c.number == number)
    ).first()
    if row is None:
        raise UnknownFiling(f"no filing {number}")
    return row


def _pays_or_awaits(conn: Connection, unit_id: int, id_number: str) -> bool:
    """Is the person a buyer of a purchase of the unit whose maintenance fund is due (in
    force, not yet registered: she pays before she is an owner of record) or held for her
    refund (cancelled after a deposit, not yet refunded)?"""
    f, d, e, cb = schema.filings, maintenance_dues, maintenance_events, schema.contract_buyers
    refunded = select(e.c.log_index).where(e.c.filing_number == f.c.number, e.c.kind == "refund")
    deposited = select(e.c.log_index).where(e.c.filing_number == f.c.number, e.c.kind == "deposit")
    awaited = (f.c.status == FilingStatus.ACTIVE.value) & f.c.registered_at.is_(None)
    held = (f.c.status == FilingStatus.CANCELLED.value) & exists(deposited) & ~exists(refunded)
    found = conn.execute(
        select(f.c.number)
        .join(d, d.c.filing_number == f.c.number)
        .join(cb, cb.c.contract_id == f.c.contract_id)
        .where(d.c.unit_id == unit_id, cb.c.person == person_key(id_number), awaited | held)
        .limit(1)
    ).first()
    return found is not None


def _unit_id(conn: Connection, code: str) -> int:
    found = conn.execute(select(schema.units.c.id).where(schema.units.c.code == code)).scalar()
    if found is None:
        raise UnknownUnit(f"no unit {code}")
    return int(found)


def _lock_units(conn: Connection, unit_ids: Sequence[int]) -> None:
    """The units' account locks, in ascending order, to the end of the transaction: on
    PostgreSQL advisory locks taken only here (so no lock order crosses the log's); on
    SQLite the writer lock already serialises every write transaction."""
    if conn.dialect.name == "postgresql":
        for unit_id in sorted(unit_ids):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": UNIT_LOCKS, "key": unit_id}
            )


def _balance(conn: Connection, unit_id: int) -> int:
    e = maintenance_events
    rows = conn.execute(select(e.c.kind, e.c.amount_fen).where(e.c.unit_id == unit_id)).all()
    return maintenance.balance((str(r.kind), int(r.amount_fen)) for r in rows)


def _next_seq(conn: Connection, unit_id: int) -> int:
    e = maintenance_events
    last = conn.execute(select(func.max(e.c.seq)).where(e.c.unit_id == unit_id)).scalar()
    return int(last or 0) + 1


def _account_of(
    conn: Connection, number: str, parsed: fund_statement.FundStatement
) -> tuple[Any, Any]:
    """Filing ``number`` and its amount due, its unit's account locked (to the end of the
    transaction), if ``parsed`` (a statement of the calling bank) may be of its account:
    the filing owes maintenance fund, the bank is the one its rule set designated, the
    account named is the unit's."""
    f = _filing(conn, number)
    _lock_units(conn, [int(f.unit_id)])
    due = conn.execute(
        select(maintenance_dues).where(maintenance_dues.c.filing_number == number)
    ).first()
    if due is None:
        raise NothingDue(f"filing {number} owes no maintenance fund")
    if parsed.bank != due.bank:
        raise WrongBank(f"the rules designate {due.bank} to keep maintenance funds")
    if parsed.account != f.code:
        raise WrongAccount("a maintenance-fund statement names the unit's code as account")
    return f, due


def _filing_deposits(conn: Connection, number: str) -> funds.AccountState:
    """Filing ``number``'s deposits, the debits spent from them and their refund."""
    e = maintenance_events
    rows = conn.execute(
        select(e.c.kind, e.c.amount_fen).where(e.c.filing_number == number).order_by(e.c.seq)
    ).all()
    return maintenance.filing_deposits((str(r.kind), int(r.amount_fen)) for r in rows)


def _refuse_booked_before_deposits(
    conn: Connection, number: str, parsed: fund_statement.FundStatement
) -> None:
    """A refund returns deposits the bank booked: its own statement booked before one of
    them (by the same bank's clock) says it paid back money it had not received."""
    e = maintenance_events
    for (document,) in conn.execute(
        select(e.c.document).where(e.c.filing_number == number, e.c.kind == DEPOSIT.row)
    ):
        if fund_statement.FundStatement.decode(bytes(document)).at > parsed.at:
            raise StatementInvalid("the refund is booked before a deposit it refunds")


def _refuse_booked_before_cancellation(
    conn: Connection, number: str, parsed: fund_statement.FundStatement
) -> None:
    """A refund follows the cancellation: one booked before it (by the bank's clock) says
    the bank paid the deposit back while the purchase was in force. No allowance for a
    lagging bank clock: such a bank is refused and sends the statement again, later."""
    cancelled = cancelled_at(conn, number)
    if cancelled is not None and parsed.at < cancelled:
        raise StatementInvalid("the refund is booked before the filing's cancellation")


def _spendable(conn: Connection, unit_id: int) -> tuple[Any, int, int]:
    """What a use may spend of the unit's account (``filing.maintenance``): the filing
    whose deposits it spends (the latest depositing filing not cancelled; None if there
    is none), what remains of them, and what the account holds besides (cancelled
    purchases' deposits, held for their refunds)."""
    e, f = maintenance_events, schema.filings
    opened = conn.execute(
        select(f.c.number, f.c.log_index, f.c.kind)
        .join(e, e.c.filing_number == f.c.number)
        .where(
            e.c.unit_id == unit_id,
            e.c.kind == DEPOSIT.row,
            f.c.status != FilingStatus.CANCELLED.value,
        )
        .order_by(e.c.seq.desc())
        .limit(1)
    ).first()
    total = _balance(conn, unit_id)
    if opened is None:
        return None, 0, total
    left = _filing_deposits(conn, str(opened.number)).balance_fen
    return opened, left, total - left


def _refuse_duplicate(
    conn: Connection, statement: bytes, parsed: fund_statement.FundStatement
) -> None:
    e = maintenance_events
    digest = fund_statement.sha256(statement)
    found = conn.execute(
        select(func.count()).where(e.c.kind.in_(STATEMENT_ROWS), e.c.document_sha256 == digest)
    ).scalar_one()
    # The bank's reference is one transaction, of maintenance funds or of fund supervision.
    if found or reference_taken(conn, parsed.bank, parsed.reference):
        raise DuplicateStatement(
            "this statement, or one with the bank's same reference, is recorded already"
        )


def evidence_members(
    deployment: Deployment, conn: Connection, number: str, checkpoint: StoredCheckpoint
) -> list[tuple[str, bytes]]:
    """The filing's maintenance-fund deposits and refund that ``checkpoint`` covers, for its
    evidence package, as fund events are (``funds/<index>.json`` and its ``.tlog-proof``):
    the offline verifier checks both alike (``verifier.fund_statement.check_evidence``)."""
    e = maintenance_events
    rows = conn.execute(
        select(e.c.log_index, e.c.document, e.c.signature, e.c.certificate)
        .where(
            e.c.filing_number == number,
            e.c.kind.in_(STATEMENT_ROWS),
            e.c.log_index < checkpoint.size,
        )
        .order_by(e.c.log_index)
    ).all()
    return statement_members(deployment, rows, checkpoint)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
