"""Ownership of record (不动产登记): who owns a registered unit, its mortgages and consents.

Plain frozen data and its rules; ``filing/ownership_records.py`` keeps them in SQL.
A REGISTERED unit has one current ownership record: its 不动产权证书 number, its owners
(name, ID type and number, and a share when they own by shares), the day it was
registered and the day the owners acquired the home (what a resale restriction counts
from). Owners' names and ID numbers are personal data: see ``OwnerView``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction


class OwnershipError(ValueError):
    """The ownership data cannot make a valid record."""


class CoOwnership(enum.Enum):
    SOLE = "单独所有"
    JOINT = "共同共有"  # joint owners: no shares
    SHARES = "按份共有"  # owners by shares, which add up to one


def parse_share(text: str) -> Fraction:
    """A share as the register writes it: ``1/2``, ``1/3``, ``0.25``; in (0, 1]."""
    try:
        share = Fraction(text.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise OwnershipError(f"not a share: {text!r}") from exc
    if not 0 < share <= 1:
        raise OwnershipError(f"a share must be more than 0 and at most 1, not {text}")
    return share


def normalise_id(id_number: str) -> str:
    """ID numbers compare without surrounding space and with a check letter in capitals."""
    return id_number.strip().upper()


@dataclass(frozen=True)
class Owner:
    name: str
    id_type: str  # 居民身份证, 护照, 统一社会信用代码, ...
    id_number: str
    share: Fraction | None = None  # 按份共有 only

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.id_type.strip() or not self.id_number.strip():
            raise OwnershipError("an owner needs a name, an ID type and an ID number")

    @property
    def identity(self) -> tuple[str, str]:
        return (self.id_type.strip(), normalise_id(self.id_number))


@dataclass(frozen=True)
class Ownership:
    certificate: str  # 不动产权证书 number
    owners: tuple[Owner, ...]
    co_ownership: CoOwnership
    registered_on: dt.date
    acquired_on: dt.date  # when the owners bought: their purchase's filing day, or the register's

    def __post_init__(self) -> None:
        if not self.certificate.strip():
            raise OwnershipError("an ownership record needs its certificate number")
        if not self.owners:
            raise OwnershipError("an ownership record needs at least one owner")
        if len({o.identity for o in self.owners}) != len(self.owners):
            raise OwnershipError("an owner appears twice")
        if (self.co_ownership is CoOwnership.SOLE) != (len(self.owners) == 1):
            raise OwnershipError("one owner owns solely; two or more own jointly or by shares")
        shares = [o.share for o in self.owners]
        if self.co_ownership is CoOwnership.SHARES:
            if any(s is None for s in shares):
                raise OwnershipError("owners by shares each need a share")
            if sum(s for s in shares if s is not None) != 1:
                raise OwnershipError("the owners' shares must add up to one")
        elif any(s is not None for s in shares):
            raise OwnershipError(f"{self.co_ownership.value}: owners have no shares")


def ownership_of(
    certificate: str,
    owners: Sequence[tuple[str, str, str]],
    registered_on: dt.date,
    acquired_on: dt.date | None = None,
    shares: Sequence[str] | None = None,
) -> Ownership:
    """An ownership record from (name, id_type, id_number) triples: one owner owns solely,
    several jointly, or by ``shares`` (in the owners' order) when given."""
    if shares is not None and len(shares) != len(owners):
        raise OwnershipError("give one share per owner, in the owners' order")
    parsed = [parse_share(s) for s in shares] if shares is not None else [None] * len(owners)
    kind = (
        CoOwnership.SOLE
        if len(owners) == 1 and shares is None
        else CoOwnership.SHARES
        if shares is not None
        else CoOwnership.JOINT
    )
    if len(owners) == 1 and shares is not None:
        if parsed != [Fraction(1)]:
            raise OwnershipError("a sole owner's share is the whole")
        kind, parsed = CoOwnership.SOLE, [None]
    return Ownership(
        certificate.strip(),
        tuple(Owner(n, t, i, s) for (n, t, i), s in zip(owners, parsed, strict=True)),
        kind,
        registered_on,
        acquired_on or registered_on,
    )


@dataclass(frozen=True)
class Mortgage:
    """A mortgage (抵押) on the unit while it is not discharged, and the mortgagee's
    consent to a sale (抵押权人同意转让) if one is recorded."""

    id: int
    mortgagee: str  # an institution: not personal data
    reference: str  # the mortgage's registration (不动产登记证明) number
    registered_on: dt.date
    consent: str | None = None  # the consent's reference

    @property
    def consented(self) -> bool:
        return self.consent is not None


# -- what each role may see ------------------------------------------------------------


@dataclass(frozen=True)
class OwnerView:
    """An owner as a caller sees them: names and ID numbers only for the authority, a
    court and the owners themselves; everyone else sees ``owner:<pseudonym>`` (the same
    for the same person, unlinkable to the number without the deployment's key)."""

    owner: str  # the name, or owner:<pseudonym>
    id_type: str | None
    id_number: str | None
    share: str | None


def owner_views(
    ownership: Ownership, sees_people: bool, pseudonym: Callable[[str], str]
) -> list[OwnerView]:
    return [
        OwnerView(
            o.name if sees_people else f"owner:{pseudonym(normalise_id(o.id_number))}",
            o.id_type if sees_people else None,
            o.id_number if sees_people else None,
            None if o.share is None else str(o.share),
        )
        for o in ownership.owners
    ]


def is_owner(ownership: Ownership | None, id_number: str) -> bool:
    """Whether ``id_number`` (a buyer-role caller's org) is an owner of record."""
    return ownership is not None and any(
        normalise_id(o.id_number) == normalise_id(id_number) for o in ownership.owners
    )
