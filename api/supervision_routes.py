"""Supervision: statistics for the authority, scoped reads for departments, courts' evidence."""

# No ``from __future__ import annotations``: FastAPI reads the local ``Who`` alias at runtime.

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api import auth
from api.auth import Caller, Role, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import disclosure, statistics
from filing.deployment import Deployment
from filing.service import FilingService
from filing.statistics import Dimension, Period

STATS_ROLES = (Role.AUTHORITY, Role.DEPARTMENT)


def _table(rows: list[dict[str, Any]], fmt: str, name: str) -> Response:
    if fmt == "json":
        return JSONResponse(rows)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def router(deployment: Deployment, service: FilingService, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["supervision"])
    engine = service.engine
    Who = Annotated[Caller, Depends(auth.dependency(engine, limiter))]
    Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to export")]

    @r.get(
        "/stats/filings",
        summary="Filed units, area, value, price per m² and cancellations",
        description="Grouped by period (day, month, year; omit for the whole range) and by "
        "district, project, use or all; days are China Standard Time. `format=csv` exports.",
    )
    def stats_filings(
        who: Who,
        period: Period | None = None,
        by: Dimension = Dimension.DISTRICT,
        start: Annotated[dt.date | None, Query(alias="from")] = None,
        end: Annotated[dt.date | None, Query(alias="to")] = None,
        district: Annotated[str | None, Query(max_length=100)] = None,
        format: Format = "json",
    ) -> Response:
        require(who, *STATS_ROLES)
        with engine.connect() as conn:
            rows = statistics.filings(conn, period, by, start, end, district)
        return _table([row.as_dict() for row in rows], format, "filings")

    @r.get("/stats/stock", summary="Unsold stock: units not released, available, reserved")
    def stats_stock(
        who: Who, by: Dimension = Dimension.DISTRICT, format: Format = "json"
    ) -> Response:
        require(who, *STATS_ROLES)
        with engine.connect() as conn:
            rows = statistics.stock(conn, by)
        return _table([row.as_dict() for row in rows], format, "stock")

    @r.get(
        "/tax/filings",
        summary="Tax: filed contracts with price, area and parties (paged by filing number)",
    )
    def tax_filings(
        who: Who,
        start: Annotated[dt.date, Query(alias="from")],
        end: Annotated[dt.date, Query(alias="to")],
        after: Annotated[str, Query(max_length=32, description="the last number seen")] = "",
        format: Format = "json",
    ) -> Response:
        require(who, Role.TAX)
        if end < start:
            raise Problem(422, "bad-period", "The period ends before it starts", f"{start}..{end}")
        with engine.begin() as conn:
            rows = disclosure.tax_view(conn, start, end, after)
            auth.record_access(conn, who, "tax-read-filings", f"{start}..{end} after {after!r}")
        if format == "csv":
            flat = [
                {k: v for k, v in row.items() if k not in ("seller", "buyers")}
                | {"seller_name": row["seller"]["name"], "seller_id": row["seller"]["id_number"]}
                | {"buyers": "; ".join(f"{b['name']} {b['id_number']}" for b in row["buyers"])}
                for row in rows
            ]
            return _table(flat, "csv", "tax-filings")
        return JSONResponse(rows)

    @r.get(
        "/loans/filings/{number}",
        summary="Banks and the provident fund: is this filing in force? (no personal data)",
    )
    def loan_filing(number: str, who: Who) -> dict[str, Any]:
        require(who, Role.BANK, Role.AUTHORITY)
        with engine.begin() as conn:
            view = disclosure.loan_view(conn, number)
            auth.record_access(conn, who, "loan-read-filing", number)
        if view is None:
            raise Problem(404, "unknown-filing", "Unknown filing", number)
        return view

    @r.get(
        "/court/filings/{number}/evidence",
        summary="A court's evidence package (ZIP) that wangqian-verify checks as it is",
        response_class=Response,
    )
    def evidence(number: str, who: Who) -> Response:
        require(who, Role.COURT, Role.AUTHORITY)
        with engine.begin() as conn:
            package = disclosure.evidence_package(deployment, conn, number)
            auth.record_access(conn, who, "court-read-evidence", number)
        if package is None:
            raise Problem(404, "unknown-filing", "Unknown filing or not yet logged", number)
        return Response(
            package,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{number}.zip"'},
        )

    return r
