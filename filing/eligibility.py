"""购房资格: purchase-restriction rules, versioned and dated, fed by department adapters.

A rule set says, for a purchase in a restricted district, how many homes a
local household's family may already own there, and what a non-local household
must show (consecutive months of social-security or income-tax payments) and may
own. The family is the applicant, their spouse and their minor children. What the
family owns is what natural resources registered (the department's extract) plus
what the platform itself knows and the registry does not yet: filed but unregistered
homes, and drafts holding a unit. The decision records the rule set's version and
every input it used.

``gather`` reads the departments (I/O, outside any transaction); ``decide`` is a
plain function of what was gathered and of the platform's count, which the filing
service takes inside the draft's transaction under a lock per family member.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar


class EligibilityReason(enum.Enum):
    LOCAL_HOME_LIMIT = "LOCAL_HOME_LIMIT"
    NON_LOCAL_PAYMENT_MONTHS = "NON_LOCAL_PAYMENT_MONTHS"
    NON_LOCAL_HOME_LIMIT = "NON_LOCAL_HOME_LIMIT"
    UNKNOWN_PERSON = "UNKNOWN_PERSON"


class RuleSetError(ValueError):
    """A rule-set file is malformed."""


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: dt.date
    restricted_districts: frozenset[str]
    local_max_homes: int
    non_local_min_months: int
    non_local_max_homes: int


# Changsha, 2017 (长政办函〔2017〕): the six urban districts and parts of 长沙县 are restricted;
# local families may own at most two homes there; non-local families need 12 consecutive months
# of social-security or income-tax payments and may own none there.
CHANGSHA_2017 = RuleSet(
    version="changsha-2017.1",
    effective_from=dt.date(2017, 3, 18),
    restricted_districts=frozenset(
        {"芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县"}
    ),
    local_max_homes=2,
    non_local_min_months=12,
    non_local_max_homes=0,
)


def load_rule_sets(path: Path) -> list[RuleSet]:
    """Rule sets from a JSON list (see docs/operations.md), oldest first."""
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        sets = [
            RuleSet(
                version=str(i["version"]),
                effective_from=dt.date.fromisoformat(i["effective_from"]),
                restricted_districts=frozenset(i["restricted_districts"]),
                local_max_homes=int(i["local_max_homes"]),
                non_local_min_months=int(i["non_local_min_months"]),
                non_local_max_homes=int(i["non_local_max_homes"]),
            )
            for i in items
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuleSetError(f"rule sets in {path} are invalid: {exc}") from exc
    if len({s.version for s in sets}) != len(sets):
        raise RuleSetError("rule-set versions must be unique")
    return sorted(sets, key=lambda s: s.effective_from)


class Dated(Protocol):
    """A versioned rule set that takes effect on a day (purchase limits, resale limits)."""

    @property
    def effective_from(self) -> dt.date: ...


D = TypeVar("D", bound=Dated)


def rule_set_for(sets: Sequence[D], day: dt.date) -> D:
    """The rule set in force on ``day``: the latest that took effect on or before it."""
    in_force = [s for s in sets if s.effective_from <= day]
    if not in_force:
        raise RuleSetError(f"no rule set in force on {day.isoformat()}")
    return max(in_force, key=lambda s: s.effective_from)


# -- department data, behind interfaces ---------------------------------------


@dataclass(frozen=True)
class Household:
    """From the police's household registration (户籍)."""

    id_number: str
    local: bool  # registered in this city
    spouse: str | None
    minor_children: tuple[str, ...]


class HouseholdRegistry(Protocol):
    def household(self, id_number: str) -> Household | None: ...

    def naming(self, id_number: str) -> tuple[Household, ...]:
        """The records that name ``id_number`` as a spouse or a minor child."""
        ...


class PaymentRecords(Protocol):
    """Human resources (social security) and tax (individual income tax)."""

    def consecutive_months(self, id_number: str, until: dt.date) -> int: ...


class PropertyRecords(Protocol):
    """Natural resources: homes already owned, by district."""

    def homes_owned(self, id_numbers: Sequence[str], districts: frozenset[str]) -> int: ...


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: tuple[EligibilityReason, ...]
    rule_set: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["reasons"] = [r.value for r in self.reasons]
        return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class Applicant:
    """What the departments say about one buyer, read before the draft's transaction."""

    id_number: str
    household: Household | None
    consecutive_months: int  # social security or income tax, up to the draft's day
    homes_registered: int  # the family's registered homes in the restricted districts
    # Records naming the applicant as spouse or minor child: a spouse's record that leaves
    # the applicant out, or a minor's parents, still make one family with the applicant.
    named_by: tuple[Household, ...] = ()

    @property
    def family(self) -> tuple[str, ...]:
        """The applicant, their spouse and minor children, read both ways: whoever names the
        applicant as spouse (with that person's minor children), and a minor's parents (with
        their spouses and minor children)."""
        members = [self.id_number]
        for h in (self.household, *self.named_by):
            if h is not None:
                members += [h.id_number, *([h.spouse] if h.spouse else []), *h.minor_children]
        return tuple(dict.fromkeys(members))  # in order, once each


def gather(
    applicant: str,
    day: dt.date,
    rules: RuleSet,
    households: HouseholdRegistry,
    payments: PaymentRecords,
    properties: PropertyRecords,
) -> Applicant:
    """Read what the departments say about ``applicant`` and their family."""
    household = households.household(applicant)
    named_by = households.naming(applicant)
    found = Applicant(applicant, household, 0, 0, named_by)
    if household is None:
        return found
    return Applicant(
        applicant,
        household,
        0 if household.local else payments.consecutive_months(applicant, day),
        properties.homes_owned(list(found.family), rules.restricted_districts),
        named_by,
    )


def decide(
    applicant: Applicant, district: str, rules: RuleSet, homes_on_platform: int = 0
) -> Decision:
    """May ``applicant`` buy a home in ``district`` under ``rules``, given what the family
    owns on record and ``homes_on_platform`` (filed but unregistered, or held by a draft)?"""
    if district not in rules.restricted_districts:
        return Decision(True, (), rules.version, {"district": district, "restricted": False})
    household = applicant.household
    if household is None:
        return Decision(
            False, (EligibilityReason.UNKNOWN_PERSON,), rules.version, {"district": district}
        )
    owned = applicant.homes_registered + homes_on_platform
    inputs: dict[str, Any] = {
        "district": district,
        "restricted": True,
        "local": household.local,
        "family_size": len(applicant.family),
        "homes_owned": owned,
        "homes_registered": applicant.homes_registered,
        "homes_on_platform": homes_on_platform,
    }
    reasons: list[EligibilityReason] = []
    if household.local:
        if owned >= rules.local_max_homes:
            reasons.append(EligibilityReason.LOCAL_HOME_LIMIT)
    else:
        inputs["consecutive_months"] = applicant.consecutive_months
        if applicant.consecutive_months < rules.non_local_min_months:
            reasons.append(EligibilityReason.NON_LOCAL_PAYMENT_MONTHS)
        if owned > rules.non_local_max_homes:
            reasons.append(EligibilityReason.NON_LOCAL_HOME_LIMIT)
    return Decision(not reasons, tuple(reasons), rules.version, inputs)
