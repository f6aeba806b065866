"""Market statistics: filed units, area, value, price per m², cancellations, unsold stock.

Every filing and cancellation adds to a daily row per (district, project, use) in the same
transaction (``record``), so that a question about a year of a city's filings reads a few
thousand rows, not a million. Amounts are integers (fen, and hundredths of a m²) so that sums
are exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from filing import schema
from filing.fund_schema import fund_events
from filing.funds import FundEventKind
from filing.lease_schema import LEASE_KINDS

CENT = Decimal("0.01")
# Days are the city's: China Standard Time, UTC+8 all year.
CITY_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


def city_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CITY_TIME).date()


class Period(enum.Enum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


def period_is_partial(period: Period, label: str, last_day: dt.date) -> bool:
    """Whether the period ``label`` names is still running (or cut short) on ``last_day``,
    the last day counted: a chart must not show a month to date as a collapse."""
    start = _period_start(period, label)
    if period is Period.DAY:
        end = start
    elif period is Period.MONTH:
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    else:
        end = start.replace(month=12, day=31)
    return start <= last_day < end


def _period_start(period: Period, label: str) -> dt.date:
    if period is Period.DAY:
        return dt.date.fromisoformat(label)
    if period is Period.MONTH:
        return dt.date.fromisoformat(label + "-01")
    return dt.date(int(label), 1, 1)


class Dimension(enum.Enum):
    DISTRICT = "district"
    PROJECT = "project"
    USE = "use"
    KIND = "kind"  # the transaction kind (filing/kinds.py): new-presale, new-completed, …
    ALL = "all"


@dataclass(frozen=True)
class FilingFacts:
    """What a filing adds to the statistics."""

    day: dt.date
    district: str
    project_id: int
    use: str
    area: Decimal  # m², the building area the contract states
    value: Decimal  # yuan
    kind: str  # the transaction kind's stored name (filing/kinds.py Kind)


@dataclass(frozen=True)
class StatsRow:
    period: str  # "2026", "2026-11" or "2026-11-27"; "" when not by period
    key: str  # the district, the project's name or the use; "" for all
    filings: int
    area_m2: Decimal
    value: Decimal
    cancellations: int
    cancelled_area_m2: Decimal
    cancelled_value: Decimal

    @property
    def avg_price_m2(self) -> Decimal | None:
        return (self.value / self.area_m2).quantize(CENT) if self.area_m2 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "key": self.key,
            "filings": self.filings,
            "area_m2": str(self.area_m2),
            "value": str(self.value),
            "avg_price_m2": None if self.avg_price_m2 is None else str(self.avg_price_m2),
            "cancellations": self.cancellations,
            "cancelled_area_m2": str(self.cancelled_area_m2),
            "cancelled_value": str(self.cancelled_value),
        }


@dataclass(frozen=True)
class StockRow:
    key: str
    not_released: int
    available: int
    reserved: int
    unsold_area_m2: Decimal  # available and reserved

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "not_released": self.not_released,
            "available": self.available,
            "reserved": self.reserved,
            "unsold_area_m2": str(self.unsold_area_m2),
        }


def _hundredths(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


def record(conn: Connection, facts: FilingFacts, cancelled: bool = False) -> None:
    """Add a filing (or, ``cancelled``, its cancellation) to the day's row."""
    t = schema.filing_stats
    area, value = _hundredths(facts.area), _hundredths(facts.value)
    if cancelled:
        counts = {"cancellations": 1, "cancelled_area": area, "cancelled_value": value}
    else:
        counts = {"filings": 1, "area": area, "value": value}
    key = {
        "day": facts.day,
        "district": facts.district,
        "project_id": facts.project_id,
        "use": facts.use,
        "kind": facts.kind,
    }
    zero = dict.fromkeys(
        ("filings", "area", "value", "cancellations", "cancelled_area", "cancelled_value"), 0
    )
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(t).values(**key, **(zero | counts))
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: t.c[name] + statement.excluded[name] for name in counts},
        )
    )


def _period(conn: Connection, period: Period | None) -> Any:
    day = schema.filing_stats.c.day
    if period is None:
        return None
    if conn.dialect.name == "postgresql":
        fmt = {Period.DAY: "YYYY-MM-DD", Period.MONTH: "YYYY-MM", Period.YEAR: "YYYY"}[period]
        return func.to_char(day, fmt)
    fmt = {Period.DAY: "%Y-%m-%d", Period.MONTH: "%Y-%m", Period.YEAR: "%Y"}[period]
    return func.strftime(fmt, day)


def filings(
    conn: Connection,
    period: Period | None,
    by: Dimension,
    start: dt.date | None = None,
    end: dt.date | None = None,
    district: str | None = None,
    leases: bool = False,
) -> list[StatsRow]:
    """Filings, area, value and cancellations per period and dimension, ``start`` to ``end``.

    Sales by default; ``leases``: the lease filings instead (area leased, value the monthly
    rents), so that a rent is never added to a price. By kind, every kind in its own row."""
    t, p = schema.filing_stats, schema.projects
    period_col = _period(conn, period)
    key_col = {
        Dimension.DISTRICT: t.c.district,
        Dimension.PROJECT: p.c.name,
        Dimension.USE: t.c.use,
        Dimension.KIND: t.c.kind,
        Dimension.ALL: None,
    }[by]
    groups = [c for c in (period_col, key_col) if c is not None]
    query = select(
        *(c.label(n) for c, n in ((period_col, "period"), (key_col, "key")) if c is not None),
        func.sum(t.c.filings),
        func.sum(t.c.area),
        func.sum(t.c.value),
        func.sum(t.c.cancellations),
        func.sum(t.c.cancelled_area),
        func.sum(t.c.cancelled_value),
    )
    if by is Dimension.PROJECT:
        query = query.select_from(t.join(p, p.c.id == t.c.project_id))
    if start is not None:
        query = query.where(t.c.day >= start)
    if end is not None:
        query = query.where(t.c.day <= end)
    if district is not None:
        query = query.where(t.c.district == district)
    if leases:
        query = query.where(t.c.kind.in_(LEASE_KINDS))
    elif by is not Dimension.KIND:
        query = query.where(t.c.kind.not_in(LEASE_KINDS))
    if groups:
        query = query.group_by(*groups).order_by(*groups)
    rows = []
    for r in conn.execute(query).all():
        values = list(r)
        head = [str(values.pop(0)) if period_col is not None else ""]
        head.append(str(values.pop(0)) if key_col is not None else "")
        if values[0] is None:  # no rows at all
            continue
        f, a, v, c, ca, cv = (int(x or 0) for x in values)
        rows.append(StatsRow(head[0], head[1], f, a * CENT, v * CENT, c, ca * CENT, cv * CENT))
    return rows


class DimensionNotApplicable(ValueError):
    """A dimension the figure is not counted by (unsold units have no transaction kind;
    supervised money is counted in all or by kind)."""


def stock(conn: Connection, by: Dimension) -> list[StockRow]:
    """Units not sold: not yet released, available, reserved (with their area), by dimension."""
    if by is Dimension.KIND:
        raise DimensionNotApplicable("unsold stock is counted by district, project, use or all")
    u, b, p = schema.units, schema.buildings, schema.projects
    key_col = {
        Dimension.DISTRICT: p.c.district,
        Dimension.PROJECT: p.c.name,
        Dimension.USE: u.c.use,
        Dimension.ALL: None,
    }[by]
    unsold = ("NOT_RELEASED", "AVAILABLE", "RESERVED")
    area = func.coalesce(u.c.measured_building, u.c.forecast_building)
    query = (
        select(
            *([key_col.label("key")] if key_col is not None else []),
            u.c.status,
            func.count(),
            func.sum(area),
        )
        .select_from(u.join(b, b.c.id == u.c.building_id).join(p, p.c.id == b.c.project_id))
        .where(u.c.status.in_(unsold))
        .group_by(*([key_col] if key_col is not None else []), u.c.status)
    )
    table: dict[str, dict[str, Any]] = {}
    for r in conn.execute(query).all():
        key = str(r[0]) if key_col is not None else ""
        status, count, total = r[-3], int(r[-2]), Decimal(str(r[-1] or 0))
        row = table.setdefault(key, {"NOT_RELEASED": 0, "AVAILABLE": 0, "RESERVED": 0, "area": 0})
        row[status] = count
        if status != "NOT_RELEASED":
            row["area"] += total
    return [
        StockRow(
            k,
            v["NOT_RELEASED"],
            v["AVAILABLE"],
            v["RESERVED"],
            Decimal(v["area"]).quantize(CENT),
        )
        for k, v in sorted(table.items())
    ]


@dataclass(frozen=True)
class FundTotals:
    """Money under supervision (资金监管), by the filings' transaction kind: what banks
    confirmed deposited, released to sellers and refunded to buyers, and what they hold."""

    key: str  # the transaction kind, or "" for all
    accounts: int
    deposited_fen: int
    released_fen: int
    refunded_fen: int

    @property
    def held_fen(self) -> int:
        return self.deposited_fen - self.released_fen - self.refunded_fen

    def as_dict(self) -> dict[str, Any]:
        def yuan(fen: int) -> str:
            return str((Decimal(fen) * CENT).quantize(CENT))

        return {
            "key": self.key,
            "accounts": self.accounts,
            "deposited": yuan(self.deposited_fen),
            "released": yuan(self.released_fen),
            "refunded": yuan(self.refunded_fen),
            "held": yuan(self.held_fen),
        }


def funds(conn: Connection, by: Dimension) -> list[FundTotals]:
    """Supervised money in total (``Dimension.ALL``) or by transaction kind."""
    if by not in (Dimension.ALL, Dimension.KIND):
        raise DimensionNotApplicable("supervised money is counted in all or by kind")
    e, f = fund_events, schema.filings
    key = f.c.kind if by is Dimension.KIND else None
    query = (
        select(
            *([key.label("key")] if key is not None else []),
            e.c.kind,
            func.count(func.distinct(e.c.filing_number)),
            func.sum(e.c.amount_fen),
        )
        .select_from(e.join(f, f.c.number == e.c.filing_number))
        .group_by(*([key] if key is not None else []), e.c.kind)
    )
    table: dict[str, dict[str, int]] = {}
    accounts: dict[str, int] = {}
    for r in conn.execute(query).all():
        k = str(r[0]) if key is not None else ""
        kind, count, total = str(r[-3]), int(r[-2]), int(r[-1] or 0)
        table.setdefault(k, {})[kind] = total
        if kind == FundEventKind.DEPOSIT.value:
            accounts[k] = count
    return [
        FundTotals(
            k,
            accounts.get(k, 0),
            sums.get(FundEventKind.DEPOSIT.value, 0),
            sums.get(FundEventKind.RELEASE.value, 0),
            sums.get(FundEventKind.REFUND.value, 0),
        )
        for k, sums in sorted(table.items())
    ]
