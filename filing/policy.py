"""Who may see and do what: every access rule of the platform, as plain functions of a caller.

The HTTP layer authenticates a caller (an organisation and its ``Role``) and asks these rules;
it holds none of its own. A new role (e.g. a bank's) is one enum member here and a line in the
rules that admit it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass


class Role(enum.Enum):
    AUTHORITY = "authority"
    DEVELOPER = "developer"  # org = the developer's 统一社会信用代码
    BUYER = "buyer"  # 个人, a natural person: org = their ID number (buyer, resale seller, agent)
    AGENCY = "agency"  # 经纪机构, a brokerage: org = its filing number (经纪机构备案证明编号)
    COURT = "court"  # any filing's evidence package
    DEPARTMENT = "department"  # statistics and filing status (no personal data)
    TAX = "tax"  # price, area and parties of filed contracts
    BANK = "bank"  # banks and the provident fund: a filing's status for a loan


@dataclass(frozen=True)
class Caller:
    org: str
    role: Role


class Sight(enum.Enum):
    """What a caller gets when asking for a contract (or what rests on it)."""

    SEEN = "seen"
    HIDDEN = "hidden"  # as if it did not exist (404): another developer's or buyer's
    FORBIDDEN = "forbidden"  # the role may not see contracts at all (403)


# Who may see contracts and sealed documents, which name the parties and their ID numbers
# (developers and buyers only their own); tax reads parties through its own interface.
PERSONAL_DATA_ROLES = (Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER, Role.AGENCY)
# The parties of a contract: they draft, sign, propose agreements, see only their own.
PARTY_ROLES = (Role.DEVELOPER, Role.BUYER)

# -- who may do what (the routes ask for these role sets) -----------------------------
KEEPS_REGISTRY = (Role.AUTHORITY,)  # 楼盘表 imports, permits, department extracts, registration
RELEASES_UNITS = (Role.DEVELOPER, Role.AUTHORITY)  # 开盘 (a developer only its own units)
SETS_FLAGS = (Role.AUTHORITY, Role.COURT)  # 查封, 抵押, 不可售
DRAFTS = (Role.DEVELOPER,)  # drafts, seals, withdraws, submits signed contracts
SIGNS_ON_DEVICE = (Role.BUYER,)  # remote signing and own signing certificates
# A resale (存量房买卖) is drafted by one of its sellers (a person) or its brokerage, who
# may withdraw it too.
DRAFTS_RESALES = (Role.BUYER, Role.AGENCY)
# A drafter issues a party's signing invitation again (its own drafts only).
ISSUES_INVITATIONS = (*DRAFTS, *DRAFTS_RESALES)
WITHDRAWS = (Role.DEVELOPER, Role.BUYER, Role.AGENCY)
# A lease (租赁备案) is drafted by one of the owners (a person) or by the rental enterprise
# (an enterprise key: role developer, its org the credit code) that is its lessor.
DRAFTS_LEASES = (Role.BUYER, Role.DEVELOPER)
RECORDS_ENTRUSTMENTS = (Role.AUTHORITY,)  # the owners' entrustment of a unit to an enterprise
ENDS_LEASES = (Role.AUTHORITY,)  # runs expiry (期满终止) of the leases whose term ran out
# A unit's lease status (no names) and a lease's 租赁登记备案证明: the authority, courts and
# the departments that accept it (residence permits, provident fund, schools).
SEES_LEASES = (Role.AUTHORITY, Role.COURT, Role.DEPARTMENT)
UPLOADS_SIGNATURES = PARTY_ROLES
PROPOSES_AGREEMENTS = PARTY_ROLES  # cancellation and change by consent
CANCELS_BY_JUDGMENT = (Role.AUTHORITY, Role.COURT)
# -- supervision: which department scope sees what ----------------------------------
SEES_STATISTICS = (Role.AUTHORITY, Role.DEPARTMENT)  # numbers only, no personal data
READS_TAX_VIEW = (Role.TAX,)  # price, area and the parties of filed contracts
READS_LOAN_VIEW = (Role.BANK, Role.AUTHORITY)  # a filing's status, no personal data
READS_EVIDENCE = (Role.COURT, Role.AUTHORITY)  # the evidence package, with the documents
# Webhooks and the event page (no personal data): departments every event, a developer
# only the events of its own filings, an agency those of the resales it brokered
# (``event_scope``).
SUBSCRIBES = (
    Role.AUTHORITY,
    Role.DEPARTMENT,
    Role.TAX,
    Role.BANK,
    Role.COURT,
    Role.DEVELOPER,
    Role.AGENCY,
)
# The contract and filing lists (``list_scope``): they name no people, but tell who sells
# and buys what; a party lists only its own.
LISTS_CONTRACTS = (Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER, Role.AGENCY)


def allowed(caller: Caller, roles: Collection[Role]) -> bool:
    return caller.role in roles


def sees_personal_data(caller: Caller) -> bool:
    """May the role see documents that name people (its own, for a party)?"""
    return caller.role in PERSONAL_DATA_ROLES


def drafter_key(caller: Caller) -> str:
    """What a resale's drafter is recorded as (``contracts.developer_id``): never a
    developer's credit code."""
    prefix = "agency" if caller.role is Role.AGENCY else "person"
    return f"{prefix}:{caller.org}"


def contract_sight(
    caller: Caller, developer_id: str, buyer_ids: Collection[str], brokerage: str | None = None
) -> Sight:
    """A contract of ``developer_id`` (its drafter) signed in person by ``buyer_ids`` (the
    buyers; in a resale also the sellers and the agent), brokered by ``brokerage`` (a
    resale's, by filing number): a party sees only its own; another party's contract is
    hidden (404, so that its existence is not told). An agency sees what it drafted and what
    names it as the brokerage (a seller's draft too: it lists them)."""
    if caller.role is Role.DEVELOPER and developer_id != caller.org:
        return Sight.HIDDEN
    if caller.role is Role.BUYER and caller.org not in buyer_ids:
        return Sight.HIDDEN
    if (
        caller.role is Role.AGENCY
        and developer_id != drafter_key(caller)
        and brokerage != caller.org
    ):
        return Sight.HIDDEN
    if not sees_personal_data(caller):
        return Sight.FORBIDDEN
    return Sight.SEEN


@dataclass(frozen=True)
class UnitPeople:
    """Whom a caller sees by name and ID number in a unit's history: everyone in it (the
    authority, a court), or the people of the sales ``drafter`` made itself (a unit's own
    developer: its own buyers, in its own sales' events), or nobody (pseudonyms)."""

    everyone: bool = False
    drafter: str | None = None

    @property
    def anyone(self) -> bool:
        """Does the caller see somebody by name (such a read is in the access log)?"""
        return self.everyone or self.drafter is not None


def unit_people(caller: Caller, developer_id: str) -> UnitPeople:
    """Who is named to the caller in the history of a unit of ``developer_id``. The unit's
    developer sees the buyers it sold to, not the people of later resales (their sellers,
    buyers, agents): those are the authority's and a court's to see, and each party's own."""
    if caller.role in (Role.AUTHORITY, Role.COURT):
        return UnitPeople(everyone=True)
    if caller.role is Role.DEVELOPER and developer_id == caller.org:
        return UnitPeople(drafter=caller.org)
    return UnitPeople()


# Who reads owners' names and ID numbers (besides the owners themselves).
SEES_OWNERS = (Role.AUTHORITY, Role.COURT)
RECORDS_CONSENTS = (Role.AUTHORITY, Role.BANK)  # the authority, or the mortgagee itself


def sees_owners(caller: Caller, is_owner: bool) -> bool:
    """Does the caller see the owners of record by name and ID number (the authority, a
    court, and an owner, as a buyer-role caller, of its own home)?"""
    return caller.role in SEES_OWNERS or (caller.role is Role.BUYER and is_owner)


# 资金监管: the bank confirms deposits, releases and refunds with its own signed statements.
CONFIRMS_FUNDS = (Role.BANK,)
# Who may ask for a filing's supervision account (then ``sees_fund_account`` decides).
READS_FUND_ACCOUNTS = (
    Role.AUTHORITY,
    Role.COURT,
    Role.BANK,
    Role.DEVELOPER,
    Role.BUYER,
    Role.AGENCY,
)


def sees_fund_account(
    caller: Caller,
    developer: str,
    buyers: Collection[str],
    bank: str | None,
    brokerage: str | None = None,
) -> bool:
    """A filing's supervision account: its parties (a resale's brokerage too, whoever
    drafted it), the authority, a court, and the bank that keeps the account."""
    return (
        caller.role in (Role.AUTHORITY, Role.COURT)
        or (caller.role is Role.BANK and caller.org == bank)
        or (caller.role is Role.DEVELOPER and caller.org == developer)
        or (caller.role is Role.BUYER and caller.org in buyers)
        or (
            caller.role is Role.AGENCY
            and (drafter_key(caller) == developer or caller.org == brokerage)
        )
    )


# 住宅专项维修资金: the designated bank confirms deposits with its signed statements; the
# authority records the uses of funds the owners approved.
RECORDS_MAINTENANCE_USES = (Role.AUTHORITY,)
# Who may ask for a unit's maintenance-fund account (then ``sees_maintenance_account``).
READS_MAINTENANCE_ACCOUNTS = (
    Role.AUTHORITY,
    Role.DEPARTMENT,
    Role.COURT,
    Role.BANK,
    Role.BUYER,
)
SEES_MAINTENANCE_TOTALS = SEES_STATISTICS


def sees_maintenance_account(caller: Caller, is_owner: bool, banks: Collection[str]) -> bool:
    """A unit's maintenance-fund balance and events (amounts and banks, no names): its
    owners of record (whoever they are now: the fund moves with the unit; ``is_owner`` also
    for the buyer of a purchase whose fund is due or held for her refund), the authority,
    the departments, a court, and the bank that keeps it."""
    return (
        caller.role in (Role.AUTHORITY, Role.DEPARTMENT, Role.COURT)
        or (caller.role is Role.BANK and caller.org in banks)
        or (caller.role is Role.BUYER and is_owner)
    )


def acts_on_unit(caller: Caller, developer_id: str) -> bool:
    """May the caller change a unit of ``developer_id`` (a developer only its own)?"""
    return caller.role is not Role.DEVELOPER or developer_id == caller.org


def sees_eligibility_records(caller: Caller) -> bool:
    """The records behind an eligibility decision (households, payments, homes) are the
    buyer's: a developer sees only the decision's summary."""
    return caller.role is not Role.DEVELOPER


def must_agree_to_cancel(caller: Caller) -> bool:
    """A party cannot cancel a filing alone: it proposes an agreement every party signs."""
    return caller.role in PARTY_ROLES


@dataclass(frozen=True)
class ListScope:
    """The rows of the contract and filing lists a caller sees: a developer's (drafted by
    it), a person's (contracts naming that ID number: as a buyer, or a resale's seller or
    agent), an agency's (resales naming its brokerage, which are all it drafts), or, all
    None, every row."""

    developer: str | None = None
    person: str | None = None
    agency: str | None = None  # drafter_key: ``agency:<filing number>``


class NotListed(Exception):
    """The role lists no contracts or filings (403)."""


def list_scope(caller: Caller) -> ListScope:
    """A developer its own, a person the contracts naming them, an agency the resales it
    brokered, the authority and courts all; other roles none (``NotListed``)."""
    if caller.role not in LISTS_CONTRACTS:
        raise NotListed(caller.role.value)
    if caller.role is Role.DEVELOPER:
        return ListScope(developer=caller.org)
    if caller.role is Role.BUYER:
        return ListScope(person=caller.org)
    if caller.role is Role.AGENCY:
        return ListScope(agency=drafter_key(caller))
    return ListScope()


def event_scope(caller: Caller) -> str | None:
    """Whose filings' events a subscriber receives: a developer its own (its org), an
    agency the resales it brokered (its drafter_key), a department every event (None)."""
    if caller.role is Role.DEVELOPER:
        return caller.org
    if caller.role is Role.AGENCY:
        return drafter_key(caller)
    return None


def sees_lease_certificate(caller: Caller, drafter: str, parties: Collection[str]) -> bool:
    """A lease's 租赁登记备案证明: its parties (each person, the enterprise that drafted it),
    and the roles that accept or check it."""
    if caller.role in SEES_LEASES:
        return True
    if caller.role is Role.BUYER:
        return caller.org in parties
    return caller.role is Role.DEVELOPER and caller.org == drafter
