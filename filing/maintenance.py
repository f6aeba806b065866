"""住宅专项维修资金 (maintenance funds): the dated rule of the amount due, and a unit's
account, pure.

At a new-home filing the amount due is computed by the rule set in force on the filing's
day (``MaintenanceRuleSet``; ``DIR/maintenance-fund-rules.json``): either a rate per m² of
building area by building type (多层 / 高层, told apart by the building's floor count in the
楼盘表), or a share of the price. The buyer deposits it at the bank the rule set designates,
which confirms with its signed statement (``filing.maintenance_service``). The fund belongs
to the unit, not to a filing or a person: its account is the unit's (分户账, named by the
不动产单元代码), so a resale moves nothing, and a use of funds (repairs the owners approved)
debits the units it names. A balance never goes negative.

A cancelled purchase's deposits are not the unit's: the designated bank refunds them to
the buyer who paid them (维修资金退还), all that remains of them, once, and the next
filing on the unit owes its full amount again. Which money a use spends, so that a refund
never takes what is gone (the decision, docs/architecture.md): a use spends the deposits
of the purchase that holds the unit (its latest depositing filing not cancelled) and
nothing else; a cancelled purchase's deposits are held for its refund from the moment it
is cancelled, and no use touches them. A use recorded while the purchase was in force
spent part of that buyer's deposit for the building's repair: the refund returns what
remains of it (``filing_deposits``: deposited, less the debits spent from it).

Without a rules file no amount is due and no registration waits for one: a deployment
adopts the fund deliberately, with rates checked against its city's notice (see
docs/operations.md), rather than on upgrade with example rates.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from filing import funds
from filing.eligibility import RuleSetError, rule_set_for

# The events of a unit's account (``maintenance_events.kind``), as people read them.
LABELS = {"deposit": "维修资金存入", "use": "维修资金使用", "refund": "维修资金退还"}
RULES_FILE = "maintenance-fund-rules.json"  # in the data directory, beside resale-rules.json
MAX_FEN = 10**15  # as filing.funds: far above any home's fund, far below 2^63


class BuildingType(enum.Enum):
    LOW_RISE = "多层"  # no lift: the lower rate
    HIGH_RISE = "高层"  # with lifts: the higher rate (more to repair)


class Basis(enum.Enum):
    PER_M2 = "per-m2"  # rate (fen per m² of building area) by building type
    PRICE_SHARE = "price-share"  # a share of the contract price


class MaintenanceRuleError(ValueError):
    """Base class: the event does not apply to the unit's account as it stands."""

    slug = "maintenance-rule"


class BadAmount(MaintenanceRuleError):
    slug = "bad-amount"


class Overpaid(MaintenanceRuleError):
    """Deposits under a filing add up to its amount due, no more."""

    slug = "maintenance-overpaid"


class InsufficientBalance(MaintenanceRuleError):
    slug = "insufficient-balance"


@dataclass(frozen=True)
class MaintenanceRuleSet:
    version: str
    effective_from: dt.date
    bank: str  # the designated bank (承办银行): the organisation of its certificate
    basis: Basis
    rates_fen: tuple[tuple[BuildingType, int], ...] = ()  # per m² of building area
    high_rise_floors: int = 7  # a building with this many floors or more is 高层
    price_share: Decimal = Decimal(0)  # e.g. 0.02 of the price

    def building_type(self, floors: int) -> BuildingType:
        return BuildingType.HIGH_RISE if floors >= self.high_rise_floors else BuildingType.LOW_RISE

    def rate_fen(self, kind: BuildingType) -> int:
        return dict(self.rates_fen)[kind]


@dataclass(frozen=True)
class AmountDue:
    amount_fen: int
    rule_version: str
    bank: str
    basis: str  # how it was computed, for people: "高层 118.56 m² × 80.00 元/m²"


# An example, not a city's rule: the rates (元/m² of building area) of many cities' first
# deposits lie in this range, but check them against the notice in force (长沙市住宅专项维修
# 资金管理办法) and configure them in DIR/maintenance-fund-rules.json before adopting.
EXAMPLE = MaintenanceRuleSet(
    version="example-2026.1",
    effective_from=dt.date(2026, 1, 1),
    bank="示范银行",
    basis=Basis.PER_M2,
    rates_fen=((BuildingType.LOW_RISE, 5000), (BuildingType.HIGH_RISE, 8000)),
    high_rise_floors=7,
)


def amount_due(
    rules: MaintenanceRuleSet, building_area: Decimal, floors: int, price_yuan: Decimal
) -> AmountDue:
    """The amount due for a unit of ``building_area`` m² in a building of ``floors`` floors,
    sold for ``price_yuan``: rounded half up to the fen (no float on the way)."""
    if building_area <= 0 or price_yuan <= 0:
        raise BadAmount("area and price must be positive")
    if rules.basis is Basis.PER_M2:
        kind = rules.building_type(floors)
        rate = rules.rate_fen(kind)
        fen = (building_area * rate).quantize(Decimal(1), ROUND_HALF_UP)
        words = f"{kind.value} {building_area} m² × {yuan(rate)} 元/m²"
    else:
        fen = (price_yuan * 100 * rules.price_share).quantize(Decimal(1), ROUND_HALF_UP)
        words = f"房价 {price_yuan} 元 × {rules.price_share}"
    amount = int(fen)
    check_amount(amount)
    return AmountDue(amount, rules.version, rules.bank, words)


def due_on(sets: Sequence[MaintenanceRuleSet], day: dt.date) -> MaintenanceRuleSet | None:
    """The rule set in force on ``day``; None before the first (nothing is due then)."""
    try:
        return rule_set_for(sets, day)
    except RuleSetError:
        return None


def check_amount(amount_fen: int) -> None:
    if type(amount_fen) is not int or not 0 < amount_fen <= MAX_FEN:
        raise BadAmount(f"an amount is 1 to {MAX_FEN} whole fen, not {amount_fen!r}")


def check_deposit(deposited_fen: int, due_fen: int, amount_fen: int) -> None:
    """A deposit under a filing: positive, and the filing's deposits stay within its due."""
    check_amount(amount_fen)
    if deposited_fen + amount_fen > due_fen:
        raise Overpaid(
            f"{yuan(due_fen)} 元 is due and {yuan(deposited_fen)} 元 deposited: "
            f"{yuan(amount_fen)} 元 more is too much"
        )


def check_use(balance_fen: int, amount_fen: int, held_fen: int = 0) -> None:
    """A debit of a unit's account: positive, and never below zero. ``balance_fen``: what
    a use may spend; ``held_fen``: what the account holds besides, for refunds of cancelled
    purchases (only said in the refusal)."""
    check_amount(amount_fen)
    if amount_fen > balance_fen:
        held = f" ({yuan(held_fen)} 元 more is held for cancelled purchases' refunds)"
        raise InsufficientBalance(
            f"the unit's balance is {yuan(balance_fen)} 元{held if held_fen else ''}; "
            f"{yuan(amount_fen)} 元 cannot leave it"
        )


def filing_deposits(events: Iterable[tuple[str, int]]) -> funds.AccountState:
    """The deposits of one filing as a settled-once account (``filing.funds``): its
    (kind, amount) events: deposits in; the uses spent from them (while its purchase held
    the unit) and a refund out. A refund settles it: what remains, once."""
    deposited = deposits = left = 0
    refunded = False
    for kind, amount in events:
        if kind == "deposit":
            deposited, deposits = deposited + amount, deposits + 1
        else:
            left += amount
            refunded = refunded or kind == "refund"
    return funds.AccountState(
        deposited, deposits, funds.FundEventKind.REFUND if refunded else None, left
    )


def check_refund(deposits: funds.AccountState, cancelled: bool, amount_fen: int) -> None:
    """A refund of a filing's deposits to its buyer: only once the filing is cancelled, of
    all that remains of them, once (the rules of a supervised account's refund,
    ``funds.check``: ``not-cancelled``, ``already-refunded``, ``insufficient-balance``,
    ``amount-mismatch``)."""
    state = funds.FilingState.CANCELLED if cancelled else funds.FilingState.IN_FORCE
    funds.check(deposits, state, funds.FundEvent(funds.FundEventKind.REFUND, amount_fen))


def balance(events: Iterable[tuple[str, int]]) -> int:
    """A unit's balance from its recorded (kind, amount) events: deposits in, uses and
    refunds out."""
    total = 0
    for kind, amount in events:
        total += amount if kind == "deposit" else -amount
    return total


def yuan(amount_fen: int) -> str:
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def load_rule_sets(path: Path) -> list[MaintenanceRuleSet]:
    """Rule sets from a JSON list (docs/operations.md), oldest first::

    [{"version": "cs-2026.1", "effective_from": "2026-01-01", "bank": "示范银行",
      "basis": "per-m2", "rates_yuan": {"多层": "50.00", "高层": "80.00"},
      "high_rise_floors": 7}]
    or, by a share of the price: ``"basis": "price-share", "price_share": "0.02"``.
    """
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        sets = [_rule_set(i) for i in items]
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise RuleSetError(f"maintenance-fund rule sets in {path} are invalid: {exc}") from exc
    if len({s.version for s in sets}) != len(sets):
        raise RuleSetError("maintenance-fund rule-set versions must be unique")
    return sorted(sets, key=lambda s: s.effective_from)


def _rule_set(item: dict[str, Any]) -> MaintenanceRuleSet:
    basis = Basis(item["basis"])
    rates: tuple[tuple[BuildingType, int], ...] = ()
    share = Decimal(0)
    if basis is Basis.PER_M2:
        given = {BuildingType(k): Decimal(str(v)) for k, v in item["rates_yuan"].items()}
        if set(given) != set(BuildingType) or any(v <= 0 for v in given.values()):
            raise ValueError("per-m2 rates are positive, for 多层 and 高层")
        if any((v * 100) % 1 for v in given.values()):
            raise ValueError("per-m2 rates are whole fen (at most two decimals of a yuan)")
        rates = tuple((k, int(v * 100)) for k, v in given.items())
    else:
        share = Decimal(str(item["price_share"]))
        if not 0 < share < 1:
            raise ValueError("a price share is between 0 and 1")
    floors = int(item.get("high_rise_floors", 7))
    if floors < 2:
        raise ValueError("high_rise_floors is at least 2")
    bank = str(item["bank"])
    if not bank.strip() or len(bank) > 100:
        raise ValueError("a designated bank is named by 1 to 100 characters")
    return MaintenanceRuleSet(
        str(item["version"]),
        dt.date.fromisoformat(item["effective_from"]),
        bank,
        basis,
        rates,
        floors,
        share,
    )


def adopt_example(data_dir: Path, bank: str) -> bool:
    """Write the example rule set, ``bank`` designated, unless the deployment has a rules
    file (the demo adopts the fund this way; a real deployment writes its city's)."""
    path = data_dir / RULES_FILE
    if path.exists():
        return False
    rates = {kind.value: yuan(fen) for kind, fen in EXAMPLE.rates_fen}
    item = {
        "version": EXAMPLE.version,
        "effective_from": EXAMPLE.effective_from.isoformat(),
        "bank": bank,
        "basis": EXAMPLE.basis.value,
        "rates_yuan": rates,
        "high_rise_floors": EXAMPLE.high_rise_floors,
    }
    path.write_text(json.dumps([item], ensure_ascii=False, indent=1), encoding="utf-8")
    return True


def maintenance_rule_sets(data_dir: Path) -> list[MaintenanceRuleSet]:
    """The deployment's rule sets: ``DIR/maintenance-fund-rules.json``, else none (nothing
    due; see the module's note)."""
    path = data_dir / RULES_FILE
    return load_rule_sets(path) if path.exists() else []
