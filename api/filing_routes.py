"""The filing API (/v1): 楼盘表, contracts, signatures and filings, for each role."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import auth, idempotency, ownership_routes
from api.auth import Caller, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from api.resale_models import ResaleIn, resale_terms
from filing import departments, disclosure, drafting, policy, registry
from filing.checks import Reason
from filing.contracts import ContractView, FilingView, NotForYourRole, UnknownChange, UnknownFiling
from filing.deployment import Deployment
from filing.inventory import NotReleasable, NotYourUnit, PermitExists
from filing.invitations import SentInvitation
from filing.platform import Platform
from filing.service import (
    AgreementKind,
    ContractStateError,
    Drafted,
    Drafter,
    DuplicateContractNumber,
    FilingError,
    FilingRecord,
    InvitationsExhausted,
    JudgmentRequired,
    KindMismatch,
    NotADrafter,
    NotEligible,
    NotSellable,
    NotYourField,
    Registration,
    SealUnavailable,
    SignatureRejected,
    UnitTaken,
    UnknownContract,
    UnknownSignatureField,
)
from filing.status import (
    ContractStatus,
    FilingStatus,
    InvalidTransition,
    UnitEvent,
    UnitFlag,
    UnitStatus,
)
from keys.identity import IdentityRejected, VerifiedIdentity
from signing import remote
from signing.contract import ContractDataError, DisputeResolution, Escrow, PaymentMethod

RECEIPT_WAIT = 5.0


class BuyerIn(BaseModel):
    # No control characters: a name goes into the contract, and a newline there is no name.
    name: str = Field(pattern=ownership_routes.PLAIN, min_length=1, max_length=100)
    id_type: str = Field(pattern=ownership_routes.PLAIN, default="居民身份证", max_length=20)
    id_number: str = Field(pattern=ownership_routes.PLAIN, min_length=1, max_length=40)
    phone: str = Field(pattern=ownership_routes.PLAIN, default="", max_length=30)


class ContractIn(BaseModel):
    unit_code: str = Field(min_length=28, max_length=28, examples=["430104001001GB00001F00010203"])
    number: str = Field(
        pattern=ownership_routes.PLAIN, min_length=1, max_length=40, examples=["HT-2026-000001"]
    )
    buyers: list[BuyerIn] = Field(min_length=1, max_length=4)
    price: Decimal = Field(gt=0, lt=Decimal("1e12"), examples=["1422720.00"])
    payment_method: Literal["LUMP_SUM", "INSTALMENTS", "LOAN"] = "LOAN"
    down_payment: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("1e12"))
    loan_bank: str = Field(default="", max_length=100)
    escrow_bank: str = Field(min_length=1, max_length=100)
    escrow_account_name: str = Field(min_length=1, max_length=100)
    escrow_account_number: str = Field(min_length=1, max_length=40)
    delivery_date: dt.date
    late_payment_rate: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    late_delivery_rate: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    dispute: Literal["COURT", "ARBITRATION"] = "COURT"
    dispute_body: str = Field(min_length=1, max_length=100, examples=["长沙市岳麓区人民法院"])


class RemoteStartIn(BaseModel):
    public_key_pem: str = Field(
        min_length=1, max_length=4000, description="the device's P-256 public key"
    )
    name: str = Field(min_length=1, max_length=100)
    id_type: str = Field(default="居民身份证", max_length=20)
    id_number: str = Field(min_length=1, max_length=40)


class RemoteFinishIn(BaseModel):
    signature: str = Field(min_length=1, max_length=400, description="base64 DER ECDSA signature")


class PermitIn(BaseModel):
    number: str = Field(min_length=1, max_length=100)
    authority: str = Field(min_length=1, max_length=100)
    valid_from: dt.date
    valid_until: dt.date | None = None
    units: list[Annotated[str, Field(pattern="^[0-9A-Z]{28}$")]] = Field(
        min_length=1, max_length=10000, description="不动产单元代码 of the units it covers"
    )


PLAIN = ownership_routes.PLAIN  # no NUL or control characters (PostgreSQL refuses NUL)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field no correction may touch is refused

    room: str | None = Field(default=None, max_length=40, pattern=PLAIN, examples=["1102"])
    use: str | None = Field(default=None, max_length=40, pattern=PLAIN, examples=["住宅"])
    floor: int | None = Field(default=None, ge=-10, le=300)
    forecast_building: Decimal | None = Field(default=None, gt=0, lt=100000)
    forecast_inner: Decimal | None = Field(default=None, gt=0, lt=100000)
    forecast_shared: Decimal | None = Field(default=None, ge=0, lt=100000)
    reason: str = Field(min_length=1, max_length=200, pattern=PLAIN, examples=["测绘报告更正房号"])


class RegistrationIn(BaseModel):
    certificate: str = Field(
        pattern=ownership_routes.PLAIN,
        min_length=1,
        max_length=64,
        description="the 不动产权证书 number issued on registration",
        examples=["湘（2027）长沙市不动产权第 0012345 号"],
    )
    registered_on: dt.date | None = Field(
        default=None, description="the registration's day (default: today, Beijing time)"
    )
    shares: list[Annotated[str, Field(max_length=20, pattern=ownership_routes.PLAIN)]] | None = (
        Field(
            default=None,
            max_length=10,
            description="the buyers' shares in their order when they own by shares (按份共有), "
            'e.g. ["1/2", "1/2"]; without them two or more buyers own jointly (共同共有)',
        )
    )


class MeasuredUnitIn(BaseModel):
    code: str = Field(min_length=28, max_length=28, examples=["430104001001GB00001F00010203"])
    building: Decimal = Field(description="实测建筑面积 m²", examples=["118.20"])
    inner: Decimal = Field(description="实测套内建筑面积 m²", examples=["96.10"])
    shared: Decimal = Field(description="实测分摊共有建筑面积 m²", examples=["22.10"])


class CompletionIn(BaseModel):
    acceptance_record: str = Field(
        min_length=1,
        max_length=100,
        description="竣工验收备案号",
        examples=["长建竣备字（2027）第 0123 号"],
    )
    survey_report: str = Field(
        min_length=1,
        max_length=100,
        description="房产实测报告编号",
        examples=["长测（2027）第 0456 号"],
    )
    units: list[MeasuredUnitIn] = Field(min_length=1, max_length=10000)
    correction: str = Field(
        default="",
        max_length=500,
        description="why measured areas of reserved, filed or registered units change",
    )


class FlagIn(BaseModel):
    on: bool
    reason: str = Field(min_length=1, max_length=500)


# An agreement's free text is rendered into the document every party signs: no control
# characters (a NUL was kept on SQLite and refused on PostgreSQL), line breaks in the changes.
LINES = r"^[^\x00-\x09\x0b-\x1f\x7f]*$"


class CancellationIn(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=ownership_routes.PLAIN,
        examples=["买受人因工作调动，双方协商解除"],
    )


class ChangeIn(CancellationIn):
    changes: str = Field(
        min_length=1,
        max_length=4000,
        pattern=LINES,
        examples=["交付日期由 2028-06-30 变更为 2028-12-31。"],
    )


AgreementIn = CancellationIn | ChangeIn


def drafter_of(who: Caller) -> Drafter:
    """Who drafts a resale: a person (one of its sellers) or a brokerage."""
    if who.role is policy.Role.AGENCY:
        return Drafter(brokerage=who.org)
    return Drafter(person=who.org)


def filing_errors(exc: FilingError) -> Problem:
    """The problem+json of a refused step of the pipeline, whatever the kind."""
    if isinstance(exc, NotSellable):
        status = (
            409
            if any(
                f.reason
                in (
                    Reason.UNIT_RESERVED,
                    Reason.UNIT_ALREADY_FILED,
                    Reason.OTHER_LIVE_CONTRACT,
                    Reason.LEASE_OVERLAPS,  # another lease holds the space: a conflict
                )
                for f in exc.failures
            )
            else 422
        )
        return Problem(
            status,
            "unit-not-sellable",
            "房源核验 failed",
            str(exc),
            checks=[f.code for f in exc.failures],
            kind=None if exc.kind is None else exc.kind.value,
        )
    if isinstance(exc, KindMismatch):
        return Problem(409, "kind-mismatch", "Not the unit's transaction kind", str(exc))
    if isinstance(exc, NotEligible):
        return Problem(
            422,
            "buyer-not-eligible",
            "购房资格 failed",
            str(exc),
            # Only a developer drafts, so the answer is the developer's summary.
            decisions=[
                disclosure.eligibility_decision(json.loads(d.to_json()), sees_records=False)
                for d in exc.decisions
            ],
        )
    if isinstance(exc, UnitTaken):
        return Problem(409, "unit-taken", "Unit taken", str(exc))
    if isinstance(exc, SignatureRejected):
        return Problem(422, "signature-rejected", "Signature rejected", str(exc))
    if isinstance(exc, JudgmentRequired):
        return Problem(422, "judgment-required", "A judgment or decision is needed", str(exc))
    if isinstance(exc, InvitationsExhausted):
        return Problem(409, "too-many-invitations", "No more invitations", str(exc))
    if isinstance(exc, NotADrafter):
        return Problem(403, "not-a-drafter", "Not a drafter of this contract", str(exc))
    if isinstance(exc, NotYourField):
        return Problem(403, "not-your-field", "A party signs only for itself", str(exc))
    if isinstance(exc, UnknownSignatureField):
        return Problem(422, "unknown-signature-field", "No such signature field", str(exc))
    if isinstance(exc, SealUnavailable):
        return Problem(503, "filing-seal-unavailable", "Filing seal unavailable", str(exc))
    if isinstance(exc, UnknownContract):
        return Problem(404, "unknown-contract", "Unknown contract or filing", str(exc))
    if isinstance(exc, ContractStateError):
        return Problem(409, "contract-state", "Not possible in the contract's state", str(exc))
    if isinstance(exc, DuplicateContractNumber):
        return Problem(409, "duplicate-contract-number", "Contract number used before", str(exc))
    return Problem(422, "filing-refused", "Refused", str(exc))


def router(deployment: Deployment, platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["filing"])
    service = platform.service
    inventory = platform.inventory
    reads = platform.contracts

    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(
        who: Caller,
        key: str | None,
        raw: bytes,
        work: Any,
        render: idempotency.Render | None = None,
    ) -> Response:
        """Run ``work`` once per Idempotency-Key; its answer is stored with its work."""
        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        return idempotency.run_once(platform.idempotency, who, key, raw, work, render, lease)

    def filing_answer(record: FilingRecord | None, live: bool) -> Response:
        return filing_response(record, receipt=live)

    # -- 楼盘表 -----------------------------------------------------------

    @r.post(
        "/registry/import",
        status_code=201,
        summary="Import a 楼盘表 (CSV or JSON; all rows or none)",
    )
    async def import_registry(request: Request, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)
        raw = await request.body()  # bounded by api/limits.py
        media = request.headers.get("content-type", "text/csv").split(";")[0]

        def run() -> Response:
            try:
                count = inventory.import_rows(raw, media, who.org)
            except registry.ImportRejected as exc:
                raise Problem(
                    422,
                    "import-rejected",
                    "Rows rejected; nothing imported",
                    str(exc),
                    errors=[{"row": e.row, "message": e.message} for e in exc.errors],
                ) from exc
            return JSONResponse({"imported": count}, status_code=201)

        return await run_in_threadpool(once, who, key, raw, run)

    @r.post("/registry/permits", status_code=201, summary="Record a presale permit and its units")
    def add_permit(permit: PermitIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)

        def run() -> Response:
            try:
                pid = inventory.add_permit(
                    permit.number,
                    permit.authority,
                    permit.valid_from,
                    permit.valid_until,
                    permit.units,
                    who.org,
                )
            except registry.UnknownUnit as exc:
                raise Problem(422, "unknown-unit", "Unknown unit", str(exc)) from exc
            except PermitExists as exc:
                raise Problem(
                    409, "permit-exists", "Permit already recorded", permit.number
                ) from exc
            return JSONResponse({"id": pid, "number": permit.number}, status_code=201)

        return once(who, key, permit.model_dump_json().encode(), run)

    @r.post(
        "/projects/{project}/buildings/{building}/completion",
        status_code=201,
        summary="Record a building's completion (竣工验收) and its units' measured areas (实测)",
        description="All units listed or none: each of this building, once, with positive "
        "areas whose building area is inner + shared (±0.01), else 422 `bad-measurements` "
        "listing every problem. Every unit of the building is marked completed; a unit with "
        "measured areas is then sold 现售 (GF-2014-0172). Changing measured areas of a "
        "reserved, filed or registered unit is a correction: 409 `correction-required` "
        "unless `correction` gives the reason. Each change is in the unit's history "
        "(`GET /v1/units/{code}/measurements`: who, when, old and new areas).",
    )
    def record_completion(
        project: Annotated[int, Path(ge=1, le=2**31 - 1)],
        building: Annotated[int, Path(ge=1, le=2**31 - 1)],
        body: CompletionIn,
        who: Who,
        key: Key = None,
    ) -> Response:
        require(who, *policy.KEEPS_REGISTRY)

        def run() -> registry.CompletionRecord:
            try:
                return service.record_completion(
                    project,
                    building,
                    body.acceptance_record,
                    body.survey_report,
                    [(u.code, u.building, u.inner, u.shared) for u in body.units],
                    body.correction,
                    who.org,
                )
            except registry.UnknownBuilding as exc:
                raise Problem(404, "unknown-building", "Unknown building", str(exc)) from exc
            except registry.MeasurementsRejected as exc:
                raise Problem(
                    422,
                    "bad-measurements",
                    "Measured areas rejected; nothing recorded",
                    str(exc),
                    errors=[{"unit": e.code, "message": e.message} for e in exc.errors],
                ) from exc
            except registry.CorrectionRequired as exc:
                raise Problem(
                    409,
                    "correction-required",
                    "A correction needs its reason",
                    str(exc),
                    units=exc.codes,
                ) from exc
            except registry.StaleUnit as exc:
                raise Problem(409, "unit-changed", "A unit changed meanwhile", str(exc)) from exc

        def answer(record: registry.CompletionRecord, live: bool) -> Response:
            return JSONResponse(
                {
                    "completion": record.id,
                    "project": project,
                    "building": building,
                    "completed_units": record.completed_units,
                    "measured": list(record.changed),
                },
                status_code=201,
            )

        raw = body.model_dump_json().encode() + f"/{project}/{building}".encode()
        return once(who, key, raw, run, answer)

    @r.get(
        "/units/{code}/measurements",
        summary="A unit's measured areas as each completion record set them (old and new)",
    )
    def measurements(code: str, who: Who) -> list[dict[str, Any]]:
        try:
            rows = service.measurements(code)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        return [
            {k: _iso(v) if k == "at" else None if v is None else str(v) for k, v in row.items()}
            | {"completion": row["completion"]}
            for row in rows
        ]

    @r.post(
        "/departments/{kind}",
        status_code=201,
        summary="Load a department extract (CSV): replaces the kind's table, all rows or none",
        description="Formats in docs/api.md. A wrong header, no data rows or any bad row is "
        "a 422 `bad-extract` whose `errors` lists every problem (`row` 0: the file); nothing "
        "is changed. Each load is recorded (who, when, rows, SHA-256 of the file).",
    )
    async def load_department(
        kind: departments.ExtractKind, request: Request, who: Who, key: Key = None
    ) -> Response:
        require(who, *policy.KEEPS_REGISTRY)
        raw = await request.body()  # bounded by api/limits.py

        def run() -> Response:
            try:
                load = inventory.load_extract(kind, raw, who.org)
            except departments.DepartmentDataError as exc:
                raise Problem(
                    422,
                    "bad-extract",
                    "Department extract rejected; nothing loaded",
                    str(exc),
                    errors=[{"row": e.row, "message": e.message} for e in exc.errors],
                ) from exc
            return JSONResponse({"loaded": load.rows, "load": load.as_dict()}, status_code=201)

        return await run_in_threadpool(once, who, key, raw + kind.value.encode(), run)

    @r.get(
        "/departments/{kind}/loads",
        summary="The loads of a department extract, newest first (who, when, rows, SHA-256)",
    )
    def department_loads(
        kind: departments.ExtractKind, who: Who, limit: int = Query(100, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        require(who, *policy.KEEPS_REGISTRY)
        found = inventory.loads(kind, limit)
        return [load.as_dict() for load in found]

    @r.get("/units", summary="Units of the 楼盘表, by status")
    def list_units(
        who: Who,
        status: UnitStatus | None = None,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=2**62),
    ) -> list[dict[str, Any]]:
        rows = inventory.units(status, limit, offset)
        return [{**row, "forecast_building": str(row["forecast_building"])} for row in rows]

    @r.get(
        "/units/{code}",
        summary="A unit and its history",
        description="Buyers appear by name and ID number only to the authority, a court and "
        "the unit's own developer (each such read is in the access log); every other role "
        "sees `buyer:<pseudonym>` and no reason a party wrote.",
    )
    def get_unit(code: str, who: Who) -> dict[str, Any]:
        try:
            found = inventory.unit_history(code, who)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        shown: dict[str, Any] = json.loads(
            json.dumps(
                {"unit": found.unit, "history": found.history}, default=str, ensure_ascii=False
            )
        )
        return shown

    def unit_event(code: str, who: Caller, event: UnitEvent, reason: str, own: bool) -> Response:
        """Apply ``event`` to a unit (a developer only to its own when ``own``), on record."""
        try:
            status = inventory.apply(code, who, event, reason, own)
        except NotYourUnit as exc:
            raise Problem(403, "forbidden", "Not your project", code) from exc
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        except InvalidTransition as exc:
            raise Problem(
                409, "invalid-transition", "Not possible in this status", str(exc)
            ) from exc
        return JSONResponse({"code": code, "status": status.value})

    @r.post("/units/{code}/release", summary="Put a unit on sale (开盘)")
    def release(code: str, who: Who, key: Key = None) -> Response:
        require(who, *policy.RELEASES_UNITS)

        def run() -> Response:
            try:
                status = inventory.release(code, who)
            except NotReleasable as exc:
                raise Problem(
                    422,
                    "unit-not-releasable",
                    "A presale unit goes on sale only with a presale permit in force",
                    str(exc),
                    checks=[r.value for r in exc.reasons],
                    kind=exc.kind.value,
                ) from exc
            except NotYourUnit as exc:
                raise Problem(403, "forbidden", "Not your project", code) from exc
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            except InvalidTransition as exc:
                raise Problem(
                    409, "invalid-transition", "Not possible in this status", str(exc)
                ) from exc
            return JSONResponse({"code": code, "status": status.value})

        return once(who, key, code.encode(), run)

    @r.post(
        "/units/{code}/corrections",
        status_code=201,
        summary="Correct a unit's 楼盘表 data (room, use, floor, forecast areas), on record",
        description="The authority corrects what an import got wrong, while no contract states "
        "the unit's data (NOT_RELEASED or AVAILABLE); each change is in the unit's history with "
        "its old and new value and the reason. Measured areas change through a completion.",
    )
    def correct(code: str, body: CorrectionIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)
        changes = {
            f: str(v) for f, v in body.model_dump(exclude={"reason"}).items() if v is not None
        }

        def run() -> Response:
            try:
                done = inventory.correct(code, changes, body.reason, who.org)
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            except registry.UnitCorrectionRejected as exc:
                raise Problem(
                    422, "bad-correction", "Not a valid correction", str(exc), errors=exc.problems
                ) from exc
            except registry.UnitUnderContract as exc:
                raise Problem(409, "unit-under-contract", "A contract states it", str(exc)) from exc
            except registry.StaleUnit as exc:
                raise Problem(409, "unit-changed", "A unit changed meanwhile", str(exc)) from exc
            changed = {f: {"old": a, "new": b} for f, (a, b) in done.changed.items()}
            return JSONResponse({"code": code, "changed": changed}, status_code=201)

        return once(who, key, code.encode() + body.model_dump_json().encode(), run)

    @r.post(
        "/units/{code}/registration",
        summary="Record the registration of the filed purchase (不动产登记): → REGISTERED",
        description="A FILED new home (REGISTER) or a resale UNDER_CONTRACT (转移登记): the "
        "filing's buyers become the owners of record under the certificate given "
        "(`GET /v1/units/{code}/ownership`).",
    )
    def register(code: str, body: RegistrationIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)

        def run() -> Registration:
            try:
                return service.register(
                    code, body.certificate, who.org, body.registered_on, body.shares
                )
            except ownership_routes.REFUSED as exc:
                raise ownership_routes.ownership_problem(exc) from exc
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(done: Registration, live: bool) -> Response:
            body = ownership_routes.registration_answer(code, done.record)
            return JSONResponse({**body, "log_index": done.log_index})

        raw = code.encode() + body.certificate.encode()
        if body.registered_on is not None or body.shares is not None:
            raw += body.model_dump_json().encode()
        return once(who, key, raw, run, answer)

    @r.post(
        "/units/{code}/flags/{flag}", summary="Set or clear a blocking flag (查封, 抵押, 不可售)"
    )
    def flag(code: str, flag: UnitFlag, change: FlagIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.SETS_FLAGS)

        def run() -> Response:
            try:
                flags = inventory.set_flag(code, flag, change.on, who.org, change.reason)
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            return JSONResponse({"code": code, "flags": sorted(f.value for f in flags)})

        return once(
            who, key, change.model_dump_json().encode() + code.encode() + flag.value.encode(), run
        )

    # -- contracts ---------------------------------------------------------

    @contextmanager
    def visible(contract_id: str) -> Iterator[None]:
        """A contract the caller may not see is unknown to them, or forbidden to their role."""
        try:
            yield
        except UnknownContract as exc:
            raise Problem(404, "unknown-contract", "Unknown contract", contract_id) from exc
        except NotForYourRole as exc:
            raise Problem(403, "forbidden", "Not allowed for this role", str(exc)) from exc

    def contract_row(contract_id: str, who: Caller) -> ContractView:
        with visible(contract_id):
            return reads.contract(contract_id, who)

    def filing_response(
        record: FilingRecord | None, status: int = 200, receipt: bool = True
    ) -> JSONResponse:
        return signed_answer(deployment, record, status, receipt)

    @r.post(
        "/contracts", status_code=201, summary="Draft a contract: checks, rendering, reservation"
    )
    def draft(data: ContractIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.DRAFTS)

        def run() -> Drafted:
            return run_draft(lambda: service.draft_terms(contract_terms(data), who.org, who.org))

        return once(who, key, data.model_dump_json().encode(), run, drafted_answerer(data.number))

    @r.post(
        "/resale-contracts",
        status_code=201,
        summary="Draft a resale (存量房买卖): checks, rendering, reservation",
        description="By one of the sellers (a person key, role `buyer`: 个人) or by the "
        "brokerage the contract names (role `agency`, its key's org the brokerage's filing "
        "number). The house, its certificate and its registration are read from the "
        "ownership record; the sellers must be exactly its owners. Refusals: 422 "
        "`unit-not-sellable` (`checks`: the resale reason codes), `buyer-not-eligible`, "
        "403 `not-a-drafter`, 409 `unit-taken`, 404 `unknown-unit`. Then each seller, each "
        "buyer and the agent sign their own field (`remote-signing/{field}/start`, "
        "`finish`), in the order `seller-1…`, `buyer-1…`, `agent`; the last files it.",
    )
    def draft_resale(data: ResaleIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.DRAFTS_RESALES)

        def run() -> Drafted:
            return run_draft(lambda: service.draft_resale(resale_terms(data), drafter_of(who)))

        return once(who, key, data.model_dump_json().encode(), run, drafted_answerer(data.number))

    @r.get("/contracts/{contract_id}", summary="A contract's state")
    def get_contract(contract_id: str, who: Who) -> dict[str, Any]:
        with visible(contract_id):
            state = reads.state(contract_id, who)
        c = state.contract
        return {
            "id": c.id,
            "number": c.number,
            "kind": c.kind,
            "status": c.status.value,
            "unit": state.unit_code,
            "unit_status": state.unit_status.value,
            "created_at": c.created_at.isoformat(),
            "draft_sha256": c.draft_sha256,
            "required": list(c.required),
            "signed": list(c.signed_fields),
            "expires_at": c.expires_at.isoformat(),
            "filing": None
            if state.filing is None
            else {
                "number": state.filing.number,
                "status": state.filing.status.value,
                "filed_at": state.filing.filed_at.isoformat(),
            },
            "eligibility": list(state.eligibility),
        }

    @r.get("/contracts/{contract_id}/document", summary="The contract PDF as signed so far")
    def contract_document(contract_id: str, who: Who) -> Response:
        with visible(contract_id):
            pdf = reads.document(contract_id, who)
        return Response(pdf, media_type="application/pdf")

    @r.post(
        "/contracts/{contract_id}/seal",
        summary="Apply the developer's seal (key on the platform's token)",
    )
    def seal(contract_id: str, who: Who, key: Key = None) -> Response:
        require(who, *policy.DRAFTS)
        contract_row(contract_id, who)

        def run() -> FilingRecord | None:
            try:
                return service.seal_as_developer(contract_id, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return once(who, key, contract_id.encode(), run, filing_answer)

    @r.post(
        "/contracts/{contract_id}/signatures",
        summary="Upload the next signed revision (application/pdf)",
    )
    async def upload(contract_id: str, request: Request, who: Who, key: Key = None) -> Response:
        require(who, *policy.UPLOADS_SIGNATURES)
        contract_row(contract_id, who)
        pdf = await request.body()  # bounded by api/limits.py

        def run() -> FilingRecord | None:
            try:
                return service.accept_revision(contract_id, pdf, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return await run_in_threadpool(once, who, key, pdf, run, filing_answer)

    def own_identity(
        contract_id: str, field: str, data: RemoteStartIn, who: Caller
    ) -> tuple[ec.EllipticCurvePublicKey, VerifiedIdentity]:
        """The buyer's device key and identity, checked only once the field and the ID number
        are the caller's own (the identity records answer nobody about anyone else)."""
        public = device_key(data.public_key_pem)
        try:
            identity = platform.own_identity(
                contract_id, field, who, data.name, data.id_type, data.id_number
            )
        except IdentityRejected as exc:
            raise Problem(422, "identity-rejected", "Identity check failed", str(exc)) from exc
        except FilingError as exc:
            raise filing_errors(exc) from exc
        return public, identity

    @r.post(
        "/contracts/{contract_id}/remote-signing/{field}/start", summary="Remote signing, step 1"
    )
    def remote_start(
        contract_id: str, field: str, data: RemoteStartIn, who: Who, key: Key
    ) -> Response:
        require(who, *policy.SIGNS_ON_DEVICE)
        contract_row(contract_id, who)

        def run() -> remote.Challenge:
            public, identity = own_identity(contract_id, field, data, who)
            try:
                return service.remote_challenge(
                    contract_id, field, identity, public, caller=who.org
                )
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(challenge: remote.Challenge, live: bool) -> Response:
            return JSONResponse(
                {
                    "digest_to_sign": base64.b64encode(challenge.digest_to_sign).decode(),
                    "algorithm": "ECDSA-P256-SHA256-prehashed",
                }
            )

        return once(who, key, data.model_dump_json().encode() + field.encode(), run, answer)

    @r.post(
        "/contracts/{contract_id}/remote-signing/{field}/finish", summary="Remote signing, step 2"
    )
    def remote_finish(
        contract_id: str, field: str, data: RemoteFinishIn, who: Who, key: Key
    ) -> Response:
        require(who, *policy.SIGNS_ON_DEVICE)
        contract_row(contract_id, who)

        def run() -> FilingRecord | None:
            try:
                signature = base64.b64decode(data.signature, validate=True)
            except binascii.Error as exc:
                raise Problem(422, "bad-signature", "Signature is not base64") from exc
            try:
                return service.finish_remote_signing(contract_id, field, signature, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        raw = data.model_dump_json().encode() + field.encode()
        return once(who, key, raw, run, filing_answer)

    @r.post(
        "/contracts/{contract_id}/parties/{field}/certificate",
        status_code=201,
        summary="A signing certificate for your own field of this contract, until the draft ends",
        description="For a buyer who signs with a tool of their own (PAdES, B-T) and uploads "
        "the revision: the certificate names this contract and field, and the platform "
        "refuses a signature whose certificate was issued for anything else. The caller's "
        "key must stand for the buyer whose field it is, and the identity check must pass.",
    )
    def party_certificate(
        contract_id: str, field: str, data: RemoteStartIn, who: Who, key: Key
    ) -> Response:
        require(who, *policy.SIGNS_ON_DEVICE)
        contract_row(contract_id, who)

        def run() -> Response:
            public, identity = own_identity(contract_id, field, data, who)
            try:
                cert = service.signing_certificate(contract_id, field, identity, public, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc
            chain = [cert, deployment.pki.ca.issuing]
            pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
            return Response(pem, status_code=201, media_type="application/pem-certificate-chain")

        return once(who, key, data.model_dump_json().encode() + field.encode(), run)

    @r.post("/contracts/{contract_id}/withdraw", summary="Withdraw a draft; the unit is released")
    def withdraw(contract_id: str, who: Who, key: Key = None) -> Response:
        require(who, *policy.WITHDRAWS)
        c = contract_row(contract_id, who)
        if who.role is not policy.Role.DEVELOPER and c.developer_id != policy.drafter_key(who):
            raise Problem(403, "not-a-drafter", "Only its drafter withdraws a draft", contract_id)

        def run() -> None:
            try:
                service.withdraw(contract_id, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(_: object, live: bool) -> Response:
            return JSONResponse({"id": contract_id, "status": ContractStatus.WITHDRAWN.value})

        return once(who, key, contract_id.encode(), run, answer)

    # -- filings -----------------------------------------------------------

    @r.post(
        "/filings",
        status_code=201,
        summary="File a contract already signed by every party (application/pdf)",
    )
    async def submit(
        request: Request, who: Who, key: Key = None, contract_id: str = Query(max_length=36)
    ) -> Response:
        require(who, *policy.DRAFTS)
        contract_row(contract_id, who)
        pdf = await request.body()  # bounded by api/limits.py

        def run() -> FilingRecord:
            try:
                return service.submit_signed(contract_id, pdf, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        raw = pdf + contract_id.encode()
        return await run_in_threadpool(once, who, key, raw, run, filing_answer)

    @contextmanager
    def filed(number: str) -> Iterator[None]:
        """A filing the caller may not see is unknown to them, or forbidden to their role."""
        try:
            yield
        except UnknownFiling as exc:
            raise Problem(404, "unknown-filing", "Unknown filing", number) from exc
        except UnknownContract as exc:  # another party's
            raise Problem(404, "unknown-contract", "Unknown contract", str(exc)) from exc
        except NotForYourRole as exc:
            raise Problem(403, "forbidden", "Not allowed for this role", str(exc)) from exc

    def filing_row(number: str, who: Caller) -> FilingView:
        with filed(number):
            return reads.filing(number, who)

    # GET /filings (the list, and the look-up by SHA-256) is api/list_routes.py's.

    @r.get("/filings/{number}", summary="A filing")
    def get_filing(number: str, who: Who) -> dict[str, Any]:
        f = filing_row(number, who)
        return {
            "filing": f.number,
            "kind": f.kind,
            "status": f.status.value,
            "document_sha256": f.doc_sha256,
            "log_index": f.log_index,
            "filed_at": f.filed_at.isoformat(),
            "contract_id": f.contract_id,
            "cancellation": [
                {
                    "basis": d.basis.value,
                    "reference": d.reference,
                    "document_sha256": d.doc_sha256,
                    "log_index": d.log_index,
                    "at": d.at.isoformat(),
                }
                for d in reads.cancellations(number)
            ],
        }

    @r.get("/filings/{number}/document", summary="The sealed contract PDF")
    def filing_document(number: str, who: Who) -> Response:
        require(who, *policy.PERSONAL_DATA_ROLES)
        with filed(number):
            pdf = reads.filing_document(number, who)
        return Response(pdf, media_type="application/pdf")

    @r.get("/filings/{number}/receipt", summary="The filing's receipt (.tlog-proof)")
    def filing_receipt(number: str, who: Who) -> Response:
        f = filing_row(number, who)
        receipt = wait_for_receipt(deployment, f.log_index)
        if receipt is None:
            raise Problem(404, "not-yet-logged", "Not in a checkpoint yet", number)
        return PlainTextResponse(receipt)

    def propose(
        number: str, kind: AgreementKind, data: AgreementIn, who: Caller, key: str | None
    ) -> Response:
        require(who, *policy.PROPOSES_AGREEMENTS)
        required = contract_row(filing_row(number, who).contract_id, who).required

        def run() -> tuple[str, str, str]:
            try:
                return service.propose_agreement(
                    number, kind, data.reason, who.org, getattr(data, "changes", "")
                )
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(proposed: tuple[str, str, str], live: bool) -> Response:
            agreement_id, agreement_number, digest = proposed
            return JSONResponse(
                {
                    "id": agreement_id,
                    "number": agreement_number,
                    "kind": kind.value,
                    "filing": number,
                    "status": ContractStatus.DRAFT.value,
                    "required": list(required),
                    "draft_sha256": digest,
                },
                status_code=201,
            )

        raw = kind.value.encode() + data.model_dump_json().encode() + number.encode()
        return once(who, key, raw, run, answer)

    @r.post(
        "/filings/{number}/cancellation-agreements",
        status_code=201,
        summary="注销 by consent: draft the cancellation agreement every party then signs",
        description="The developer or a buyer of the filing proposes; the agreement (解除协议) "
        "is rendered with the contract's parties and fields and signed like the contract: "
        "`POST /v1/contracts/{id}/seal` (developer), `remote-signing/buyer-N/...` (each buyer), "
        "or `/signatures`. Its last signature seals it and cancels the filing in one "
        "transaction (log entry `cancelled`, basis `agreement`). No party cancels alone.",
    )
    def propose_cancellation(
        number: str, data: CancellationIn, who: Who, key: Key = None
    ) -> Response:
        return propose(number, AgreementKind.CANCELLATION, data, who, key)

    @r.post(
        "/filings/{number}/change-agreements",
        status_code=201,
        summary="变更 by consent: draft the change agreement every party then signs",
        description="The developer or a buyer proposes the changes; the agreement (补充协议) is "
        "rendered with the contract's parties and fields and signed like the contract. Its "
        "last signature seals it and logs a `changed` entry referring to the filing, which "
        "stands as it was. A change is always such an agreement: no other document is filed "
        "as one.",
    )
    def propose_change(number: str, data: ChangeIn, who: Who, key: Key = None) -> Response:
        return propose(number, AgreementKind.CHANGE, data, who, key)

    @r.post(
        "/filings/{number}/cancellation",
        status_code=201,
        summary="注销 by judgment or decision: the authority or a court records the document",
        description="Body: the judgment or decision document (application/pdf, at most 20 MiB); "
        "`reason` and `judgment` (its number) as query parameters. The document is kept and "
        "its SHA-256 goes into the cancellation's log entry (basis `judgment`). A developer "
        "or buyer cannot cancel alone: see `cancellation-agreements`.",
    )
    async def cancel(
        number: str,
        request: Request,
        who: Who,
        key: Key = None,
        reason: str = Query(min_length=1, max_length=500),
        judgment: str = Query(default="", max_length=200),
    ) -> Response:
        if policy.must_agree_to_cancel(who):
            raise Problem(
                403,
                "consent-required",
                "A party cannot cancel a filing alone",
                "propose a cancellation agreement that every party signs "
                f"(POST /v1/filings/{number}/cancellation-agreements)",
            )
        require(who, *policy.CANCELS_BY_JUDGMENT)
        filing_row(number, who)
        document = await request.body()  # bounded by api/limits.py
        if not judgment.strip() or not document.startswith(b"%PDF-"):
            raise Problem(
                422,
                "judgment-required",
                "The authority or a court cancels citing a judgment or decision",
                "give its number as `judgment` and the document (a PDF) as the body",
            )

        def run() -> int:
            try:
                return service.cancel_by_judgment(
                    number, who.org, reason, judgment.strip(), document
                )
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(index: int, live: bool) -> Response:
            return JSONResponse(
                {
                    "filing": number,
                    "status": FilingStatus.CANCELLED.value,
                    "basis": "judgment",
                    "log_index": index,
                    "document_sha256": hashlib.sha256(document).hexdigest(),
                    "receipt": wait_for_receipt(deployment, index) if live else None,
                },
                status_code=201,
            )

        raw = document + f"{number}\n{reason}\n{judgment}".encode()
        return await run_in_threadpool(once, who, key, raw, run, answer)

    @r.get("/filings/{number}/changes", summary="A filing's change agreements")
    def changes(number: str, who: Who) -> list[dict[str, Any]]:
        with filed(number):
            found = reads.changes(number, who)
        return [
            {"log_index": ch.log_index, "document_sha256": ch.doc_sha256, "at": ch.at.isoformat()}
            for ch in found
        ]

    @r.get("/filings/{number}/changes/{index}/document", summary="A sealed change agreement (PDF)")
    def change_document(number: str, index: int, who: Who) -> Response:
        require(who, *policy.PERSONAL_DATA_ROLES)
        try:
            with filed(number):
                pdf = reads.change_document(number, index, who)
        except UnknownChange as exc:
            raise Problem(404, "unknown-change", "No such change of this filing", str(exc)) from exc
        return Response(pdf, media_type="application/pdf")

    return r


def invitation_json(sent: SentInvitation) -> dict[str, Any]:
    """An invitation in an answer: where it went (a masked phone), never its token."""
    return {
        "field": sent.field,
        "expires_at": sent.expires_at.isoformat(),
        "sent": sent.sent,
    }


def run_draft(draft: Callable[[], Drafted]) -> Drafted:
    """Run a draft use-case (any kind), its refusals as problems."""
    try:
        return draft()
    except registry.UnknownUnit as exc:
        raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
    except ContractDataError as exc:
        raise Problem(422, "invalid-contract", "Invalid contract data", str(exc)) from exc
    except FilingError as exc:
        raise filing_errors(exc) from exc


def drafted_answerer(number: str) -> Callable[[Drafted, bool], JSONResponse]:
    """The idempotent answer of a draft numbered ``number`` (live or replayed alike)."""
    return lambda drafted, live: drafted_answer(drafted, number)


def drafted_answer(drafted: Drafted, number: str) -> JSONResponse:
    """A draft's answer, with where the parties' signing invitations were sent."""
    return JSONResponse(
        {
            "id": drafted.id,
            "number": number,
            "kind": drafted.kind.value,
            "draft_sha256": drafted.sha256,
            "invitations": [invitation_json(i) for i in drafted.invitations],
        },
        status_code=201,
    )


def signed_answer(
    deployment: Deployment, record: FilingRecord | None, status: int = 200, receipt: bool = True
) -> JSONResponse:
    """The answer of a signature: filed or not yet; with the receipt if ``receipt``
    (then it waits for the checkpoint a few seconds; a receipt may still be null)."""
    if record is None:
        return JSONResponse({"filed": False}, status_code=status)
    return JSONResponse(
        {
            "filed": True,
            "event": record.event.value,
            "filing": record.number,
            "log_index": record.log_index,
            "document_sha256": record.doc_sha256,
            "receipt": wait_for_receipt(deployment, record.log_index) if receipt else None,
        },
        status_code=201,
    )


def wait_for_receipt(deployment: Deployment, index: int) -> str | None:
    cp = deployment.sequencer().wait_for(index + 1, RECEIPT_WAIT)
    return None if cp is None else deployment.log.receipt(index, cp).to_text()


def device_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        public = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise Problem(422, "bad-public-key", "Not a PEM public key", str(exc)) from exc
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise Problem(422, "bad-public-key", "The device key must be ECDSA P-256")
    return public


def contract_terms(data: ContractIn) -> drafting.Terms:
    """The request's terms; what the 楼盘表 says about the unit, filing adds to them."""
    return drafting.Terms(
        unit_code=data.unit_code,
        number=data.number,
        buyers=tuple(drafting.Buyer(b.name, b.id_type, b.id_number, b.phone) for b in data.buyers),
        price=data.price,
        payment_method=PaymentMethod[data.payment_method],
        down_payment=data.down_payment,
        loan_bank=data.loan_bank,
        escrow=Escrow(data.escrow_bank, data.escrow_account_name, data.escrow_account_number),
        delivery_date=data.delivery_date,
        late_payment_rate=data.late_payment_rate,
        late_delivery_rate=data.late_delivery_rate,
        dispute=DisputeResolution[data.dispute],
        dispute_body=data.dispute_body,
    )


def _iso(moment: dt.datetime | None) -> str | None:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()
