"""demo-city and the authority's dashboard, in headless Chromium with screenshot checks."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api import auth
from api.demo_city import CityExists, CitySize, generate
from filing import api_keys, schema, statistics
from filing.deployment import Deployment
from filing.maintenance_schema import maintenance_dues, maintenance_events
from filing.statistics import Dimension, Period
from ledger.database import write_transaction
from tests.helpers import free_port, stop, wait_http, wangqian
from tests.test_pages import CHROMIUM, _share, browser

__all__ = ["browser"]  # the fixture
BAR = (0xC0, 0x39, 0x2B)
LINE = (0x1F, 0x5F, 0xA8)
SMALL = CitySize(projects_per_district=1, buildings_per_project=1, floors=6)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("city") / "data"
    made = generate(data, seed=7, size=SMALL)
    assert made["units"] == 6 * 6 * 3 + 6 * 12 and made["filings"] == int(108 * SMALL.sold_share)
    assert made["resales"] > 0  # their pipeline: tests/test_demo_city.py
    return data


def test_demo_city_is_consistent_and_refuses_a_second_run(city: Path) -> None:
    with Deployment.open(city) as d:
        with d.log.engine.connect() as conn:
            # Resales and leases: tests/test_demo_city.py.
            new_homes = schema.filings.c.kind.not_in(("resale", "lease"))
            filed = conn.execute(
                select(func.count()).select_from(schema.filings).where(new_homes)
            ).scalar()
            cancelled = conn.execute(
                select(func.count())
                .select_from(schema.filings)
                .where(new_homes, schema.filings.c.status == "CANCELLED")
            ).scalar()
            [total] = [
                row
                for row in statistics.filings(conn, None, statistics.Dimension.KIND)
                if row.key == "new-presale"
            ]
            by_month = statistics.filings(conn, statistics.Period.MONTH, statistics.Dimension.ALL)
            units_filed = conn.execute(
                select(func.count())
                .select_from(schema.units)
                .where(schema.units.c.status == "FILED")
            ).scalar()
            upkeep = conn.execute(select(func.count()).select_from(maintenance_events)).scalar()
            deposits = conn.execute(
                select(func.count()).where(maintenance_events.c.kind == "deposit")
            ).scalar()
            owing = conn.execute(select(func.count()).select_from(maintenance_dues)).scalar()
        assert total.filings == filed and total.cancellations == cancelled
        assert units_filed == filed - cancelled
        assert 10 <= len(by_month) <= 13  # a year of filings
        # One entry each, beside the resales' (filings, cancellations, transfers, funds) and
        # the leases' (filings, early ends, renewals, expiries).
        with d.log.engine.connect() as conn:
            resale_entries = conn.execute(
                select(func.count())
                .select_from(schema.filing_events)
                .join(
                    schema.filings, schema.filings.c.number == schema.filing_events.c.filing_number
                )
                .where(schema.filings.c.kind.in_(("resale", "lease")))
            ).scalar()
        assert d.log.appended() == filed + cancelled + resale_entries + upkeep
        # 住宅专项维修资金: most of those owing deposited, one building's repair debited.
        assert 0 < deposits <= owing <= filed and upkeep > deposits
        # Filed through the platform's own filing transaction: its numbers, in date order
        # per year, and an outbox event for every log entry.
        with d.log.engine.connect() as conn:
            numbered = conn.execute(
                select(schema.filings.c.number, schema.filings.c.filed_at).order_by(
                    schema.filings.c.log_index
                )
            ).all()
            events = conn.execute(select(func.count()).select_from(schema.outbox)).scalar()
        years: dict[str, int] = {}
        for number, filed_at in numbered:
            years[str(filed_at.year)] = years.get(str(filed_at.year), 0) + 1
            assert number == f"CS-{filed_at.year}-{years[str(filed_at.year)]:06d}"
        assert events == d.log.appended()
    with pytest.raises(CityExists):
        generate(city, size=SMALL)


@pytest.fixture(scope="module")
def dashboard(city: Path) -> Iterator[tuple[str, str]]:
    with Deployment.open(city) as d, write_transaction(d.log.engine) as conn:
        key = api_keys.create_key(conn, "长沙市住房和城乡建设局", auth.Role.AUTHORITY)
    port = free_port()
    proc = wangqian("serve", "--insecure-dev-passphrase", "--data", str(city), "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/log/checkpoint", proc, timeout=60)
        yield url, key
    finally:
        stop(proc)


def test_the_dashboard_draws_trend_districts_stock_and_leases(
    city: Path, dashboard: tuple[str, str], browser: Any, tmp_path: Path
) -> None:
    url, key = dashboard
    assert Path(CHROMIUM).exists()
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{url}/dashboard#key={key}")
    page.wait_for_selector("body[data-state]", timeout=30_000)
    assert page.get_attribute("body", "data-state") == "READY"
    assert page.locator("#districts svg rect.bar").count() == 6
    assert page.locator("#stock svg rect.bar").count() == 6
    totals = page.locator("#totals").inner_text()
    assert "备案套数" in totals
    # Amounts as people read them: 亿元/万元 with the exact figure, separated, beside.
    assert re.search(r"成交金额 value\s+[\d,.]+ (亿|万)元（[\d,]+\.\d\d 元）", totals), totals
    assert "备案套数 · 新建商品房（预售）" in totals  # by transaction kind
    assert "备案套数 · 存量房" in totals  # demo-city's resales
    assert re.search(r"监管资金余额 funds held\s+[\d,.]+ (亿|万)元", totals), totals
    assert re.search(r"维修资金余额 maintenance funds held\s+[\d,.]+ (万元|元)", totals), totals
    # A month still running is drawn as to date, not as a collapse (demo-city files up to
    # today, so whether its last month is this one depends on the day).
    with Deployment.open(city) as d, d.log.engine.connect() as conn:
        last = statistics.filings(conn, Period.MONTH, Dimension.ALL)[-1].period
    today = statistics.city_day(dt.datetime.now(dt.UTC))
    running = last == today.strftime("%Y-%m") and (today + dt.timedelta(days=1)).day != 1
    note = page.locator("#trend svg .partial-note")
    assert note.count() == (1 if running else 0)
    if running:
        assert "未满一期" in (note.text_content() or "")  # an SVG node: no inner_text
    shots = {}
    for chart in ("trend", "districts", "stock"):
        shots[chart] = tmp_path / f"{chart}.png"
        page.locator(f"#{chart}").screenshot(path=str(shots[chart]))
    assert _share(shots["trend"], LINE) > 0.005, "no trend line drawn"
    assert _share(shots["trend"], BAR) < 0.001
    for chart in ("districts", "stock"):
        assert _share(shots[chart], BAR) > 0.2, f"no bars in the {chart} chart"
    # 租赁备案: leases filed per month and the average monthly rent by district, as the
    # statistics count them, amounts as people read them, the running month marked.
    with Deployment.open(city) as d, d.log.engine.connect() as conn:
        cells = statistics.filings(conn, Period.MONTH, Dimension.DISTRICT, leases=True)
        rented = [r for r in statistics.filings(conn, None, Dimension.DISTRICT, leases=True)]
    months = sorted({r.period for r in cells}, reverse=True)
    assert page.locator("#lease-months tr").count() == 1 + len(months)
    assert page.locator("#rents svg rect.bar").count() == len([r for r in rented if r.filings])
    districts = sorted({r.key for r in cells})
    sample = next(r for r in cells if r.filings)
    row = page.locator(f'#lease-months tr[data-month="{sample.period}"] td')
    shown = row.nth(1 + districts.index(sample.key)).inner_text()
    rent = sample.value / sample.filings
    assert shown == f"{sample.filings} 件 · 均 {rent:,.2f} 元", shown  # under 1 万元 a month
    running = months[0] == today.strftime("%Y-%m") and (today + dt.timedelta(days=1)).day != 1
    assert page.locator("#lease-months tr.partial").count() == (1 if running else 0)
    if running:
        assert "截至今日" in page.locator("#lease-months tr.partial").inner_text()
        assert page.locator("#leases svg .partial-note").count() == 1
    for chart in ("leases", "rents"):
        shots[chart] = tmp_path / f"{chart}.png"
        page.locator(f"#{chart}").screenshot(path=str(shots[chart]))
    assert _share(shots["leases"], LINE) > 0.005, "no lease line drawn"
    assert _share(shots["rents"], BAR) > 0.1, "no bars in the rents chart"
    # Without an authority or statistics key there is nothing to see.
    page.goto(f"{url}/dashboard#key=not-a-key")
    page.reload()
    page.wait_for_selector("body[data-state]", timeout=30_000)
    assert page.get_attribute("body", "data-state") == "ERROR"
    page.close()
