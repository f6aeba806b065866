"""Resale (存量房) as pure rules: the unit's transitions, ownership records, the checks."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

import pytest

from filing.checks import Reason
from filing.eligibility import CHANGSHA_2017, RuleSetError, rule_set_for
from filing.ownership import (
    CoOwnership,
    Mortgage,
    OwnershipError,
    is_owner,
    owner_views,
    ownership_of,
)
from filing.resale import (
    CHANGSHA_2018,
    ResaleFacts,
    ResaleRuleSet,
    Restriction,
    check_resale,
    load_resale_rule_sets,
    resale_rule_sets,
    restricted_until,
    years_after,
)
from filing.status import (
    NEW_HOME,
    RESALE,
    TRANSITIONS,
    InvalidTransition,
    UnitEvent,
    UnitFlag,
    UnitStatus,
    transition,
)
from signing.contract import Party

ZHANG = ("张三", "居民身份证", "430104198001010011")
LI = ("李四", "居民身份证", "43010419820202002X")
TODAY = dt.date(2026, 12, 1)


def _owned(**kw: object) -> object:
    args: dict[str, object] = {
        "certificate": "湘（2019）长沙市不动产权第 0000001 号",
        "owners": [ZHANG, LI],
        "registered_on": dt.date(2019, 5, 6),
    }
    return ownership_of(**{**args, **kw})  # type: ignore[arg-type]


def _facts(**kw: object) -> ResaleFacts:
    base: dict[str, object] = {
        "status": UnitStatus.REGISTERED,
        "flags": frozenset(),
        "reserved_for": None,
        "district": "岳麓区",
        "ownership": _owned(),
        "mortgages": (),
        "live_contracts": (),
    }
    return ResaleFacts(**{**base, **kw})  # type: ignore[arg-type]


def _sellers(*people: tuple[str, str, str]) -> list[Party]:
    return [Party("seller", n, t, i) for n, t, i in people]


def _codes(failures: list[object]) -> list[Reason]:
    return [f.reason for f in failures]  # type: ignore[attr-defined]


# -- the unit's transitions --------------------------------------------------------------


def test_a_resale_runs_from_registered_through_contract_to_registered() -> None:
    s = UnitStatus.REGISTERED
    for event, after in [
        (UnitEvent.RESERVE_RESALE, UnitStatus.RESALE_RESERVED),
        (UnitEvent.FILE_RESALE, UnitStatus.UNDER_CONTRACT),
        (UnitEvent.TRANSFER, UnitStatus.REGISTERED),
    ]:
        s = transition(s, event)
        assert s is after
    # Undoing a resale step returns the unit to its owners, never to the market.
    held = transition(UnitStatus.REGISTERED, UnitEvent.RESERVE_RESALE)
    assert transition(held, UnitEvent.RELEASE_RESALE_RESERVATION) is UnitStatus.REGISTERED
    filed = transition(held, UnitEvent.FILE_RESALE)
    assert transition(filed, UnitEvent.CANCEL_RESALE_FILING) is UnitStatus.REGISTERED
    assert transition(UnitStatus.NOT_RELEASED, UnitEvent.IMPORT_REGISTRATION) is s


@pytest.mark.parametrize(
    ("status", "event"),
    [
        # A new-home step never moves a registered or resold unit, nor a resale step a new one.
        (UnitStatus.REGISTERED, UnitEvent.RESERVE),
        (UnitStatus.UNDER_CONTRACT, UnitEvent.CANCEL_FILING),
        (UnitStatus.RESALE_RESERVED, UnitEvent.FILE),
        (UnitStatus.UNDER_CONTRACT, UnitEvent.REGISTER),
        (UnitStatus.AVAILABLE, UnitEvent.RESERVE_RESALE),
        (UnitStatus.FILED, UnitEvent.TRANSFER),
        (UnitStatus.REGISTERED, UnitEvent.FILE_RESALE),  # never filed without a reservation
        (UnitStatus.AVAILABLE, UnitEvent.IMPORT_REGISTRATION),  # offered here: not off-platform
        (UnitStatus.REGISTERED, UnitEvent.IMPORT_REGISTRATION),
    ],
)
def test_steps_of_the_other_kind_are_refused(status: UnitStatus, event: UnitEvent) -> None:
    with pytest.raises(InvalidTransition):
        transition(status, event)


def test_each_lifecycle_is_a_path_through_the_machine() -> None:
    for life, start, done in [
        (NEW_HOME, UnitStatus.AVAILABLE, UnitStatus.REGISTERED),
        (RESALE, UnitStatus.REGISTERED, UnitStatus.REGISTERED),
    ]:
        assert life.sellable_from is start
        held = transition(start, life.reserve)
        assert transition(held, life.release) is start
        filed = transition(held, life.file)
        assert transition(filed, life.cancel) is start
        assert transition(filed, life.complete) is done
        assert held.holds_contract and filed.holds_contract
    # The resale statuses fit the units table's status column (String(16)).
    assert all(len(s.value) <= 16 for s in UnitStatus)
    assert all(len(e.value) <= 32 for e in UnitEvent)
    assert len(TRANSITIONS) == 7 + 6  # the new-home machine, and six resale steps


# -- ownership records -------------------------------------------------------------------


def test_ownership_records_are_sole_joint_or_by_shares() -> None:
    assert _owned(owners=[ZHANG]).co_ownership is CoOwnership.SOLE  # type: ignore[attr-defined]
    assert _owned().co_ownership is CoOwnership.JOINT  # type: ignore[attr-defined]
    shares = _owned(shares=["1/3", "2/3"])
    assert shares.co_ownership is CoOwnership.SHARES  # type: ignore[attr-defined]
    assert [o.share for o in shares.owners] == [Fraction(1, 3), Fraction(2, 3)]  # type: ignore[attr-defined]
    assert shares.acquired_on == shares.registered_on  # type: ignore[attr-defined]
    assert _owned(owners=[ZHANG], shares=["1"]).co_ownership is CoOwnership.SOLE  # type: ignore[attr-defined]
    for bad in [
        {"shares": ["1/2", "1/3"]},  # not the whole
        {"shares": ["1/2"]},  # one share for two owners
        {"shares": ["0", "1"]},
        {"shares": ["x", "1/2"]},
        {"owners": []},
        {"owners": [ZHANG, ("张三", "居民身份证", " 430104198001010011 ")]},  # twice
        {"owners": [ZHANG], "shares": ["1/2"]},
        {"certificate": " "},
        {"owners": [("", "居民身份证", "1")]},
    ]:
        with pytest.raises(OwnershipError):
            _owned(**bad)


def test_owners_are_pseudonymised_for_whoever_may_not_see_them() -> None:
    record = _owned(shares=["1/2", "1/2"])
    shown = owner_views(record, False, lambda v: f"p{len(v)}")  # type: ignore[arg-type]
    assert [v.owner for v in shown] == ["owner:p18", "owner:p18"]
    assert all(v.id_number is None and v.id_type is None for v in shown)
    assert [v.share for v in shown] == ["1/2", "1/2"]
    seen = owner_views(record, True, lambda v: "never")  # type: ignore[arg-type]
    assert [v.id_number for v in seen] == [ZHANG[2], LI[2]]
    assert is_owner(record, LI[2].lower())  # type: ignore[arg-type]
    assert not is_owner(record, "430104199901010000") and not is_owner(None, ZHANG[2])  # type: ignore[arg-type]


# -- the checks --------------------------------------------------------------------------


def test_a_registered_home_sold_by_all_its_owners_passes() -> None:
    sellers = _sellers(LI, (ZHANG[0], ZHANG[1], ZHANG[2] + " "))  # any order
    assert check_resale(_facts(), sellers, TODAY, CHANGSHA_2018) == []


def test_every_co_owner_sells_and_nobody_else() -> None:
    for sellers, detail in [
        (_sellers(ZHANG), "co-owner 2 of record does not sell"),
        (_sellers(ZHANG, LI, ("王五", "居民身份证", "430104197001010033")), "seller 3 is not"),
        (_sellers(ZHANG, ("李 四", LI[1], LI[2])), "seller 2's name differs"),
        (_sellers(ZHANG, ZHANG, LI), "seller 2 appears twice"),
        (_sellers(ZHANG, ("李四", "护照", LI[2])), "seller 2 is not"),
    ]:
        failures = check_resale(_facts(), sellers, TODAY, CHANGSHA_2018)
        assert _codes(failures) == [Reason.SELLERS_NOT_OWNERS], sellers  # type: ignore[arg-type]
        assert detail in failures[0].detail
        assert all(p[2] not in failures[0].detail for p in (ZHANG, LI))  # no ID numbers
    none = check_resale(_facts(ownership=None), _sellers(ZHANG), TODAY, CHANGSHA_2018)
    assert _codes(none) == [Reason.NO_OWNERSHIP_RECORD]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "reasons"),
    [
        ({"status": UnitStatus.FILED}, [Reason.UNIT_NOT_REGISTERED]),
        ({"status": UnitStatus.AVAILABLE}, [Reason.UNIT_NOT_REGISTERED]),
        ({"status": UnitStatus.RESALE_RESERVED, "reserved_for": "c-other"}, [Reason.UNIT_RESERVED]),
        ({"status": UnitStatus.UNDER_CONTRACT}, [Reason.OTHER_LIVE_CONTRACT]),
        ({"flags": frozenset({UnitFlag.SEIZED})}, [Reason.UNIT_SEIZED]),
        ({"flags": frozenset({UnitFlag.NOT_FOR_SALE})}, [Reason.UNIT_NOT_FOR_SALE]),
        ({"flags": frozenset({UnitFlag.MORTGAGED})}, [Reason.MORTGAGE_NOT_RECORDED]),
        (
            {"mortgages": (Mortgage(1, "示范银行", "抵押 1", dt.date(2020, 1, 1)),)},
            [Reason.UNIT_MORTGAGED_WITHOUT_CONSENT],
        ),
        (
            {
                "flags": frozenset({UnitFlag.MORTGAGED}),
                "mortgages": (
                    Mortgage(1, "示范银行", "抵押 1", dt.date(2020, 1, 1), consent="同意 1"),
                    Mortgage(2, "另一银行", "抵押 2", dt.date(2021, 1, 1)),
                ),
            },
            [Reason.UNIT_MORTGAGED_WITHOUT_CONSENT],
        ),
        ({"live_contracts": ("c-other",)}, [Reason.OTHER_LIVE_CONTRACT]),
        (
            {"flags": frozenset({UnitFlag.SEIZED}), "status": UnitStatus.NOT_RELEASED},
            [Reason.UNIT_NOT_REGISTERED, Reason.UNIT_SEIZED],
        ),
    ],
)
def test_each_refusal_has_its_reason(facts: dict[str, object], reasons: list[Reason]) -> None:
    failures = check_resale(_facts(**facts), _sellers(ZHANG, LI), TODAY, CHANGSHA_2018)
    assert _codes(failures) == reasons  # type: ignore[arg-type]


def test_consent_of_every_mortgagee_and_the_contract_s_own_hold_pass() -> None:
    consented = (Mortgage(1, "示范银行", "抵押 1", dt.date(2020, 1, 1), consent="同意 1"),)
    facts = _facts(flags=frozenset({UnitFlag.MORTGAGED}), mortgages=consented)
    assert check_resale(facts, _sellers(ZHANG, LI), TODAY, CHANGSHA_2018) == []
    held = _facts(status=UnitStatus.RESALE_RESERVED, reserved_for="c-1", live_contracts=("c-1",))
    assert check_resale(held, _sellers(ZHANG, LI), TODAY, CHANGSHA_2018, contract="c-1") == []
    assert check_resale(held, _sellers(ZHANG, LI), TODAY, CHANGSHA_2018) != []


def test_the_resale_restriction_is_dated_and_per_district() -> None:
    rules = ResaleRuleSet(
        "test-1", dt.date(2018, 6, 28), (Restriction("岳麓区", 3, dt.date(2018, 6, 28)),)
    )
    bought = _owned(registered_on=dt.date(2024, 2, 29), acquired_on=dt.date(2023, 9, 1))
    assert restricted_until(bought, "岳麓区", rules) == dt.date(2027, 2, 28)  # type: ignore[arg-type]
    assert restricted_until(bought, "浏阳市", rules) is None  # type: ignore[arg-type]
    failures = check_resale(
        _facts(ownership=bought), _sellers(ZHANG, LI), dt.date(2027, 2, 27), rules
    )
    assert _codes(failures) == [Reason.RESALE_RESTRICTED]  # type: ignore[arg-type]
    assert "2027-02-28" in failures[0].detail and "test-1" in failures[0].detail
    on_the_day = check_resale(
        _facts(ownership=bought), _sellers(ZHANG, LI), dt.date(2027, 2, 28), rules
    )
    assert on_the_day == []  # 满三年
    # Bought before the rule's day: not restricted, however recent the registration.
    before = _owned(registered_on=dt.date(2026, 1, 5), acquired_on=dt.date(2018, 6, 27))
    assert restricted_until(before, "岳麓区", rules) is None  # type: ignore[arg-type]
    assert years_after(dt.date(2020, 2, 29), 1) == dt.date(2021, 2, 28)


def test_resale_rule_sets_load_like_the_purchase_limits(tmp_path: Path) -> None:
    path = tmp_path / "resale-rules.json"
    path.write_text(
        json.dumps(
            [
                {
                    "version": "cs-2024",
                    "effective_from": "2024-09-30",
                    "restrictions": [],  # lifted
                },
                {
                    "version": "cs-2018",
                    "effective_from": "2018-06-28",
                    "restrictions": [
                        {"district": "岳麓区", "years": 4, "bought_from": "2018-06-28"}
                    ],
                },
            ]
        ),
        encoding="utf-8",
    )
    sets = load_resale_rule_sets(path)
    assert [s.version for s in sets] == ["cs-2018", "cs-2024"]
    assert rule_set_for(sets, dt.date(2023, 1, 1)).version == "cs-2018"
    assert rule_set_for(sets, TODAY).restriction("岳麓区") is None
    assert rule_set_for([CHANGSHA_2017], TODAY) is CHANGSHA_2017  # the same function
    assert resale_rule_sets(tmp_path) == sets
    assert resale_rule_sets(tmp_path / "none") == [CHANGSHA_2018]
    for bad in [
        "not json",
        '[{"version": "a"}]',
        '[{"version": "a", "effective_from": "2020-01-01", "restrictions": '
        '[{"district": "x", "years": -1, "bought_from": "2020-01-01"}]}]',
        '[{"version": "a", "effective_from": "2020-01-01", "restrictions": []},'
        ' {"version": "a", "effective_from": "2021-01-01", "restrictions": []}]',
    ]:
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(RuleSetError):
            load_resale_rule_sets(path)
    with pytest.raises(RuleSetError):
        rule_set_for(sets, dt.date(2000, 1, 1))
