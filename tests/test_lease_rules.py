"""Lease (租赁备案) rules as plain functions: housing, lessors or entrustment, overlapping
terms of the same space, the dated minimum area per occupant; the lease kinds' declaration;
the model round trip and its rendering."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from filing import kinds
from filing.checks import Reason
from filing.eligibility import RuleSetError, rule_set_for
from filing.entry import EntryEvent, EntryFormatError, EntryKind, FilingEntry
from filing.kinds import KINDS, Kind, LaterEvent, PartyRole, SigningMethod
from filing.lease import (
    DEFAULT_2020,
    Entrustment,
    LeaseFacts,
    LeaseRuleSet,
    LiveLease,
    Proposal,
    check_lease,
    lease_rule_sets,
    load_lease_rule_sets,
    spaces_conflict,
)
from filing.lease_terms import lease_from_json, lease_to_json
from filing.ownership import ownership_of
from filing.status import UnitFlag, UnitStatus
from signing.contract import ContractDataError, DisputeResolution, Party
from signing.lease import ENTERPRISE_ID, LeaseContract, LeasedHouse, PaymentCycle
from signing.lease_render import render_lease

CODE = "430104001001GB00001F00010301"
ZHANG = Party("lessor", "张三", "居民身份证", "430104198001010011")
LI = Party("lessor", "李四", "居民身份证", "43010419820202002X")
TENANT = Party("lessee", "赵六", "居民身份证", "430104199001010066")
OWNED = ownership_of(
    "湘（2015）长沙市不动产权第 0001234 号",
    [(p.name, p.id_type, p.id_number) for p in (ZHANG, LI)],
    dt.date(2015, 3, 2),
)
DAY = dt.date(2027, 1, 1)
YEAR = dt.timedelta(days=364)


def facts(**kw: object) -> LeaseFacts:
    base: dict[str, object] = dict(
        status=UnitStatus.REGISTERED,
        flags=frozenset(),
        use="住宅",
        ownership=OWNED,
        live_leases=(),
        entrustments=(),
    )
    base.update(kw)
    return LeaseFacts(**base)  # type: ignore[arg-type]


def proposal(**kw: object) -> Proposal:
    base: dict[str, object] = dict(
        lessors=(ZHANG, LI),
        enterprise=None,
        entrustment=None,
        space="",
        leased_area=Decimal("88.20"),
        occupants=2,
        start=DAY,
        end=DAY + YEAR,
    )
    base.update(kw)
    return Proposal(**base)  # type: ignore[arg-type]


def reasons(f: LeaseFacts, p: Proposal, rules: LeaseRuleSet = DEFAULT_2020) -> list[Reason]:
    return [x.reason for x in check_lease(f, p, rules)]


def test_the_owners_lease_a_registered_home() -> None:
    assert reasons(facts(), proposal()) == []
    # A resale in progress does not take the owners' right to lease it before 转移登记.
    for status in (UnitStatus.RESALE_RESERVED, UnitStatus.UNDER_CONTRACT):
        assert reasons(facts(status=status), proposal()) == []


@pytest.mark.parametrize(
    ("f", "p", "expected"),
    [
        (facts(status=UnitStatus.AVAILABLE), proposal(), [Reason.UNIT_NOT_REGISTERED]),
        (
            facts(ownership=None),
            proposal(),
            [Reason.UNIT_NOT_REGISTERED],
        ),
        (facts(use="商业"), proposal(), [Reason.NOT_HOUSING]),
        (facts(flags=frozenset({UnitFlag.SEIZED})), proposal(), [Reason.UNIT_SEIZED]),
        (facts(), proposal(lessors=(ZHANG,)), [Reason.LESSORS_NOT_OWNERS]),
        (facts(), proposal(lessors=(ZHANG, TENANT)), [Reason.LESSORS_NOT_OWNERS]),
        (facts(), proposal(occupants=18), [Reason.AREA_PER_OCCUPANT]),
    ],
)
def test_each_refusal_has_its_reason(f: LeaseFacts, p: Proposal, expected: list[Reason]) -> None:
    assert reasons(f, p) == expected


def test_a_mortgaged_home_may_be_leased() -> None:
    assert reasons(facts(flags=frozenset({UnitFlag.MORTGAGED})), proposal()) == []


def test_overlap_is_of_the_same_space_in_the_same_days() -> None:
    whole = LiveLease("c1", "", DAY, DAY + YEAR)
    room = LiveLease("c2", "次卧", DAY, DAY + YEAR)
    assert spaces_conflict("", "次卧") and spaces_conflict("主卧", "") and spaces_conflict("", "")
    assert spaces_conflict("次卧", " 次卧 ") and not spaces_conflict("次卧", "主卧")
    big_room = {"leased_area": Decimal(12), "occupants": 1}
    cases = [
        ((whole,), proposal(), [Reason.LEASE_OVERLAPS]),
        ((whole,), proposal(space="次卧", **big_room), [Reason.LEASE_OVERLAPS]),
        ((room,), proposal(space="主卧", **big_room), []),
        ((room,), proposal(), [Reason.LEASE_OVERLAPS]),
        # Terms meeting end to start do not overlap; sharing one day does.
        ((whole,), proposal(start=DAY + YEAR + dt.timedelta(days=1), end=DAY + 2 * YEAR), []),
        ((whole,), proposal(start=DAY + YEAR, end=DAY + 2 * YEAR), [Reason.LEASE_OVERLAPS]),
        ((whole,), proposal(start=DAY - YEAR, end=DAY - dt.timedelta(days=1)), []),
    ]
    for live, p, expected in cases:
        assert reasons(facts(live_leases=live), p) == expected, (live, p)
    # The contract asking is not its own overlap.
    failures = check_lease(facts(live_leases=(whole,)), proposal(), DEFAULT_2020, contract="c1")
    assert failures == []


def test_an_enterprise_leases_only_within_its_entrustment() -> None:
    firm = Party("lessor", "长沙示范住房租赁有限公司", ENTERPRISE_ID, "91430100MA4LEASE01")
    by_firm = proposal(lessors=(firm,), enterprise=firm.id_number, entrustment="W-1")
    held = Entrustment("W-1", firm.id_number, DAY - YEAR, DAY + 2 * YEAR)
    assert reasons(facts(entrustments=(held,)), by_firm) == []
    assert reasons(facts(), by_firm) == [Reason.NOT_ENTRUSTED]
    others = Entrustment("W-1", "91430100OTHER00000", DAY - YEAR, DAY + 2 * YEAR)
    assert reasons(facts(entrustments=(others,)), by_firm) == [Reason.NOT_ENTRUSTED]
    short = Entrustment("W-1", firm.id_number, DAY - YEAR, DAY + YEAR - dt.timedelta(days=1))
    failures = check_lease(facts(entrustments=(short,)), by_firm, DEFAULT_2020)
    assert [(f.reason, f.detail) for f in failures] == [
        (Reason.NOT_ENTRUSTED, "the entrustment does not cover the term")
    ]
    revoked = Entrustment("W-1", firm.id_number, DAY - YEAR, DAY + 2 * YEAR, ended_on=DAY)
    assert reasons(facts(entrustments=(revoked,)), by_firm) == [Reason.NOT_ENTRUSTED]


def test_the_area_per_occupant_is_a_dated_rule(tmp_path: Path) -> None:
    strict = LeaseRuleSet("strict-2027", dt.date(2027, 1, 1), Decimal(6))
    sets = [DEFAULT_2020, strict]
    room = proposal(space="次卧", leased_area=Decimal("11.00"), occupants=2)  # 5.5 m² each
    assert reasons(facts(), room, rule_set_for(sets, dt.date(2026, 12, 31))) == []
    in_force = rule_set_for(sets, dt.date(2027, 1, 1))
    [failure] = check_lease(facts(), room, in_force)
    assert failure.reason is Reason.AREA_PER_OCCUPANT and "strict-2027" in failure.detail
    path = tmp_path / "lease-rules.json"
    path.write_text(
        json.dumps([{"version": "x", "effective_from": "2020-01-01", "min_area_per_occupant": 6}])
    )
    assert lease_rule_sets(tmp_path)[0].min_area_per_occupant == 6
    assert lease_rule_sets(tmp_path / "none") == [DEFAULT_2020]
    for bad in (
        [{"version": "x", "effective_from": "2020-01-01"}],
        [{"version": "x", "effective_from": "2020-01-01", "min_area_per_occupant": "-1"}],
        [{"version": "x", "effective_from": "2020-01-01", "min_area_per_occupant": "NaN"}],
        [
            {"version": "x", "effective_from": "2020-01-01", "min_area_per_occupant": 5},
            {"version": "x", "effective_from": "2021-01-01", "min_area_per_occupant": 6},
        ],
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(RuleSetError):
            load_lease_rule_sets(path)


def lease(**kw: object) -> LeaseContract:
    base: dict[str, object] = dict(
        number="ZL-2027-000001",
        lessors=(ZHANG, LI),
        lessees=(TENANT,),
        entrustment=None,
        house=LeasedHouse(
            CODE,
            "长沙市岳麓区老街 9 号",
            3,
            "301",
            "住宅",
            Decimal("88.20"),
            "湘（2015）长沙市不动产权第 0001234 号",
            "",
            Decimal("88.20"),
        ),
        start=DAY,
        end=DAY + YEAR,
        rent=Decimal("3200.00"),
        cycle=PaymentCycle.QUARTERLY,
        deposit=Decimal("3200.00"),
        purpose="居住",
        occupants=2,
        dispute=DisputeResolution.COURT,
        dispute_body="长沙市岳麓区人民法院",
        drafted_at=dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
    )
    base.update(kw)
    return LeaseContract(**base)  # type: ignore[arg-type]


def test_the_lease_kinds_declare_their_parties_and_later_events() -> None:
    owners, firm_kind = KINDS[Kind.LEASE], KINDS[Kind.LEASE_ENTRUSTED]
    c = lease()
    assert kinds.of_contract(c) is owners
    assert owners.signature_fields(c) == c.signature_fields
    assert c.signature_fields == ("lessor-1", "lessor-2", "lessee-1", "filing-seal")
    assert [p.id_number for p in owners.logged_parties(c)] == [
        ZHANG.id_number, LI.id_number, TENANT.id_number,
    ]  # fmt: skip
    assert (
        kinds.parties_of(c, PartyRole.BUYER) == () and kinds.parties_of(c, PartyRole.SELLER) == ()
    )
    firm = Party("lessor", "长沙示范住房租赁有限公司", ENTERPRISE_ID, "91430100MA4LEASE01")
    e = lease(lessors=(firm,), entrustment="W-1")
    assert kinds.of_contract(e) is firm_kind
    assert (
        firm_kind.signature_fields(e) == e.signature_fields == ("lessor", "lessee-1", "filing-seal")
    )
    assert firm_kind.signers(e)["lessor"][0].signs_with is SigningMethod.ENTERPRISE_SEAL
    for k in (owners, firm_kind):
        assert k.lifecycle is None and not k.purchase_limits and k.is_lease
        assert k.log_kind is EntryKind.LEASE
        assert k.later == {LaterEvent.CANCELLATION, LaterEvent.EXPIRY, LaterEvent.RENEWAL}
        with pytest.raises(ValueError):
            _ = k.on_filing  # a lease moves no unit
    assert kinds.load("lease", lease_to_json(c)) == c
    assert lease_from_json(lease_to_json(e)) == e


@pytest.mark.parametrize(
    "kw",
    [
        {"end": DAY - dt.timedelta(days=1)},
        {"end": DAY.replace(year=DAY.year + 20)},  # 民法典: at most twenty years
        {"rent": Decimal(0)},
        {"occupants": 0},
        {
            "lessees": (
                TENANT,
                Party("lessee", "钱七", "居民身份证", "1"),
            ),
            "occupants": 1,
        },
        {"lessees": (Party("lessee", "张三", "居民身份证", ZHANG.id_number.lower()),)},
        {"entrustment": "W-1"},  # an entrusted lease's lessor is one enterprise
        {"drafted_at": dt.datetime(2026, 12, 1)},
    ],
)
def test_a_lease_s_data_is_checked(kw: dict[str, object]) -> None:
    with pytest.raises(ContractDataError):
        lease(**kw)


def test_a_room_is_leased_with_its_own_area() -> None:
    with pytest.raises(ContractDataError):
        LeasedHouse(CODE, "a", 3, "301", "住宅", Decimal(88), "c", "次卧", Decimal(89))
    with pytest.raises(ContractDataError):
        LeasedHouse(CODE, "a", 3, "301", "住宅", Decimal(88), "c", "", Decimal(12))
    room = LeasedHouse(CODE, "a", 3, "301", "住宅", Decimal(88), "c", "次卧", Decimal(12))
    assert lease(house=room, occupants=1).area_per_occupant == 12


def test_the_model_text_renders_the_same_bytes_and_the_terms() -> None:
    first, second = render_lease(lease()).pdf, render_lease(lease()).pdf
    assert first == second and first.startswith(b"%PDF")
    assert render_lease(lease(rent=Decimal("3300.00"))).pdf != first


def test_an_expiry_entry_is_a_lease_s_and_names_nobody() -> None:
    at = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    entry = FilingEntry(
        EntryEvent.EXPIRED, "CS-2027-000001", "a" * 64, CODE, at, (), ref=3, kind=EntryKind.LEASE
    )
    assert FilingEntry.decode(entry.encode()) == entry
    assert b'"kind":"lease"' in entry.encode()
    with pytest.raises(EntryFormatError):
        FilingEntry(EntryEvent.EXPIRED, "CS-2027-000001", "a" * 64, CODE, at, (), ref=3)
    with pytest.raises(EntryFormatError):
        FilingEntry(
            EntryEvent.EXPIRED, "CS-1", "a" * 64, CODE, at, ("b" * 64,), ref=3, kind=EntryKind.LEASE
        )
