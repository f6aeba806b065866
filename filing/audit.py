"""``wangqian audit``: the database agrees with the log, and the log with itself.

``ledger.audit`` recomputes the Merkle tree from the entries. That proves the log,
not the rows beside it: with database access one could fake a cancellation in
``filings`` and ``units``, swap a sealed PDF together with its hash, change a
contract's price or rewrite a history, and the log would still audit clean. This
module checks, in one database snapshot, each claim a filing's rows make against
the log entries that back them:

* ``entry``: every filing log entry (filed, cancelled, changed) has its rows, with the
  same filing number, unit, time and document hash;
* ``state``: every FILED, CANCELLED or CHANGED state in ``filings``, ``units``,
  ``contracts``, ``filing_changes`` and ``filing_events`` is backed by its log entry,
  and each unit's status and flags are what its own history last recorded;
* ``document``: every stored sealed PDF (contract, change or cancellation agreement) and
  every judgment a cancellation rests on hashes to its entry's ``doc``;
* ``contract``: the contract data is what was signed: it renders (deterministically)
  to the stored draft, whose hash is ``draft_sha256`` and which is the byte prefix of
  the sealed PDF, and its parties hash (with the filing's salt) to the entry's; an
  agreement's reason and terms render to its draft the same way;
* ``history``: ``unit_events`` and ``filing_events`` match their anchors in the log
  (``filing.history``).

Each problem is a line that starts with its claim in brackets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, Engine, select

from filing import fund_audit, history, kinds, maintenance_audit, schema
from filing.entry import (
    FUND_EVENTS,
    MAINTENANCE_EVENTS,
    EntryEvent,
    EntryFormatError,
    FilingEntry,
    party_hash,
)
from filing.holdings import person_key
from filing.lease_schema import LEASE_KINDS
from filing.status import ContractStatus, FilingEvent, FilingStatus, UnitStatus
from ledger.schema import leaves
from signing.lease import LeaseContract
from signing.lease_render import render_renewal, render_termination
from signing.render import AgreementKind, FilingAgreement, render_agreement

# Unit statuses that hold a unit for its one active filing.
# A unit held by a filing: filed (a new home's FILED, a resale's UNDER_CONTRACT) or registered.
HELD = (UnitStatus.FILED.value, UnitStatus.UNDER_CONTRACT.value, UnitStatus.REGISTERED.value)
CLAIMS = ("entry", "state", "document", "contract", "history")


@dataclass
class RecordsReport:
    entries: int = 0  # log entries read
    filings: int = 0
    cancellations: int = 0
    changes: int = 0
    contracts_rendered: int = 0
    units: int = 0
    history: history.HistoryCheck | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, claim: str, message: str) -> None:
        assert claim in CLAIMS
        self.problems.append(f"[{claim}] {message}")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _second(moment: dt.datetime) -> dt.datetime:
    return _aware(moment).astimezone(dt.UTC).replace(microsecond=0)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Entries:
    filings: dict[int, FilingEntry]  # by log index
    anchors: list[tuple[int, dict[str, Any]]]  # history anchors, by log index


def _read_entries(conn: Connection, report: RecordsReport) -> _Entries:
    filings: dict[int, FilingEntry] = {}
    anchors: list[tuple[int, dict[str, Any]]] = []
    for idx, data in conn.execute(select(leaves.c.idx, leaves.c.data).order_by(leaves.c.idx)):
        report.entries += 1
        index, raw = int(idx), bytes(data)
        try:
            filings[index] = FilingEntry.decode(raw)
            continue
        except EntryFormatError:
            pass
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind == history.KIND:
            assert isinstance(obj, dict)
            anchors.append((index, obj))
        elif kind != "access-log":  # checked against its rows by api.access_anchor
            report.add("entry", f"log entry {index} is neither a filing event nor an anchor")
    return _Entries(filings, anchors)


def audit_records(engine: Engine, bank_issuers: Sequence[x509.Certificate]) -> RecordsReport:
    """Check every claim of the filing tables against the log, in one snapshot;
    ``bank_issuers``: the CA certificates that issue banks' statement certificates (every
    stored bank statement's signature is checked against them)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for the whole audit: filings committed meanwhile are
            # either wholly in it (rows and entry) or wholly not.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return check_records(conn, bank_issuers)


def check_records(conn: Connection, bank_issuers: Sequence[x509.Certificate]) -> RecordsReport:
    """``audit_records`` within the caller's transaction (what it sees is what is checked)."""
    report = RecordsReport()
    entries = _read_entries(conn, report)
    _check_filings(conn, entries.filings, report, bank_issuers)
    _check_units(conn, report)
    _check_owners(conn, report)
    for message in maintenance_audit.gate_problems(conn, entries.filings):
        report.add("state", message)
    report.history = history.check(conn, entries.anchors)
    for problem in report.history.problems:
        report.add("history", problem)
    return report


def _check_filings(
    conn: Connection,
    entries: dict[int, FilingEntry],
    report: RecordsReport,
    bank_issuers: Sequence[x509.Certificate],
) -> None:
    f, c, u = schema.filings, schema.contracts, schema.units
    rows = {
        int(r.log_index): r
        for r in conn.execute(
            select(
                f.c.number,
                f.c.contract_id,
                f.c.unit_id,
                f.c.status,
                f.c.doc_sha256,
                f.c.log_index,
                f.c.party_salt,
                f.c.filed_at,
                f.c.kind,
                f.c.registered_at,
                f.c.registration,
                u.c.code,
            ).join(u, u.c.id == f.c.unit_id)
        )
    }
    by_number = {r.number: r for r in rows.values()}
    events: dict[int, list[tuple[str, str]]] = defaultdict(list)
    fe = schema.filing_events
    for r in conn.execute(select(fe.c.log_index, fe.c.event, fe.c.filing_number)):
        events[int(r.log_index)].append((str(r.event), str(r.filing_number)))
    changes = {
        int(r.log_index): r
        for r in conn.execute(
            select(
                schema.filing_changes.c.log_index,
                schema.filing_changes.c.filing_number,
                schema.filing_changes.c.doc_sha256,
            )
        )
    }

    cancelled: dict[str, int] = {}
    registered: dict[str, int] = {}
    expired: dict[str, int] = {}
    for claim, message in fund_audit.check(
        conn, {i: e for i, e in entries.items() if e.event in FUND_EVENTS}, bank_issuers
    ):
        report.add(claim, message)
    for claim, message in maintenance_audit.check(
        conn, {i: e for i, e in entries.items() if e.event in MAINTENANCE_EVENTS}, bank_issuers
    ):
        report.add(claim, message)
    for index, e in sorted(entries.items()):
        if (e.event.value.upper(), e.filing) not in events.get(index, []):
            report.add(
                "entry", f"log entry {index} ({e.event.value} {e.filing}) has no filing_events row"
            )
        if e.event in FUND_EVENTS or e.event in MAINTENANCE_EVENTS:
            continue  # checked by fund_audit, maintenance_audit
        if e.event is EntryEvent.FILED:
            report.filings += 1
            row = rows.get(index)
            if row is None:
                report.add("entry", f"log entry {index} files {e.filing}, but no filing row has it")
                continue
            _check_filed(conn, index, e, row, report)
        elif e.event is EntryEvent.CANCELLED:
            report.cancellations += 1
            row = by_number.get(e.filing)
            if row is None or int(row.log_index) != e.ref:
                report.add(
                    "entry",
                    f"log entry {index} cancels {e.filing} (filed at {e.ref}), "
                    "which no filing row matches",
                )
            _check_cancellation_document(conn, index, e, report)
            if e.filing in cancelled:
                report.add(
                    "entry",
                    f"{e.filing} is cancelled twice (log entries "
                    f"{cancelled[e.filing]} and {index})",
                )
            cancelled[e.filing] = index
            if e.filing in registered:
                report.add("entry", f"{e.filing} is cancelled after its registration")
            if row is not None and row.status != FilingStatus.CANCELLED:
                report.add(
                    "state",
                    f"the log cancelled {e.filing} at entry {index}, but its row says {row.status}",
                )
        elif e.event is EntryEvent.REGISTERED:
            row = by_number.get(e.filing)
            if row is None or int(row.log_index) != e.ref:
                report.add(
                    "entry",
                    f"log entry {index} registers {e.filing} (filed at {e.ref}), "
                    "which no filing row matches",
                )
            elif row.registered_at is None or row.registration is None:
                report.add("state", f"the log registered {e.filing}; its row does not say so")
            elif _sha256(row.registration.encode()) != e.doc_sha256:
                report.add("document", f"{e.filing}: its registration record is not the one logged")
            if e.filing in registered or e.filing in cancelled:
                report.add("entry", f"{e.filing} is registered at {index} after it ended")
            registered[e.filing] = index
        elif e.event is EntryEvent.EXPIRED:
            row = by_number.get(e.filing)
            if row is None or int(row.log_index) != e.ref or row.kind not in LEASE_KINDS:
                report.add(
                    "entry", f"log entry {index} expires {e.filing}: no lease filing row matches"
                )
            elif row.status != FilingStatus.ENDED:
                report.add("state", f"the log expired {e.filing}; its row says {row.status}")
            if e.filing in expired or e.filing in cancelled:
                report.add("entry", f"{e.filing} expires at {index} after it ended")
            expired[e.filing] = index
        else:
            report.changes += 1
            change = changes.get(index)
            target = by_number.get(e.filing)
            if change is None or change.filing_number != e.filing:
                report.add("entry", f"log entry {index} changes {e.filing}: no change row has it")
            elif change.doc_sha256 != e.doc_sha256:
                report.add(
                    "document",
                    f"change {index} of {e.filing}: its row's hash is not the one logged",
                )
            if target is None or int(target.log_index) != e.ref:
                report.add(
                    "entry",
                    f"log entry {index} changes {e.filing}, filed at {e.ref}, "
                    "which no filing row matches",
                )
            _check_change_document(conn, index, e, report)

    # The other way round: every state in the rows has its entry.
    for index, row in rows.items():
        found = entries.get(index)
        if found is None or found.event is not EntryEvent.FILED or found.filing != row.number:
            report.add(
                "state", f"filing {row.number} claims log entry {index}, which does not file it"
            )
        if row.status == FilingStatus.CANCELLED and row.number not in cancelled:
            report.add(
                "state", f"filing {row.number} is marked cancelled; the log never cancelled it"
            )
        elif row.status == FilingStatus.ENDED and row.number not in expired:
            report.add("state", f"filing {row.number} is marked ended; the log never expired it")
        elif row.status not in tuple(FilingStatus):
            report.add("state", f"filing {row.number} has an unknown status {row.status!r}")
        # Rows registered before registrations were logged (migration 0006) keep no record.
        if row.registration is not None and row.number not in registered:
            report.add(
                "state", f"filing {row.number} is marked registered; the log never registered it"
            )
    for index, change in changes.items():
        found = entries.get(index)
        if (
            found is None
            or found.event is not EntryEvent.CHANGED
            or found.filing != change.filing_number
        ):
            report.add(
                "state",
                f"change row at log index {index} of {change.filing_number} "
                "has no change entry in the log",
            )
    for index, recorded in events.items():
        found = entries.get(index)
        for event, number in recorded:
            if event not in (
                FilingEvent.FILED,
                FilingEvent.CANCELLED,
                FilingEvent.CHANGED,
                FilingEvent.REGISTERED,
                FilingEvent.EXPIRED,
            ):
                continue  # events without an entry of their own: the history chain covers them
            if found is None or (found.event.value.upper(), found.filing) != (event, number):
                report.add(
                    "state",
                    f"filing_events says {number} was {event.lower()} at log "
                    f"index {index}; the log does not",
                )
    filed = {str(r.contract_id) for r in rows.values()}
    agreed = _check_agreements(conn, entries, by_number, report)
    for (cid,) in conn.execute(
        select(c.c.id).where(c.c.status == ContractStatus.FILED.value)
    ).all():
        if str(cid) not in filed and str(cid) not in agreed:
            report.add("state", f"contract {cid} is marked filed; no filing in the log is it")
    documents = schema.cancellation_documents
    for doc_index, doc_filing in conn.execute(
        select(documents.c.log_index, documents.c.filing_number)
    ):
        found = entries.get(int(doc_index))
        if found is None or found.event is not EntryEvent.CANCELLED:
            report.add(
                "state",
                f"a cancellation document of {doc_filing} claims log index "
                f"{doc_index}, which cancels nothing",
            )

    # Units held by a filing are those whose filing the log has not cancelled: the one not
    # yet registered if there is one (a resale of a registered home), else the latest.
    done = set(registered) | {r.number for r in rows.values() if r.registered_at is not None}
    active: dict[int, Any] = {}
    for index, row in sorted(rows.items()):
        if row.number in cancelled or index not in entries or row.kind in LEASE_KINDS:
            continue  # a lease holds no unit: its space and term are in the lease records
        held = active.get(int(row.unit_id))
        if held is None or held.number in done or row.number not in done:
            active[int(row.unit_id)] = row
    # A registered filing holds its unit as the owners': REGISTERED, or reserved for their
    # resale being drafted (held for whichever contract; a withdrawn draft holds none).
    owners_hold = (UnitStatus.REGISTERED.value, UnitStatus.RESALE_RESERVED.value)
    # An existing home whose owners were imported from the register is REGISTERED with no
    # filing here at all (filing/ownership_records.py).
    imported = set(
        conn.execute(
            select(schema.ownerships.c.unit_id).where(schema.ownerships.c.basis == "import")
        ).scalars()
    )
    for unit in conn.execute(select(u.c.id, u.c.code, u.c.status, u.c.reserved_for)):
        holder = active.get(int(unit.id))
        if holder is not None and holder.number in done:
            if unit.status not in owners_hold:
                report.add(
                    "state",
                    f"unit {unit.code} is {unit.status}, but its filing {holder.number} "
                    "is registered",
                )
        elif holder is not None and (
            unit.status not in HELD or unit.reserved_for != holder.contract_id
        ):
            report.add(
                "state",
                f"unit {unit.code} is {unit.status}, but the log holds it for the "
                f"active filing {holder.number}",
            )
        elif (
            holder is None
            and unit.status in HELD
            and not (unit.status == UnitStatus.REGISTERED.value and unit.id in imported)
        ):
            report.add(
                "state",
                f"unit {unit.code} is {unit.status}, but the log has no active filing of it",
            )


def _check_filed(
    conn: Connection, index: int, e: FilingEntry, row: Any, report: RecordsReport
) -> None:
    f, c = schema.filings, schema.contracts
    number = e.filing
    if row.number != number:
        report.add("entry", f"log entry {index} files {number}; its row says {row.number}")
    if row.code != e.unit:
        report.add("entry", f"{number}: the row's unit is {row.code}, the log's {e.unit}")
    if _second(row.filed_at) != e.at:
        report.add("entry", f"{number}: filed at {row.filed_at} in the row, {e.at} in the log")
    sealed = conn.execute(select(f.c.sealed_pdf).where(f.c.log_index == index)).scalar_one()
    sealed = bytes(sealed)
    if row.doc_sha256 != e.doc_sha256 or _sha256(sealed) != e.doc_sha256:
        report.add(
            "document",
            f"{number}: the stored sealed PDF hashes to {_sha256(sealed)[:16]}…, "
            f"its row says {row.doc_sha256[:16]}…, the log {e.doc_sha256[:16]}…",
        )
    contract = conn.execute(
        select(c.c.status, c.c.data, c.c.draft_sha256, c.c.draft_pdf, c.c.current_pdf).where(
            c.c.id == row.contract_id
        )
    ).first()
    if contract is None:
        report.add("contract", f"{number}: its contract {row.contract_id} is missing")
        return
    if contract.status != ContractStatus.FILED:
        report.add("state", f"{number}: its contract is {contract.status}, not FILED")
    draft, current = bytes(contract.draft_pdf), bytes(contract.current_pdf)
    try:
        kind = kinds.get(row.kind)
        terms = kinds.load(row.kind, contract.data)
    except (ValueError, KeyError, TypeError, AssertionError, ArithmeticError) as exc:
        report.add("contract", f"{number}: its contract data cannot be read: {exc}")
        return
    report.contracts_rendered += 1
    if kinds.render_pdf(terms) != draft:
        report.add(
            "contract",
            f"{number}: the contract data does not render to the draft "
            "that was signed (changed since?)",
        )
    if _sha256(draft) != contract.draft_sha256:
        report.add("contract", f"{number}: the stored draft does not hash to draft_sha256")
    if not sealed.startswith(draft):
        report.add("contract", f"{number}: the sealed PDF does not begin with the stored draft")
    if current != sealed:
        report.add("contract", f"{number}: the contract's current PDF is not the sealed one")
    if kinds.unit_code(terms) != e.unit:
        report.add(
            "contract",
            f"{number}: the contract is for unit {kinds.unit_code(terms)}, "
            f"the log's filing for {e.unit}",
        )
    if e.kind is not kind.log_kind:
        report.add("entry", f"{number}: a {row.kind} filing logged as {e.kind.value}")
    parties = tuple(
        party_hash(bytes(row.party_salt), p.id_type, p.id_number)
        for p in kind.logged_parties(terms)
    )
    if parties != e.parties:
        report.add(
            "contract", f"{number}: the contract's parties are not those the log entry names"
        )


def _check_change_document(
    conn: Connection, index: int, e: FilingEntry, report: RecordsReport
) -> None:
    ch = schema.filing_changes
    sealed = conn.execute(select(ch.c.sealed_pdf).where(ch.c.log_index == index)).scalar()
    if sealed is not None and _sha256(bytes(sealed)) != e.doc_sha256:
        report.add(
            "document",
            f"change {index} of {e.filing}: the stored agreement does not "
            "hash to the logged document",
        )


def _check_cancellation_document(
    conn: Connection, index: int, e: FilingEntry, report: RecordsReport
) -> None:
    """A cancellation rests on the document its entry names: the agreement or judgment."""
    cd = schema.cancellation_documents
    row = conn.execute(
        select(cd.c.filing_number, cd.c.basis, cd.c.doc_sha256, cd.c.document).where(
            cd.c.log_index == index
        )
    ).first()
    if row is None:
        report.add("entry", f"log entry {index} cancels {e.filing}: no document row has it")
        return
    basis = e.basis.value if e.basis is not None else None
    if row.filing_number != e.filing or row.basis != basis:
        report.add(
            "entry",
            f"log entry {index} cancels {e.filing} by {basis}; its document row says "
            f"{row.filing_number} by {row.basis}",
        )
    if row.doc_sha256 != e.doc_sha256 or _sha256(bytes(row.document)) != e.doc_sha256:
        report.add(
            "document",
            f"cancellation {index} of {e.filing}: the stored document does not hash to "
            "the logged one",
        )


def _check_agreements(
    conn: Connection,
    entries: dict[int, FilingEntry],
    filings: dict[str, Any],
    report: RecordsReport,
) -> set[str]:
    """Each carried-out agreement is the platform's rendering of what the parties agreed
    and is the document its entry logged. Returns the agreements' contract ids."""
    a, c = schema.filing_agreements, schema.contracts
    logged: dict[str, set[str]] = defaultdict(set)  # filing -> docs of its later entries
    for e in entries.values():
        if e.event is not EntryEvent.FILED:
            logged[e.filing].add(e.doc_sha256)
    carried_out: set[str] = set()
    rows = conn.execute(
        select(
            a, c.c.number, c.c.status, c.c.draft_pdf, c.c.draft_sha256, c.c.current_pdf, c.c.data
        )
        .join(c, c.c.id == a.c.contract_id)
        .where(c.c.status == ContractStatus.FILED.value)
    ).all()
    for r in rows:
        carried_out.add(str(r.contract_id))
        draft, sealed = bytes(r.draft_pdf), bytes(r.current_pdf)
        if _sha256(sealed) not in logged.get(r.filing_number, set()):
            report.add(
                "document",
                f"agreement {r.number}: its sealed PDF is no document the log holds "
                f"for {r.filing_number}",
            )
        if _sha256(draft) != r.draft_sha256 or not sealed.startswith(draft):
            report.add("contract", f"agreement {r.number}: the sealed PDF is not its draft signed")
        filing = filings.get(r.filing_number)
        original = (
            conn.execute(select(c.c.kind, c.c.data).where(c.c.id == filing.contract_id)).first()
            if filing is not None
            else None
        )
        if original is None:
            report.add("contract", f"agreement {r.number}: its filing {r.filing_number} is missing")
            continue
        try:
            filed = kinds.load(original.kind, original.data)  # as its kind reads it
            if isinstance(filed, LeaseContract) and AgreementKind(r.kind) is AgreementKind.CHANGE:
                until = kinds.load(original.kind, r.data)  # 续订: the lease as renewed
                assert isinstance(until, LeaseContract)
                rendered = render_renewal(filed, r.number, r.filing_number, r.reason, until.end)
            elif isinstance(filed, LeaseContract):  # 解除 of a lease: its own text
                rendered = render_termination(filed, r.number, r.filing_number, r.reason)
            else:
                agreement = FilingAgreement(
                    AgreementKind(r.kind), filed, r.number, r.filing_number, r.reason, r.terms
                )
                rendered = render_agreement(agreement)
        except (ValueError, KeyError, TypeError, AssertionError, ArithmeticError) as exc:
            report.add("contract", f"agreement {r.number}: its data cannot be read: {exc}")
            continue
        report.contracts_rendered += 1
        if rendered.pdf != draft:
            report.add(
                "contract",
                f"agreement {r.number}: what was agreed does not render to the draft "
                "that was signed (changed since?)",
            )
    return carried_out


def _check_owners(conn: Connection, report: RecordsReport) -> None:
    """The owners of record of a registered sale are its filing's buyers, as the contract
    (checked against the log above) names them: nothing else backs ``ownership_owners``."""
    o, w, f, c = schema.ownerships, schema.ownership_owners, schema.filings, schema.contracts
    owners: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
    columns = (w.c.ownership_id, w.c.name, w.c.id_type, w.c.id_number, w.c.person)
    for r in conn.execute(select(*columns)):
        owners[int(r.ownership_id)].append(
            (str(r.name), str(r.id_type), str(r.id_number), str(r.person))
        )
    sales = conn.execute(
        select(o.c.id, o.c.certificate, o.c.filing_number, c.c.kind, c.c.data)
        .join(f, f.c.number == o.c.filing_number)
        .join(c, c.c.id == f.c.contract_id)
        .where(o.c.basis.in_(("filing", "transfer")))
    )
    for r in sales:
        contract = kinds.load(r.kind, r.data)
        if isinstance(contract, LeaseContract):  # a lease registers no owner
            report.add("state", f"certificate {r.certificate} is registered on a lease")
            continue
        buyers = contract.buyers
        wanted = sorted((b.name, b.id_type, b.id_number, person_key(b.id_number)) for b in buyers)
        if sorted(owners.get(int(r.id), [])) != wanted:
            report.add(
                "state",
                f"the owners of record under certificate {r.certificate} are not the buyers "
                f"of filing {r.filing_number}",
            )
    unbacked = conn.execute(
        select(o.c.certificate).where(
            o.c.basis.in_(("filing", "transfer")), o.c.filing_number.is_(None)
        )
    )
    for (certificate,) in unbacked:
        report.add("state", f"the registration under certificate {certificate} names no filing")


def _check_units(conn: Connection, report: RecordsReport) -> None:
    """Each unit's status and flags are what its own history last recorded."""
    u, ev = schema.units, schema.unit_events
    last_status: dict[int, str] = {}
    last_flags: dict[int, str] = {}
    for event in conn.execute(select(ev.c.unit_id, ev.c.to_status, ev.c.flags).order_by(ev.c.id)):
        if event.to_status is not None:
            last_status[int(event.unit_id)] = str(event.to_status)
        if event.flags is not None:
            last_flags[int(event.unit_id)] = str(event.flags)
    for r in conn.execute(select(u.c.id, u.c.code, u.c.status, u.c.flags)):
        report.units += 1
        unit_id = int(r.id)
        if last_status.get(unit_id) != r.status:
            report.add(
                "state",
                f"unit {r.code} is {r.status}; its history last left it {last_status.get(unit_id)}",
            )
        if last_flags.get(unit_id, "") != (r.flags or ""):
            report.add(
                "state",
                f"unit {r.code} has flags {r.flags!r}; its history last set "
                f"{last_flags.get(unit_id, '')!r}",
            )
