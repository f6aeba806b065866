"""Supervision: statistics for the authority, scoped reads for departments, courts' evidence."""

# No ``from __future__ import annotations``: FastAPI reads the local ``Who`` alias at runtime.

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import auth, charts
from api.auth import Caller, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import policy, statistics
from filing.platform import Platform
from filing.relay import AddressRefused, Targets
from filing.statistics import Dimension, Period
from filing.supervision import UnknownSubscription


class WebhookIn(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=500,
        examples=["https://tax.example/wangqian"],
        description="http or https; not to an internal address (422 webhook-address-refused)",
    )
    from_event: int | None = Field(
        default=None, ge=0, description="deliver events after this id (default: from now on)"
    )


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


def router(platform: Platform, limiter: RateLimiter, targets: Targets) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["supervision"])
    supervision = platform.supervision
    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]

    Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to export")]

    @r.get(
        "/stats/filings",
        summary="Filed units, area, value, price per m² and cancellations",
        description="Grouped by period (day, month, year; omit for the whole range) and by "
        "district, project, use, kind or all; days are China Standard Time. `format=csv` "
        "exports. Sales by default (by kind: every kind); `leases=true`: the lease filings "
        "(租赁备案) instead, `area_m2` the space leased and `value` the monthly rents.",
    )
    def stats_filings(
        who: Who,
        period: Period | None = None,
        by: Dimension = Dimension.DISTRICT,
        start: Annotated[dt.date | None, Query(alias="from")] = None,
        end: Annotated[dt.date | None, Query(alias="to")] = None,
        district: Annotated[str | None, Query(max_length=100)] = None,
        format: Format = "json",
        leases: bool = False,
    ) -> Response:
        require(who, *policy.SEES_STATISTICS)
        rows = supervision.filings(period, by, start, end, district, leases)
        return _table([row.as_dict() for row in rows], format, "filings")

    @r.get(
        "/stats/charts/{chart}.svg",
        summary="Dashboard charts: monthly trend, districts, unsold stock, leases (SVG)",
        description="`leases`: lease filings (租赁备案) per month, the month still running "
        "marked; `rents`: the average monthly rent of the leases filed, by district (元).",
        response_class=Response,
    )
    def chart(
        chart: Literal["trend", "districts", "stock", "leases", "rents"],
        who: Who,
        start: Annotated[dt.date | None, Query(alias="from")] = None,
        end: Annotated[dt.date | None, Query(alias="to")] = None,
    ) -> Response:
        require(who, *policy.SEES_STATISTICS)
        if chart in ("trend", "leases"):
            leases = chart == "leases"
            rows = supervision.filings(Period.MONTH, Dimension.ALL, start, end, leases=leases)
            today = supervision.today()
            last_day = min(end, today) if end is not None else today
            svg = charts.line_chart(
                "每月租赁备案件数 Leases filed per month"
                if leases
                else "每月备案套数 Filings per month",
                [r.period for r in rows],
                [r.filings for r in rows],
                partial_last=bool(rows)
                and statistics.period_is_partial(Period.MONTH, rows[-1].period, last_day),
            )
        elif chart == "rents":
            # Districts with leases filed in the range (a row may hold only cancellations).
            rows = [
                r
                for r in supervision.filings(None, Dimension.DISTRICT, start, end, leases=True)
                if r.filings
            ]
            svg = charts.bar_chart(
                "各区平均月租金（元）Average monthly rent by district",
                [r.key for r in rows],
                [r.value / r.filings for r in rows],
            )
        elif chart == "districts":
            rows = supervision.filings(None, Dimension.DISTRICT, start, end)
            svg = charts.bar_chart(
                "各区备案面积（m²）Filed area by district",
                [r.key for r in rows],
                [r.area_m2 for r in rows],
            )
        else:
            stock = supervision.stock(Dimension.DISTRICT)
            svg = charts.bar_chart(
                "各区可售库存（套）Unsold units by district",
                [s.key for s in stock],
                [s.available + s.reserved for s in stock],
            )
        return Response(svg, media_type="image/svg+xml")

    @r.get("/stats/stock", summary="Unsold stock: units not released, available, reserved")
    def stats_stock(
        who: Who, by: Dimension = Dimension.DISTRICT, format: Format = "json"
    ) -> Response:
        require(who, *policy.SEES_STATISTICS)
        try:
            rows = supervision.stock(by)
        except statistics.DimensionNotApplicable as exc:
            raise Problem(422, "bad-dimension", "Not a dimension of stock", str(exc)) from exc
        return _table([row.as_dict() for row in rows], format, "stock")

    @r.get(
        "/stats/funds",
        summary="Supervised money (资金监管): deposited, released, refunded and held",
        description="In all (`by=all`) or by the filings' transaction kind (`by=kind`), in "
        "yuan; `accounts` counts the supervision accounts with a deposit. `format=csv` exports.",
    )
    def stats_funds(who: Who, by: Dimension = Dimension.ALL, format: Format = "json") -> Response:
        require(who, *policy.SEES_STATISTICS)
        try:
            rows = supervision.funds(by)
        except statistics.DimensionNotApplicable as exc:
            raise Problem(422, "bad-dimension", "Not a dimension of this figure", str(exc)) from exc
        return _table([row.as_dict() for row in rows], format, "funds")

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
        require(who, *policy.READS_TAX_VIEW)
        if end < start:
            raise Problem(422, "bad-period", "The period ends before it starts", f"{start}..{end}")
        rows = supervision.tax_filings(who, start, end, after)
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
        require(who, *policy.READS_LOAN_VIEW)
        view = supervision.loan_filing(who, number)
        if view is None:
            raise Problem(404, "unknown-filing", "Unknown filing", number)
        return view

    @r.get(
        "/court/filings/{number}/evidence",
        summary="A court's evidence package (ZIP) that wangqian-verify checks as it is",
        response_class=Response,
    )
    def evidence(number: str, who: Who) -> Response:
        require(who, *policy.READS_EVIDENCE)
        package = supervision.evidence(who, number)
        if package is None:
            raise Problem(404, "unknown-filing", "Unknown filing or not yet logged", number)
        return Response(
            package,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{number}.zip"'},
        )

    @r.post(
        "/webhooks",
        status_code=201,
        summary="Subscribe to filing events (filed, changed, cancelled) by signed webhook",
        description="A developer's subscription receives the events of its own filings only, "
        "an agency's those of the resales naming its brokerage. "
        "Each event is POSTed as JSON with `X-Wangqian-Event-Id`, "
        "`X-Wangqian-Timestamp` and `X-Wangqian-Signature: sha256=<hex HMAC-SHA256(secret, "
        "timestamp + '.' + body)>`; answer 2xx. Events go in order; failures are retried with "
        "exponential backoff and dead-lettered after 8 attempts. The secret is shown once. "
        "Internal addresses (loopback, private, link-local, metadata, …) are refused, now "
        "and at every delivery, unless config.json's `webhook_allow` names them.",
    )
    def subscribe(body: WebhookIn, who: Who) -> JSONResponse:
        require(who, *policy.SUBSCRIBES)
        try:
            targets.check_registration(body.url)
        except AddressRefused as exc:
            raise Problem(
                422, "webhook-address-refused", "Webhooks cannot go to this address", str(exc)
            ) from exc
        # A developer's (an agency's) subscription carries its own filings' events only.
        sub = supervision.subscribe(who.org, body.url, body.from_event, policy.event_scope(who))
        return JSONResponse(
            {"id": sub.id, "url": sub.url, "secret": sub.secret, "from_event": sub.cursor},
            status_code=201,
        )

    @r.get("/webhooks", summary="Your webhook subscriptions and how far each has got")
    def webhooks(who: Who) -> list[dict[str, Any]]:
        require(who, *policy.SUBSCRIBES)
        subs = supervision.subscriptions(who.org)
        return [{"id": s.id, "url": s.url, "delivered_up_to": s.cursor} for s in subs]

    def unknown_webhook(exc: UnknownSubscription) -> Problem:
        return Problem(404, "unknown-webhook", "No such subscription of yours", str(exc))

    @r.get("/webhooks/{sub_id}/dead-letters", summary="Events given up on after every retry")
    def dead_letters(sub_id: int, who: Who) -> list[dict[str, Any]]:
        require(who, *policy.SUBSCRIBES)
        try:
            return supervision.dead_letters(who.org, sub_id)
        except UnknownSubscription as exc:
            raise unknown_webhook(exc) from exc

    @r.post(
        "/webhooks/{sub_id}/dead-letters/{event_id}/redeliver",
        summary="Try a dead-lettered event once more",
    )
    def redeliver(sub_id: int, event_id: int, who: Who) -> dict[str, Any]:
        require(who, *policy.SUBSCRIBES)
        try:
            found = supervision.redeliver(who.org, sub_id, event_id)
        except UnknownSubscription as exc:
            raise unknown_webhook(exc) from exc
        if not found:
            raise Problem(404, "unknown-dead-letter", "No such dead letter", f"{event_id}")
        return {"id": sub_id, "event_id": event_id, "status": "REDELIVER"}

    return r
