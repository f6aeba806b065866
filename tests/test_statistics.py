"""Statistics against hand-computed fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Connection

from filing import registry, schema, statistics
from filing.migrations import revisions
from filing.statistics import Dimension, FilingFacts, Period
from filing.status import UnitEvent
from ledger.database import open_engine, write_transaction
from ledger.log import Log

D = Decimal
DEVELOPERS = {"甲园": "914301000000000001", "乙苑": "914301000000000002"}


def _unit(n: int, project: str, district: str, use: str, area: str) -> dict[str, str]:
    return {
        "project": project, "district": district, "address": f"{district}某路 {n} 号",
        "developer": f"{project}置业", "developer_id": DEVELOPERS.get(project, "9143"),
        "building": "1 栋",
        "code": f"4301040010{n:02d}GB00001F00010101", "floor": "1", "room": "101",
        "use": use, "forecast_building": area,
        "forecast_inner": str(Decimal(area) - Decimal("10.00")), "forecast_shared": "10.00",
    }  # fmt: skip


@pytest.fixture
def conn(db_url: str) -> Iterator[Connection]:
    engine = open_engine(db_url)
    revisions.prepare(engine)  # the deployment's schema, as Deployment.open makes it
    log = Log(engine)
    with write_transaction(engine) as c:
        registry.import_inventory(
            c,
            [
                _unit(1, "甲园", "岳麓区", "住宅", "100.00"),
                _unit(2, "甲园", "岳麓区", "住宅", "120.00"),
                _unit(3, "乙苑", "天心区", "商业", "50.00"),
                _unit(4, "乙苑", "天心区", "住宅", "90.00"),
            ],
            "authority",
        )
        yield c
    log.close()


def _project(c: Connection, name: str) -> int:
    return int(c.execute(schema.projects.select().where(schema.projects.c.name == name)).one().id)


def test_filings_by_period_and_dimension_match_hand_computed_totals(conn: Connection) -> None:
    jia, yi = _project(conn, "甲园"), _project(conn, "乙苑")
    nov1, nov2, dec1 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 12, 1)
    filed = [
        FilingFacts(nov1, "岳麓区", jia, "住宅", D("100.00"), D("1500000.00"), "new-presale"),
        FilingFacts(nov1, "岳麓区", jia, "住宅", D("120.00"), D("1680000.00"), "new-presale"),
        FilingFacts(nov2, "天心区", yi, "商业", D("50.00"), D("1000000.00"), "new-completed"),
        FilingFacts(dec1, "天心区", yi, "住宅", D("90.00"), D("990000.00"), "resale"),
    ]
    for f in filed:
        statistics.record(conn, f)
    # The second 岳麓区 filing is cancelled in December.
    statistics.record(
        conn,
        FilingFacts(dec1, "岳麓区", jia, "住宅", D("120.00"), D("1680000.00"), "new-presale"),
        True,
    )

    [whole] = statistics.filings(conn, None, Dimension.ALL)
    assert (whole.filings, whole.area_m2, whole.value) == (4, D("360.00"), D("5170000.00"))
    assert (whole.cancellations, whole.cancelled_area_m2) == (1, D("120.00"))
    assert whole.avg_price_m2 == D("14361.11")  # 5,170,000 / 360

    by_month = statistics.filings(conn, Period.MONTH, Dimension.DISTRICT)
    assert [
        (r.period, r.key, r.filings, r.area_m2, r.value, r.cancellations) for r in by_month
    ] == [
        ("2026-11", "天心区", 1, D("50.00"), D("1000000.00"), 0),
        ("2026-11", "岳麓区", 2, D("220.00"), D("3180000.00"), 0),
        ("2026-12", "天心区", 1, D("90.00"), D("990000.00"), 0),
        ("2026-12", "岳麓区", 0, D("0.00"), D("0.00"), 1),
    ]
    assert by_month[1].avg_price_m2 == D("14454.55")  # 3,180,000 / 220

    by_use = statistics.filings(conn, Period.YEAR, Dimension.USE)
    assert [(r.period, r.key, r.filings, r.value) for r in by_use] == [
        ("2026", "住宅", 3, D("4170000.00")),
        ("2026", "商业", 1, D("1000000.00")),
    ]
    by_project = statistics.filings(conn, Period.DAY, Dimension.PROJECT, start=nov2)
    assert [(r.period, r.key, r.filings) for r in by_project] == [
        ("2026-11-02", "乙苑", 1),
        ("2026-12-01", "乙苑", 1),
        ("2026-12-01", "甲园", 0),
    ]
    by_kind = statistics.filings(conn, None, Dimension.KIND)
    assert [(r.key, r.filings, r.value, r.cancellations) for r in by_kind] == [
        ("new-completed", 1, D("1000000.00"), 0),
        ("new-presale", 2, D("3180000.00"), 1),
        ("resale", 1, D("990000.00"), 0),
    ]
    with pytest.raises(statistics.DimensionNotApplicable):
        statistics.stock(conn, Dimension.KIND)  # unsold units have no kind yet
    only = statistics.filings(conn, None, Dimension.PROJECT, district="天心区", end=nov2)
    assert [(r.key, r.filings, r.area_m2) for r in only] == [("乙苑", 1, D("50.00"))]
    assert statistics.filings(conn, Period.MONTH, Dimension.ALL, start=dt.date(2030, 1, 1)) == []


def test_unsold_stock_counts_units_by_status_and_area(conn: Connection) -> None:
    codes = [_unit(n, "", "", "", "20.00")["code"] for n in (1, 2, 3, 4)]
    registry.apply(conn, codes[0], UnitEvent.RELEASE, "dev", "开盘")
    registry.apply(conn, codes[1], UnitEvent.RELEASE, "dev", "开盘")
    registry.apply(conn, codes[1], UnitEvent.RESERVE, "dev", "draft", reserved_for="c1")
    registry.apply(conn, codes[2], UnitEvent.RELEASE, "dev", "开盘")
    by_district = statistics.stock(conn, Dimension.DISTRICT)
    assert [r.as_dict() for r in by_district] == [
        {
            "key": "天心区",
            "not_released": 1,
            "available": 1,
            "reserved": 0,
            "unsold_area_m2": "50.00",
        },
        {
            "key": "岳麓区",
            "not_released": 0,
            "available": 1,
            "reserved": 1,
            "unsold_area_m2": "220.00",
        },
    ]
    [everything] = statistics.stock(conn, Dimension.ALL)
    assert (everything.available, everything.reserved, everything.unsold_area_m2) == (
        2,
        1,
        D("270.00"),
    )


def test_city_days_are_china_standard_time() -> None:
    late = dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)  # 01:30 on 1 December in Changsha
    assert statistics.city_day(late) == dt.date(2026, 12, 1)


def test_a_period_still_running_is_partial() -> None:
    day = dt.date(2026, 12, 1)
    assert statistics.period_is_partial(Period.MONTH, "2026-12", day)
    assert not statistics.period_is_partial(Period.MONTH, "2026-11", day)
    assert not statistics.period_is_partial(Period.MONTH, "2026-11", dt.date(2026, 11, 30))
    assert statistics.period_is_partial(Period.MONTH, "2026-02", dt.date(2026, 2, 27))
    assert not statistics.period_is_partial(Period.MONTH, "2026-02", dt.date(2026, 2, 28))
    assert statistics.period_is_partial(Period.YEAR, "2026", day)
    assert not statistics.period_is_partial(Period.YEAR, "2026", dt.date(2026, 12, 31))
    assert not statistics.period_is_partial(Period.DAY, "2026-12-01", day)  # a day is whole
    assert not statistics.period_is_partial(Period.MONTH, "2027-01", day)  # not begun


def test_the_trend_chart_draws_a_running_month_as_to_date() -> None:
    from api.charts import line_chart

    whole = line_chart("t", ["2026-10", "2026-11", "2026-12"], [40, 42, 3])
    partial = line_chart("t", ["2026-10", "2026-11", "2026-12"], [40, 42, 3], partial_last=True)
    assert "partial" not in whole
    assert 'class="partial"' in partial and "stroke-dasharray" in partial
    assert "2026-12 未满一期" in partial
    assert partial.count('fill="#ffffff" stroke=') == 1  # the running month's point is hollow
