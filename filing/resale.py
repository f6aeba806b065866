"""存量房 (resale) checks before a resale contract is drafted: plain functions of facts.

Each check returns ``CheckFailure``s (filing/checks.py), empty when it passes, so that a
refusal reads like 房源核验's (a 422 ``unit-not-sellable`` listing the codes):

* the unit is REGISTERED (or held for this very contract) and its owners of record known;
* the sellers are exactly the owners of record: every co-owner sells and signs;
* not seized (查封), not withheld (不可售);
* mortgaged (抵押) only with each mortgagee's consent recorded;
* no other live contract on the unit (a draft holding it, or a filing not yet completed
  by a registration);
* the resale restriction (限售): a dated, versioned rule set like the purchase limits'
  (``ResaleRuleSet``; ``DIR/resale-rules.json``): in a restricted district, a home bought
  on or after a day may not be resold until N years after its registration.

The buyer's purchase limits are 购房资格 itself (filing/eligibility.py ``gather`` and
``decide``, with the unit's district), not repeated here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from filing.checks import CheckFailure, Reason
from filing.eligibility import RuleSetError
from filing.ownership import Mortgage, Ownership, normalise_id
from filing.status import UnitFlag, UnitStatus

RULES_FILE = "resale-rules.json"  # in the data directory, beside eligibility-rules.json


class Person(Protocol):
    """A seller as the check compares them with the owners (signing.contract.Party is one)."""

    @property
    def name(self) -> str: ...

    @property
    def id_type(self) -> str: ...

    @property
    def id_number(self) -> str: ...


@dataclass(frozen=True)
class ResaleFacts:
    """What the checks need to know, read in the draft's transaction
    (``filing.ownership_records.resale_facts``)."""

    status: UnitStatus
    flags: frozenset[UnitFlag]
    reserved_for: str | None  # the contract holding the unit, if any
    district: str
    ownership: Ownership | None  # the current record
    mortgages: tuple[Mortgage, ...]  # those not discharged
    live_contracts: tuple[str, ...]  # ids of other contracts still live on the unit


# -- the resale restriction (限售) ---------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    district: str
    years: int  # no resale within this many years of the registration
    bought_from: dt.date  # for homes bought on or after this day


@dataclass(frozen=True)
class ResaleRuleSet:
    version: str
    effective_from: dt.date
    restrictions: tuple[Restriction, ...]

    def restriction(self, district: str) -> Restriction | None:
        return next((r for r in self.restrictions if r.district == district), None)


_CHANGSHA_DISTRICTS = ("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县")

# Changsha's notice of 2018-06-28, as we read it: in the restricted districts, a home bought
# from that day on may be resold only once its owners have held the certificate four years.
# Check the values against the notice in force and configure them in DIR/resale-rules.json.
CHANGSHA_2018 = ResaleRuleSet(
    version="changsha-2018.1",
    effective_from=dt.date(2018, 6, 28),
    restrictions=tuple(Restriction(d, 4, dt.date(2018, 6, 28)) for d in _CHANGSHA_DISTRICTS),
)


def load_resale_rule_sets(path: Path) -> list[ResaleRuleSet]:
    """Rule sets from a JSON list (see docs/operations.md), oldest first::

    [{"version": "...", "effective_from": "2018-06-28",
      "restrictions": [{"district": "岳麓区", "years": 4, "bought_from": "2018-06-28"}]}]
    """
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        sets = [
            ResaleRuleSet(
                version=str(i["version"]),
                effective_from=dt.date.fromisoformat(i["effective_from"]),
                restrictions=tuple(
                    Restriction(
                        str(r["district"]), int(r["years"]), dt.date.fromisoformat(r["bought_from"])
                    )
                    for r in i["restrictions"]
                ),
            )
            for i in items
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuleSetError(f"resale rule sets in {path} are invalid: {exc}") from exc
    if len({s.version for s in sets}) != len(sets):
        raise RuleSetError("resale rule-set versions must be unique")
    for s in sets:
        if any(r.years < 0 for r in s.restrictions):
            raise RuleSetError(f"{s.version}: a restriction's years must not be negative")
        if len({r.district for r in s.restrictions}) != len(s.restrictions):
            raise RuleSetError(f"{s.version}: a district is restricted twice")
    return sorted(sets, key=lambda s: s.effective_from)


def resale_rule_sets(data_dir: Path) -> list[ResaleRuleSet]:
    """The deployment's resale rule sets: ``DIR/resale-rules.json``, else Changsha 2018."""
    path = data_dir / RULES_FILE
    return load_resale_rule_sets(path) if path.exists() else [CHANGSHA_2018]


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def restricted_until(ownership: Ownership, district: str, rules: ResaleRuleSet) -> dt.date | None:
    """The first day the home may be resold under ``rules``; None if it is not restricted."""
    r = rules.restriction(district)
    if r is None or r.years == 0 or ownership.acquired_on < r.bought_from:
        return None
    return years_after(ownership.registered_on, r.years)


# -- the checks -----------------------------------------------------------------------


def check_status(facts: ResaleFacts, contract: str | None = None) -> list[CheckFailure]:
    """REGISTERED, or held for ``contract`` (the draft asking again), and not blocked."""
    failures = []
    held_for_us = contract is not None and facts.reserved_for == contract
    if facts.status is UnitStatus.RESALE_RESERVED and not held_for_us:
        failures.append(CheckFailure(Reason.UNIT_RESERVED))
    elif facts.status is UnitStatus.UNDER_CONTRACT:
        failures.append(CheckFailure(Reason.OTHER_LIVE_CONTRACT, "a resale of it is filed"))
    elif facts.status not in (UnitStatus.REGISTERED, UnitStatus.RESALE_RESERVED):
        failures.append(CheckFailure(Reason.UNIT_NOT_REGISTERED, facts.status.value))
    if UnitFlag.SEIZED in facts.flags:
        failures.append(CheckFailure(Reason.UNIT_SEIZED))
    if UnitFlag.NOT_FOR_SALE in facts.flags:
        failures.append(CheckFailure(Reason.UNIT_NOT_FOR_SALE))
    return failures


def check_sellers(ownership: Ownership | None, sellers: Sequence[Person]) -> list[CheckFailure]:
    """The sellers are exactly the owners of record, each once, under the recorded name."""
    if ownership is None:
        return [CheckFailure(Reason.NO_OWNERSHIP_RECORD)]
    owners = {o.identity: o for o in ownership.owners}
    problems = []
    seen: set[tuple[str, str]] = set()
    for n, s in enumerate(sellers, start=1):
        key = (s.id_type.strip(), normalise_id(s.id_number))
        owner = owners.get(key)
        if key in seen:
            problems.append(f"seller {n} appears twice")
        elif owner is None:
            problems.append(f"seller {n} is not an owner of record")
        elif owner.name.strip() != s.name.strip():
            problems.append(f"seller {n}'s name differs from the record")
        seen.add(key)
    missing = [n for n, o in enumerate(ownership.owners, start=1) if o.identity not in seen]
    problems += [f"co-owner {n} of record does not sell" for n in missing]
    return [CheckFailure(Reason.SELLERS_NOT_OWNERS, "; ".join(problems))] if problems else []


def check_mortgages(
    flags: frozenset[UnitFlag], mortgages: Sequence[Mortgage]
) -> list[CheckFailure]:
    """Every mortgage not discharged has its mortgagee's consent on record; a unit flagged
    mortgaged without a recorded mortgage has nobody's consent to show."""
    failures = []
    if UnitFlag.MORTGAGED in flags and not mortgages:
        failures.append(CheckFailure(Reason.MORTGAGE_NOT_RECORDED))
    without = [m for m in mortgages if not m.consented]
    if without:
        failures.append(
            CheckFailure(
                Reason.UNIT_MORTGAGED_WITHOUT_CONSENT,
                "no consent of " + "、".join(m.mortgagee for m in without),
            )
        )
    return failures


def check_live_contracts(live: Sequence[str], contract: str | None = None) -> list[CheckFailure]:
    others = [c for c in live if c != contract]
    if not others:
        return []
    return [CheckFailure(Reason.OTHER_LIVE_CONTRACT, f"{len(others)} other live contract(s)")]


def check_restriction(
    ownership: Ownership | None, district: str, today: dt.date, rules: ResaleRuleSet
) -> list[CheckFailure]:
    if ownership is None:
        return []  # check_sellers says so
    until = restricted_until(ownership, district, rules)
    if until is None or today >= until:
        return []
    return [
        CheckFailure(
            Reason.RESALE_RESTRICTED, f"resale allowed from {until.isoformat()} ({rules.version})"
        )
    ]


def check_resale(
    facts: ResaleFacts,
    sellers: Sequence[Person],
    today: dt.date,
    rules: ResaleRuleSet,
    contract: str | None = None,
) -> list[CheckFailure]:
    """Every reason the unit cannot be resold now by ``sellers``; empty if it can.

    ``contract``: the contract asking (a unit held for it is sellable to it).
    """
    return [
        *check_status(facts, contract),
        *check_sellers(facts.ownership, sellers),
        *check_mortgages(facts.flags, facts.mortgages),
        *check_live_contracts(facts.live_contracts, contract),
        *check_restriction(facts.ownership, facts.district, today, rules),
    ]
