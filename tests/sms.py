"""The parties' phones in tests: their mobile numbers of record, and the invitations the
platform sent them, read from the SMS gateway's spool as the phone would receive them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from filing.deployment import Deployment
from filing.invitation_delivery import invitation_in, read_smsd_file


def phone_of(id_number: str) -> str:
    """A test person's mobile number of record (fictional, fixed by the ID number)."""
    return f"1390000{int(hashlib.sha256(id_number.encode()).hexdigest(), 16) % 10000:04d}"


def identities_csv(people: Iterable[tuple[str, str]]) -> str:
    """The police's identity extract for (name, ID number) pairs, each with a phone."""
    return "id_number,name,phone\n" + "".join(f"{i},{n},{phone_of(i)}\n" for n, i in people)


def sent(d: Deployment, contract_id: str, field: str) -> list[tuple[str, str]]:
    """Every invitation sent for this field so far, oldest first: (phone, token)."""
    found = []
    paths = sorted(d.courier.outgoing.glob("wq-*.sms"), key=lambda p: p.stat().st_mtime_ns)
    for path in paths:
        message = read_smsd_file(path.read_bytes())
        cid, f, token = invitation_in(message.text)
        if (cid, f) == (contract_id, field):
            found.append((message.phone, token))
    return found


def token_for(d: Deployment, contract_id: str, field: str) -> str:
    """The newest invitation token the party's phone received for this field."""
    tokens = sent(d, contract_id, field)
    assert tokens, f"no invitation for {contract_id}/{field} reached a phone"
    return tokens[-1][1]
