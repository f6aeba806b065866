"""Statistics benchmark: the dashboard's questions over 1,000,000 filings on PostgreSQL.

    python benchmarks/supervision.py [--filings 1000000] [--runs 7] [--pg URL] [--no-write]

In a scratch schema: the 楼盘表 (6 districts, 36 projects, the filings' units plus 10%
unsold), a year of filings, and ``filing_stats`` as the filing transactions keep it (one
row per day, district, project and use). Each question of ``filing/statistics.py`` is
timed (median of runs) beside the baseline of answering the same question from the raw
per-filing facts (a 1,000,000-row table with day, district, project, use, area, value),
in the same run. Aim: under 200 ms each. Rewrites the "Statistics" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics as stats
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from filing import statistics as filing_stats  # noqa: E402
from filing.migrations import revisions  # noqa: E402
from filing.statistics import Dimension, Period  # noqa: E402
from ledger.database import open_engine  # noqa: E402
from ledger.log import Log  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DISTRICTS = ("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区")

SETUP = """
INSERT INTO projects (id, name, district, address, developer, developer_id)
SELECT p, '项目' || p, (ARRAY{districts})[1 + (p - 1) % 6], '地址', '开发商', '91430100' || p
FROM generate_series(1, 36) AS p;
INSERT INTO buildings (id, project_id, name) SELECT b, 1 + (b - 1) % 36, b || ' 栋'
FROM generate_series(1, 72) AS b;
INSERT INTO units (building_id, code, floor, room, use, forecast_building, forecast_inner,
                   forecast_shared, status, flags, version, completed, mortgagee_consent)
SELECT 1 + u % 72, lpad(u::text, 28, '0'), 1 + u % 30, (u % 100)::text,
       CASE WHEN u % 10 = 0 THEN '商业' ELSE '住宅' END, 100.00, 80.00, 20.00,
       CASE WHEN u <= :filings THEN 'FILED'
            WHEN u % 10 < 7 THEN 'AVAILABLE' WHEN u % 10 < 9 THEN 'NOT_RELEASED'
            ELSE 'RESERVED' END, '', 0, false, false
FROM generate_series(1, :units) AS u;
CREATE TABLE raw_facts AS
SELECT u AS filing, (DATE '{start}' + ((u * 7919) % 365)::int) AS day,
       (ARRAY{districts})[1 + ((u % 72) % 36) % 6] AS district, 1 + (u % 72) % 36 AS project_id,
       CASE WHEN u % 10 = 0 THEN '商业' ELSE '住宅' END AS use,
       10000 AS area, ((9000 + (u * 31) % 6000) * 10000)::bigint AS value,
       (u % 33 = 0) AS cancelled
FROM generate_series(1::bigint, :filings) AS u;
INSERT INTO filing_stats
SELECT day, district, project_id, use, count(*), sum(area), sum(value),
       count(*) FILTER (WHERE cancelled), coalesce(sum(area) FILTER (WHERE cancelled), 0),
       coalesce(sum(value) FILTER (WHERE cancelled), 0)
FROM raw_facts GROUP BY day, district, project_id, use;
ANALYZE;
"""

BASELINES = {
    "by month and district, one year": "SELECT to_char(day, 'YYYY-MM'), district, count(*), "
    "sum(area), sum(value) FROM raw_facts GROUP BY 1, 2 ORDER BY 1, 2",
    "by project, whole range": "SELECT project_id, count(*), sum(area), sum(value) "
    "FROM raw_facts GROUP BY 1",
    "by use and year": "SELECT to_char(day, 'YYYY'), use, count(*), sum(area), sum(value) "
    "FROM raw_facts GROUP BY 1, 2",
    "by day, one district, one month": "SELECT day, count(*), sum(area), sum(value) "
    "FROM raw_facts WHERE district = '岳麓区' AND day BETWEEN :a AND :b GROUP BY 1",
    "city totals": "SELECT count(*), sum(area), sum(value) FROM raw_facts",
}


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return stats.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filings", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    name = f"bench_stats_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    url = f"{args.pg}?options=-csearch_path%3D{name}"
    start = dt.date.today() - dt.timedelta(days=365)
    month = (start + dt.timedelta(days=200)).replace(day=1)
    month_end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    try:
        engine = open_engine(url)
        revisions.prepare(engine)  # the deployment's schema, as Deployment.open makes it
        log = Log(engine)
        began = time.perf_counter()
        with engine.begin() as conn:
            districts = "[" + ",".join(f"'{d}'" for d in DISTRICTS) + "]"
            for statement in SETUP.format(districts=districts, start=start).split(";\n"):
                if statement.strip():
                    conn.execute(
                        text(statement),
                        {"filings": args.filings, "units": args.filings * 11 // 10},
                    )
        print(f"set up {args.filings:,} filings in {time.perf_counter() - began:.0f} s")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM filing_stats")).scalar()
            questions: dict[str, Callable[[], object]] = {
                "by month and district, one year": lambda: filing_stats.filings(
                    conn, Period.MONTH, Dimension.DISTRICT, start
                ),
                "by project, whole range": lambda: filing_stats.filings(
                    conn, None, Dimension.PROJECT
                ),
                "by use and year": lambda: filing_stats.filings(conn, Period.YEAR, Dimension.USE),
                "by day, one district, one month": lambda: filing_stats.filings(
                    conn, Period.DAY, Dimension.ALL, month, month_end, "岳麓区"
                ),
                "city totals": lambda: filing_stats.filings(conn, None, Dimension.ALL),
                "unsold stock by district": lambda: filing_stats.stock(conn, Dimension.DISTRICT),
                "unsold stock by project": lambda: filing_stats.stock(conn, Dimension.PROJECT),
            }
            results = []
            for label, ask in questions.items():
                ours = median_ms(ask, args.runs)
                base_sql = BASELINES.get(label)
                base = (
                    median_ms(
                        lambda sql=base_sql: conn.execute(
                            text(sql), {"a": month, "b": month_end}
                        ).all(),
                        args.runs,
                    )
                    if base_sql
                    else None
                )
                results.append((label, ours, base))
                ratio = f", raw facts {base:.1f} ms ({base / ours:.0f}x)" if base else ""
                print(f"{label}: {ours:.1f} ms{ratio}")
        log.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
    if args.no_write:
        return
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/supervision.py --filings "
        f"{args.filings} --runs {args.runs}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"PostgreSQL. {args.filings:,} filings over a year in 6 districts and 36 projects "
        f"({rows:,} rows of daily totals), {args.filings * 11 // 10:,} units. Median of "
        f"{args.runs} runs after a warm-up. Baseline: the same question answered from the "
        "raw per-filing facts (one row per filing) in the same run. Aim: under 200 ms each.",
        "",
        "| question | wangqian | raw facts | speed-up |",
        "| --- | --- | --- | --- |",
    ]
    for label, ours, base in results:
        base_text = f"{base:.1f} ms" if base else ""
        ratio = f"{base / ours:.0f}x" if base else ""
        lines.append(f"| {label} | {ours:.1f} ms | {base_text} | {ratio} |")
    write_section(REPO / "docs" / "benchmarks.md", "Statistics", "\n".join(lines))


if __name__ == "__main__":
    main()
