"""The access rules on their own (filing/policy.py): pure functions of a caller, every role."""

from __future__ import annotations

import datetime as dt

import pytest

from filing import policy
from filing.clock import FixedClock, SystemClock
from filing.policy import Caller, Role, Sight

DEV = "91430100MA4L000000"
OTHER_DEV = "91430100OTHER00000"
BUYER = "430104199001011234"
OTHER_BUYER = "430104199202022345"
AGENCY = "长房经备字（2025）第 0101 号"  # a brokerage's filing number

# Each role's caller as the party of the contract below (where a role can be a party).
OWN = {
    Role.AUTHORITY: Caller("长沙市住建局", Role.AUTHORITY),
    Role.DEVELOPER: Caller(DEV, Role.DEVELOPER),
    Role.BUYER: Caller(BUYER, Role.BUYER),
    Role.COURT: Caller("岳麓区人民法院", Role.COURT),
    Role.DEPARTMENT: Caller("长沙市统计局", Role.DEPARTMENT),
    Role.TAX: Caller("长沙市税务局", Role.TAX),
    Role.BANK: Caller("示范银行", Role.BANK),
    Role.AGENCY: Caller(AGENCY, Role.AGENCY),
}


def test_every_role_has_a_caller_here() -> None:
    assert set(OWN) == set(Role), "a new role needs its line in each rule and in these tests"


# What each role gets for a contract of DEV with buyer BUYER: its own, and someone else's.
CONTRACT_SIGHT = {
    Role.AUTHORITY: (Sight.SEEN, Sight.SEEN),
    Role.COURT: (Sight.SEEN, Sight.SEEN),
    Role.DEVELOPER: (Sight.SEEN, Sight.HIDDEN),
    Role.BUYER: (Sight.SEEN, Sight.HIDDEN),
    Role.DEPARTMENT: (Sight.FORBIDDEN, Sight.FORBIDDEN),
    Role.TAX: (Sight.FORBIDDEN, Sight.FORBIDDEN),
    Role.BANK: (Sight.FORBIDDEN, Sight.FORBIDDEN),
    Role.AGENCY: (Sight.HIDDEN, Sight.HIDDEN),  # sees only the resales it drafted (below)
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_a_contract(role: Role) -> None:
    own, others = CONTRACT_SIGHT[role]
    caller = OWN[role]
    assert policy.contract_sight(caller, DEV, {BUYER}) is own
    assert policy.contract_sight(caller, OTHER_DEV, {OTHER_BUYER}) is others
    # A buyer among several co-buyers sees the contract; a co-buyer is no developer.
    if role is Role.BUYER:
        assert policy.contract_sight(caller, OTHER_DEV, {OTHER_BUYER, BUYER}) is Sight.SEEN
    # A resale is recorded as drafted by ``agency:<filing number>`` or ``person:<ID>``.
    drafted = policy.contract_sight(caller, policy.drafter_key(caller), {OTHER_BUYER})
    if role is Role.AGENCY:
        assert drafted is Sight.SEEN
        assert policy.drafter_key(caller) == f"agency:{AGENCY}"
    elif role is Role.DEVELOPER:
        assert drafted is Sight.HIDDEN  # a drafter key is never a developer's credit code
    # A seller's draft naming the agency as its brokerage: the agency sees it, no one else.
    brokered = policy.contract_sight(caller, f"person:{OTHER_BUYER}", {OTHER_BUYER}, AGENCY)
    if role is Role.AGENCY:
        assert brokered is Sight.SEEN
        other = policy.contract_sight(caller, f"person:{OTHER_BUYER}", {OTHER_BUYER}, "x")
        assert other is Sight.HIDDEN
    elif role in (Role.DEVELOPER, Role.BUYER):
        assert brokered is Sight.HIDDEN


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_personal_data_and_sealed_documents(role: Role) -> None:
    expected = role in (Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER, Role.AGENCY)
    assert policy.sees_personal_data(OWN[role]) is expected
    assert (role in policy.PERSONAL_DATA_ROLES) is expected


UNIT_PEOPLE = {
    Role.AUTHORITY: (policy.UnitPeople(everyone=True), policy.UnitPeople(everyone=True)),
    Role.COURT: (policy.UnitPeople(everyone=True), policy.UnitPeople(everyone=True)),
    # Only in its own units' histories, and there only the people of its own sales.
    Role.DEVELOPER: (policy.UnitPeople(drafter=DEV), policy.UnitPeople()),
    Role.BUYER: (policy.UnitPeople(), policy.UnitPeople()),  # pseudonyms, even themselves
    Role.DEPARTMENT: (policy.UnitPeople(), policy.UnitPeople()),
    Role.TAX: (policy.UnitPeople(), policy.UnitPeople()),
    Role.BANK: (policy.UnitPeople(), policy.UnitPeople()),
    Role.AGENCY: (policy.UnitPeople(), policy.UnitPeople()),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_the_people_in_a_units_history(role: Role) -> None:
    own, others = UNIT_PEOPLE[role]
    assert policy.unit_people(OWN[role], DEV) == own
    assert policy.unit_people(OWN[role], OTHER_DEV) == others
    assert own.anyone is (role in (Role.AUTHORITY, Role.COURT, Role.DEVELOPER))


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_acts_on_a_unit_and_sees_eligibility_records(role: Role) -> None:
    caller = OWN[role]
    assert policy.acts_on_unit(caller, DEV)
    assert policy.acts_on_unit(caller, OTHER_DEV) is (role is not Role.DEVELOPER)
    assert policy.sees_eligibility_records(caller) is (role is not Role.DEVELOPER)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_a_party_cannot_cancel_alone(role: Role) -> None:
    assert policy.must_agree_to_cancel(OWN[role]) is (role in (Role.DEVELOPER, Role.BUYER))
    assert (role in policy.CANCELS_BY_JUDGMENT) is (role in (Role.AUTHORITY, Role.COURT))


# Which role may call which family of routes (each route names one of these sets).
ROLE_SETS = {
    "KEEPS_REGISTRY": {Role.AUTHORITY},
    "RELEASES_UNITS": {Role.DEVELOPER, Role.AUTHORITY},
    "SETS_FLAGS": {Role.AUTHORITY, Role.COURT},
    "DRAFTS": {Role.DEVELOPER},
    "SIGNS_ON_DEVICE": {Role.BUYER},
    "UPLOADS_SIGNATURES": {Role.DEVELOPER, Role.BUYER},
    "PROPOSES_AGREEMENTS": {Role.DEVELOPER, Role.BUYER},
    "CANCELS_BY_JUDGMENT": {Role.AUTHORITY, Role.COURT},
    "SEES_STATISTICS": {Role.AUTHORITY, Role.DEPARTMENT},
    "READS_TAX_VIEW": {Role.TAX},
    "READS_LOAN_VIEW": {Role.BANK, Role.AUTHORITY},
    "READS_EVIDENCE": {Role.COURT, Role.AUTHORITY},
    # A developer and an agency subscribe too: to their own filings' events only (event_scope).
    "SUBSCRIBES": {
        Role.AUTHORITY,
        Role.DEPARTMENT,
        Role.TAX,
        Role.BANK,
        Role.COURT,
        Role.DEVELOPER,
        Role.AGENCY,
    },
    "LISTS_CONTRACTS": {Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER, Role.AGENCY},
    "SEES_OWNERS": {Role.AUTHORITY, Role.COURT},
    "RECORDS_CONSENTS": {Role.AUTHORITY, Role.BANK},
    "CONFIRMS_FUNDS": {Role.BANK},
    "READS_FUND_ACCOUNTS": {
        Role.AUTHORITY,
        Role.COURT,
        Role.BANK,
        Role.DEVELOPER,
        Role.BUYER,
        Role.AGENCY,
    },
    "DRAFTS_RESALES": {Role.BUYER, Role.AGENCY},
    "ISSUES_INVITATIONS": {Role.DEVELOPER, Role.BUYER, Role.AGENCY},
    "WITHDRAWS": {Role.DEVELOPER, Role.BUYER, Role.AGENCY},
}


@pytest.mark.parametrize("name", sorted(ROLE_SETS))
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_sets(name: str, role: Role) -> None:
    roles = getattr(policy, name)
    assert policy.allowed(OWN[role], roles) is (role in ROLE_SETS[name])


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_the_owners_of_record(role: Role) -> None:
    caller = OWN[role]
    assert policy.sees_owners(caller, is_owner=True) is (
        role in (Role.AUTHORITY, Role.COURT, Role.BUYER)
    )
    assert policy.sees_owners(caller, is_owner=False) is (role in (Role.AUTHORITY, Role.COURT))


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_a_filings_supervision_account(role: Role) -> None:
    caller = OWN[role]
    own = policy.sees_fund_account(caller, DEV, {BUYER}, "示范银行")
    others = policy.sees_fund_account(caller, OTHER_DEV, {OTHER_BUYER}, "另一银行")
    assert own is (role not in (Role.DEPARTMENT, Role.TAX, Role.AGENCY))
    # A brokerage sees the account of a resale it drafted.
    drafted = policy.sees_fund_account(caller, f"agency:{AGENCY}", {BUYER}, None)
    assert drafted is (role in (Role.AUTHORITY, Role.COURT, Role.AGENCY, Role.BUYER))
    # And of one a seller drafted naming it as the brokerage; not of another brokerage's.
    named = policy.sees_fund_account(caller, "person:X", {BUYER}, None, AGENCY)
    assert named is (role in (Role.AUTHORITY, Role.COURT, Role.AGENCY, Role.BUYER))
    elsewhere = policy.sees_fund_account(caller, "person:X", {OTHER_BUYER}, None, "CS-JJ-9")
    assert elsewhere is (role in (Role.AUTHORITY, Role.COURT))
    assert others is (role in (Role.AUTHORITY, Role.COURT))
    # A bank sees no account before it kept one (no deposit confirmed yet).
    assert policy.sees_fund_account(OWN[Role.BANK], DEV, {BUYER}, None) is False


def test_statistics_scopes_name_nobody() -> None:
    """The roles that see statistics but not personal data see no contract either."""
    for role in policy.SEES_STATISTICS:
        if role is not Role.AUTHORITY:
            assert not policy.sees_personal_data(OWN[role])
            assert policy.contract_sight(OWN[role], DEV, {BUYER}) is Sight.FORBIDDEN


def test_fixed_clock_stands_still_until_moved() -> None:
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    clock = FixedClock(start)
    assert clock.now() == start and clock.now().tzinfo == dt.UTC
    assert clock.advance(dt.timedelta(minutes=30)) == start + dt.timedelta(minutes=30)
    clock.set(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert clock.now().year == 2027
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2026, 1, 1))  # naive: which zone?


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo == dt.UTC
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_lists_what_and_whose_events(role: Role) -> None:
    """The lists: a developer its own, a person the contracts naming them, an agency the
    resales naming it, the authority and courts all, other roles none; events: a developer
    and an agency their own filings', others every one."""
    caller = OWN[role]
    agency = f"agency:{caller.org}"
    if role not in (Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER, Role.AGENCY):
        with pytest.raises(policy.NotListed):
            policy.list_scope(caller)
    else:
        scope = policy.list_scope(caller)
        assert scope.developer == (caller.org if role is Role.DEVELOPER else None)
        assert scope.person == (caller.org if role is Role.BUYER else None)
        assert scope.agency == (agency if role is Role.AGENCY else None)
    own = {Role.DEVELOPER: caller.org, Role.AGENCY: agency}.get(role)
    assert policy.event_scope(caller) == own
