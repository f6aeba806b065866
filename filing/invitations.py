"""Signing invitations: a one-time link per person party, so that a buyer signs on a phone.

When a contract is drafted the platform issues, for every person who signs it (its buyers,
and a resale's sellers), a random token bound to the contract, the field and the party's ID
number, expiring with the draft. The platform sends it to the party's phone of record
(filing/invitation_delivery.py); nobody else ever sees it, the drafter included, and only
its SHA-256 is kept (a database reader cannot sign). A token is consumed in the transaction
that records its signature; the drafter can have a party's invitation sent again (a few
times per field), which revokes the one before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from filing import departments, schema
from filing.invitation_delivery import TextMessage, invitation_text, link, masked
from filing.status import ContractStatus

TOKEN_BYTES = 32  # 256 bits of randomness
MAX_ATTEMPTS = 5  # failed identity checks before the invitation is locked
MAX_PER_FIELD = 5  # invitations sent per field of a draft: a drafter cannot flood a phone
# ... nor by drafting again and again: invitations one drafter sends one person a day.
MAX_PER_PERSON_PER_DAY = 10
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Invitee:
    """A person invited to sign a field: as the draft names them."""

    id_number: str
    name: str
    role: str  # the party's name on the contract (买受人, 出卖人, 承租人)


@dataclass(frozen=True)
class Invitation:
    """An invitation just issued: its token exists only here, on its way to the phone."""

    field: str
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class SentInvitation:
    """What the drafter learns of an invitation: whether it went (False: the party has no
    phone of record, nothing was issued). Not where: a drafter may type anyone's ID number,
    and no digit of a stranger's phone is its business."""

    field: str
    expires_at: dt.datetime
    sent: bool


@dataclass(frozen=True)
class Invited:
    """An invitation as recorded, found by its token."""

    token_sha256: str
    contract_id: str
    field: str
    id_number: str
    expires_at: dt.datetime
    attempts: int
    identity_checked: bool


class InvitationRefused(Exception):
    """The token does not open this field now."""


class InvitationInvalid(InvitationRefused):
    """No such token, or revoked by a newer invitation."""


class InvitationUsed(InvitationRefused):
    """The token signed already: it is used once."""


class InvitationExpired(InvitationRefused):
    """The draft's reservation, and with it the invitation, ran out."""


class InvitationElsewhere(InvitationRefused):
    """The token is for another contract or another field."""


class InvitationLocked(InvitationRefused):
    """Too many failed identity checks: the drafter must issue a new invitation."""


class IdentityNotChecked(InvitationRefused):
    """Signing starts only after the party's identity check passed with this invitation."""


class TooManyInvitations(Exception):
    """The field's invitation was sent ``MAX_PER_FIELD`` times already."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(
    conn: Connection,
    send: Callable[[TextMessage], None],
    public_url: str,
    contract: tuple[str, str],
    parties: dict[str, Invitee],
    expires_at: dt.datetime,
    now: dt.datetime,
) -> list[SentInvitation]:
    """Issue invitations for ``parties`` (field → invitee) of ``contract`` (id, number) and
    stage each for the invitee's phone of record (``send``), in the caller's transaction.
    A party without a phone of record gets no invitation: the drafter learns so."""
    contract_id, number = contract
    phones = departments.phones_of_record(conn, [p.id_number for p in parties.values()])
    t = schema.signing_invitations
    out = []
    for field, person in parties.items():
        if person.id_number not in phones:
            out.append(SentInvitation(field, expires_at, False))
            continue
        # The message greets the person by their name of record: the name the drafter typed
        # is the drafter's text, which the platform's own message does not carry.
        phone, name = phones[person.id_number]
        sent = conn.execute(
            select(func.count()).where(t.c.contract_id == contract_id, t.c.field == field)
        ).scalar_one()
        if sent >= MAX_PER_FIELD:
            raise TooManyInvitations(
                f"{field}'s invitation was sent {MAX_PER_FIELD} times: no more for this draft"
            )
        if _sent_today(conn, contract_id, person.id_number, now) >= MAX_PER_PERSON_PER_DAY:
            raise TooManyInvitations(
                f"{field}'s person was sent {MAX_PER_PERSON_PER_DAY} invitations by this "
                "drafter in the last 24 hours: no more today"
            )
        [issued] = issue(conn, contract_id, {field: person.id_number}, expires_at, now)
        url = link(public_url, contract_id, field, issued.token)
        text = invitation_text(name, person.role, number, url, expires_at)
        send(TextMessage(phone, text, token_sha256(issued.token)))
        conn.execute(
            update(t)
            .where(t.c.token_sha256 == token_sha256(issued.token))
            .values(sent_to=masked(phone))
        )
        out.append(SentInvitation(field, expires_at, True))
    return out


def _sent_today(conn: Connection, contract_id: str, id_number: str, now: dt.datetime) -> int:
    """Invitations the drafter of ``contract_id`` had sent to this person in the last day,
    over all its drafts (a withdrawn one's too)."""
    t, c = schema.signing_invitations, schema.contracts
    drafter = select(c.c.developer_id).where(c.c.id == contract_id).scalar_subquery()
    return int(
        conn.execute(
            select(func.count())
            .select_from(t.join(c, c.c.id == t.c.contract_id))
            .where(
                t.c.id_number == id_number,
                c.c.developer_id == drafter,
                t.c.created_at > now - DAY,
            )
        ).scalar_one()
    )


def committed(conn: Connection, sha256: str, now: dt.datetime) -> bool:
    """The invitation of this hash exists and may still be used (for staged messages): not
    used, not revoked, not expired, and its contract still a draft (a withdrawn or expired
    draft's invitations open nothing, so their messages are not sent)."""
    t, c = schema.signing_invitations, schema.contracts
    row = conn.execute(
        select(t.c.used_at, t.c.revoked_at, t.c.expires_at, c.c.status)
        .join(c, c.c.id == t.c.contract_id)
        .where(t.c.token_sha256 == sha256)
    ).first()
    return (
        row is not None
        and row.used_at is None
        and row.revoked_at is None
        and aware(row.expires_at) > now
        and row.status == ContractStatus.DRAFT
    )


def issue(
    conn: Connection,
    contract_id: str,
    parties: dict[str, str],
    expires_at: dt.datetime,
    now: dt.datetime,
) -> list[Invitation]:
    """New invitations for ``parties`` (field → ID number), revoking any earlier ones of
    those fields; in the caller's transaction. Their tokens go only to ``invite``."""
    out = []
    for field, id_number in parties.items():
        conn.execute(
            update(schema.signing_invitations)
            .where(
                schema.signing_invitations.c.contract_id == contract_id,
                schema.signing_invitations.c.field == field,
                schema.signing_invitations.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        conn.execute(
            insert(schema.signing_invitations).values(
                token_sha256=token_sha256(token),
                contract_id=contract_id,
                field=field,
                id_number=id_number,
                created_at=now,
                expires_at=expires_at,
            )
        )
        out.append(Invitation(field, token, expires_at))
    return out


def find(conn: Connection, token: str, contract_id: str, field: str, now: dt.datetime) -> Invited:
    """The live invitation ``token`` stands for, if it is for this contract's ``field``."""
    t = schema.signing_invitations
    row = conn.execute(select(t).where(t.c.token_sha256 == token_sha256(token))).mappings().first()
    if row is None or row["revoked_at"] is not None:
        raise InvitationInvalid("no such invitation, or a newer one replaced it")
    if row["contract_id"] != contract_id or row["field"] != field:
        raise InvitationElsewhere("the invitation is for another contract or field")
    if row["used_at"] is not None:
        raise InvitationUsed("the invitation was used: it signs once")
    expires = aware(row["expires_at"])
    if expires < now:
        raise InvitationExpired("the invitation expired with the draft")
    if row["attempts"] >= MAX_ATTEMPTS:
        raise InvitationLocked(
            f"{MAX_ATTEMPTS} failed identity checks: ask the drafter for a new invitation"
        )
    return Invited(
        row["token_sha256"],
        row["contract_id"],
        row["field"],
        row["id_number"],
        expires,
        row["attempts"],
        row["identity_at"] is not None,
    )


def take_attempt(conn: Connection, invited: Invited) -> None:
    """Count an identity check before it is judged, while attempts are left. Checks sent
    at once are each counted by this one conditional update, so no more than
    ``MAX_ATTEMPTS`` are ever judged (counting after judging let racing guesses each be
    judged against the same count)."""
    t = schema.signing_invitations
    done = conn.execute(
        update(t)
        .where(t.c.token_sha256 == invited.token_sha256, t.c.attempts < MAX_ATTEMPTS)
        .values(attempts=t.c.attempts + 1)
    )
    if done.rowcount != 1:
        raise InvitationLocked(
            f"{MAX_ATTEMPTS} failed identity checks: ask the drafter for a new invitation"
        )


def attempts_left(conn: Connection, invited: Invited) -> int:
    t = schema.signing_invitations
    mine = t.c.token_sha256 == invited.token_sha256
    return max(0, MAX_ATTEMPTS - int(conn.execute(select(t.c.attempts).where(mine)).scalar_one()))


def identity_passed(conn: Connection, invited: Invited, now: dt.datetime) -> None:
    """The check passed: recorded, and its attempt (taken before judging) given back."""
    t = schema.signing_invitations
    conn.execute(
        update(t)
        .where(t.c.token_sha256 == invited.token_sha256)
        .values(identity_at=now, attempts=t.c.attempts - 1)
    )


def consume(conn: Connection, invited: Invited, now: dt.datetime) -> None:
    """Use the invitation up, in the transaction that records its signature; a second
    use racing this one finds it used and rolls its own signature back."""
    t = schema.signing_invitations
    done = conn.execute(
        update(t)
        .where(
            t.c.token_sha256 == invited.token_sha256,
            t.c.used_at.is_(None),
            t.c.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    if done.rowcount != 1:
        raise InvitationUsed("the invitation was used or replaced meanwhile")


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
