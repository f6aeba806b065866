"""Maintenance funds (住宅专项维修资金) over HTTP (/v1): the designated bank's deposits and
refunds, the authority's uses of funds, a unit's account, the totals."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import auth, idempotency
from api.auth import Caller, require
from api.filing_routes import wait_for_receipt
from api.fund_routes import STATUS as FUND_STATUS
from api.fund_routes import TITLES as FUND_TITLES
from api.fund_routes import StatementIn, decoded
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import policy
from filing.deployment import Deployment
from filing.fund_service import FundError
from filing.maintenance_service import (
    DepositView,
    MaintenanceError,
    MaintenanceService,
    RefundView,
    UnknownUnit,
    UseView,
)
from filing.platform import Platform

# HTTP status and title of each refusal of its own; the problem's type is the slug.
STATUS = {
    **FUND_STATUS,
    "unknown-unit": 404,
    "no-maintenance-due": 409,
    "maintenance-overpaid": 409,
    "duplicate-use": 409,
    "bad-use": 422,
}
TITLES = {
    **FUND_TITLES,
    "unknown-unit": "Unknown unit",
    "no-maintenance-due": "No maintenance fund is due under this filing",
    "maintenance-overpaid": "More than the amount due",
    "insufficient-balance": "Insufficient balance",
    "duplicate-use": "Use of funds already recorded",
    "bad-use": "Not a use of funds the platform records",
}


class DebitIn(BaseModel):
    unit: str = Field(min_length=28, max_length=28, description="不动产单元代码")
    amount_fen: int = Field(gt=0, le=10**15)


class UseIn(BaseModel):
    number: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[\x21-\x7e]+$",
        description="the repair's number (维修项目编号)",
    )
    approval: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the owners' approval it rests on (业主大会决议 reference)",
    )
    debits: list[DebitIn] = Field(min_length=1, max_length=500)


def router(deployment: Deployment, platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["maintenance funds"])
    service: MaintenanceService = platform.maintenance
    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(who: Caller, key: str | None, raw: bytes, work: Any, render: Any) -> Response:
        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        return idempotency.run_once(platform.idempotency, who, key, raw, work, render, lease)

    def problem(exc: FundError | MaintenanceError) -> Problem:
        slug = exc.slug
        return Problem(STATUS.get(slug, 409), slug, TITLES.get(slug, "Refused"), str(exc))

    def record(number: str, kind: str, data: StatementIn, who: Caller, key: str | None) -> Response:
        """A statement of the designated bank (``kind``: deposit or refund)."""
        require(who, *policy.CONFIRMS_FUNDS)
        statement, signature, certificate = decoded(data)
        work = service.deposit if kind == "deposit" else service.refund

        def run() -> DepositView | RefundView:
            try:
                return work(number, statement, signature, certificate, who.org)
            except (FundError, MaintenanceError) as exc:
                raise problem(exc) from exc

        def answer(view: DepositView | RefundView, live: bool) -> Response:
            body = view.as_dict()
            body["receipt"] = wait_for_receipt(deployment, view.log_index) if live else None
            return JSONResponse(body, status_code=201)

        # The deposit's key stays what it was; a refund's names its kind.
        prefix = f"{number}\n" if kind == "deposit" else f"{number}\n{kind}\n"
        return once(who, key, prefix.encode() + data.model_dump_json().encode(), run, answer)

    @r.post(
        "/filings/{number}/maintenance/deposits",
        status_code=201,
        summary="维修资金: the designated bank confirms a deposit of the unit's maintenance fund",
        description="Body: the bank's signed statement (kind `maintenance-deposit`, "
        "`account`: the unit's code). Only the bank the rule set designates, only while "
        "the filing is in force, and no more than its amount due. Log entry "
        "`maintenance-deposited`; the registration waits until the amount due is deposited.",
    )
    def deposit(number: str, data: StatementIn, who: Who, key: Key = None) -> Response:
        return record(number, "deposit", data, who, key)

    @r.post(
        "/filings/{number}/maintenance/refunds",
        status_code=201,
        summary="维修资金: the designated bank refunds a cancelled filing's deposits to its buyer",
        description="Body: the bank's signed statement (kind `maintenance-refund`, "
        "`account`: the unit's code). Only the bank the rule set designated, only once the "
        "filing is cancelled, all that remains of its deposits (less what uses spent of "
        "them while it was in force), once. Log entry `maintenance-refunded`; the unit's "
        "balance drops by it, and the next filing on the unit owes its full amount.",
    )
    def refund(number: str, data: StatementIn, who: Who, key: Key = None) -> Response:
        return record(number, "refund", data, who, key)

    @r.post(
        "/maintenance/uses",
        status_code=201,
        summary="维修资金: record a use of funds the owners approved, debiting the units it names",
        description="The authority records it; every named unit's balance must cover its "
        "debit, else nothing is recorded (a balance never goes negative). One log entry "
        "`maintenance-used` per unit, carrying the SHA-256 of the canonical use record.",
    )
    def use(data: UseIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.RECORDS_MAINTENANCE_USES)
        debits = [(d.unit, d.amount_fen) for d in data.debits]

        def run() -> UseView:
            try:
                return service.use(data.number, data.approval, debits, who.org)
            except MaintenanceError as exc:
                raise problem(exc) from exc

        def answer(view: UseView, live: bool) -> Response:
            return JSONResponse(view.as_dict(), status_code=201)

        return once(who, key, data.model_dump_json().encode(), run, answer)

    @r.get(
        "/units/{code}/maintenance",
        summary="维修资金: a unit's balance, amounts due and events",
        description="Its owners of record (the fund moves with the unit: after a resale the "
        "new owners, not the sellers); the buyer of a purchase whose fund is due (filed, "
        "not yet registered) or held for her refund (cancelled after a deposit, not yet "
        "refunded); the authority, departments, courts, and the bank that keeps it. No names.",
    )
    def account(code: str, who: Who) -> dict[str, Any]:
        require(who, *policy.READS_MAINTENANCE_ACCOUNTS)
        try:
            if not service.readable(code, who):
                raise Problem(403, "forbidden", "Not an owner, a department or its bank")
            view = service.account(code)
        except UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        return view.as_dict()

    @r.get(
        "/stats/maintenance",
        summary="维修资金: amounts due, deposited, used, and the balance held (in fen)",
    )
    def totals(who: Who) -> dict[str, Any]:
        require(who, *policy.SEES_MAINTENANCE_TOTALS)
        return service.totals()

    return r
