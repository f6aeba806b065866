"""Contracts from draft to filing: signing equals filing (网签即备案).

A draft passes 房源核验 and 购房资格, is rendered and reserves its unit. Parties sign
in the contract's order. When the last party's signature is accepted, ONE
transaction validates every signature, checks the file extends the recorded
draft byte for byte, applies the platform's filing seal (B-LTA), issues the
filing number, sets the unit FILED, stores the sealed PDF and appends the log
entry. Any failure leaves nothing changed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from filing import (
    drafting,
    holdings,
    invitations,
    judgements,
    kinds,
    lease_drafting,
    lease_records,
    maintenance_dues,
    outbox,
    ownership_records,
    registry,
    schema,
    statistics,
)
from filing.checks import CheckFailure, Reason
from filing.clock import SYSTEM, Clock
from filing.completion import completed
from filing.deployment import Deployment
from filing.eligibility import (
    Decision,
    HouseholdRegistry,
    PaymentRecords,
    PropertyRecords,
    RuleSet,
    decide,
    gather,
    rule_set_for,
)
from filing.entry import (
    CancellationBasis,
    EntryEvent,
    EntryKind,
    FilingEntry,
    expiry_record,
    party_hash,
    registration_record,
)
from filing.kinds import AnyContract, Kind, LaterEvent, PartyRole, SigningMethod, TransactionKind
from filing.lease import (
    DEFAULT_2020,
    LeaseRuleSet,
    Proposal,
    check_lease,
    check_lessors,
    check_overlap,
)
from filing.maintenance import MaintenanceRuleSet
from filing.resale import CHANGSHA_2018, ResaleRuleSet, check_resale
from filing.seals import known_validation_data
from filing.status import (
    ContractStatus,
    FilingEvent,
    FilingStatus,
    InvalidTransition,
    UnitFlag,
    UnitStatus,
)
from keys.identity import (
    SigningPurpose,
    SigningWindowClosed,
    VerifiedIdentity,
    issue_party_certificate,
    purpose_of,
)
from keys.pki import Profile
from ledger.database import write_transaction
from signing import pades, remote
from signing.contract import Contract, Party
from signing.fonts import truetype_font
from signing.lease import LeaseContract
from signing.lease_render import (
    LeaseCertificate,
    render_certificate,
    render_renewal,
    render_termination,
)
from signing.render import AgreementKind as AgreementKind  # the kinds callers propose
from signing.render import FilingAgreement, render_agreement
from signing.resale import ResaleContract
from signing.seal_image import seal_file
from verifier.document import revision_count
from verifier.signatures import DocumentUnreadable, PriorJudgement, SignedDocument
from verifier.trust import TrustBundle

RESERVATION = dt.timedelta(days=7)
PLATFORM_NAME = "网签备案平台"  # the name on the filing seal (备案专用章)


class FilingError(Exception):
    """Base class: the request cannot be carried out; nothing was changed."""


class NotSellable(FilingError):
    def __init__(self, failures: list[CheckFailure], kind: Kind | None = None) -> None:
        super().__init__("; ".join(f"{f.code}: {f.message}" for f in failures))
        self.failures = failures
        self.kind = kind  # the transaction kind whose requirements the unit does not meet


class KindMismatch(FilingError):
    """The contract is not of the kind the 楼盘表's facts decide, or does not state the
    facts its kind requires (measured areas): the registry changed, or the caller erred."""


class NotEligible(FilingError):
    def __init__(self, decisions: list[Decision]) -> None:
        reasons = sorted({r.value for d in decisions for r in d.reasons})
        super().__init__("buyer not eligible: " + ", ".join(reasons))
        self.decisions = decisions


class UnitTaken(FilingError):
    """The unit is reserved, filed or changed by someone else (a conflict)."""


class ContractStateError(FilingError):
    """The contract is not in a state that allows this (withdrawn, filed, out of order)."""


class SealUnavailable(FilingError):
    """The platform cannot seal now (its seal certificate is revoked or expired, say)."""


class SignatureRejected(FilingError):
    """A submitted signature or signed revision does not pass the checks."""


class UnknownContract(FilingError, LookupError):
    pass


class JudgmentRequired(FilingError):
    """Cancelling without every party's agreement needs a judgment or decision document."""


class NotYourField(FilingError):
    """A party acts only for itself: this field is another party's."""


class UnknownSignatureField(FilingError):
    """The contract has no signature field of this name."""


class DuplicateContractNumber(FilingError):
    """Another contract already has this number (numbers are unique on the platform)."""


class NotADrafter(FilingError):
    """A resale is drafted by one of its sellers or by the brokerage it names."""


class InvitationsExhausted(FilingError):
    """No more signing invitations to this party: per draft, or from this drafter today."""


@dataclass(frozen=True)
class Drafted:
    id: str
    sha256: str  # of the rendered draft
    kind: Kind
    # One per person party, sent to their phones of record (filing/invitation_delivery.py).
    invitations: tuple[invitations.SentInvitation, ...] = ()


@dataclass(frozen=True)
class Drafter:
    """Who drafts a resale: one of its sellers (``person``: the ID number their key stands
    for) or a brokerage (``brokerage``: the filing number its key names)."""

    person: str | None = None
    brokerage: str | None = None

    def __post_init__(self) -> None:
        if (self.person is None) == (self.brokerage is None):
            raise ValueError("a drafter is a person or a brokerage")

    @property
    def key(self) -> str:
        """What ``contracts.developer_id`` records: never a developer's credit code."""
        return f"agency:{self.brokerage}" if self.brokerage else f"person:{self.person}"


@dataclass(frozen=True)
class FilingRecord:
    number: str
    contract_id: str
    doc_sha256: str
    log_index: int
    filed_at: dt.datetime
    event: EntryEvent = EntryEvent.FILED  # what the log entry records


@dataclass(frozen=True)
class Registration:
    """A registration recorded: the new ownership record and its log entry's index."""

    record: ownership_records.OwnershipRecord
    log_index: int


@dataclass(frozen=True)
class Departments:
    """The department adapters 购房资格 reads, and the rule sets in force."""

    households: HouseholdRegistry
    payments: PaymentRecords
    properties: PropertyRecords
    rule_sets: Sequence[RuleSet]
    resale_rule_sets: Sequence[ResaleRuleSet] = (CHANGSHA_2018,)  # 限售
    # 住宅专项维修资金: none unless the deployment adopted them (filing/maintenance.py)
    maintenance_rule_sets: Sequence[MaintenanceRuleSet] = ()
    lease_rule_sets: Sequence[LeaseRuleSet] = (DEFAULT_2020,)  # 租赁: area per occupant


# Signature pipelines (validate, seal, file) a process runs at once. They are CPU-bound
# under one GIL: more at once only stretch each other's transactions and row locks.
# Taken before the transaction begins, never while holding a database lock.
PIPELINES = 2

# Work another module does in the transaction that records a signature.
Also = Callable[[Connection], None]


@dataclass(frozen=True)
class Checked:
    """A revision's signatures as judged: the revocation data they were judged with (which
    the filing seal embeds) and the judgement's stored form (filing/judgements.py)."""

    revocation: pades.RevocationSnapshot
    judgement: str | None


class FilingService:
    def __init__(
        self,
        deployment: Deployment,
        departments: Departments,
        pipelines: int = PIPELINES,
        clock: Clock = SYSTEM,
    ) -> None:
        self.d = deployment
        self.departments = departments
        self.clock = clock
        self.engine = deployment.log.engine
        self._pipelines = threading.BoundedSemaphore(pipelines)
        with write_transaction(self.engine) as conn:
            holdings.backfill(conn)

    # -- drafting --------------------------------------------------------

    def draft_terms(self, terms: drafting.Terms, developer_id: str, actor: str) -> Drafted:
        """Draft the contract that the 楼盘表's facts about the unit make of ``terms``: the
        kind they decide (现售 or presale), its model text, its basis and areas."""
        with self.engine.connect() as conn:
            facts = registry.unit_facts(conn, terms.unit_code)
        kind = kinds.for_unit(facts.view)
        return self._draft(drafting.compose(kind, terms, facts), developer_id, actor)

    def draft_resale(self, terms: drafting.ResaleTerms, drafter: Drafter) -> Drafted:
        """Draft a resale (存量房买卖) of ``terms``: the house, its certificate and its
        registration as the ownership record says; by a seller or the brokerage named."""
        if drafter.brokerage is not None:
            if terms.brokerage is None or terms.brokerage.filing_number != drafter.brokerage:
                raise NotADrafter("a brokerage drafts only a contract that names it")
        elif drafter.person not in {p.id_number for p in terms.sellers}:
            raise NotADrafter("a person drafts a resale only as one of its sellers")
        with self.engine.connect() as conn:
            facts = registry.unit_facts(conn, terms.unit_code)
            unit_id = registry.unit(conn, terms.unit_code).id
            record = ownership_records.current(conn, unit_id)
            mortgages = ownership_records.mortgages(conn, unit_id)
        # Proof that the owners showed the drafter their certificate, before any check that
        # would tell whom the record names, whether the home is mortgaged or held: without
        # it, a brokerage could learn who owns any home by drafting with guessed sellers
        # (and hold the home with a draft of the right ones).
        if record is None or record.ownership.certificate != terms.certificate.strip():
            raise NotSellable([CheckFailure(Reason.CERTIFICATE_MISMATCH)], Kind.RESALE)
        contract = drafting.compose_resale(
            terms,
            facts,
            None if record is None else record.ownership,
            mortgages,
            self.clock.now().replace(microsecond=0),
        )
        return self._draft(contract, drafter.key, drafter.key)

    def draft_lease(self, terms: lease_drafting.LeaseTerms, drafter: Drafter | str) -> Drafted:
        """Draft a lease (住房租赁) of ``terms``: by one of its lessors (the owners of record,
        a ``Drafter`` person) or by the rental enterprise that is its lessor (its credit
        code, the enterprise key's org). The house and its certificate are the register's."""
        if isinstance(drafter, str):
            if terms.enterprise is None or terms.lessors[0].id_number != drafter:
                raise NotADrafter("an enterprise drafts only a lease it is the lessor of")
            key = drafter
        else:
            if terms.enterprise is not None or drafter.person not in {
                p.id_number for p in terms.lessors
            }:
                raise NotADrafter("a person drafts a lease only as one of its lessors")
            key = drafter.key
        with self.engine.connect() as conn:
            facts = registry.unit_facts(conn, terms.unit_code)
            unit_id = registry.unit(conn, terms.unit_code).id
            record = ownership_records.current(conn, unit_id)
        contract = lease_drafting.compose_lease(
            terms,
            facts,
            None if record is None else record.ownership,
            self.clock.now().replace(microsecond=0),
        )
        return self._draft(contract, key, key)

    def lease_checks_in(
        self, conn: Connection, contract: LeaseContract, at: dt.datetime
    ) -> list[CheckFailure]:
        """租赁备案's checks as of ``at`` (a draft's now, or imported history's moment):
        lawful housing, lessors, overlap, area per occupant. Takes the unit's lock."""
        lease_rules = rule_set_for(self.departments.lease_rule_sets, at.date())
        facts = lease_records.facts(conn, kinds.unit_code(contract), at)
        return check_lease(facts, _proposal(contract), lease_rules)

    def draft(self, contract: Contract, developer_id: str, actor: str) -> tuple[str, str]:
        """Check, render and record a draft, reserving its unit. Returns (contract id, sha256)."""
        drafted = self._draft(contract, developer_id, actor)
        return drafted.id, drafted.sha256

    def _draft(self, contract: AnyContract, developer_id: str, actor: str) -> Drafted:
        """The pipeline's first step, for every kind: its checks, rendering, reservation.

        ``developer_id``: who drafts (a new home's developer; a resale's ``Drafter.key``)."""
        kind = kinds.of_contract(contract)
        code = kinds.unit_code(contract)
        if is_agreement_number(contract.number):
            raise DuplicateContractNumber(
                f"contract number {contract.number} is of the form the platform gives its "
                "cancellation and change agreements"
            )
        today = self.clock.now().date()
        contract_id = str(uuid.uuid4())
        pdf = kinds.render_pdf(contract)
        digest = hashlib.sha256(pdf).hexdigest()
        # Department data is read first, outside the write transaction: the adapters use
        # connections of their own, and a transaction waiting on a second connection can
        # starve the pool under load (found by the HTTP race test).
        with self.engine.connect() as conn:
            unit = registry.unit(conn, code)
        if not kind.owners_of_record and unit.developer_id != developer_id:
            raise ContractStateError("the unit belongs to another developer's project")
        rules = rule_set_for(self.departments.rule_sets, today)
        resale_rules = rule_set_for(self.departments.resale_rule_sets, today)
        applicants = [
            gather(
                b.id_number,
                today,
                rules,
                self.departments.households,
                self.departments.payments,
                self.departments.properties,
            )
            for b in (kinds.parties_of(contract, PartyRole.BUYER) if kind.purchase_limits else ())
        ]
        # Invitation messages leave for the phones only once the draft is committed.
        with self.d.courier.staged() as send, write_transaction(self.engine) as conn:
            # Counted under a lock per family member: two drafts racing for one family's
            # last allowed home cannot both pass.
            holdings.lock_family(conn, [p for a in applicants for p in a.family])
            decisions = [
                decide(
                    a,
                    unit.district,
                    rules,
                    holdings.homes_on_platform(conn, a.family, rules.restricted_districts, unit.id),
                )
                for a in applicants
            ]
            if not all(d.eligible for d in decisions):
                raise NotEligible(decisions)
            if isinstance(contract, LeaseContract):
                failures = self.lease_checks_in(conn, contract, self.clock.now())
            elif kind.owners_of_record:
                # 房源核验 of a resale: the ownership record, its mortgages, 限售.
                sellers = kinds.parties_of(contract, PartyRole.SELLER)
                facts = ownership_records.resale_facts(conn, code)
                failures = check_resale(facts, sellers, today, resale_rules)
            else:
                assert isinstance(contract, Contract)
                unit_facts = registry.unit_facts(conn, code)
                _as_registered(kind, contract, unit_facts)
                failures = kind.sellable(unit_facts.view, today)
            if failures:
                raise NotSellable(failures, kind.kind)
            try:
                if kind.lifecycle is not None:  # a lease holds its space, not the unit
                    registry.apply(
                        conn,
                        code,
                        kind.lifecycle.reserve,
                        actor,
                        f"draft {contract.number}",
                        reserved_for=contract_id,
                        reserved_until=self.clock.now() + RESERVATION,
                    )
            except (registry.StaleUnit, InvalidTransition) as exc:
                # Another draft reserved it between the check and here (PostgreSQL reads each
                # statement afresh): the unit is taken, not the server broken.
                raise UnitTaken(str(exc)) from exc
            try:
                conn.execute(
                    insert(schema.contracts).values(
                        id=contract_id,
                        number=contract.number,
                        unit_id=unit.id,
                        developer_id=developer_id,
                        status=ContractStatus.DRAFT.value,
                        kind=kind.kind.value,
                        data=kinds.dump(contract),
                        eligibility=json.dumps(
                            [json.loads(d.to_json()) for d in decisions], ensure_ascii=False
                        ),
                        draft_sha256=digest,
                        draft_pdf=pdf,
                        current_pdf=pdf,
                        signed_fields="",
                        created_at=self.clock.now(),
                        expires_at=self.clock.now() + RESERVATION,
                    )
                )
            except IntegrityError as exc:
                # The only constraint the row can break (its id is new, its unit exists): the
                # number. Raised inside the transaction, so the reservation goes with it.
                raise DuplicateContractNumber(
                    f"contract number {contract.number} is already used"
                ) from exc
            if isinstance(contract, LeaseContract):
                # Its space and term, live for the overlap check while it is signed. Lessees
                # are no buyers: a lease counts against nobody's purchase limits.
                lease_records.hold(conn, contract_id, unit.id, contract)
            else:
                holdings.record_buyers(conn, contract_id, contract)
            holdings.record_parties(conn, contract_id, contract)
            try:
                issued = invitations.invite(
                    conn,
                    send,
                    self.d.config.public_url,
                    (contract_id, contract.number),
                    invited_parties(kind, contract),
                    self.clock.now() + RESERVATION,
                    self.clock.now(),
                )
            except invitations.TooManyInvitations as exc:
                raise InvitationsExhausted(str(exc)) from exc
            drafted = Drafted(contract_id, digest, kind.kind, tuple(issued))
            completed(conn, drafted)
        return drafted

    # -- the 楼盘表: completion and measured areas ------------------------------

    def record_completion(
        self,
        project_id: int,
        building_id: int,
        acceptance_record: str,
        survey_report: str,
        measurements: list[tuple[str, Decimal, Decimal, Decimal]],
        correction: str,
        actor: str,
    ) -> registry.CompletionRecord:
        """The authority records a building's completion and its units' measured areas
        (``registry.record_completion``): from then on its measured units are sold 现售."""
        with write_transaction(self.engine) as conn:
            record = registry.record_completion(
                conn,
                project_id,
                building_id,
                acceptance_record,
                survey_report,
                measurements,
                correction,
                actor,
            )
            completed(conn, record)
        return record

    # -- registration (不动产登记 / 转移登记) ------------------------------------------

    def register(
        self,
        code: str,
        certificate: str,
        actor: str,
        registered_on: dt.date | None = None,
        shares: Sequence[str] | None = None,
    ) -> Registration:
        """The authority registers the purchase holding the unit (``register_in``)."""
        with write_transaction(self.engine) as conn:
            registration = self.register_in(conn, code, certificate, actor, registered_on, shares)
            completed(conn, registration)
        self.d.sequencer().appended()
        return registration

    def register_in(
        self,
        conn: Connection,
        code: str,
        certificate: str,
        actor: str,
        registered_on: dt.date | None = None,
        shares: Sequence[str] | None = None,
        at: dt.datetime | None = None,
    ) -> Registration:
        """Register the purchase holding the unit within the caller's transaction
        (``ownership_records.register_in``: its buyers become the owners) and log
        ``registered`` against its filing, which stays in force, completed. ``at``: when,
        for imported history."""
        record = ownership_records.register_in(
            conn, code, certificate, actor, registered_on, shares
        )
        assert record.filing_number is not None  # register_in names the filing
        number = record.filing_number
        maintenance_dues.require_deposited(conn, number)  # 维修资金 first
        f = self._active_filing(conn, number)
        if f.registered_at is not None:
            raise ContractStateError(f"filing {number} is registered already")
        at = at or self.clock.now().replace(microsecond=0)
        canonical = registration_record(
            number, code, record.ownership.certificate, record.ownership.registered_on
        )
        doc = hashlib.sha256(canonical).hexdigest()
        kind = kinds.get(f.kind)
        entry = FilingEntry(
            EntryEvent.REGISTERED, number, doc, code, at, (), ref=f.log_index,
            kind=kind.log_kind,
        )  # fmt: skip
        [index] = self.d.log.append_in(conn, [entry.encode()])
        conn.execute(
            update(schema.filings)
            .where(schema.filings.c.number == number)
            .values(registered_at=at, registration=canonical.decode())
        )
        outbox.enqueue(conn, "registered", number, index, at, code, doc, f.log_index)
        words = "转移登记" if kind.kind is Kind.RESALE else "不动产登记"
        record_event(
            conn, number, FilingEvent.REGISTERED, index, at, actor, f"{words} {certificate}"
        )
        return Registration(record, index)

    def measurements(self, code: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return registry.measurement_history(conn, code)

    def withdraw(self, contract_id: str, actor: str) -> None:
        self._release(contract_id, actor, ContractStatus.WITHDRAWN, "draft withdrawn")

    def expire_drafts(self, now: dt.datetime | None = None) -> list[str]:
        """Release the units of drafts whose reservation has run out; returns their ids."""
        moment = now or self.clock.now()
        with self.engine.connect() as conn:
            due = [
                str(cid)
                for (cid,) in conn.execute(
                    select(schema.contracts.c.id).where(
                        schema.contracts.c.status == ContractStatus.DRAFT.value,
                        schema.contracts.c.expires_at < moment,
                    )
                )
            ]
        expired = []
        for cid in due:
            try:
                self._release(
                    cid, "platform", ContractStatus.EXPIRED, "reservation expired", before=moment
                )
                expired.append(cid)
            except ContractStateError:
                continue  # filed or withdrawn meanwhile
        return expired

    def _release(
        self,
        contract_id: str,
        actor: str,
        status: ContractStatus,
        reason: str,
        before: dt.datetime | None = None,
    ) -> None:
        with write_transaction(self.engine) as conn:
            c = self._contract(conn, contract_id)
            if c["status"] != ContractStatus.DRAFT:
                raise ContractStateError(f"a {c['status']} contract cannot be {status.lower()}")
            if before is not None and _aware(c["expires_at"]) >= before:
                raise ContractStateError("the reservation has not run out")
            code = self._unit_code(conn, c["unit_id"])
            lifecycle = _kind(c).lifecycle
            # An agreement holds no unit, a lease only its space (live while a draft).
            if self._agreement(conn, contract_id) is None and lifecycle is not None:
                registry.apply(
                    conn,
                    code,
                    lifecycle.release,
                    actor,
                    reason,
                    expect_reserved_for=contract_id,
                )
            conn.execute(
                update(schema.contracts)
                .where(schema.contracts.c.id == contract_id)
                .values(status=status.value)
            )
            event = (
                outbox.ContractEvent.EXPIRED
                if status is ContractStatus.EXPIRED
                else outbox.ContractEvent.WITHDRAWN
            )
            self.d.log.hold_append_order(conn)
            outbox.enqueue_contract_event(conn, event, contract_id, code, self.clock.now())
            completed(conn, contract_id)

    # -- signing ---------------------------------------------------------

    def seal_as_developer(self, contract_id: str, actor: str) -> FilingRecord | None:
        """The developer's seal, from the platform's token (or key files)."""
        with self.engine.connect() as conn:
            c = self._contract(conn, contract_id)
        contract = _load(c)
        field, declared, seller = _sealing_seller(_kind(c), contract)
        # Before signing: pyHanko refuses a filled field with an error of its own (was a 500).
        self._expect_next(c, field)
        slug = "seal-" + hashlib.sha256(c["developer_id"].encode()).hexdigest()[:16]
        font = truetype_font()
        seal = seal_file(seller.name, "合同专用章")
        stamp = pades.Stamp(font, seal, declared.label, seller.name)
        with self.d.pki.seal_signer(slug, seller.name, Profile.ENTERPRISE_SEAL) as signer:
            signed = pades.sign(
                c["current_pdf"],
                field,
                signer,
                pades.Level.B_T,
                timestamper=self.d.pki.timestamper(),
                stamp=stamp,
            )
        return self.accept_revision(contract_id, signed, actor)

    def check_own_field(
        self, contract_id: str, field: str, caller: str, claimed_id_number: str
    ) -> None:
        """Before any identity lookup: ``field`` is the caller's own, and the identity the
        caller asks to be checked is their own too. Otherwise the identity records would
        answer, for anyone's name and ID number, whether they match (an oracle)."""
        with self.engine.connect() as conn:
            c = self._contract(conn, contract_id, lock=False)
        _own_party(_kind(c), _load(c), field, caller)
        if claimed_id_number != caller:
            raise NotYourField("a party's identity check is for the party's own ID number")

    def signing_certificate(
        self,
        contract_id: str,
        field: str,
        identity: VerifiedIdentity,
        device_key: ec.EllipticCurvePublicKey,
        caller: str,
    ) -> x509.Certificate:
        """A certificate for ``field`` of this contract only, for the buyer it names, asked
        for by that buyer (``caller``: the ID number the caller's credentials stand for)."""
        with self.engine.connect() as conn:
            c = self._contract(conn, contract_id, lock=False)
        if c["status"] != ContractStatus.DRAFT:
            raise ContractStateError(f"the contract is {c['status'].lower()}")
        self._expect_unexpired(c)
        return self._certificate_for(c, field, identity, device_key, caller)

    def _certificate_for(
        self,
        c: dict[str, Any],
        field: str,
        identity: VerifiedIdentity,
        device_key: ec.EllipticCurvePublicKey,
        caller: str,
    ) -> x509.Certificate:
        """The party's certificate for ``field``, in force until the draft can no longer be
        signed: no party's certificate expires before the seal."""
        contract = _load(c)
        _, party = _own_party(_kind(c), contract, field, caller)
        if (identity.name, identity.id_type, identity.id_number) != (
            party.name,
            party.id_type,
            party.id_number,
        ):
            raise SignatureRejected("the verified identity is not this party")
        purpose = SigningPurpose(contract.number, field)
        try:
            return issue_party_certificate(
                self.d.pki.ca, identity, device_key, purpose, _aware(c["expires_at"])
            )
        except SigningWindowClosed as exc:  # the reservation ended a moment ago
            raise ContractStateError("the draft's reservation has expired") from exc

    def start_remote_signing(
        self,
        contract_id: str,
        field: str,
        identity: VerifiedIdentity,
        device_key: ec.EllipticCurvePublicKey,
        caller: str,
    ) -> bytes:
        """Step 1 for a buyer's phone: returns the 32-byte digest the device must sign."""
        return self.remote_challenge(
            contract_id, field, identity, device_key, caller
        ).digest_to_sign

    def remote_challenge(
        self,
        contract_id: str,
        field: str,
        identity: VerifiedIdentity,
        device_key: ec.EllipticCurvePublicKey,
        caller: str,
    ) -> remote.Challenge:
        """Step 1: what the device signs. A device that hashes for itself (WebCrypto) signs
        the DER signed attributes; one that signs a digest signs their SHA-256."""
        with write_transaction(self.engine) as conn:
            c = self._contract(conn, contract_id)
            contract = _load(c)
            kind = _kind(c)
            declared, party = _own_party(kind, contract, field, caller)
            self._expect_next(c, field)
            cert = self._certificate_for(c, field, identity, device_key, caller)
            stamp = pades.Stamp(truetype_font(), None, declared.label, party.name)
            request = remote.prepare(c["current_pdf"], field, cert, [self.d.pki.ca.issuing], stamp)
            data = {k: _b64(v) for k, v in dataclasses.asdict(request).items()}
            conn.execute(
                schema.remote_signings.delete().where(
                    schema.remote_signings.c.contract_id == contract_id,
                    schema.remote_signings.c.field == field,
                )
            )
            conn.execute(
                insert(schema.remote_signings).values(
                    contract_id=contract_id,
                    field=field,
                    request=json.dumps(data),
                    created_at=self.clock.now(),
                )
            )
            challenge = remote.Challenge(request.signed_attrs)
            completed(conn, challenge)
        return challenge

    def finish_remote_signing(
        self,
        contract_id: str,
        field: str,
        signature: bytes,
        actor: str,
        also: Also | None = None,
    ) -> FilingRecord | None:
        """Step 2: the device's signature over the digest; only the buyer who started it.
        ``also`` runs in the transaction that records the signature (an invitation is
        consumed there: if it cannot be, the signature is not recorded either)."""
        with self.engine.connect() as conn:
            c = self._contract(conn, contract_id, lock=False)
            _own_party(_kind(c), _load(c), field, actor)
            row = conn.execute(
                select(schema.remote_signings.c.request).where(
                    schema.remote_signings.c.contract_id == contract_id,
                    schema.remote_signings.c.field == field,
                )
            ).scalar()
        if row is None:
            raise ContractStateError(f"no remote signing of {field} was started")
        data = json.loads(row)
        request = remote.RemoteSigningRequest(**{k: _unb64(v) for k, v in data.items()})
        try:
            signed = remote.finish(request, signature, self.d.pki.timestamper())
        except remote.RemoteSignatureInvalid as exc:
            raise SignatureRejected(str(exc)) from exc
        return self.accept_revision(contract_id, signed, actor, also)

    def accept_revision(
        self, contract_id: str, pdf: bytes, actor: str, also: Also | None = None
    ) -> FilingRecord | None:
        """Take the next party's signed revision; files the contract after the last one.

        The revision is judged before the transaction (it may take a while, and a lock
        held meanwhile would stop every other writer); the transaction then checks that
        the contract is still as judged.
        """
        with self._pipelines:
            with self.engine.connect() as conn:
                seen = self._contract(conn, contract_id, lock=False)
            field, checked = self._check_revision(seen, pdf)
            with write_transaction(self.engine) as conn:
                c = self._contract(conn, contract_id)
                _unchanged_since(seen, c)
                self._expect_unexpired(c)
                if also is not None:
                    also(conn)
                return self._accept(conn, c, field, pdf, actor, checked)

    def _accept(
        self,
        conn: Connection,
        c: dict[str, Any],
        field: str,
        pdf: bytes,
        actor: str,
        checked: Checked,
    ) -> FilingRecord | None:
        """Record the revision; the last party's completes the contract (files it)."""
        done = [f for f in c["signed_fields"].split(",") if f] + [field]
        conn.execute(
            update(schema.contracts)
            .where(schema.contracts.c.id == c["id"])
            .values(current_pdf=pdf, signed_fields=",".join(done), judgement=checked.judgement)
        )
        record = None
        if done == list(_fields(c)[:-1]):
            record = self._complete(conn, c, pdf, actor, checked.revocation)
        else:  # the last signature's news is the filing itself
            self.d.log.hold_append_order(conn)
            outbox.enqueue_contract_event(
                conn,
                outbox.ContractEvent.SIGNED,
                c["id"],
                self._unit_code(conn, c["unit_id"]),
                self.clock.now(),
                field=field,
                document_sha256=hashlib.sha256(pdf).hexdigest(),
            )
        completed(conn, record)
        return record

    def submit_signed(self, contract_id: str, pdf: bytes, actor: str) -> FilingRecord:
        """A contract signed by every party elsewhere: check it (outside the transaction, as
        ``accept_revision`` does) and file it."""
        with self._pipelines:
            with self.engine.connect() as conn:
                seen = self._contract(conn, contract_id, lock=False)
            parties = list(_fields(seen)[:-1])
            checked = self._check_signed(seen, pdf, parties)
            with write_transaction(self.engine) as conn:
                c = self._contract(conn, contract_id)
                _unchanged_since(seen, c)
                self._expect_unexpired(c)
                record = self._complete(conn, c, pdf, actor, checked.revocation)
                completed(conn, record)
        return record

    # -- the one transaction ---------------------------------------------

    def _complete(
        self,
        conn: Connection,
        c: dict[str, Any],
        pdf: bytes,
        actor: str,
        revocation: pades.RevocationSnapshot,
    ) -> FilingRecord:
        """Every party has signed: file the contract, or carry out the agreement it is."""
        agreement = self._agreement(conn, c["id"])
        if agreement is None:
            return self._file(conn, c, pdf, actor, revocation)
        sealed = self._seal(pdf, revocation)
        doc = hashlib.sha256(sealed).hexdigest()
        at = self.clock.now().replace(microsecond=0)
        if AgreementKind(agreement.kind) is AgreementKind.CANCELLATION:
            index = self.cancel_in(
                conn,
                agreement.filing_number,
                actor,
                agreement.reason,
                CancellationBasis.AGREEMENT,
                c["number"],
                sealed,
                at,
            )
            event = EntryEvent.CANCELLED
        else:
            index = self._change_in(conn, agreement, sealed, actor, at)
            event = EntryEvent.CHANGED
        conn.execute(
            update(schema.contracts)
            .where(schema.contracts.c.id == c["id"])
            .values(status=ContractStatus.FILED.value, current_pdf=sealed)
        )
        return FilingRecord(agreement.filing_number, c["id"], doc, index, at, event)

    def _change_in(
        self, conn: Connection, agreement: Any, sealed: bytes, actor: str, at: dt.datetime
    ) -> int:
        """变更: the sealed change agreement is logged against the filing, which stands as it
        was, and provable; the change is a document of its own (``changed``, ``ref``)."""
        number = agreement.filing_number
        f = self._active_filing(conn, number)
        code = self._unit_code(conn, f.unit_id)
        kind = kinds.get(f.kind)
        if kind.is_lease:  # 续订: the term as renewed, if the days it adds are still free
            renewed = _load(self._contract(conn, agreement.contract_id))
            assert isinstance(renewed, LeaseContract)
            lease = _load(self._contract(conn, f.contract_id))
            assert isinstance(lease, LeaseContract)
            self._renewable(conn, number, lease, renewed.end)
            lease_records.renew(conn, number, renewed.end)
        elif f.registered_at is not None or registry.unit(conn, code).status is not kind.filed:
            raise ContractStateError(f"unit {code} is no longer filed; nothing to change")
        contract = _load(self._contract(conn, f.contract_id))
        doc = hashlib.sha256(sealed).hexdigest()
        parties = tuple(
            party_hash(f.party_salt, p.id_type, p.id_number)
            for p in _signing_parties(kind, contract)
        )
        entry = FilingEntry(
            EntryEvent.CHANGED, number, doc, code, at, parties, ref=f.log_index, kind=kind.log_kind
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        outbox.enqueue(conn, "changed", number, index, at, code, doc, f.log_index)
        conn.execute(
            insert(schema.filing_changes).values(
                log_index=index, filing_number=number, doc_sha256=doc, sealed_pdf=sealed, at=at
            )
        )
        record_event(conn, number, FilingEvent.CHANGED, index, at, actor, agreement.reason)
        return index

    @staticmethod
    def _agreement(conn: Connection, contract_id: str) -> Any:
        a = schema.filing_agreements
        return conn.execute(select(a).where(a.c.contract_id == contract_id)).first()

    def _file(
        self,
        conn: Connection,
        c: dict[str, Any],
        pdf: bytes,
        actor: str,
        revocation: pades.RevocationSnapshot,
    ) -> FilingRecord:
        contract = _load(c)
        kind = _kind(c)
        code = kinds.unit_code(contract)
        view = registry.unit_view(conn, code)
        if kind.lifecycle is not None and (  # a lease holds its space, not the unit
            view.status is not kind.reserved or view.reserved_for != c["id"]
        ):
            raise UnitTaken(f"unit {code} is no longer held for this contract")
        # A seizure (查封) binds from when the court's order is recorded: one recorded while
        # the parties signed stops the filing, whatever the draft's checks found then.
        if UnitFlag.SEIZED in view.flags:
            raise NotSellable([CheckFailure(Reason.UNIT_SEIZED)], kind.kind)
        # A lease's space is held by its live draft: no other lease of it could be drafted.
        # Its lessors are judged again: the owners who drafted it (or entrusted its
        # enterprise) may have sold the home since (转移登记), and then may not lease it.
        if isinstance(contract, LeaseContract):
            now_facts = lease_records.facts(conn, code, self.clock.now())
            failures = check_lessors(now_facts, _proposal(contract))
            if failures:
                raise NotSellable(failures, kind.kind)

        sealed = self._seal(pdf, revocation)
        at = self.clock.now().replace(microsecond=0)
        record = self._record_filing(conn, c, kind, contract, sealed, actor, at, "网签即备案")
        if isinstance(contract, LeaseContract):
            # The 租赁登记备案证明, sealed by the platform in the same transaction.
            proof = LeaseCertificate(
                record.number, contract, at, record.log_index, record.doc_sha256
            )
            issued = self._seal(render_certificate(proof).pdf, revocation)
            lease_records.keep_certificate(conn, record.number, issued)
        return record

    def _record_filing(
        self,
        conn: Connection,
        c: dict[str, Any],
        kind: kinds.TransactionKind,
        contract: AnyContract,
        sealed: bytes,
        actor: str,
        at: dt.datetime,
        reason: str,
    ) -> FilingRecord:
        """File the sealed contract ``c`` whose unit is held for it: the filing number, the
        unit FILED, the log entry, the filing, its statistics, outbox event and history."""
        code = kinds.unit_code(contract)
        number = self._next_number(conn, at.year)
        try:
            if kind.lifecycle is None:
                lease_records.filed(conn, c["id"], number)  # the unit's status stays
            else:
                registry.apply(
                    conn,
                    code,
                    kind.on_filing,
                    actor,
                    f"filed as {number}",
                    expect_reserved_for=c["id"],
                )
        except (registry.StaleUnit, InvalidTransition) as exc:
            raise UnitTaken(str(exc)) from exc
        salt = secrets.token_bytes(16)
        doc = hashlib.sha256(sealed).hexdigest()
        entry = FilingEntry(
            EntryEvent.FILED,
            number,
            doc,
            code,
            at,
            tuple(
                party_hash(salt, p.id_type, p.id_number) for p in _signing_parties(kind, contract)
            ),
            kind=kind.log_kind,
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        conn.execute(
            insert(schema.filings).values(
                number=number,
                contract_id=c["id"],
                unit_id=c["unit_id"],
                status=FilingStatus.ACTIVE.value,
                kind=kind.kind.value,
                doc_sha256=doc,
                sealed_pdf=sealed,
                log_index=index,
                party_salt=salt,
                filed_at=at,
            )
        )
        facts = self._facts(conn, c["unit_id"], contract, at, kind.kind.value)
        statistics.record(conn, facts)
        if kind.allows(LaterEvent.MAINTENANCE_FUND):  # a new home: its fund is due now
            assert isinstance(contract, Contract)  # only a new home's kind allows it
            maintenance_dues.record_due(
                conn,
                number,
                c["unit_id"],
                facts.area,
                contract.price,
                at,
                self.departments.maintenance_rule_sets,
            )
        outbox.enqueue(conn, "filed", number, index, at, code, doc)
        record_event(conn, number, FilingEvent.FILED, index, at, actor, reason)
        conn.execute(
            update(schema.contracts)
            .where(schema.contracts.c.id == c["id"])
            .values(status=ContractStatus.FILED.value, current_pdf=sealed)
        )
        return FilingRecord(number, c["id"], doc, index, at)

    def _seal(self, pdf: bytes, revocation: pades.RevocationSnapshot) -> bytes:
        """The platform's filing seal (B-LTA), embedding every signature's validation data."""
        with self.d.pki.filing_seal() as signer:
            stamp = pades.Stamp(
                truetype_font(), seal_file(PLATFORM_NAME, "备案专用章"), "备案", PLATFORM_NAME
            )
            try:
                return pades.sign(
                    pdf,
                    "filing-seal",
                    signer,
                    pades.Level.B_LTA,
                    timestamper=self.d.pki.timestamper(),
                    revocation=revocation,
                    stamp=stamp,
                )
            except pades.SigningError as exc:
                raise SealUnavailable(f"the filing seal cannot be applied: {exc}") from exc

    def changes(self, number: str) -> list[dict[str, Any]]:
        """The filing's change agreements, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.filing_changes)
                .where(schema.filing_changes.c.filing_number == number)
                .order_by(schema.filing_changes.c.log_index)
            ).all()
        return [dict(r._mapping) for r in rows]

    def propose_agreement(
        self,
        number: str,
        kind: AgreementKind,
        reason: str,
        proposer: str,
        terms: str = "",
        renew_until: dt.date | None = None,
    ) -> tuple[str, str, str]:
        """注销 or 变更 by consent: draft an agreement of the parties of filing ``number``.

        The agreement is signed like the contract, by every party in the same order; its
        last signature seals it and cancels or changes the filing in one transaction.
        Neither party can do either alone, and an agreement is always this rendered one:
        a party cannot pass off another document (the contract itself, say) as agreed.
        Returns the agreement's contract id, its number and its draft's SHA-256.
        """
        with self.engine.connect() as conn:
            f = self._active_filing(conn, number)
            c = self._contract(conn, f.contract_id, lock=False)
        contract = _load(c)
        later = LaterEvent.CHANGE if kind is AgreementKind.CHANGE else LaterEvent.CANCELLATION
        if isinstance(contract, LeaseContract) and kind is AgreementKind.CHANGE:
            # A lease's only change is its renewal (续订): a new last day, nothing else.
            if renew_until is None:
                raise ContractStateError("a lease is renewed (续订) with its new end, not changed")
            later = LaterEvent.RENEWAL
        elif renew_until is not None:
            raise ContractStateError(f"a {c['kind']} filing is not renewed")
        if not _kind(c).allows(later):
            raise ContractStateError(f"a {c['kind']} filing allows no {later.value}")
        if kind is AgreementKind.CHANGE and not terms.strip() and renew_until is None:
            raise ContractStateError("a change agreement states the changes")
        a = schema.filing_agreements
        with write_transaction(self.engine) as conn:
            # One proposal at a time per filing: the filed contract's row is the lock
            # (PostgreSQL; SQLite's writer lock serialises already). Without it, proposals
            # racing each saw no agreement being signed, and two were drafted.
            self._contract(conn, c["id"])
            f = self._active_filing(conn, number)
            if f.registered_at is not None:
                # Refused now, not at the last signature: after 转移登记 (or a new home's
                # registration) undoing the sale is the registry's business; the filing stands.
                raise ContractStateError(f"filing {number} is registered; the filing stands")
            earlier = conn.execute(
                select(schema.contracts.c.id, schema.contracts.c.status)
                .join(a, a.c.contract_id == schema.contracts.c.id)
                .where(a.c.filing_number == number)
            ).all()
            if any(row.status == ContractStatus.DRAFT for row in earlier):
                raise ContractStateError(f"an agreement on {number} is being signed")
            own_number = agreement_number(number, kind, len(earlier) + 1)
            if isinstance(contract, LeaseContract) and renew_until is not None:
                # 续订: the lease as renewed is the agreement's data; its extension must
                # not overlap another live lease of the space.
                renewed = self._renewable(conn, number, contract, renew_until)
                pdf = render_renewal(contract, own_number, number, reason, renew_until).pdf
                data = kinds.dump(dataclasses.replace(renewed, number=own_number))
            elif isinstance(contract, LeaseContract):
                # 解除: the lessors and lessees end the lease early, signing as they did it.
                pdf = render_termination(contract, own_number, number, reason).pdf
                data = kinds.dump(dataclasses.replace(contract, number=own_number))
            else:
                agreement = FilingAgreement(kind, contract, own_number, number, reason, terms)
                pdf = render_agreement(agreement).pdf
                data = kinds.dump(dataclasses.replace(contract, number=own_number))
            agreement_id = str(uuid.uuid4())
            conn.execute(
                insert(schema.contracts).values(
                    id=agreement_id,
                    number=own_number,
                    unit_id=c["unit_id"],
                    developer_id=c["developer_id"],
                    status=ContractStatus.DRAFT.value,
                    kind=c["kind"],  # signed like the contract: its kind's parties, in order
                    data=data,
                    eligibility="[]",
                    draft_sha256=hashlib.sha256(pdf).hexdigest(),
                    draft_pdf=pdf,
                    current_pdf=pdf,
                    signed_fields="",
                    created_at=self.clock.now(),
                    expires_at=self.clock.now() + RESERVATION,
                )
            )
            conn.execute(
                insert(a).values(
                    contract_id=agreement_id,
                    filing_number=number,
                    kind=kind.value,
                    reason=reason,
                    terms=terms,
                    proposed_by=proposer,
                )
            )
            proposed = (agreement_id, own_number, hashlib.sha256(pdf).hexdigest())
            completed(conn, proposed)
        return proposed

    def _renewable(
        self, conn: Connection, number: str, lease: LeaseContract, until: dt.date
    ) -> LeaseContract:
        """The lease renewed to ``until``, if its lessors may still lease the home (the
        owners of record, or the enterprise they entrusted: a lease outlives a sale, but
        the sellers renew it no more) and its extension is free: later than its current
        end, and no other live lease of the space in the days it adds."""
        current = lease_records.lease_of(conn, number)
        if current is None or current.ended_on is not None:
            raise ContractStateError(f"lease {number} is not in force")
        if until <= current.ends_on:
            raise ContractStateError(f"a renewal ends after {current.ends_on.isoformat()}")
        f = self._active_filing(conn, number)
        code = self._unit_code(conn, f.unit_id)
        renewed_term = dataclasses.replace(_proposal(lease), end=until)
        failures = check_lessors(lease_records.facts(conn, code, self.clock.now()), renewed_term)
        if failures:  # facts() took the unit's lock: the overlap below is judged under it
            raise NotSellable(failures, kinds.get(f.kind).kind)
        extension = dataclasses.replace(
            _proposal(lease), start=current.ends_on + dt.timedelta(days=1), end=until
        )
        live = lease_records.live_leases(conn, f.unit_id, self.clock.now())
        failures = check_overlap(live, extension, f.contract_id)
        if failures:
            raise NotSellable(failures, kinds.get(f.kind).kind)
        try:
            return dataclasses.replace(lease, end=until)
        except ValueError as exc:  # beyond twenty years from its start
            raise ContractStateError(str(exc)) from exc

    def cancel_by_judgment(
        self, number: str, recorded_by: str, reason: str, reference: str, document: bytes
    ) -> int:
        """注销 by a judgment or decision the authority or a court records: the document
        itself is kept, and its hash goes into the cancellation's log entry."""
        if not document:
            raise JudgmentRequired("the judgment or decision document is empty")
        with write_transaction(self.engine) as conn:
            index = self.cancel_in(
                conn, number, recorded_by, reason, CancellationBasis.JUDGMENT, reference, document
            )
            completed(conn, index)
        self.d.sequencer().appended()  # checkpointed now, not at the loop's next turn
        return index

    def expire_leases(self, today: dt.date | None = None, actor: str = "platform") -> list[int]:
        """期满终止: every filed lease whose term ended before ``today`` (the city's day)
        ends, each with an ``expired`` log entry. Returns their log indexes."""
        day = today or statistics.city_day(self.clock.now())
        with self.engine.connect() as conn:
            due = lease_records.due_to_expire(conn, day)
        indexes = []
        for number in due:
            # Another run (the daily job twice), a cancellation or a renewal may have got
            # there since ``due`` was read: that lease is skipped, not the run failed.
            try:
                with write_transaction(self.engine) as conn:
                    index = self.expire_in(conn, number, day, actor)
                    if index is None:
                        continue  # ended, cancelled or renewed meanwhile
                    completed(conn, number)
            except lease_records.EndedAlready:
                continue  # ended by another after the read: its entry rolled back with it
            indexes.append(index)
        if indexes:
            self.d.sequencer().appended()
        return indexes

    def expire_in(
        self,
        conn: Connection,
        number: str,
        day: dt.date,
        actor: str,
        at: dt.datetime | None = None,
    ) -> int | None:
        """Lease ``number`` expires, if its term ended before ``day``: its log index, or None
        if it has ended (or was cancelled) or was renewed. ``at``: when, for imported history."""
        f = conn.execute(select(schema.filings).where(schema.filings.c.number == number)).first()
        lease = lease_records.lease_of(conn, number)
        if (
            f is None
            or f.status != FilingStatus.ACTIVE
            or lease is None
            or lease.ended_on is not None
            or lease.ends_on >= day
        ):
            return None
        return self._expire_in(conn, f, lease.ends_on, actor, at)

    def _expire_in(
        self, conn: Connection, f: Any, ended_on: dt.date, actor: str, at: dt.datetime | None
    ) -> int:
        code = self._unit_code(conn, f.unit_id)
        at = at or self.clock.now().replace(microsecond=0)
        doc = hashlib.sha256(expiry_record(f.number, code, ended_on)).hexdigest()
        entry = FilingEntry(
            EntryEvent.EXPIRED, f.number, doc, code, at, (), ref=f.log_index, kind=EntryKind.LEASE
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        lease_records.end(conn, f.number, ended_on, lease_records.LeaseEndReason.EXPIRED)
        conn.execute(
            update(schema.filings)
            .where(schema.filings.c.number == f.number)
            .values(status=FilingStatus.ENDED.value)
        )
        record_event(conn, f.number, FilingEvent.EXPIRED, index, at, actor, "期满终止")
        outbox.enqueue(conn, "expired", f.number, index, at, code, doc, f.log_index)
        return index

    def cancel_in(
        self,
        conn: Connection,
        number: str,
        actor: str,
        reason: str,
        basis: CancellationBasis,
        reference: str,
        document: bytes,
        at: dt.datetime | None = None,
    ) -> int:
        """Cancel filing ``number`` within the caller's transaction, on ``basis`` (the sealed
        agreement, or the judgment document); ``at``: when, for imported history."""
        f = self._active_filing(conn, number)
        kind = kinds.get(f.kind)
        if not kind.allows(LaterEvent.CANCELLATION):
            raise ContractStateError(f"a {f.kind} filing cannot be cancelled")
        code = self._unit_code(conn, f.unit_id)
        if kind.lifecycle is not None and (
            f.registered_at is not None or registry.unit(conn, code).status is UnitStatus.REGISTERED
        ):
            # Ownership is registered: undoing it is the registry's business, not ours.
            raise ContractStateError(f"unit {code} is registered; the filing stands")
        at = at or self.clock.now().replace(microsecond=0)
        doc = hashlib.sha256(document).hexdigest()
        entry = FilingEntry(
            EntryEvent.CANCELLED,
            number,
            doc,
            code,
            at,
            (),
            ref=f.log_index,
            basis=basis,
            kind=kind.log_kind,
        )
        [index] = self.d.log.append_in(conn, [entry.encode()])
        conn.execute(
            update(schema.filings)
            .where(schema.filings.c.number == number)
            .values(status=FilingStatus.CANCELLED.value)
        )
        conn.execute(
            insert(schema.cancellation_documents).values(
                log_index=index,
                filing_number=number,
                basis=basis.value,
                reference=reference,
                doc_sha256=doc,
                document=document,
                recorded_by=actor,
                at=at,
            )
        )
        record_event(
            conn, number, FilingEvent.CANCELLED, index, at, actor, f"{basis.value}: {reason}"
        )
        try:
            if kind.lifecycle is None:  # a lease ends early: its space is free from today
                lease_records.end(conn, number, statistics.city_day(at), basis.value)
            else:
                registry.apply(
                    conn, code, kind.on_cancellation, actor, f"{number} cancelled: {reason}"
                )
        except (registry.StaleUnit, InvalidTransition, ValueError) as exc:
            # A concurrent cancellation (or registration) got there first; this one rolls back.
            raise ContractStateError(f"filing {number} changed meanwhile: {exc}") from exc
        c = self._contract(conn, f.contract_id)
        facts = self._facts(conn, f.unit_id, _load(c), at, c["kind"])
        statistics.record(conn, facts, cancelled=True)
        outbox.enqueue(conn, "cancelled", number, index, at, code, doc, f.log_index)
        return index

    def cancellation_documents(self, number: str) -> list[dict[str, Any]]:
        """What the filing's cancellation rests on (at most one row), without the document."""
        d = schema.cancellation_documents
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(d.c.log_index, d.c.basis, d.c.reference, d.c.doc_sha256, d.c.at)
                .where(d.c.filing_number == number)
                .order_by(d.c.log_index)
            ).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def _active_filing(conn: Connection, number: str) -> Any:
        f = conn.execute(select(schema.filings).where(schema.filings.c.number == number)).first()
        if f is None:
            raise UnknownContract(f"no filing {number}")
        if f.status != FilingStatus.ACTIVE:
            raise ContractStateError(f"filing {number} is {f.status.lower()}")
        return f

    # -- helpers ---------------------------------------------------------

    @staticmethod
    def _contract(conn: Connection, contract_id: str, lock: bool = True) -> dict[str, Any]:
        # FOR UPDATE (PostgreSQL; SQLite's writer lock already serialises): two requests for
        # one contract take turns, and the second sees what the first did.
        query = select(schema.contracts).where(schema.contracts.c.id == contract_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise UnknownContract(f"no contract {contract_id}")
        return dict(row._mapping)

    @staticmethod
    def _facts(
        conn: Connection, unit_id: int, contract: AnyContract, at: dt.datetime, kind: str
    ) -> statistics.FilingFacts:
        u, b, p = schema.units, schema.buildings, schema.projects
        row = conn.execute(
            select(p.c.district, p.c.id, u.c.use)
            .select_from(u.join(b, b.c.id == u.c.building_id).join(p, p.c.id == b.c.project_id))
            .where(u.c.id == unit_id)
        ).one()
        if isinstance(contract, ResaleContract):
            area = contract.house.building_area  # as registered
        elif isinstance(contract, LeaseContract):
            area = contract.house.leased_area  # the space leased
        else:
            area = (contract.unit.measured or contract.unit.forecast).building
        # A lease's amount is its monthly rent: statistics keep amounts by kind.
        amount = contract.rent if isinstance(contract, LeaseContract) else contract.price
        return statistics.FilingFacts(
            statistics.city_day(at), row[0], int(row[1]), row[2], area, amount, kind
        )

    @staticmethod
    def _unit_code(conn: Connection, unit_id: int) -> str:
        return str(
            conn.execute(select(schema.units.c.code).where(schema.units.c.id == unit_id)).scalar()
        )

    def _expect_unexpired(self, c: dict[str, Any]) -> None:
        """Nobody signs, certifies or seals a draft whose reservation has run out: checked
        when a revision is judged and again in the transaction that records it."""
        if _aware(c["expires_at"]) < self.clock.now():
            raise ContractStateError("the draft's reservation has expired")

    def _expect_next(self, c: dict[str, Any], field: str) -> None:
        if c["status"] != ContractStatus.DRAFT:
            raise ContractStateError(f"the contract is {c['status'].lower()}")
        self._expect_unexpired(c)
        done = [f for f in c["signed_fields"].split(",") if f]
        order = list(_fields(c)[:-1])
        if len(done) >= len(order) or order[len(done)] != field:
            raise ContractStateError(f"{field} is not next: the order is {', '.join(order)}")

    def _check_revision(self, c: dict[str, Any], pdf: bytes) -> tuple[str, Checked]:
        """The revision adds exactly the next party's signature to the current file."""
        done = [f for f in c["signed_fields"].split(",") if f]
        order = list(_fields(c)[:-1])
        if c["status"] != ContractStatus.DRAFT or len(done) >= len(order):
            raise ContractStateError(f"the contract is {c['status'].lower()}; no more signatures")
        checked = self._check_signed(c, pdf, order[: len(done) + 1], extends=c["current_pdf"])
        return order[len(done)], checked

    def _check_signed(
        self, c: dict[str, Any], pdf: bytes, fields: list[str], extends: bytes | None = None
    ) -> Checked:
        """Check the signatures (``extends``: the current file, whose stored judgement the
        check of what the revision adds may build on)."""
        if c["status"] != ContractStatus.DRAFT:
            raise ContractStateError(f"the contract is {c['status'].lower()}")
        self._expect_unexpired(c)
        base = extends if extends is not None else c["draft_pdf"]
        if not pdf.startswith(c["draft_pdf"]) or not pdf.startswith(base):
            raise SignatureRejected(
                "the signed file does not extend the recorded draft byte for byte"
            )
        try:
            draft_revisions = revision_count(c["draft_pdf"])
        except DocumentUnreadable as exc:  # our own rendering: cannot happen, never pass it
            raise SignatureRejected(f"the recorded draft is unreadable: {exc}") from exc
        trust = self.d.verifier_trust()
        prior = None
        if extends is not None:
            prior = judgements.prior(self.d.judgement_key(), extends, trust, c["judgement"])
        return self._check_parties(pdf, _kind(c), _load(c), fields, draft_revisions, prior, trust)

    def _check_parties(
        self,
        pdf: bytes,
        kind: TransactionKind,
        contract: AnyContract,
        fields: list[str],
        draft_revisions: int | None = None,
        prior: PriorJudgement | None = None,
        trust: TrustBundle | None = None,
    ) -> Checked:
        """Exactly ``fields`` are signed, as the verifier judges them, by the parties named.

        The judgement is the offline verifier's own (same code, same policy), with the
        revocation data that the filing seal is about to embed: what passes here is what
        any court's ``wangqian-verify`` passes once the contract is sealed.
        ``prior``: the stored judgement of the revision ``pdf`` extends byte for byte
        (the caller has compared them); what it judged is not judged again.
        """
        trust = trust or self.d.verifier_trust()
        try:
            document = SignedDocument(pdf, prior)
            signers = {f: x509.load_der_x509_certificate(der) for f, der in document.signers()}
            certs = list(signers.values())
            # One snapshot of revocation data serves the checks here and the seal after them.
            revocation = self.d.pki.revocation([*certs, self.d.pki.filing_seal_certificate()])
            assessment = document.assess(
                trust,
                known=known_validation_data(revocation),
                complete=False,
                draft_revisions=draft_revisions,
            )
        except (DocumentUnreadable, ValueError) as exc:
            raise SignatureRejected(str(exc)) from exc
        declared = kind.signature_fields(contract)
        if assessment.declared_fields != declared:
            raise SignatureRejected(
                f"the document declares signature fields {list(assessment.declared_fields)}, "
                f"the contract's kind {list(declared)}"
            )
        if not assessment.passed:
            raise SignatureRejected("; ".join(assessment.problems()))
        found = [s.field for s in assessment.signatures]
        if found != fields:
            raise SignatureRejected(f"expected signatures {fields}, found {found}")
        parties = kind.signers(contract)
        for finding in assessment.signatures:
            declared_party, party = parties[finding.field]
            if finding.signer != party.name:
                raise SignatureRejected(
                    f"{finding.field} was signed by {finding.signer}, not {party.name}"
                )
            # A person's key signs only what its certificate was issued for: this field of
            # this contract (a co-buyer's key, or one issued for another contract, is refused).
            wanted = SigningPurpose(contract.number, finding.field)
            personal = declared_party.signs_with is SigningMethod.PERSONAL
            if personal and purpose_of(signers[finding.field]) != wanted.text:
                raise SignatureRejected(
                    f"{finding.field}'s certificate was not issued for {wanted.text!r}"
                )
        judgement = judgements.record(
            self.d.judgement_key(), pdf, document.sections(), trust, assessment
        )
        return Checked(revocation, judgement)

    @staticmethod
    def _next_number(conn: Connection, year: int) -> str:
        """The next filing number of the year: one row per year, incremented under its row lock."""
        name = f"filing-{year}"
        if conn.dialect.name == "postgresql":
            conn.execute(
                pg_insert(schema.counters).values(name=name, value=0).on_conflict_do_nothing()
            )
        else:
            conn.execute(
                insert(schema.counters).prefix_with("OR IGNORE").values(name=name, value=0)
            )
        value = conn.execute(
            update(schema.counters)
            .where(schema.counters.c.name == name)
            .values(value=schema.counters.c.value + 1)
            .returning(schema.counters.c.value)
        ).scalar_one()
        return f"CS-{year}-{int(value):06d}"

    def filing(self, number: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.filings).where(schema.filings.c.number == number)
            ).first()
        if row is None:
            raise UnknownContract(f"no filing {number}")
        return dict(row._mapping)

    def filings_with_sha256(self, sha256: str) -> list[dict[str, Any]]:
        """Filed contracts and change agreements whose sealed document has this hash."""
        f, ch = schema.filings, schema.filing_changes
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    f.c.number,
                    f.c.status,
                    f.c.log_index,
                    f.c.filed_at,
                    literal("filed").label("kind"),
                )
                .where(f.c.doc_sha256 == sha256)
                .union_all(
                    select(
                        ch.c.filing_number, f.c.status, ch.c.log_index, ch.c.at, literal("changed")
                    )
                    .join(f, f.c.number == ch.c.filing_number)
                    .where(ch.c.doc_sha256 == sha256)
                )
            ).all()
        return [
            {"number": r[0], "status": r[1], "log_index": r[2], "filed_at": r[3], "kind": r[4]}
            for r in rows
        ]

    def certificates_for(self, pdf: bytes) -> list[x509.Certificate]:
        try:
            ders = SignedDocument(pdf).signer_certificates()
        except DocumentUnreadable as exc:
            raise SignatureRejected(str(exc)) from exc
        return [x509.load_der_x509_certificate(der) for der in ders]


def record_event(
    conn: Connection,
    number: str,
    event: FilingEvent,
    index: int,
    at: dt.datetime,
    actor: str,
    reason: str,
) -> None:
    """One line of a filing's history (FILED, CHANGED, CANCELLED), beside its log entry."""
    conn.execute(
        insert(schema.filing_events).values(
            filing_number=number,
            event=event.value,
            log_index=index,
            at=at,
            actor=actor,
            reason=reason,
        )
    )


def agreement_number(filing_number: str, kind: AgreementKind, n: int) -> str:
    """The n-th agreement of its kind on a filing: ``CS-2026-000001-JC1``."""
    return f"{filing_number}-{kind.suffix}{n}"


# Drafts may not take these numbers: a developer who squatted the next agreement number
# (a draft withdrawn at once) would block the buyer's agreements on the filing for good.
_AGREEMENT_NUMBER = re.compile(
    r"CS-[0-9]{4}-[0-9]{6}-(" + "|".join(k.suffix for k in AgreementKind) + r")[0-9]+"
)


def is_agreement_number(number: str) -> bool:
    return _AGREEMENT_NUMBER.fullmatch(number.strip()) is not None


def _unchanged_since(seen: dict[str, Any], now: dict[str, Any]) -> None:
    """The contract is still as it was when its revision was judged."""
    keys = ("status", "signed_fields", "current_pdf", "expires_at")
    if any(seen[k] != now[k] for k in keys):
        raise ContractStateError("the contract changed while the revision was checked; send again")


def _kind(c: dict[str, Any]) -> TransactionKind:
    """The declaration of a stored contract's kind."""
    return kinds.get(c["kind"])


def _load(c: dict[str, Any]) -> AnyContract:
    """A stored contract's data, as its kind's model."""
    return kinds.load(c["kind"], c["data"])


def _fields(c: dict[str, Any]) -> tuple[str, ...]:
    """A stored contract's signature fields in signing order, as its kind declares them."""
    return _kind(c).signature_fields(_load(c))


def _signing_parties(kind: TransactionKind, contract: AnyContract) -> list[Party]:
    """The sellers and buyers in signing order (their hashes are the entry's ``parties``)."""
    return list(kind.logged_parties(contract))


def _sealing_seller(
    kind: TransactionKind, contract: AnyContract
) -> tuple[str, kinds.PartyDeclaration, Party]:
    """The seller's field that the platform seals with the seller's enterprise seal."""
    for field, (declared, party) in kind.signers(contract).items():
        if (
            declared.role in (PartyRole.SELLER, PartyRole.LESSOR)  # a rental enterprise too
            and declared.signs_with is SigningMethod.ENTERPRISE_SEAL
        ):
            return field, declared, party
    raise ContractStateError(f"in a {kind.kind.value} contract no seller signs with a seal")


def invited_parties(kind: TransactionKind, contract: AnyContract) -> dict[str, invitations.Invitee]:
    """The fields that get a signing invitation, with their party: each person who buys,
    sells or lets a home of their own, or rents one (an agent signs with the brokerage's
    key)."""
    return {
        field: invitations.Invitee(party.id_number, party.name, declared.label)
        for field, (declared, party) in kind.signers(contract).items()
        if declared.signs_with is SigningMethod.PERSONAL and declared.role in INVITED
    }


# The people who sign on a phone with an invitation: every party but the brokerage's agent.
INVITED = (PartyRole.BUYER, PartyRole.SELLER, PartyRole.LESSOR, PartyRole.LESSEE)


def _own_party(
    kind: TransactionKind, contract: AnyContract, field: str, caller: str
) -> tuple[kinds.PartyDeclaration, Party]:
    """The person whose field this is, if the caller is that person (NotYourField if not):
    a seller, a buyer or an agent signs only a field that names them."""
    fields = kind.signature_fields(contract)
    if field not in fields:
        raise UnknownSignatureField(
            f"the contract has no field {field}; its fields: {', '.join(fields)}"
        )
    signers = kind.signers(contract)
    if field not in signers or signers[field][0].signs_with is not SigningMethod.PERSONAL:
        raise NotYourField(f"{field} is not a person's field: people sign only their own")
    declared, party = signers[field]
    if caller != party.id_number:
        raise NotYourField(f"{field} belongs to another party: each signs only for self")
    return declared, party


def _as_registered(kind: TransactionKind, contract: Contract, facts: registry.UnitFacts) -> None:
    """The contract is of the kind the 楼盘表's facts decide, stating what that kind needs."""
    decided = kinds.for_unit(facts.view)
    if decided is not kind:
        raise KindMismatch(
            f"unit {facts.code} is sold as {decided.kind.value} ({decided.model_text}) by "
            f"the 楼盘表, not as {kind.kind.value}: draft it again"
        )
    if kind.measured_areas and contract.unit.measured != facts.measured:
        raise KindMismatch(
            f"a {kind.kind.value} contract states the unit's measured areas as the 楼盘表 "
            "records them"
        )


def _b64(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, tuple | list):
        return [_b64(v) for v in value]
    return value


def _unb64(value: Any) -> Any:
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return tuple(_unb64(v) for v in value)
    return value


def _proposal(lease: LeaseContract) -> Proposal:
    """What of a lease its checks judge."""
    return Proposal(
        lessors=lease.lessors,
        enterprise=lease.lessors[0].id_number if lease.by_enterprise else None,
        entrustment=lease.entrustment,
        space=lease.house.space,
        leased_area=lease.house.leased_area,
        occupants=lease.occupants,
        start=lease.start,
        end=lease.end,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
