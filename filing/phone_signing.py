"""Signing on a phone with an invitation: the use-cases behind ``/sign``.

The invitation's token (filing/invitations.py) is the only credential: no API key, no key
made by an operator. The phone reads the contract (its pages as images), passes the
identity check (name and ID number, against the party and the identity records, with a
limited number of attempts), makes a P-256 key that never leaves the browser, and signs
the CMS signed attributes (which carry the document's digest, not the document). The
signature files as every remote signature does (``FilingService.finish_remote_signing``),
and consumes the invitation in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, Engine, select

from filing import invitations, kinds, schema
from filing.clock import SYSTEM, Clock
from filing.departments import TableIdentityCheck
from filing.invitation_delivery import Courier
from filing.invitations import Invited, SentInvitation, aware
from filing.policy import Caller, Role
from filing.service import (
    ContractStateError,
    Drafter,
    FilingRecord,
    FilingService,
    InvitationsExhausted,
    NotYourField,
    SignatureRejected,
    UnknownContract,
    invited_parties,
)
from filing.status import ContractStatus
from keys.identity import IdentityRejected
from ledger.database import write_transaction
from signing import page_images, remote


class IdentityMismatch(Exception):
    """The name or ID number given is not the invited party's, or the identity records
    do not confirm it."""

    def __init__(self, reason: str, attempts_left: int) -> None:
        super().__init__(reason)
        self.attempts_left = attempts_left


@dataclass(frozen=True)
class InvitationView:
    """What the phone shows before signing. No ID number: the phone's owner types it."""

    contract_id: str
    number: str
    kind: str
    unit: str
    field: str
    role: str  # the party's name on the contract (买受人, 出卖人)
    name: str
    pages: int
    status: str
    signed: tuple[str, ...]
    next_field: str | None  # whose turn it is; the phone signs when it is its own
    expires_at: dt.datetime
    identity_checked: bool
    attempts_left: int


class PhoneSigning:
    def __init__(
        self,
        engine: Engine,
        service: FilingService,
        identity: TableIdentityCheck,
        courier: Courier,
        public_url: str,
        clock: Clock = SYSTEM,
    ) -> None:
        self.engine = engine
        self.service = service
        self.identity = identity
        self.courier = courier
        self.public_url = public_url
        self.clock = clock

    def _open(
        self, conn: Connection, contract_id: str, field: str, token: str
    ) -> tuple[Invited, dict[str, Any]]:
        """The live invitation and its contract, which must still be a draft: a withdrawn
        or expired draft's invitations end with it (no pages, no identity checks)."""
        invited = invitations.find(conn, token, contract_id, field, self.clock.now())
        c = _contract(conn, contract_id)
        if c["status"] != ContractStatus.DRAFT:
            raise invitations.InvitationExpired(
                f"the contract is {c['status'].lower()}: its invitations ended with the draft"
            )
        return invited, c

    def view(self, contract_id: str, field: str, token: str) -> InvitationView:
        with self.engine.connect() as conn:
            invited, c = self._open(conn, contract_id, field, token)
        contract = kinds.load(c["kind"], c["data"])
        declared, party = kinds.get(c["kind"]).signers(contract)[field]
        order = list(kinds.get(c["kind"]).signature_fields(contract)[:-1])
        signed = tuple(f for f in c["signed_fields"].split(",") if f)
        return InvitationView(
            contract_id=contract_id,
            number=c["number"],
            kind=c["kind"],
            unit=kinds.unit_code(contract),
            field=field,
            role=declared.label,
            name=party.name,
            pages=page_images.page_count(c["current_pdf"]),
            status=c["status"],
            signed=signed,
            next_field=order[len(signed)] if len(signed) < len(order) else None,
            expires_at=invited.expires_at,
            identity_checked=invited.identity_checked,
            attempts_left=invitations.MAX_ATTEMPTS - invited.attempts,
        )

    def page(self, contract_id: str, field: str, token: str, index: int) -> bytes:
        """Page ``index`` of the contract as it stands (with the signatures so far), PNG."""
        with self.engine.connect() as conn:
            pdf = self._open(conn, contract_id, field, token)[1]["current_pdf"]
        return page_images.page_png(pdf, index)

    def check_identity(
        self, contract_id: str, field: str, token: str, name: str, id_type: str, id_number: str
    ) -> None:
        """The person holding the phone is the invited party: what they type matches the
        party and the identity records. Only the invited party's own ID number is ever
        looked up (the records answer nobody about anyone else); each failure counts."""
        with self.engine.connect() as conn:
            invited, c = self._open(conn, contract_id, field, token)
        party = kinds.get(c["kind"]).signers(kinds.load(c["kind"], c["data"]))[field][1]
        with write_transaction(self.engine) as conn:  # counted before judged: see take_attempt
            invitations.take_attempt(conn, invited)
        reason = None
        if (name, id_type, id_number) != (party.name, party.id_type, invited.id_number):
            reason = "the name or ID number is not the invited party's"
        else:
            try:
                self.identity.verify(name, id_type, id_number)
            except IdentityRejected as exc:
                reason = str(exc)
        with write_transaction(self.engine) as conn:
            if reason is not None:
                left = invitations.attempts_left(conn, invited)
            else:
                invitations.identity_passed(conn, invited, self.clock.now())
        if reason is not None:
            raise IdentityMismatch(reason, left)

    def start(
        self, contract_id: str, field: str, token: str, device_key: ec.EllipticCurvePublicKey
    ) -> remote.Challenge:
        """After the identity check: certify the phone's key for this field and prepare the
        signature; answers what the phone signs."""
        with self.engine.connect() as conn:
            invited, c = self._open(conn, contract_id, field, token)
        if not invited.identity_checked:
            raise invitations.IdentityNotChecked("pass the identity check first")
        party = kinds.get(c["kind"]).signers(kinds.load(c["kind"], c["data"]))[field][1]
        try:
            identity = self.identity.verify(party.name, party.id_type, invited.id_number)
        except IdentityRejected as exc:  # the records changed since the check
            raise SignatureRejected(f"the identity records no longer confirm: {exc}") from exc
        return self.service.remote_challenge(
            contract_id, field, identity, device_key, invited.id_number
        )

    def finish(
        self, contract_id: str, field: str, token: str, raw_signature: bytes
    ) -> FilingRecord | None:
        """The phone's signature (WebCrypto's r || s); consumes the invitation with it."""
        try:
            signature = remote.raw_to_der(raw_signature)
        except ValueError as exc:
            raise SignatureRejected(str(exc)) from exc
        with self.engine.connect() as conn:
            try:
                invited, _ = self._open(conn, contract_id, field, token)
            except invitations.InvitationUsed:
                # A retry of the signature that used it (its answer lost on the way): the
                # outcome as recorded, so a phone that lost the answer still learns it.
                return _filed(conn, contract_id)
        if not invited.identity_checked:
            raise invitations.IdentityNotChecked("pass the identity check first")

        def consume(conn: Connection) -> None:
            invitations.consume(conn, invited, self.clock.now())

        return self.service.finish_remote_signing(
            contract_id, field, signature, invited.id_number, also=consume
        )

    def reissue(self, contract_id: str, field: str, caller: Caller) -> SentInvitation:
        """Send ``field``'s invitation again, to the party's phone of record, for the
        contract's drafter; the one before is revoked. Another caller's contract is unknown
        to them."""
        drafter = (
            caller.org
            if caller.role is Role.DEVELOPER
            else Drafter(brokerage=caller.org).key
            if caller.role is Role.AGENCY
            else Drafter(person=caller.org).key
        )
        with self.courier.staged() as send, write_transaction(self.engine) as conn:
            # The contract's row lock: re-issues racing each other count the field's
            # invitations one after the other (PostgreSQL; SQLite has one writer).
            c = _contract(conn, contract_id, for_update=True)
            if c["developer_id"] != drafter:
                raise UnknownContract(f"no contract {contract_id}")  # not theirs: not shown
            if c["status"] != ContractStatus.DRAFT:
                raise ContractStateError(f"the contract is {c['status'].lower()}")
            contract = kinds.load(c["kind"], c["data"])
            parties = invited_parties(kinds.get(c["kind"]), contract)
            if field not in parties:
                raise NotYourField(f"{field} is not a field a person signs with an invitation")
            if field in c["signed_fields"].split(","):
                raise ContractStateError(f"{field} is signed already")
            expires = invitations.aware(c["expires_at"])
            if expires < self.clock.now():
                raise ContractStateError("the draft's reservation has expired")
            try:
                [sent] = invitations.invite(
                    conn,
                    send,
                    self.public_url,
                    (contract_id, c["number"]),
                    {field: parties[field]},
                    expires,
                    self.clock.now(),
                )
            except invitations.TooManyInvitations as exc:
                raise InvitationsExhausted(str(exc)) from exc
        return sent


def _contract(conn: Connection, contract_id: str, for_update: bool = False) -> dict[str, Any]:
    query = select(schema.contracts).where(schema.contracts.c.id == contract_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise UnknownContract(f"no contract {contract_id}")
    return dict(row._mapping)


def _filed(conn: Connection, contract_id: str) -> FilingRecord | None:
    """The contract's filing, if its signatures filed it (None: signed, not filed yet)."""
    f = schema.filings
    row = conn.execute(
        select(f.c.number, f.c.doc_sha256, f.c.log_index, f.c.filed_at).where(
            f.c.contract_id == contract_id
        )
    ).first()
    if row is None:
        return None
    return FilingRecord(
        row.number, contract_id, row.doc_sha256, int(row.log_index), aware(row.filed_at)
    )
