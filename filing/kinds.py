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

from filing import checks, status
from filing.checks import Check, CheckFailure, UnitView
from filing.entry import EntryKind
from filing.lease_schema import LEASE_KINDS
from filing.lease_terms import lease_from_json, lease_to_json
from filing.resale_terms import resale_from_json, resale_to_json
from filing.status import Lifecycle, UnitEvent, UnitStatus
from filing.terms import contract_from_json, contract_to_json
from signing.contract import Contract, Party, Template
from signing.lease import MODEL_CODE as LEASE_MODEL_CODE
from signing.lease import LeaseContract
from signing.lease_render import render_lease
from signing.render import render, render_resale
from signing.resale import MODEL_CODE as RESALE_MODEL_CODE
from signing.resale import ResaleContract

# The contract models the pipeline carries: a new home's (GF-2014-0171/0172), a resale's
# (存量房买卖合同) and a lease's (住房租赁合同). What the pipeline asks of any goes through
# this module (``parties_of``, ``unit_code``, ``load``, ``dump``, ``render_pdf``): one pipeline.
AnyContract = Contract | ResaleContract | LeaseContract

# The platform's seal closes every contract: the field after the parties'.
FILING_SEAL_FIELD = "filing-seal"


class Kind(enum.Enum):
    """The stored and shown name of a transaction kind (``kind`` in contract/filing JSON)."""

    NEW_PRESALE = "new-presale"  # 新建商品房买卖（预售）, GF-2014-0171
    NEW_COMPLETED = "new-completed"  # 新建商品房买卖（现售）, GF-2014-0172
    RESALE = "resale"  # 存量房买卖, the city's model text (signing/resale.py)
    LEASE = "lease"  # 住房租赁, leased by the owners of record (signing/lease.py)
    LEASE_ENTRUSTED = "lease-entrusted"  # 住房租赁, by a rental enterprise they entrusted


class SigningMethod(enum.Enum):
    ENTERPRISE_SEAL = "enterprise-seal"  # an organisation's seal key on the platform's token
    PERSONAL = "personal"  # a person's own key (a phone), certified for this field only


class PartyRole(enum.Enum):
    SELLER = "seller"
    BUYER = "buyer"
    AGENT = "agent"  # the brokerage's agent (经纪人员), who signs a resale it made
    LESSOR = "lessor"  # 出租人: the owners of record, or the rental enterprise entrusted
    LESSEE = "lessee"  # 承租人


class LaterEvent(enum.Enum):
    """What may happen to a filing of the kind once it is filed."""

    CHANGE = "change"  # 变更 by the parties' agreement
    CANCELLATION = "cancellation"  # 注销, by agreement or by judgment
    REGISTRATION = "registration"  # 不动产登记, or a resale's 转移登记
    ESCROW_DEPOSIT = "escrow-deposit"  # into the presale escrow (资金监管)
    MAINTENANCE_FUND = "maintenance-fund"  # 住宅专项维修资金 deposit
    EXPIRY = "expiry"  # a lease's term ran out (期满终止)
    RENEWAL = "renewal"  # a lease's term extended by both parties (续订): a change agreement


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
            return (self.field,) if count else ()  # an optional party (a resale's agent)
        return tuple(f"{self.field}-{i}" for i in range(1, count + 1))


@dataclass(frozen=True)
class TransactionKind:
    kind: Kind
    title: str  # 新建商品房买卖（预售）
    template: Template | None  # the GF model text a new home's contract is rendered from
    model_text: str  # the model text's code, as the PDF names it
    parties: tuple[PartyDeclaration, ...]  # in signing order
    checks: tuple[Check, ...]  # 房源核验 on the 楼盘表's facts, run in order before a draft
    owners_of_record: bool  # the sellers are the owners of record: filing/resale.py checks
    purchase_limits: bool  # 购房资格 applies to its buyers
    # The unit events of each pipeline step; None: the kind never moves the unit's status
    # (a lease: a leased home stays as it was, and may be sold).
    lifecycle: Lifecycle | None
    later: frozenset[LaterEvent]  # events allowed on its filings
    measured_areas: bool  # the contract states measured areas (实测), not only forecast

    def allows(self, event: LaterEvent) -> bool:
        return event in self.later

    @property
    def log_kind(self) -> EntryKind:
        """How the public log names the kind on every event of its filings."""
        if self.kind is Kind.RESALE:
            return EntryKind.RESALE
        return EntryKind.LEASE if self.is_lease else EntryKind.NEW_HOME

    @property
    def is_lease(self) -> bool:
        return self.kind in (Kind.LEASE, Kind.LEASE_ENTRUSTED)

    @property
    def moves_unit(self) -> Lifecycle:
        """The unit events of a kind that moves the unit (a sale's): not a lease."""
        if self.lifecycle is None:
            raise ValueError(f"a {self.kind.value} filing does not move its unit")
        return self.lifecycle

    @property
    def on_filing(self) -> UnitEvent:
        return self.moves_unit.file

    @property
    def on_cancellation(self) -> UnitEvent:
        return self.moves_unit.cancel

    @property
    def reserved(self) -> UnitStatus:
        """The unit's status while a draft of this kind holds it."""
        return status.transition(self.moves_unit.sellable_from, self.moves_unit.reserve)

    @property
    def filed(self) -> UnitStatus:
        """The unit's status while a filing of this kind is in force and not registered."""
        return status.transition(self.reserved, self.moves_unit.file)

    def signature_fields(self, contract: AnyContract) -> tuple[str, ...]:
        """The fields in signing order: every party's, then the platform's seal."""
        out: list[str] = []
        for party in self.parties:
            out.extend(party.fields(len(parties_of(contract, party.role))))
        return (*out, FILING_SEAL_FIELD)

    def signers(self, contract: AnyContract) -> dict[str, tuple[PartyDeclaration, Party]]:
        """Each party field with its declaration and the party named in the contract."""
        out: dict[str, tuple[PartyDeclaration, Party]] = {}
        for declared in self.parties:
            people = parties_of(contract, declared.role)
            for field, person in zip(declared.fields(len(people)), people, strict=True):
                out[field] = (declared, person)
        return out

    def logged_parties(self, contract: AnyContract) -> tuple[Party, ...]:
        """The parties whose hashes a filing's log entry carries: the sellers and buyers (or
        lessors and lessees) in signing order (a resale's agent signs, but is no party)."""
        return tuple(
            party
            for declared, party in self.signers(contract).values()
            if declared.role is not PartyRole.AGENT
        )

    def sellable(
        self, unit: UnitView, today: dt.date, contract: str | None = None
    ) -> list[CheckFailure]:
        return checks.run(self.checks, unit, today, contract)


def parties_of(contract: AnyContract, role: PartyRole) -> tuple[Party, ...]:
    """The people of ``role`` the contract names, in its order (the adapter of the models)."""
    if isinstance(contract, LeaseContract):
        if role is PartyRole.LESSOR:
            return contract.lessors
        return contract.lessees if role is PartyRole.LESSEE else ()
    if role in (PartyRole.LESSOR, PartyRole.LESSEE):
        return ()
    if role is PartyRole.BUYER:
        return contract.buyers
    if isinstance(contract, ResaleContract):
        if role is PartyRole.SELLER:
            return contract.sellers
        b = contract.brokerage
        return () if b is None else (Party("agent", b.agent_name, b.agent_id_type, b.agent_id),)
    return (contract.seller,) if role is PartyRole.SELLER else ()


def unit_code(contract: AnyContract) -> str:
    if isinstance(contract, ResaleContract | LeaseContract):
        return contract.house.code
    return contract.unit.code


def load(kind: Kind | str, data: str) -> AnyContract:
    """A stored contract's data (``contracts.data``), read as its kind's model."""
    if Kind(kind) is Kind.RESALE:
        return resale_from_json(data)
    if get(kind).is_lease:
        return lease_from_json(data)
    return contract_from_json(data)


def dump(contract: AnyContract) -> str:
    if isinstance(contract, ResaleContract):
        return resale_to_json(contract)
    if isinstance(contract, LeaseContract):
        return lease_to_json(contract)
    return contract_to_json(contract)


def render_pdf(contract: AnyContract) -> bytes:
    """The draft PDF, from the contract's model text (deterministic bytes)."""
    if isinstance(contract, ResaleContract):
        return render_resale(contract).pdf
    if isinstance(contract, LeaseContract):
        return render_lease(contract).pdf
    return render(contract).pdf


_NEW_HOME_PARTIES = (
    PartyDeclaration(PartyRole.SELLER, "seller", False, SigningMethod.ENTERPRISE_SEAL, "出卖人"),
    PartyDeclaration(PartyRole.BUYER, "buyer", True, SigningMethod.PERSONAL, "买受人"),
)
_NEW_HOME_LATER = frozenset(LaterEvent) - {LaterEvent.EXPIRY, LaterEvent.RENEWAL}  # a sale
_RESALE_PARTIES = (
    PartyDeclaration(PartyRole.SELLER, "seller", True, SigningMethod.PERSONAL, "出卖人"),
    PartyDeclaration(PartyRole.BUYER, "buyer", True, SigningMethod.PERSONAL, "买受人"),
    PartyDeclaration(PartyRole.AGENT, "agent", False, SigningMethod.PERSONAL, "经纪人员"),
)
# A resale's funds are supervised in the account its contract names; no maintenance fund
# is deposited again (the home's account moves with it), no presale escrow exists.
_RESALE_LATER = frozenset(
    {
        LaterEvent.CHANGE,
        LaterEvent.CANCELLATION,
        LaterEvent.REGISTRATION,
        LaterEvent.ESCROW_DEPOSIT,
    }
)

_LESSEES = PartyDeclaration(PartyRole.LESSEE, "lessee", True, SigningMethod.PERSONAL, "承租人")
# A lease is filed once, may be renewed (a change agreement that only extends its term) and
# ends: early (by agreement or judgment: a cancellation) or at the end of its term (expiry).
# It changes no ownership and deposits no money.
_LEASE_LATER = frozenset({LaterEvent.CANCELLATION, LaterEvent.EXPIRY, LaterEvent.RENEWAL})

KINDS: Mapping[Kind, TransactionKind] = MappingProxyType(
    {
        Kind.NEW_PRESALE: TransactionKind(
            Kind.NEW_PRESALE,
            "新建商品房买卖（预售）",
            Template.PRESALE,
            Template.PRESALE.value,
            _NEW_HOME_PARTIES,
            (checks.unit_free, checks.unencumbered, checks.presale_permit),
            owners_of_record=False,
            purchase_limits=True,
            lifecycle=status.NEW_HOME,
            later=_NEW_HOME_LATER,
            measured_areas=False,
        ),
        Kind.NEW_COMPLETED: TransactionKind(
            Kind.NEW_COMPLETED,
            "新建商品房买卖（现售）",
            Template.COMPLETED,
            Template.COMPLETED.value,
            _NEW_HOME_PARTIES,
            (checks.unit_free, checks.unencumbered, checks.completed_and_measured),
            owners_of_record=False,
            purchase_limits=True,
            lifecycle=status.NEW_HOME,
            later=_NEW_HOME_LATER,
            measured_areas=True,
        ),
        Kind.RESALE: TransactionKind(
            Kind.RESALE,
            "存量房买卖",
            None,
            RESALE_MODEL_CODE,
            _RESALE_PARTIES,
            (),  # filing/resale.py check_resale, on the ownership of record
            owners_of_record=True,
            purchase_limits=True,
            lifecycle=status.RESALE,
            later=_RESALE_LATER,
            measured_areas=False,
        ),
        Kind.LEASE: TransactionKind(
            Kind.LEASE,
            "房屋租赁",
            None,
            LEASE_MODEL_CODE,
            (
                PartyDeclaration(
                    PartyRole.LESSOR, "lessor", True, SigningMethod.PERSONAL, "出租人"
                ),
                _LESSEES,
            ),
            (),  # filing/lease.py check_lease, on the ownership of record
            owners_of_record=True,
            purchase_limits=False,
            lifecycle=None,
            later=_LEASE_LATER,
            measured_areas=False,
        ),
        Kind.LEASE_ENTRUSTED: TransactionKind(
            Kind.LEASE_ENTRUSTED,
            "房屋租赁",
            None,
            LEASE_MODEL_CODE,
            (
                PartyDeclaration(
                    PartyRole.LESSOR, "lessor", False, SigningMethod.ENTERPRISE_SEAL, "出租人"
                ),
                _LESSEES,
            ),
            (),  # filing/lease.py check_lease: the enterprise's entrustment
            owners_of_record=True,
            purchase_limits=False,
            lifecycle=None,
            later=_LEASE_LATER,
            measured_areas=False,
        ),
    }
)


assert tuple(k.value for k in KINDS if KINDS[k].is_lease) == LEASE_KINDS  # one list of them


class UnknownKind(ValueError):
    """No transaction kind has this name or model text."""


def get(kind: Kind | str) -> TransactionKind:
    """The declaration of ``kind`` (a ``Kind`` or its stored value)."""
    try:
        return KINDS[Kind(kind)]
    except ValueError as exc:
        raise UnknownKind(f"no transaction kind {kind!r}") from exc


def of_contract(contract: AnyContract) -> TransactionKind:
    """The kind whose model text the contract is written on."""
    if isinstance(contract, ResaleContract):
        return KINDS[Kind.RESALE]
    if isinstance(contract, LeaseContract):
        return KINDS[Kind.LEASE_ENTRUSTED if contract.by_enterprise else Kind.LEASE]
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
