"""Transaction kinds: what one pipeline needs to know to carry a kind of contract.

The pipeline (draft → checks → parties sign → platform seal → file → log) is written
once, in filing/service.py; each kind is a declaration read by it:

* its parties, in signing order, each with its signature field(s) and how it signs;
* its checks before a draft (房源核验 variants, filing/checks.py) and whether 购房资格
  (the buyers' purchase limits) applies;
* its model text (the template the contract is rendered from);
* what filing, and cancelling the filing, do to the unit (unit events, filing/status.py);
* the events allowed on its filings afterwards.

Adding a kind is adding a member to ``Kind`` and a ``TransactionKind`` to ``KINDS``
(tested: every kind is declared, and declared once).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from filing import checks
from filing.checks import Check, CheckFailure, UnitView
from filing.status import UnitEvent
from signing.contract import Contract, Party, Template

# The platform's seal closes every contract: the field after the parties'.
FILING_SEAL_FIELD = "filing-seal"


class Kind(enum.Enum):
    """The stored and shown name of a transaction kind (``kind`` in contract/filing JSON)."""

    NEW_PRESALE = "new-presale"  # 新建商品房买卖（预售）, GF-2014-0171
    NEW_COMPLETED = "new-completed"  # 新建商品房买卖（现售）, GF-2014-0172


class SigningMethod(enum.Enum):
    ENTERPRISE_SEAL = "enterprise-seal"  # an organisation's seal key on the platform's token
    PERSONAL = "personal"  # a person's own key (a phone), certified for this field only


class PartyRole(enum.Enum):
    SELLER = "seller"
    BUYER = "buyer"


class LaterEvent(enum.Enum):
    """What may happen to a filing of the kind once it is filed."""

    CHANGE = "change"  # 变更 by the parties' agreement
    CANCELLATION = "cancellation"  # 注销, by agreement or by judgment
    REGISTRATION = "registration"  # 不动产登记
    ESCROW_DEPOSIT = "escrow-deposit"  # into the presale escrow (资金监管)
    MAINTENANCE_FUND = "maintenance-fund"  # 住宅专项维修资金 deposit


@dataclass(frozen=True)
class PartyDeclaration:
    """One party (or group of parties) of a kind, in its place in the signing order."""

    role: PartyRole
    field: str  # the signature field, or the fields' prefix when ``many`` (``buyer-1``, ...)
    many: bool  # one field per person of the role, numbered from 1
    signs_with: SigningMethod
    label: str  # the role's name on the contract and its signature stamp (出卖人, 买受人)

    def fields(self, count: int) -> tuple[str, ...]:
        if not self.many:
            return (self.field,)
        return tuple(f"{self.field}-{i}" for i in range(1, count + 1))


@dataclass(frozen=True)
class TransactionKind:
    kind: Kind
    title: str  # 新建商品房买卖（预售）
    template: Template  # the model text the contract is rendered from
    parties: tuple[PartyDeclaration, ...]  # in signing order
    checks: tuple[Check, ...]  # 房源核验, run in order before a draft
    purchase_limits: bool  # 购房资格 applies to its buyers
    on_filing: UnitEvent  # what filing does to the unit
    on_cancellation: UnitEvent  # what cancelling its filing does to the unit
    later: frozenset[LaterEvent]  # events allowed on its filings
    measured_areas: bool  # the contract states measured areas (实测), not only forecast

    def allows(self, event: LaterEvent) -> bool:
        return event in self.later

    def signature_fields(self, contract: Contract) -> tuple[str, ...]:
        """The fields in signing order: every party's, then the platform's seal."""
        out: list[str] = []
        for party in self.parties:
            out.extend(party.fields(len(parties_of(contract, party.role))))
        return (*out, FILING_SEAL_FIELD)

    def signers(self, contract: Contract) -> dict[str, tuple[PartyDeclaration, Party]]:
        """Each party field with its declaration and the party named in the contract."""
        out: dict[str, tuple[PartyDeclaration, Party]] = {}
        for declared in self.parties:
            people = parties_of(contract, declared.role)
            for field, person in zip(declared.fields(len(people)), people, strict=True):
                out[field] = (declared, person)
        return out

    def sellable(
        self, unit: UnitView, today: dt.date, contract: str | None = None
    ) -> list[CheckFailure]:
        return checks.run(self.checks, unit, today, contract)


def parties_of(contract: Contract, role: PartyRole) -> tuple[Party, ...]:
    return (contract.seller,) if role is PartyRole.SELLER else contract.buyers


_NEW_HOME_PARTIES = (
    PartyDeclaration(PartyRole.SELLER, "seller", False, SigningMethod.ENTERPRISE_SEAL, "出卖人"),
    PartyDeclaration(PartyRole.BUYER, "buyer", True, SigningMethod.PERSONAL, "买受人"),
)
_NEW_HOME_LATER = frozenset(LaterEvent)

KINDS: Mapping[Kind, TransactionKind] = MappingProxyType(
    {
        Kind.NEW_PRESALE: TransactionKind(
            Kind.NEW_PRESALE,
            "新建商品房买卖（预售）",
            Template.PRESALE,
            _NEW_HOME_PARTIES,
            (checks.unit_free, checks.unencumbered, checks.presale_permit),
            purchase_limits=True,
            on_filing=UnitEvent.FILE,
            on_cancellation=UnitEvent.CANCEL_FILING,
            later=_NEW_HOME_LATER,
            measured_areas=False,
        ),
        Kind.NEW_COMPLETED: TransactionKind(
            Kind.NEW_COMPLETED,
            "新建商品房买卖（现售）",
            Template.COMPLETED,
            _NEW_HOME_PARTIES,
            (checks.unit_free, checks.unencumbered, checks.completed_and_measured),
            purchase_limits=True,
            on_filing=UnitEvent.FILE,
            on_cancellation=UnitEvent.CANCEL_FILING,
            later=_NEW_HOME_LATER,
            measured_areas=True,
        ),
    }
)


class UnknownKind(ValueError):
    """No transaction kind has this name or model text."""


def get(kind: Kind | str) -> TransactionKind:
    """The declaration of ``kind`` (a ``Kind`` or its stored value)."""
    try:
        return KINDS[Kind(kind)]
    except ValueError as exc:
        raise UnknownKind(f"no transaction kind {kind!r}") from exc


def of_contract(contract: Contract) -> TransactionKind:
    """The kind whose model text the contract is written on."""
    found = [k for k in KINDS.values() if k.template is contract.template]
    if len(found) != 1:
        raise UnknownKind(f"no single transaction kind uses {contract.template.value}")
    return found[0]


def for_unit(unit: UnitView) -> TransactionKind:
    """The kind a new home's 楼盘表 facts decide: a unit of a completed building with
    measured areas is sold 现售 (GF-2014-0172); any other new home is presale (0171)."""
    if unit.completed and unit.measured:
        return KINDS[Kind.NEW_COMPLETED]
    return KINDS[Kind.NEW_PRESALE]


def sellable(unit: UnitView, today: dt.date, contract: str | None = None) -> list[CheckFailure]:
    """房源核验 under the kind the unit's facts decide."""
    return for_unit(unit).sellable(unit, today, contract)
