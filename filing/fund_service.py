"""Fund supervision use-cases: a bank's signed statement in, a log entry and rows out.

``FundService.record`` checks the statement (``verifier.fund_statement``: format, the
bank's signature, its certificate from the platform's CA, not revoked, issued as a
bank's), then in ONE write transaction, under the account's lock (a filing names one
account): reads the account's events, judges the new one with the
pure rules of ``filing.funds``, appends the log entry (``ref``: the filing's index,
``doc``: SHA-256 of the statement; no amount, no account number), stores the statement
and the event, and records the answer (``completion``). Either all or nothing.

When a release may happen is one function, ``RegistrationCheck``: for new homes the
unit's REGISTER under this filing (``new_home_registered``); the resale kind passes its
转移登记 check instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from filing import fund_schema, funds, kinds, maintenance_schema, outbox, registry, schema
from filing.completion import completed
from filing.deployment import Deployment
from filing.entry import EntryEvent, FilingEntry
from filing.funds import AccountState, FilingState, FundEvent, FundEventKind
from filing.service import record_event
from filing.status import FilingEvent, FilingStatus, UnitStatus
from keys.authority import CertificateAuthority
from keys.pki import Profile
from ledger.database import write_transaction
from ledger.log import StoredCheckpoint
from signing.lease import LeaseContract
from signing.resale import ResaleContract
from verifier import fund_statement
from verifier.fund_statement import FundStatement, StatementRejected

SETTLED = "SETTLED"
ACCOUNT_LOCKS = 0x46554E44  # "FUND": the advisory-lock namespace of the accounts' locks
# A statement booked further in the future than this is refused (clocks differ a little).
CLOCK_SKEW = dt.timedelta(minutes=5)
# The maintenance-fund rows that record a bank's statement (maintenance_service.STATEMENT_ROWS).
MAINTENANCE_STATEMENT_ROWS = ("deposit", "refund")

ENTRY_EVENTS = {
    FundEventKind.DEPOSIT: EntryEvent.FUNDS_DEPOSITED,
    FundEventKind.RELEASE: EntryEvent.FUNDS_RELEASED,
    FundEventKind.REFUND: EntryEvent.FUNDS_REFUNDED,
}


class FundError(Exception):
    """Base class: the statement is not recorded; nothing was changed."""

    slug = "fund-error"


class UnknownFiling(FundError, LookupError):
    slug = "unknown-filing"


class StatementInvalid(FundError):
    """Not a well-formed statement validly signed by a bank's certificate."""

    slug = "statement-rejected"


class NotThisStatement(FundError):
    """The statement is of another kind or filing than the request names."""

    slug = "statement-mismatch"


class WrongBank(FundError):
    """The statement's bank is not the caller, or not the bank that holds the account."""

    slug = "wrong-bank"


class WrongAccount(FundError):
    """The statement names another account than the filing's supervision account."""

    slug = "wrong-account"


class DuplicateStatement(FundError):
    """This statement, or another with the bank's same reference, is recorded already."""

    slug = "duplicate-statement"


class FundRuleBroken(FundError):
    """The pure rules refuse the event (``filing.funds``); ``rule`` says which."""

    def __init__(self, rule: funds.FundRuleError) -> None:
        super().__init__(str(rule))
        self.rule = rule
        self.slug = rule.slug


@dataclass(frozen=True)
class FilingFacts:
    """What fund events need of a filing."""

    number: str
    contract_id: str
    status: str  # ACTIVE, CANCELLED
    log_index: int
    unit_id: int
    unit_code: str
    account: str  # the supervision account the contract names
    bank: str  # the bank the contract names as keeping it (its 资金监管 clause)
    kind: str = "new-presale"  # the filing's transaction kind (filing/kinds.py)
    registered: bool = False  # its registration (不动产登记 / 转移登记) is recorded


# Has the registration that ends the sale been recorded for this filing? (read in the
# fund event's write transaction, under the filing's lock)
RegistrationCheck = Callable[[Connection, FilingFacts], bool]


def new_home_registered(conn: Connection, filing: FilingFacts) -> bool:
    """A new home: its unit was REGISTERED while held by this filing's contract."""
    u = schema.units
    row = conn.execute(select(u.c.status, u.c.reserved_for).where(u.c.id == filing.unit_id)).one()
    return (
        filing.status == FilingStatus.ACTIVE
        and row.status == UnitStatus.REGISTERED.value
        and row.reserved_for == filing.contract_id
    )


def resale_transferred(conn: Connection, filing: FilingFacts) -> bool:
    """A resale: its 转移登记 was recorded against this very filing (``registered`` entry)."""
    return filing.status == FilingStatus.ACTIVE and filing.registered


def registered_by_kind(conn: Connection, filing: FilingFacts) -> bool:
    """The registration that ends the filing's kind of sale: a resale's 转移登记, a new
    home's 不动产登记 (recorded against the filing, or, for a unit registered before
    registrations were logged, its unit REGISTERED under this filing's contract)."""
    if filing.kind == kinds.Kind.RESALE.value:
        return resale_transferred(conn, filing)
    return (filing.status == FilingStatus.ACTIVE and filing.registered) or new_home_registered(
        conn, filing
    )


@dataclass(frozen=True)
class CheckedStatement:
    """A bank's statement whose signature, certificate, kind, filing and bank were checked."""

    statement: bytes
    parsed: FundStatement


@dataclass(frozen=True)
class FundEventView:
    log_index: int
    kind: FundEventKind
    amount_fen: int
    bank: str
    bank_reference: str
    booked_at: dt.datetime
    recorded_at: dt.datetime
    statement_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "kind": self.kind.value,
            "label": self.kind.label,
            "amount_fen": self.amount_fen,
            "amount_yuan": funds.yuan(self.amount_fen),
            "bank": self.bank,
            "bank_reference": self.bank_reference,
            "booked_at": _utc(self.booked_at).isoformat(),
            "recorded_at": _utc(self.recorded_at).isoformat(),
            "statement_sha256": self.statement_sha256,
        }


@dataclass(frozen=True)
class AccountView:
    filing: str
    filing_log_index: int
    account: str
    bank: str | None  # None until the first deposit binds the account to its bank
    state: AccountState
    events: tuple[FundEventView, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "filing": self.filing,
            "filing_log_index": self.filing_log_index,
            "account": self.account,
            "bank": self.bank,
            "deposited_fen": self.state.deposited_fen,
            "balance_fen": self.state.balance_fen,
            "balance_yuan": funds.yuan(self.state.balance_fen),
            "settled": self.state.settled_by.value if self.state.settled_by else None,
            "events": [e.as_dict() for e in self.events],
        }


@dataclass(frozen=True)
class FundParties:
    developer: str  # the seller's organisation
    buyers: frozenset[str]  # the buyers' ID numbers
    bank: str | None  # the bank that keeps the account, once it confirmed a deposit
    brokerage: str | None = None  # a resale's brokerage (经纪机构), by its filing number


@dataclass(frozen=True)
class SignedStatement:
    """The statement as the bank signed it, with what checks it (for evidence)."""

    log_index: int
    statement: bytes
    signature: bytes
    certificate: bytes  # DER


class FundService:
    def __init__(
        self, deployment: Deployment, registered: RegistrationCheck = registered_by_kind
    ) -> None:
        self.d = deployment
        self.engine: Engine = deployment.log.engine
        self.registered = registered

    # -- recording ---------------------------------------------------------------

    def record(
        self,
        number: str,
        kind: FundEventKind,
        statement: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
    ) -> FundEventView:
        """Record a bank's signed statement of ``kind`` for filing ``number``."""
        now = registry.now().replace(microsecond=0)
        checked = self.checked_statement(number, kind, statement, signature, certificate, bank, now)
        with write_transaction(self.engine) as conn:
            view = self.record_in(conn, number, kind, checked, signature, certificate, bank, now)
            completed(conn, view)
        return view

    def checked_statement(
        self,
        number: str,
        kind: FundEventKind,
        statement: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
        now: dt.datetime,
    ) -> CheckedStatement:
        """The statement, if the bank's certificate signed it as a ``kind`` for ``number``
        booked by ``now``; raises ``FundError`` otherwise."""
        parsed = checked_statement(
            self.d, kind.value, number, statement, signature, certificate, bank, now
        )
        return CheckedStatement(statement, parsed)

    def record_in(
        self,
        conn: Connection,
        number: str,
        kind: FundEventKind,
        checked: CheckedStatement,
        signature: bytes,
        certificate: x509.Certificate,
        bank: str,
        now: dt.datetime,
    ) -> FundEventView:
        """Record a checked statement within the caller's transaction, as of ``now`` (the
        present, or a moment of imported history): the account's rules, the log entry, the
        event, the filing's history and the outbox."""
        statement, parsed = checked.statement, checked.parsed
        event = FundEvent(kind, parsed.amount_fen)
        digest = fund_statement.sha256(statement)
        self._lock_account(conn, number)
        filing = self._filing(conn, number)
        if parsed.account != filing.account:
            raise WrongAccount("the statement names another account than the filing's")
        # Only the bank the signed contract names keeps its account: another bank's
        # deposit would bind the account to it and lock the named bank out.
        if bank != filing.bank:
            raise WrongBank(f"the contract names {filing.bank} as keeping this account")
        account = conn.execute(
            select(fund_schema.fund_accounts).where(
                fund_schema.fund_accounts.c.filing_number == number
            )
        ).first()
        if account is not None and account.bank != bank:
            raise WrongBank(f"the account is kept by {account.bank}")
        self._refuse_duplicate(conn, digest, bank, parsed.reference)
        e = fund_schema.fund_events
        rows = conn.execute(
            select(e.c.kind, e.c.amount_fen).where(e.c.filing_number == number).order_by(e.c.seq)
        ).all()
        state = funds.replay(FundEvent(FundEventKind(r.kind), r.amount_fen) for r in rows)
        try:
            funds.check(state, self._filing_state(conn, filing), event)
        except funds.FundRuleError as exc:
            raise FundRuleBroken(exc) from exc
        if kind.settles:
            refuse_booked_too_early(conn, number, kind, parsed.at)
        if account is None:
            conn.execute(
                insert(fund_schema.fund_accounts).values(
                    filing_number=number, bank=bank, account=filing.account, opened_at=now
                )
            )
        # The entry names the filing's kind (left out for a new-home sale).
        entry = FilingEntry(
            ENTRY_EVENTS[kind],
            number,
            digest,
            filing.unit_code,
            now,
            (),
            ref=filing.log_index,
            kind=kinds.get(filing.kind).log_kind,
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        # Appending took the log's lock, which every cancellation holds until it commits:
        # the filing's status read now is final for this transaction. A cancellation
        # that committed after the judgement above refuses the event.
        status = conn.execute(
            select(schema.filings.c.status).where(schema.filings.c.number == number)
        ).scalar_one()
        if status != filing.status:
            raise FundRuleBroken(funds.FilingCancelled("the filing was cancelled meanwhile"))
        try:
            conn.execute(
                insert(fund_schema.fund_events).values(
                    log_index=index,
                    filing_number=number,
                    seq=len(rows) + 1,
                    kind=kind.value,
                    amount_fen=parsed.amount_fen,
                    settlement=SETTLED if kind.settles else None,
                    statement=statement,
                    statement_sha256=digest,
                    signature=signature,
                    certificate=_der(certificate),
                    bank=bank,
                    bank_reference=parsed.reference,
                    booked_at=parsed.at,
                    recorded_at=now,
                )
            )
        except IntegrityError as exc:
            # Only a writer that bypassed the lock could get here: the database holds,
            # and the whole transaction (the log entry with it) rolls back.
            raise DuplicateStatement("the account changed meanwhile; nothing recorded") from exc
        record_event(
            conn,
            number,
            FilingEvent(ENTRY_EVENTS[kind].value.upper()),
            index,
            now,
            bank,
            f"{kind.label} {funds.yuan(parsed.amount_fen)} 元",
        )
        # The event stream carries it like any filing event (no amount, no account).
        outbox.enqueue(
            conn,
            ENTRY_EVENTS[kind].value,
            number,
            index,
            now,
            filing.unit_code,
            digest,
            filing.log_index,
        )
        view = FundEventView(
            index, kind, parsed.amount_fen, bank, parsed.reference, parsed.at, now, digest
        )
        return view

    # -- reading -------------------------------------------------------------------

    def account(self, number: str) -> AccountView:
        with self.engine.connect() as conn:
            filing = self._filing(conn, number)
            bound = conn.execute(
                select(fund_schema.fund_accounts.c.bank).where(
                    fund_schema.fund_accounts.c.filing_number == number
                )
            ).scalar()
            rows = self._events(conn, number)
        state = funds.replay(FundEvent(FundEventKind(r.kind), r.amount_fen) for r in rows)
        events = tuple(
            FundEventView(
                int(r.log_index),
                FundEventKind(r.kind),
                int(r.amount_fen),
                r.bank,
                r.bank_reference,
                r.booked_at,
                r.recorded_at,
                r.statement_sha256,
            )
            for r in rows
        )
        return AccountView(number, filing.log_index, filing.account, bound, state, events)

    def statement(self, number: str, log_index: int) -> SignedStatement:
        e = fund_schema.fund_events
        with self.engine.connect() as conn:
            row = conn.execute(
                select(e.c.log_index, e.c.statement, e.c.signature, e.c.certificate).where(
                    e.c.filing_number == number, e.c.log_index == log_index
                )
            ).first()
        if row is None:
            raise UnknownFiling(f"filing {number} has no fund event at log index {log_index}")
        return SignedStatement(
            int(row.log_index), bytes(row.statement), bytes(row.signature), bytes(row.certificate)
        )

    def parties(self, number: str) -> FundParties:
        """Who may read the filing's account besides the authority and courts."""
        f, c = schema.filings, schema.contracts
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.c.developer_id, c.c.data, c.c.kind)
                .join(f, f.c.contract_id == c.c.id)
                .where(f.c.number == number)
            ).first()
            bank = conn.execute(
                select(fund_schema.fund_accounts.c.bank).where(
                    fund_schema.fund_accounts.c.filing_number == number
                )
            ).scalar()
        if row is None:
            raise UnknownFiling(f"no filing {number}")
        contract = kinds.load(row.kind, row.data)
        if isinstance(contract, LeaseContract):
            raise UnknownFiling(f"filing {number} is a lease: no funds are supervised")
        # The people of the sale: a new home's buyers; a resale's sellers and buyers.
        people = (
            (*contract.sellers, *contract.buyers)
            if isinstance(contract, ResaleContract)
            else contract.buyers
        )
        brokerage = (
            contract.brokerage.filing_number
            if isinstance(contract, ResaleContract) and contract.brokerage is not None
            else None
        )
        return FundParties(
            str(row.developer_id),
            frozenset(p.id_number for p in people),
            None if bank is None else str(bank),
            brokerage,
        )

    # -- helpers ---------------------------------------------------------------------

    def _filing_state(self, conn: Connection, filing: FilingFacts) -> FilingState:
        if filing.status == FilingStatus.CANCELLED:
            return FilingState.CANCELLED
        return FilingState.REGISTERED if self.registered(conn, filing) else FilingState.IN_FORCE

    @staticmethod
    def _lock_account(conn: Connection, number: str) -> None:
        """The account's lock, held to the end of the transaction: on PostgreSQL an advisory
        lock per filing (a filing names one account), taken only by fund events, so that
        accounts do not wait for each other and no lock order crosses the log's; on SQLite
        the writer lock already serialises every write transaction."""
        if conn.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(number.encode()).digest()[:4], "big", signed=True)
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": ACCOUNT_LOCKS, "key": key}
            )

    @staticmethod
    def _filing(conn: Connection, number: str) -> FilingFacts:
        f, c, u = schema.filings, schema.contracts, schema.units
        query = (
            select(
                f.c.number,
                f.c.contract_id,
                f.c.status,
                f.c.log_index,
                f.c.unit_id,
                u.c.code,
                c.c.data,
                f.c.kind,
                f.c.registered_at,
            )
            .join(c, c.c.id == f.c.contract_id)
            .join(u, u.c.id == f.c.unit_id)
            .where(f.c.number == number)
        )
        row = conn.execute(query).first()
        if row is None:
            raise UnknownFiling(f"no filing {number}")
        contract = kinds.load(row.kind, row.data)
        if isinstance(contract, LeaseContract):
            raise UnknownFiling(f"filing {number} is a lease: no funds are supervised")
        if isinstance(contract, ResaleContract):  # a resale's 交易资金监管 account
            account, bank = contract.supervision.account_number, contract.supervision.bank
        else:  # a new home's presale escrow
            account, bank = contract.escrow.account_number, contract.escrow.bank
        return FilingFacts(
            row.number,
            row.contract_id,
            row.status,
            int(row.log_index),
            int(row.unit_id),
            row.code,
            account,
            bank,
            row.kind,
            row.registered_at is not None,
        )

    @staticmethod
    def _events(conn: Connection, number: str) -> list[Any]:
        e = fund_schema.fund_events
        return list(
            conn.execute(select(e).where(e.c.filing_number == number).order_by(e.c.seq)).all()
        )

    @staticmethod
    def _refuse_duplicate(conn: Connection, digest: str, bank: str, reference: str) -> None:
        e = fund_schema.fund_events
        # Two lookups, each by its unique index (an OR of the two scans the table on SQLite).
        found = conn.execute(
            select(func.count()).where(e.c.statement_sha256 == digest)
        ).scalar_one() + int(reference_taken(conn, bank, reference))
        if found:
            raise DuplicateStatement(
                "this statement, or one with the bank's same reference, is recorded already"
            )


def reference_taken(conn: Connection, bank: str, reference: str) -> bool:
    """Has ``bank`` recorded a statement with ``reference`` already, of fund supervision
    (资金监管) or of maintenance funds (住宅专项维修资金)? A reference is one transaction of
    the bank's, unique per bank (docs/formats.md), whatever its kind: the same transfer
    never counts as a supervision deposit and a maintenance refund both."""
    e, m = fund_schema.fund_events, maintenance_schema.maintenance_events
    supervised = conn.execute(
        select(func.count()).where(e.c.bank == bank, e.c.bank_reference == reference)
    ).scalar_one()
    maintained = conn.execute(
        select(func.count()).where(
            m.c.kind.in_(MAINTENANCE_STATEMENT_ROWS), m.c.actor == bank, m.c.reference == reference
        )
    ).scalar_one()
    return bool(supervised or maintained)


def verified_statement(
    deployment: Deployment,
    statement: bytes,
    signature: bytes,
    certificate: x509.Certificate,
    now: dt.datetime,
) -> FundStatement:
    """A bank's statement, if well formed and signed by a bank's certificate the platform's
    CA issued, valid at the booking time and not revoked (fund supervision and maintenance
    funds alike); ``StatementInvalid`` otherwise."""
    ca: CertificateAuthority = deployment.pki.ca
    try:
        parsed = fund_statement.verify(
            statement, signature, certificate, deployment.bank_issuers(), now
        )
    except StatementRejected as exc:
        raise StatementInvalid(str(exc)) from exc
    if not certificate.not_valid_before_utc <= parsed.at <= certificate.not_valid_after_utc:
        # The court's verifier checks the certificate at the booking time: a statement
        # booked outside it would be accepted here and fail every evidence package.
        raise StatementInvalid("the certificate is not valid at the statement's time")
    status = ca.status(certificate.serial_number)
    if status is None:
        raise StatementInvalid("the platform's CA has no record of this certificate")
    if status.revoked:
        raise StatementInvalid("the bank's certificate is revoked")
    issued = ca.registry.get(certificate.serial_number)
    if issued is None or issued.profile != Profile.BANK.value:
        raise StatementInvalid("the certificate was not issued to a bank")
    return parsed


def checked_statement(
    deployment: Deployment,
    kind: str,
    number: str,
    statement: bytes,
    signature: bytes,
    certificate: x509.Certificate,
    bank: str,
    now: dt.datetime,
) -> FundStatement:
    """A bank's statement (``verified_statement``) of ``kind`` for filing ``number``, by the
    calling ``bank``, booked by ``now`` (give or take ``CLOCK_SKEW``); ``FundError``
    otherwise. Fund supervision and maintenance funds (deposits, refunds) alike."""
    parsed = verified_statement(deployment, statement, signature, certificate, now)
    if parsed.kind != kind or parsed.filing != number:
        raise NotThisStatement(
            f"the statement is a {parsed.kind} for {parsed.filing}, not a {kind} for {number}"
        )
    if parsed.bank != bank:
        raise WrongBank(f"the statement is {parsed.bank}'s; the caller is {bank}")
    if parsed.at > now + CLOCK_SKEW:
        raise StatementInvalid("the statement is booked in the future")
    return parsed


def statement_members(
    deployment: Deployment, rows: Sequence[Any], checkpoint: StoredCheckpoint
) -> list[tuple[str, bytes]]:
    """Evidence members of recorded bank statements (rows of ``log_index``, the statement,
    its ``signature`` and the bank's DER ``certificate``): ``funds/<index>.json`` (statement,
    signature, the bank's certificate and its issuer) and its receipt
    ``funds/<index>.json.tlog-proof`` against ``checkpoint`` (``verifier.fund_statement``)."""
    members = []
    for index, statement, signature, certificate in rows:
        chain = [x509.load_der_x509_certificate(bytes(certificate)), deployment.pki.ca.issuing]
        member = fund_statement.evidence_member(bytes(statement), bytes(signature), chain)
        receipt = deployment.log.receipt(int(index), checkpoint).to_text()
        members += [
            (f"funds/{int(index)}.json", member),
            (f"funds/{int(index)}.json.tlog-proof", receipt.encode()),
        ]
    return members


def evidence_members(
    deployment: Deployment, conn: Connection, number: str, checkpoint: StoredCheckpoint
) -> list[tuple[str, bytes]]:
    """The filing's fund events for its evidence package, those ``checkpoint`` covers
    (``statement_members``)."""
    e = fund_schema.fund_events
    rows = conn.execute(
        select(e.c.log_index, e.c.statement, e.c.signature, e.c.certificate)
        .where(e.c.filing_number == number, e.c.log_index < checkpoint.size)
        .order_by(e.c.log_index)
    ).all()
    return statement_members(deployment, rows, checkpoint)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def cancelled_at(conn: Connection, number: str) -> dt.datetime | None:
    """When the filing was cancelled (None: it is not)."""
    ev = schema.filing_events
    at = conn.execute(
        select(func.max(ev.c.at)).where(
            ev.c.filing_number == number, ev.c.event == FilingEvent.CANCELLED.value
        )
    ).scalar()
    return None if at is None else _utc(at)


def refuse_booked_too_early(
    conn: Connection, number: str, kind: FundEventKind, booked: dt.datetime
) -> None:
    """A release or a refund settles money the bank received, after the event that allows
    it: booked (by the bank's clock) before a deposit it settles, before the transfer
    registration it follows (a release) or before the cancellation (a refund), the bank's
    own statement says it moved the money against the rule. No allowance for a lagging
    bank clock: such a bank sends the statement again, later."""
    e = fund_schema.fund_events
    deposited = conn.execute(
        select(func.max(e.c.booked_at)).where(
            e.c.filing_number == number, e.c.kind == FundEventKind.DEPOSIT.value
        )
    ).scalar()
    if deposited is not None and booked < _utc(deposited):
        raise StatementInvalid(f"the {kind.value} is booked before a deposit it settles")
    if kind is FundEventKind.REFUND:
        cancelled = cancelled_at(conn, number)
        if cancelled is not None and booked < cancelled:
            raise StatementInvalid("the refund is booked before the filing's cancellation")
    if kind is FundEventKind.RELEASE:
        registered = conn.execute(
            select(schema.filings.c.registered_at).where(schema.filings.c.number == number)
        ).scalar()
        if registered is not None and booked < _utc(registered):
            raise StatementInvalid("the release is booked before the transfer registration")
