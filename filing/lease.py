"""租赁备案 (lease) checks before a lease is drafted: plain functions of facts.

Each check returns ``CheckFailure``s (filing/checks.py), empty when it passes, so that a
refusal reads like 房源核验's (a 422 ``unit-not-sellable`` listing the codes):

* the unit is registered, lawful housing (住宅, owners of record known), not seized;
* the lessors are exactly the owners of record, or the one rental enterprise (住房租赁企业)
  that holds a recorded entrustment of the unit covering the whole term and not ended;
* no other live lease (filed and not ended, or a draft being signed) of the same space
  overlaps the term: the whole unit conflicts with any room of it, a room with itself;
* the area per occupant is at least the minimum of the dated rule set in force
  (``LeaseRuleSet``; ``DIR/lease-rules.json``).

A lease never changes the unit's sale status or its owners: a leased home may be sold
(买卖不破租赁), and these checks do not look at sales in progress.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from filing.checks import CheckFailure, Reason
from filing.eligibility import RuleSetError
from filing.ownership import Ownership
from filing.resale import Person, check_sellers
from filing.status import UnitFlag, UnitStatus

RULES_FILE = "lease-rules.json"  # in the data directory, beside resale-rules.json
HOUSING_USES = ("住宅", "成套住宅", "普通住宅")  # the 楼盘表's uses a home is leased under

# The statuses of a unit whose owners of record are known: registered, or being resold
# (a resale in progress does not end the owners' right to lease it until 转移登记).
_REGISTERED = (UnitStatus.REGISTERED, UnitStatus.RESALE_RESERVED, UnitStatus.UNDER_CONTRACT)


@dataclass(frozen=True)
class LiveLease:
    """A lease on the unit that is live: filed and not ended, or a draft being signed."""

    contract_id: str
    space: str  # "" for the whole unit
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Entrustment:
    """The owners' entrustment of the unit to a rental enterprise, as recorded."""

    reference: str  # the record's reference, as the contract names it
    enterprise: str  # its 统一社会信用代码
    valid_from: dt.date
    valid_until: dt.date
    ended_on: dt.date | None = None  # revoked or ended early, as the authority recorded

    def covers(self, start: dt.date, end: dt.date) -> bool:
        """Whether a new lease of this term may be drafted under it: never once it has
        ended (leases filed before its end stand; they are not checked again)."""
        return self.ended_on is None and self.valid_from <= start and end <= self.valid_until


@dataclass(frozen=True)
class LeaseFacts:
    """What the checks need to know, read in the draft's transaction."""

    status: UnitStatus
    flags: frozenset[UnitFlag]
    use: str
    ownership: Ownership | None
    live_leases: tuple[LiveLease, ...]
    entrustments: tuple[Entrustment, ...]  # of this unit, any enterprise


@dataclass(frozen=True)
class Proposal:
    """What of the lease the checks judge (signing.lease.LeaseContract gives it)."""

    lessors: tuple[Person, ...]
    enterprise: str | None  # the enterprise lessor's credit code, if the lessor is one
    entrustment: str | None  # the entrustment reference the contract names
    space: str
    leased_area: Decimal
    occupants: int
    start: dt.date
    end: dt.date


# -- the dated rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRuleSet:
    version: str
    effective_from: dt.date
    min_area_per_occupant: Decimal  # m² of the leased space per occupant


# A configurable default, not a reading of a Changsha notice: many cities set five or six
# square metres of leased space per occupant. Configure DIR/lease-rules.json with the
# value in force.
DEFAULT_2020 = LeaseRuleSet("default-2020.1", dt.date(2020, 1, 1), Decimal(5))


def load_lease_rule_sets(path: Path) -> list[LeaseRuleSet]:
    """Rule sets from a JSON list (see docs/operations.md), oldest first::

    [{"version": "...", "effective_from": "2020-01-01", "min_area_per_occupant": "6"}]
    """
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        sets = [
            LeaseRuleSet(
                str(i["version"]),
                dt.date.fromisoformat(i["effective_from"]),
                Decimal(str(i["min_area_per_occupant"])),
            )
            for i in items
        ]
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
        raise RuleSetError(f"lease rule sets in {path} are invalid: {exc}") from exc
    if len({s.version for s in sets}) != len(sets):
        raise RuleSetError("lease rule-set versions must be unique")
    if any(not s.min_area_per_occupant.is_finite() or s.min_area_per_occupant < 0 for s in sets):
        raise RuleSetError("a minimum area per occupant is a number, not negative")
    return sorted(sets, key=lambda s: s.effective_from)


def lease_rule_sets(data_dir: Path) -> list[LeaseRuleSet]:
    """The deployment's lease rule sets: ``DIR/lease-rules.json``, else the default."""
    path = data_dir / RULES_FILE
    return load_lease_rule_sets(path) if path.exists() else [DEFAULT_2020]


# -- the checks ---------------------------------------------------------------------------


def check_housing(facts: LeaseFacts) -> list[CheckFailure]:
    failures = []
    if facts.status not in _REGISTERED or facts.ownership is None:
        failures.append(CheckFailure(Reason.UNIT_NOT_REGISTERED, facts.status.value))
    if facts.use not in HOUSING_USES:
        failures.append(CheckFailure(Reason.NOT_HOUSING, facts.use))
    if UnitFlag.SEIZED in facts.flags:
        failures.append(CheckFailure(Reason.UNIT_SEIZED))
    return failures


def check_lessors(facts: LeaseFacts, p: Proposal) -> list[CheckFailure]:
    """The owners lease it themselves (all of them), or the enterprise they entrusted."""
    if p.enterprise is None:
        found = check_sellers(facts.ownership, p.lessors)
        return [
            CheckFailure(Reason.LESSORS_NOT_OWNERS, f.detail.replace("seller", "lessor"))
            for f in found
            if f.reason is Reason.SELLERS_NOT_OWNERS
        ]
    held = [
        e
        for e in facts.entrustments
        if e.enterprise == p.enterprise and e.reference == p.entrustment
    ]
    if not any(e.covers(p.start, p.end) for e in held):
        if not held:
            detail = "no such entrustment"
        elif any(e.ended_on is not None for e in held):
            detail = "the entrustment has ended"
        else:
            detail = "the entrustment does not cover the term"
        return [CheckFailure(Reason.NOT_ENTRUSTED, detail)]
    return []


def spaces_conflict(a: str, b: str) -> bool:
    """The whole unit conflicts with any room of it; two rooms only if they are one."""
    return not a or not b or a.strip() == b.strip()


def overlaps(a_start: dt.date, a_end: dt.date, b_start: dt.date, b_end: dt.date) -> bool:
    return a_start <= b_end and b_start <= a_end


def check_overlap(
    live: Sequence[LiveLease], p: Proposal, contract: str | None = None
) -> list[CheckFailure]:
    clash = [
        x
        for x in live
        if x.contract_id != contract
        and spaces_conflict(x.space, p.space)
        and overlaps(x.start, x.end, p.start, p.end)
    ]
    if not clash:
        return []
    first = min(clash, key=lambda x: x.start)
    return [
        CheckFailure(
            Reason.LEASE_OVERLAPS,
            f"{len(clash)} live lease(s), the first {first.start.isoformat()} to "
            f"{first.end.isoformat()}",
        )
    ]


def check_area(p: Proposal, rules: LeaseRuleSet) -> list[CheckFailure]:
    per = p.leased_area / p.occupants
    if per >= rules.min_area_per_occupant:
        return []
    return [
        CheckFailure(
            Reason.AREA_PER_OCCUPANT,
            f"{per:.2f} m² per occupant, at least {rules.min_area_per_occupant} ({rules.version})",
        )
    ]


def check_lease(
    facts: LeaseFacts, p: Proposal, rules: LeaseRuleSet, contract: str | None = None
) -> list[CheckFailure]:
    """Every reason this lease cannot be filed; empty if it can."""
    return [
        *check_housing(facts),
        *check_lessors(facts, p),
        *check_overlap(facts.live_leases, p, contract),
        *check_area(p, rules),
    ]
