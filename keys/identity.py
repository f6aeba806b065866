"""Binding a party's certificate to a verified identity.

The identity check itself is an adapter (face recognition and the police's
identity records in production). A party certificate can only be issued for a
``VerifiedIdentity``, which only an ``IdentityCheck`` produces.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from keys.authority import CertificateAuthority
from keys.pki import BACKDATE, VALIDITY, Profile, name


class IdentityRejected(Exception):
    """The identity check did not confirm the person."""


class SigningWindowClosed(Exception):
    """A party certificate was asked for a signing that can no longer happen (its end is
    past) or would be valid longer than a party certificate may be."""


@dataclass(frozen=True)
class VerifiedIdentity:
    name: str
    id_type: str
    id_number: str
    checked_by: str  # which adapter confirmed it
    checked_at: dt.datetime

    @property
    def subject_serial(self) -> str:
        """What the certificate carries instead of the ID number: a hash of type and number,
        which matches the person for whoever holds the ID card, without printing it."""
        digest = hashlib.sha256(f"{self.id_type}:{self.id_number}".encode()).hexdigest()
        return f"IDH:{digest[:32]}"


class IdentityCheck(Protocol):
    def verify(self, person_name: str, id_type: str, id_number: str) -> VerifiedIdentity:
        """Confirm that the ID belongs to the named person, or raise IdentityRejected."""
        ...


class RegistryIdentityCheck:
    """Checks against an identity extract the authority loads (JSON: ID number → name)."""

    def __init__(self, extract: Path) -> None:
        try:
            self._people: dict[str, str] = json.loads(extract.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IdentityRejected(f"identity extract {extract} cannot be read: {exc}") from exc
        self._source = extract.name

    def verify(self, person_name: str, id_type: str, id_number: str) -> VerifiedIdentity:
        if id_type != "居民身份证":
            raise IdentityRejected(f"this check covers resident ID cards, not {id_type}")
        known = self._people.get(id_number)
        if known is None:
            raise IdentityRejected("no such ID number in the identity records")
        if known != person_name:
            raise IdentityRejected("the name does not match the identity records")
        return VerifiedIdentity(
            person_name, id_type, id_number, f"registry:{self._source}", dt.datetime.now(dt.UTC)
        )


# X.520 description: what the certificate was issued for, in its subject for anyone to read.
DESCRIPTION = x509.ObjectIdentifier("2.5.4.13")


@dataclass(frozen=True)
class SigningPurpose:
    """The one signature a party certificate is issued for: a contract's field."""

    contract_number: str
    field: str

    @property
    def text(self) -> str:
        return f"sign {self.contract_number} {self.field}"


def issue_party_certificate(
    ca: CertificateAuthority,
    identity: VerifiedIdentity,
    public_key: ec.EllipticCurvePublicKey,
    purpose: SigningPurpose,
    until: dt.datetime,
) -> x509.Certificate:
    """A signing certificate for one field of one contract, for a person whose identity was
    checked. Its subject names the field, so the key it certifies signs nothing else; it is
    valid ``until`` the contract can no longer be signed, so that it is still in force when
    the last party signs and the platform seals (an earlier party's certificate that expired
    before the seal would leave that signature without proof of when it was valid)."""
    now = dt.datetime.now(dt.UTC)
    if until <= now:
        raise SigningWindowClosed("the signing this certificate was asked for has ended")
    longest = VALIDITY[Profile.PARTY]
    if until - now > longest:
        raise SigningWindowClosed(f"a party certificate is valid at most {longest.days} days")
    subject = name(identity.name, serial=identity.subject_serial)
    subject = x509.Name([*subject, x509.NameAttribute(DESCRIPTION, purpose.text)])
    start = now.replace(microsecond=0) - BACKDATE
    # It outlives the signing by as long as it starts early: a seal begun at the last
    # moment finishes with every party's certificate still in force.
    until = until.replace(microsecond=0) + BACKDATE
    return ca.issue(Profile.PARTY, subject, public_key, until - start, not_before=start)


def purpose_of(certificate: x509.Certificate) -> str | None:
    """The purpose a party certificate names (``SigningPurpose.text``), if any."""
    values = certificate.subject.get_attributes_for_oid(DESCRIPTION)
    return str(values[0].value) if len(values) == 1 else None
