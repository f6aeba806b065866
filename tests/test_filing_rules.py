"""filing/: unit codes, status transitions, 房源核验, 购房资格 and the log entry format (pure)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from filing.checks import PermitView, Reason, UnitView
from filing.eligibility import (
    CHANGSHA_2017,
    EligibilityReason,
    Household,
    RuleSetError,
    decide,
    gather,
    load_rule_sets,
    rule_set_for,
)
from filing.entry import EntryEvent, EntryFormatError, FilingEntry, party_hash
from filing.kinds import sellable as check_sellable
from filing.status import InvalidTransition, UnitEvent, UnitFlag, UnitStatus, transition
from filing.unit_code import UnitCode, UnitCodeError

CODE = "430104001001GB00001F00010203"
TODAY = dt.date(2026, 11, 27)


def test_unit_codes() -> None:
    code = UnitCode(CODE)
    assert code.division == "430104" and code.is_building and code.parcel == CODE[:19]
    for bad in [
        "",
        CODE[:-1],
        CODE + "0",
        "430104001001XB00001F00010203",
        "430104001001GB00001X00010203",
        "43010A001001GB00001F00010203",
        "430104001001gb00001F00010203",
    ]:
        with pytest.raises(UnitCodeError):
            UnitCode(bad)


def test_status_transitions() -> None:
    s = UnitStatus.NOT_RELEASED
    for event, want in [
        (UnitEvent.RELEASE, UnitStatus.AVAILABLE),
        (UnitEvent.RESERVE, UnitStatus.RESERVED),
        (UnitEvent.FILE, UnitStatus.FILED),
        (UnitEvent.CANCEL_FILING, UnitStatus.AVAILABLE),
    ]:
        s = transition(s, event)
        assert s is want
    with pytest.raises(InvalidTransition):
        transition(UnitStatus.AVAILABLE, UnitEvent.FILE)  # never filed without a reservation
    with pytest.raises(InvalidTransition):
        transition(UnitStatus.FILED, UnitEvent.RESERVE)


def _unit(**kw: object) -> UnitView:
    base: dict[str, object] = dict(
        status=UnitStatus.AVAILABLE,
        flags=frozenset(),
        reserved_for=None,
        mortgagee_consent=False,
        completed=False,
        permit=PermitView(
            "长住建预许字（2026）第 0088 号", dt.date(2026, 1, 1), dt.date(2028, 1, 1)
        ),
    )
    base.update(kw)
    return UnitView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "contract", "reasons"),
    [
        (_unit(), None, []),
        (_unit(status=UnitStatus.NOT_RELEASED), None, [Reason.UNIT_NOT_RELEASED]),
        (_unit(status=UnitStatus.RESERVED, reserved_for="c1"), "c2", [Reason.UNIT_RESERVED]),
        (_unit(status=UnitStatus.RESERVED, reserved_for="c1"), "c1", []),
        (_unit(status=UnitStatus.FILED), None, [Reason.UNIT_ALREADY_FILED]),
        (_unit(flags=frozenset({UnitFlag.SEIZED})), None, [Reason.UNIT_SEIZED]),
        (
            _unit(flags=frozenset({UnitFlag.MORTGAGED})),
            None,
            [Reason.UNIT_MORTGAGED_WITHOUT_CONSENT],
        ),
        (_unit(flags=frozenset({UnitFlag.MORTGAGED}), mortgagee_consent=True), None, []),
        (
            _unit(flags=frozenset({UnitFlag.NOT_FOR_SALE, UnitFlag.SEIZED})),
            None,
            [Reason.UNIT_SEIZED, Reason.UNIT_NOT_FOR_SALE],
        ),
        (_unit(permit=None), None, [Reason.NO_PRESALE_PERMIT]),
        (
            _unit(permit=PermitView("p", dt.date(2027, 1, 1), None)),
            None,
            [Reason.PERMIT_NOT_YET_VALID],
        ),
        (
            _unit(permit=PermitView("p", dt.date(2020, 1, 1), dt.date(2021, 1, 1))),
            None,
            [Reason.PERMIT_EXPIRED],
        ),
        (
            _unit(permit=PermitView("p", dt.date(2020, 1, 1), None, revoked=True)),
            None,
            [Reason.PERMIT_REVOKED],
        ),
        # 现售 needs a completed building and measured areas, and no presale permit; a
        # completed building's unit without measured areas is still sold on its permit.
        (_unit(completed=True, measured=True, permit=None), None, []),
        (_unit(completed=True, permit=None), None, [Reason.NO_PRESALE_PERMIT]),
        (_unit(completed=True), None, []),
        (_unit(measured=True, permit=None), None, [Reason.NO_PRESALE_PERMIT]),
        (
            _unit(completed=True, measured=True, flags=frozenset({UnitFlag.SEIZED})),
            None,
            [Reason.UNIT_SEIZED],
        ),
    ],
)
def test_sellable_checks(unit: UnitView, contract: str | None, reasons: list[Reason]) -> None:
    assert [f.reason for f in check_sellable(unit, TODAY, contract)] == reasons
    assert all(f.message for f in check_sellable(unit, TODAY, contract))


class Households:
    def __init__(self, rows: dict[str, Household]) -> None:
        self.rows = rows

    def household(self, id_number: str) -> Household | None:
        return self.rows.get(id_number)

    def naming(self, id_number: str) -> tuple[Household, ...]:
        return tuple(h for h in self.rows.values() if id_number in (h.spouse, *h.minor_children))


class Payments:
    def __init__(self, months: dict[str, int]) -> None:
        self.months = months

    def consecutive_months(self, id_number: str, until: dt.date) -> int:
        return self.months.get(id_number, 0)


class Homes:
    def __init__(self, owned: dict[str, int]) -> None:
        self.owned = owned

    def homes_owned(self, id_numbers: Sequence[str], districts: frozenset[str]) -> int:
        return sum(self.owned.get(i, 0) for i in id_numbers)


HOUSEHOLDS = Households(
    {
        "local-2": Household("local-2", True, "spouse-1", ()),
        "local-1": Household("local-1", True, None, ("child",)),
        "outsider": Household("outsider", False, None, ()),
        "newcomer": Household("newcomer", False, None, ()),
    }
)
PAYMENTS = Payments({"outsider": 14, "newcomer": 6})
HOMES = Homes({"local-2": 1, "spouse-1": 1, "local-1": 1, "child": 0})


@pytest.mark.parametrize(
    ("who", "district", "eligible", "reasons"),
    [
        ("local-1", "岳麓区", True, []),  # family owns one: a second is allowed
        ("local-2", "岳麓区", False, [EligibilityReason.LOCAL_HOME_LIMIT]),  # spouse's home counts
        ("outsider", "岳麓区", True, []),
        ("newcomer", "岳麓区", False, [EligibilityReason.NON_LOCAL_PAYMENT_MONTHS]),
        ("newcomer", "浏阳市", True, []),  # not a restricted district
        ("nobody", "岳麓区", False, [EligibilityReason.UNKNOWN_PERSON]),
    ],
)
def test_changsha_2017_rules(
    who: str, district: str, eligible: bool, reasons: list[EligibilityReason]
) -> None:
    applicant = gather(who, TODAY, CHANGSHA_2017, HOUSEHOLDS, PAYMENTS, HOMES)
    d = decide(applicant, district, CHANGSHA_2017)
    assert d.eligible is eligible and list(d.reasons) == reasons
    assert d.rule_set == "changsha-2017.1"
    assert json.loads(d.to_json())["inputs"]["district"] == district


def test_homes_the_platform_knows_count_with_the_registered_ones() -> None:
    """A family owning one registered home and holding one filed, unregistered purchase on
    the platform has two: a third is refused under a two-home rule."""
    applicant = gather("local-1", TODAY, CHANGSHA_2017, HOUSEHOLDS, PAYMENTS, HOMES)
    assert decide(applicant, "岳麓区", CHANGSHA_2017, homes_on_platform=0).eligible
    refused = decide(applicant, "岳麓区", CHANGSHA_2017, homes_on_platform=1)
    assert list(refused.reasons) == [EligibilityReason.LOCAL_HOME_LIMIT]
    assert refused.inputs["homes_registered"] == 1 and refused.inputs["homes_on_platform"] == 1


def test_rule_sets_are_dated_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    base = {
        "restricted_districts": ["岳麓区"],
        "local_max_homes": 2,
        "non_local_min_months": 12,
        "non_local_max_homes": 0,
    }
    path.write_text(
        json.dumps(
            [
                {"version": "v2", "effective_from": "2024-01-01", **base, "local_max_homes": 3},
                {"version": "v1", "effective_from": "2017-03-18", **base},
            ]
        )
    )
    sets = load_rule_sets(path)
    assert rule_set_for(sets, dt.date(2020, 1, 1)).version == "v1"
    assert rule_set_for(sets, TODAY).version == "v2"
    with pytest.raises(RuleSetError):
        rule_set_for(sets, dt.date(2010, 1, 1))
    path.write_text('[{"version": 1}]')
    with pytest.raises(RuleSetError):
        load_rule_sets(path)


def test_entry_is_canonical_and_holds_no_personal_data() -> None:
    salt = bytes(16)
    entry = FilingEntry(
        EntryEvent.FILED,
        "CS-2026-000001",
        "ab" * 32,
        CODE,
        dt.datetime(2026, 11, 27, 13, 30, tzinfo=dt.UTC),
        (party_hash(salt, "居民身份证", "430102199001011234"),),
    )
    data = entry.encode()
    assert data.startswith(b'{"at":"2026-11-27T13:30:00Z","doc":"abab')
    assert b"430102199001011234" not in data
    assert FilingEntry.decode(data) == entry
    odd = [
        data.replace(b'"v":1', b'"v":2'),
        data.replace(b",", b", "),
        b"\xff",
        b"{}",
        # Found by the red team: an overflowing ref and a filing no status map can key.
        data.replace(b'"event":"filed"', b'"event":"cancelled"').replace(b"null", b"1e999"),
        data.replace(b"CS-2026-000001", b"\\ud800"),
    ]
    for bad in odd:
        with pytest.raises(EntryFormatError):
            FilingEntry.decode(bad)
    with pytest.raises(EntryFormatError):
        FilingEntry(
            EntryEvent.CANCELLED, "CS-2026-000001", "ab" * 32, CODE, entry.at, ()
        )  # needs ref
