"""The amount of maintenance fund (住宅专项维修资金) a new-home filing owes, and the
registration's gate on it.

``record_due`` runs in the filing's transaction (``FilingService._record_filing``): the
rule set in force on the filing's day computes the amount (``filing.maintenance``) from
the contract's building area, the building's floor count in the 楼盘表 and the price.
``require_deposited`` runs in the registration's transaction: a new home whose filing
owes an amount is registered only once its deposits under that filing reach it. Who is
never blocked, and why: a filing without a due row, that is a filing made before the
deployment adopted a rule set (a migrated deployment, or one without a rules file), a
resale (the home's account moved with it; nothing is due again), and an existing home
imported from the register (no filing here at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select

from filing import maintenance, schema
from filing.maintenance import AmountDue, MaintenanceRuleSet
from filing.maintenance_schema import maintenance_dues, maintenance_events
from filing.ownership_records import OwnershipRecordError
from filing.statistics import city_day


class MaintenanceNotDeposited(OwnershipRecordError):
    """The unit's filing owes maintenance fund not yet deposited: no registration."""

    slug = "maintenance-fund-due"


def record_due(
    conn: Connection,
    number: str,
    unit_id: int,
    building_area: Decimal,
    price_yuan: Decimal,
    at: dt.datetime,
    rule_sets: Sequence[MaintenanceRuleSet],
) -> AmountDue | None:
    """Compute and record what filing ``number`` owes (None: no rule set in force)."""
    rules = maintenance.due_on(rule_sets, city_day(at))
    if rules is None:
        return None
    u = schema.units
    floors = conn.execute(
        select(func.max(u.c.floor)).where(
            u.c.building_id == select(u.c.building_id).where(u.c.id == unit_id).scalar_subquery()
        )
    ).scalar_one()
    due = maintenance.amount_due(rules, building_area, int(floors or 1), price_yuan)
    conn.execute(
        insert(maintenance_dues).values(
            filing_number=number,
            unit_id=unit_id,
            amount_fen=due.amount_fen,
            rule_version=due.rule_version,
            bank=due.bank,
            basis=due.basis,
            computed_at=at,
        )
    )
    return due


def deposited_under(conn: Connection, number: str) -> int:
    """What the designated bank confirmed under filing ``number``, in fen."""
    e = maintenance_events
    return int(
        conn.execute(
            select(func.coalesce(func.sum(e.c.amount_fen), 0)).where(
                e.c.filing_number == number, e.c.kind == "deposit"
            )
        ).scalar_one()
    )


def require_deposited(conn: Connection, number: str) -> None:
    """Refuse the registration of filing ``number`` while its amount due is not deposited:
    its own deposits, never the unit's balance (a cancelled purchase's deposit, refunded
    or not yet, counts for no later filing on the unit, and its refund blocks none)."""
    due = conn.execute(
        select(maintenance_dues.c.amount_fen).where(maintenance_dues.c.filing_number == number)
    ).scalar()
    if due is None:
        return
    paid = deposited_under(conn, number)
    if paid < int(due):
        raise MaintenanceNotDeposited(
            f"{maintenance.yuan(int(due))} 元 of maintenance fund is due for {number}; "
            f"{maintenance.yuan(paid)} 元 is deposited"
        )
