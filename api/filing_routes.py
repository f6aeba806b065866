"""The filing API (/v1): 楼盘表, contracts, signatures and filings, for each role."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api import auth, idempotency
from api.auth import Caller, Role, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import departments, registry, schema
from filing.checks import Reason
from filing.deployment import Deployment
from filing.service import (
    ContractStateError,
    DuplicateContractNumber,
    FilingError,
    FilingRecord,
    FilingService,
    NotEligible,
    NotSellable,
    SealUnavailable,
    SignatureRejected,
    UnitTaken,
    UnknownContract,
)
from filing.status import InvalidTransition, UnitEvent, UnitFlag, UnitStatus
from filing.terms import contract_from_json
from keys.identity import IdentityRejected
from ledger.database import write_transaction
from signing.contract import (
    Areas,
    Contract,
    ContractDataError,
    DisputeResolution,
    Escrow,
    Party,
    Payment,
    PaymentMethod,
    Permit,
    Template,
    Unit,
)

# Who may see contracts and sealed documents, which name the parties and their ID numbers
# (developers and buyers only their own); tax reads parties through its own interface.
PERSONAL_DATA_ROLES = (Role.AUTHORITY, Role.COURT, Role.DEVELOPER, Role.BUYER)
RECEIPT_WAIT = 5.0


class BuyerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_type: str = Field(default="居民身份证", max_length=20)
    id_number: str = Field(min_length=1, max_length=40)
    phone: str = Field(default="", max_length=30)


class ContractIn(BaseModel):
    unit_code: str = Field(min_length=28, max_length=28, examples=["430104001001GB00001F00010203"])
    number: str = Field(min_length=1, max_length=40, examples=["HT-2026-000001"])
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
    units: list[str] = Field(min_length=1, max_length=10000)


class RegistrationIn(BaseModel):
    certificate: str = Field(
        min_length=1,
        max_length=64,
        description="the 不动产权证书 number issued on registration",
        examples=["湘（2027）长沙市不动产权第 0012345 号"],
    )


class FlagIn(BaseModel):
    on: bool
    reason: str = Field(min_length=1, max_length=500)


class CancellationIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    judgment: str | None = Field(
        default=None, max_length=200, description="required when the authority cancels"
    )


def router(deployment: Deployment, service: FilingService, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["filing"])
    engine = service.engine

    Who = Annotated[Caller, Depends(auth.dependency(engine, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(who: Caller, key: str | None, raw: bytes, fn: Any) -> Response:
        return idempotency.run_once(engine, who, key, raw, fn)

    # -- 楼盘表 -----------------------------------------------------------

    @r.post(
        "/registry/import",
        status_code=201,
        summary="Import a 楼盘表 (CSV or JSON; all rows or none)",
    )
    async def import_registry(request: Request, who: Who, key: Key = None) -> Response:
        require(who, Role.AUTHORITY)
        raw = await request.body()  # bounded by api/limits.py
        media = request.headers.get("content-type", "text/csv").split(";")[0]

        def run() -> Response:
            try:
                rows = registry.parse_inventory(raw, media)
                with write_transaction(engine) as conn:
                    count = registry.import_inventory(conn, rows, who.org)
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
        require(who, Role.AUTHORITY)

        def run() -> Response:
            try:
                with write_transaction(engine) as conn:
                    pid = registry.add_permit(
                        conn,
                        permit.number,
                        permit.authority,
                        permit.valid_from,
                        permit.valid_until,
                        permit.units,
                        who.org,
                    )
            except registry.UnknownUnit as exc:
                raise Problem(422, "unknown-unit", "Unknown unit", str(exc)) from exc
            except Exception as exc:
                if "UNIQUE" in str(exc).upper() or "duplicate" in str(exc):
                    raise Problem(
                        409, "permit-exists", "Permit already recorded", permit.number
                    ) from exc
                raise
            return JSONResponse({"id": pid, "number": permit.number}, status_code=201)

        return once(who, key, permit.model_dump_json().encode(), run)

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
        require(who, Role.AUTHORITY)
        raw = await request.body()  # bounded by api/limits.py

        def run() -> Response:
            try:
                with write_transaction(engine) as conn:
                    load = departments.load_extract(conn, kind, raw, who.org)
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
        require(who, Role.AUTHORITY)
        with engine.connect() as conn:
            found = departments.recorded_loads(conn, kind, limit)
        return [load.as_dict() for load in found]

    @r.get("/units", summary="Units of the 楼盘表, by status")
    def list_units(
        who: Who,
        status: UnitStatus | None = None,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=2**62),
    ) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = registry.list_units(conn, status, limit, offset)
        return [{**row, "forecast_building": str(row["forecast_building"])} for row in rows]

    @r.get("/units/{code}", summary="A unit and its history")
    def get_unit(code: str, who: Who) -> dict[str, Any]:
        try:
            with engine.connect() as conn:
                details = registry.unit_details(conn, code)
                history = registry.history(conn, code)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        shown: dict[str, Any] = json.loads(
            json.dumps({"unit": details, "history": history}, default=str, ensure_ascii=False)
        )
        return shown

    def unit_event(code: str, who: Caller, event: UnitEvent, reason: str, own: bool) -> Response:
        """Apply ``event`` to a unit (a developer only to its own when ``own``), on record."""
        try:
            with write_transaction(engine) as conn:
                unit = registry.unit(conn, code)
                if own and who.role is Role.DEVELOPER and unit.developer_id != who.org:
                    raise Problem(403, "forbidden", "Not your project", code)
                status = registry.apply(conn, code, event, who.org, reason)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        except InvalidTransition as exc:
            raise Problem(
                409, "invalid-transition", "Not possible in this status", str(exc)
            ) from exc
        return JSONResponse({"code": code, "status": status.value})

    @r.post("/units/{code}/release", summary="Put a unit on sale (开盘)")
    def release(code: str, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER, Role.AUTHORITY)
        return once(
            who,
            key,
            code.encode(),
            lambda: unit_event(code, who, UnitEvent.RELEASE, "released for sale", True),
        )

    @r.post(
        "/units/{code}/registration",
        summary="Record the buyer's ownership registration (不动产登记): FILED → REGISTERED",
    )
    def register(code: str, body: RegistrationIn, who: Who, key: Key = None) -> Response:
        require(who, Role.AUTHORITY)
        reason = f"不动产登记 {body.certificate}"
        return once(
            who,
            key,
            code.encode() + body.certificate.encode(),
            lambda: unit_event(code, who, UnitEvent.REGISTER, reason, False),
        )

    @r.post(
        "/units/{code}/flags/{flag}", summary="Set or clear a blocking flag (查封, 抵押, 不可售)"
    )
    def flag(code: str, flag: UnitFlag, change: FlagIn, who: Who, key: Key = None) -> Response:
        require(who, Role.AUTHORITY, Role.COURT)

        def run() -> Response:
            try:
                with write_transaction(engine) as conn:
                    flags = registry.set_flag(conn, code, flag, change.on, who.org, change.reason)
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            return JSONResponse({"code": code, "flags": sorted(f.value for f in flags)})

        return once(
            who, key, change.model_dump_json().encode() + code.encode() + flag.value.encode(), run
        )

    # -- contracts ---------------------------------------------------------

    def contract_row(contract_id: str, who: Caller) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(
                select(schema.contracts).where(schema.contracts.c.id == contract_id)
            ).first()
        if row is None:
            raise Problem(404, "unknown-contract", "Unknown contract", contract_id)
        c = dict(row._mapping)
        contract = contract_from_json(c["data"])
        if who.role is Role.DEVELOPER and c["developer_id"] != who.org:
            raise Problem(404, "unknown-contract", "Unknown contract", contract_id)
        if who.role is Role.BUYER and who.org not in {b.id_number for b in contract.buyers}:
            raise Problem(404, "unknown-contract", "Unknown contract", contract_id)
        if who.role not in PERSONAL_DATA_ROLES:
            raise Problem(403, "forbidden", "Not allowed for this role", "contracts name people")
        return c

    def own_field(c: dict[str, Any], field: str, who: Caller) -> None:
        """A buyer signs remotely in their own field only (the seller seals on the platform)."""
        contract = contract_from_json(c["data"])
        if field not in contract.signature_fields:
            fields = ", ".join(contract.signature_fields)
            raise Problem(
                422, "unknown-signature-field", "No such signature field", f"the fields: {fields}"
            )
        mine = [
            f"buyer-{n}" for n, b in enumerate(contract.buyers, start=1) if b.id_number == who.org
        ]
        if field not in mine:
            raise Problem(403, "forbidden", "Not your signature field", f"{field} is not yours")

    def filing_response(record: FilingRecord | None, status: int = 200) -> JSONResponse:
        if record is None:
            return JSONResponse({"filed": False}, status_code=status)
        return JSONResponse(
            {
                "filed": True,
                "filing": record.number,
                "log_index": record.log_index,
                "document_sha256": record.doc_sha256,
                "receipt": wait_for_receipt(record.log_index),
            },
            status_code=201,
        )

    def wait_for_receipt(index: int) -> str | None:
        cp = deployment.sequencer().wait_for(index + 1, RECEIPT_WAIT)
        return None if cp is None else deployment.log.receipt(index, cp).to_text()

    def filing_errors(exc: FilingError) -> Problem:
        if isinstance(exc, NotSellable):
            status = (
                409
                if any(
                    f.reason in (Reason.UNIT_RESERVED, Reason.UNIT_ALREADY_FILED)
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
            )
        if isinstance(exc, NotEligible):
            return Problem(
                422,
                "buyer-not-eligible",
                "购房资格 failed",
                str(exc),
                decisions=[json.loads(d.to_json()) for d in exc.decisions],
            )
        if isinstance(exc, UnitTaken):
            return Problem(409, "unit-taken", "Unit taken", str(exc))
        if isinstance(exc, SignatureRejected):
            return Problem(422, "signature-rejected", "Signature rejected", str(exc))
        if isinstance(exc, SealUnavailable):
            return Problem(503, "filing-seal-unavailable", "Filing seal unavailable", str(exc))
        if isinstance(exc, UnknownContract):
            return Problem(404, "unknown-contract", "Unknown contract or filing", str(exc))
        if isinstance(exc, ContractStateError):
            return Problem(409, "contract-state", "Not possible in the contract's state", str(exc))
        if isinstance(exc, DuplicateContractNumber):
            return Problem(
                409, "duplicate-contract-number", "Contract number used before", str(exc)
            )
        return Problem(422, "filing-refused", "Refused", str(exc))

    @r.post(
        "/contracts", status_code=201, summary="Draft a contract: checks, rendering, reservation"
    )
    def draft(data: ContractIn, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER)

        def run() -> Response:
            try:
                with engine.connect() as conn:
                    u = registry.unit_details(conn, data.unit_code)
                contract = build_contract(data, u)
                cid, sha = service.draft(contract, who.org, who.org)
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            except ContractDataError as exc:
                raise Problem(422, "invalid-contract", "Invalid contract data", str(exc)) from exc
            except FilingError as exc:
                raise filing_errors(exc) from exc
            return JSONResponse(
                {"id": cid, "number": data.number, "draft_sha256": sha}, status_code=201
            )

        return once(who, key, data.model_dump_json().encode(), run)

    @r.get("/contracts/{contract_id}", summary="A contract's state")
    def get_contract(contract_id: str, who: Who) -> dict[str, Any]:
        c = contract_row(contract_id, who)
        with engine.begin() as conn:
            auth.record_access(conn, who, "read-contract", contract_id)
            unit = conn.execute(
                select(schema.units.c.code, schema.units.c.status).where(
                    schema.units.c.id == c["unit_id"]
                )
            ).one()
            filed = conn.execute(
                select(
                    schema.filings.c.number, schema.filings.c.status, schema.filings.c.filed_at
                ).where(schema.filings.c.contract_id == contract_id)
            ).first()
        return {
            "id": c["id"],
            "number": c["number"],
            "status": c["status"],
            "unit": unit.code,
            "unit_status": unit.status,
            "created_at": _iso(c["created_at"]),
            "draft_sha256": c["draft_sha256"],
            "required": list(contract_from_json(c["data"]).signature_fields),
            "signed": [f for f in c["signed_fields"].split(",") if f],
            "expires_at": _iso(c["expires_at"]),
            "filing": None
            if filed is None
            else {
                "number": filed.number,
                "status": filed.status,
                "filed_at": _iso(filed.filed_at),
            },
            "eligibility": json.loads(c["eligibility"]),
        }

    @r.get("/contracts/{contract_id}/document", summary="The contract PDF as signed so far")
    def contract_document(contract_id: str, who: Who) -> Response:
        c = contract_row(contract_id, who)
        with engine.begin() as conn:
            auth.record_access(conn, who, "read-contract-document", contract_id)
        return Response(c["current_pdf"], media_type="application/pdf")

    @r.post(
        "/contracts/{contract_id}/seal",
        summary="Apply the developer's seal (key on the platform's token)",
    )
    def seal(contract_id: str, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER)
        contract_row(contract_id, who)

        def run() -> Response:
            try:
                return filing_response(service.seal_as_developer(contract_id, who.org))
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return once(who, key, contract_id.encode(), run)

    @r.post(
        "/contracts/{contract_id}/signatures",
        summary="Upload the next signed revision (application/pdf)",
    )
    async def upload(contract_id: str, request: Request, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER, Role.BUYER)
        contract_row(contract_id, who)
        pdf = await request.body()  # bounded by api/limits.py

        def run() -> Response:
            try:
                return filing_response(service.accept_revision(contract_id, pdf, who.org))
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return await run_in_threadpool(once, who, key, pdf, run)

    @r.post(
        "/contracts/{contract_id}/remote-signing/{field}/start", summary="Remote signing, step 1"
    )
    def remote_start(
        contract_id: str, field: str, data: RemoteStartIn, who: Who, key: Key
    ) -> Response:
        require(who, Role.BUYER)
        own_field(contract_row(contract_id, who), field, who)

        def run() -> Response:
            try:
                public = serialization.load_pem_public_key(data.public_key_pem.encode())
            except (ValueError, TypeError) as exc:
                raise Problem(422, "bad-public-key", "Not a PEM public key", str(exc)) from exc
            if (
                not isinstance(public, ec.EllipticCurvePublicKey)
                or public.curve.name != "secp256r1"
            ):
                raise Problem(422, "bad-public-key", "The device key must be ECDSA P-256")
            try:
                identity = departments.TableIdentityCheck(engine).verify(
                    data.name, data.id_type, data.id_number
                )
                digest = service.start_remote_signing(contract_id, field, identity, public)
            except IdentityRejected as exc:
                raise Problem(422, "identity-rejected", "Identity check failed", str(exc)) from exc
            except FilingError as exc:
                raise filing_errors(exc) from exc
            return JSONResponse(
                {
                    "digest_to_sign": base64.b64encode(digest).decode(),
                    "algorithm": "ECDSA-P256-SHA256-prehashed",
                }
            )

        return once(who, key, data.model_dump_json().encode() + field.encode(), run)

    @r.post(
        "/contracts/{contract_id}/remote-signing/{field}/finish", summary="Remote signing, step 2"
    )
    def remote_finish(
        contract_id: str, field: str, data: RemoteFinishIn, who: Who, key: Key
    ) -> Response:
        require(who, Role.BUYER)
        own_field(contract_row(contract_id, who), field, who)

        def run() -> Response:
            try:
                signature = base64.b64decode(data.signature, validate=True)
            except binascii.Error as exc:
                raise Problem(422, "bad-signature", "Signature is not base64") from exc
            try:
                return filing_response(
                    service.finish_remote_signing(contract_id, field, signature, who.org)
                )
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return once(who, key, data.model_dump_json().encode() + field.encode(), run)

    @r.post("/contracts/{contract_id}/withdraw", summary="Withdraw a draft; the unit is released")
    def withdraw(contract_id: str, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER)
        contract_row(contract_id, who)

        def run() -> Response:
            try:
                service.withdraw(contract_id, who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc
            return JSONResponse({"id": contract_id, "status": "WITHDRAWN"})

        return once(who, key, contract_id.encode(), run)

    # -- filings -----------------------------------------------------------

    @r.post(
        "/filings",
        status_code=201,
        summary="File a contract already signed by every party (application/pdf)",
    )
    async def submit(
        request: Request, who: Who, key: Key = None, contract_id: str = Query(max_length=36)
    ) -> Response:
        require(who, Role.DEVELOPER)
        contract_row(contract_id, who)
        pdf = await request.body()  # bounded by api/limits.py

        def run() -> Response:
            try:
                return filing_response(service.submit_signed(contract_id, pdf, who.org))
            except FilingError as exc:
                raise filing_errors(exc) from exc

        return await run_in_threadpool(once, who, key, pdf + contract_id.encode(), run)

    def filing_row(number: str, who: Caller) -> dict[str, Any]:
        try:
            f = service.filing(number)
        except UnknownContract as exc:
            raise Problem(404, "unknown-filing", "Unknown filing", number) from exc
        if who.role in (Role.DEVELOPER, Role.BUYER):
            contract_row(f["contract_id"], who)  # 404 unless it is theirs
        return f

    @r.get("/filings", summary="Was this document ever filed? (by SHA-256)")
    def find(who: Who, sha256: str = Query(pattern="^[0-9a-f]{64}$")) -> list[dict[str, Any]]:
        return [
            {
                "filing": f["number"],
                "kind": f["kind"],
                "status": f["status"],
                "log_index": f["log_index"],
                "filed_at": _iso(f["filed_at"]),
            }
            for f in service.filings_with_sha256(sha256)
        ]

    @r.get("/filings/{number}", summary="A filing")
    def get_filing(number: str, who: Who) -> dict[str, Any]:
        f = filing_row(number, who)
        return {
            "filing": f["number"],
            "status": f["status"],
            "document_sha256": f["doc_sha256"],
            "log_index": f["log_index"],
            "filed_at": f["filed_at"].isoformat(),
            "contract_id": f["contract_id"],
        }

    @r.get("/filings/{number}/document", summary="The sealed contract PDF")
    def filing_document(number: str, who: Who) -> Response:
        require(who, *PERSONAL_DATA_ROLES)
        f = filing_row(number, who)
        with engine.begin() as conn:
            auth.record_access(conn, who, "read-filed-document", number)
        return Response(f["sealed_pdf"], media_type="application/pdf")

    @r.get("/filings/{number}/receipt", summary="The filing's receipt (.tlog-proof)")
    def filing_receipt(number: str, who: Who) -> Response:
        f = filing_row(number, who)
        receipt = wait_for_receipt(int(f["log_index"]))
        if receipt is None:
            raise Problem(404, "not-yet-logged", "Not in a checkpoint yet", number)
        return PlainTextResponse(receipt)

    @r.post("/filings/{number}/cancellation", summary="Cancel a filing (注销)")
    def cancel(number: str, data: CancellationIn, who: Who, key: Key = None) -> Response:
        require(who, Role.DEVELOPER, Role.AUTHORITY)
        filing_row(number, who)
        if who.role is Role.AUTHORITY and not data.judgment:
            raise Problem(422, "judgment-required", "The authority cancels citing a judgment")

        def run() -> Response:
            try:
                reason = data.reason + (f" ({data.judgment})" if data.judgment else "")
                index = service.cancel(number, who.org, reason)
            except FilingError as exc:
                raise filing_errors(exc) from exc
            return JSONResponse(
                {"filing": number, "status": "CANCELLED", "log_index": index}, status_code=201
            )

        return once(who, key, data.model_dump_json().encode() + number.encode(), run)

    @r.post(
        "/filings/{number}/changes",
        status_code=201,
        summary="File a change agreement (变更) signed by every party (application/pdf)",
        description="The PDF carries the parties' signatures in the contract's fields "
        "(`seller`, `buyer-1`, …), each by the party the filed contract names. The platform "
        "seals it and logs a `changed` entry referring to the filing; the filed contract "
        "stays as it was. 201 with the change's log index, document hash and receipt.",
    )
    async def change(
        request: Request,
        number: str,
        who: Who,
        key: Key = None,
        reason: str = Query(min_length=1, max_length=500, examples=["补充协议：交付日期顺延"]),
    ) -> Response:
        require(who, Role.DEVELOPER, Role.AUTHORITY)
        filing_row(number, who)
        pdf = await request.body()  # bounded by api/limits.py

        def run() -> Response:
            try:
                record = service.change(number, pdf, who.org, reason)
            except FilingError as exc:
                raise filing_errors(exc) from exc
            return JSONResponse(
                {
                    "filing": number,
                    "event": "changed",
                    "log_index": record.log_index,
                    "document_sha256": record.doc_sha256,
                    "receipt": wait_for_receipt(record.log_index),
                },
                status_code=201,
            )

        raw = pdf + number.encode() + reason.encode()
        return await run_in_threadpool(once, who, key, raw, run)

    @r.get("/filings/{number}/changes", summary="A filing's change agreements")
    def changes(number: str, who: Who) -> list[dict[str, Any]]:
        filing_row(number, who)
        return [
            {
                "log_index": ch["log_index"],
                "document_sha256": ch["doc_sha256"],
                "at": _iso(ch["at"]),
            }
            for ch in service.changes(number)
        ]

    @r.get("/filings/{number}/changes/{index}/document", summary="A sealed change agreement (PDF)")
    def change_document(number: str, index: int, who: Who) -> Response:
        require(who, *PERSONAL_DATA_ROLES)
        filing_row(number, who)
        found = [ch for ch in service.changes(number) if ch["log_index"] == index]
        if not found:
            raise Problem(404, "unknown-change", "No such change of this filing", f"{index}")
        with engine.begin() as conn:
            auth.record_access(conn, who, "read-change-document", f"{number}/{index}")
        return Response(found[0]["sealed_pdf"], media_type="application/pdf")

    return r


def build_contract(data: ContractIn, u: dict[str, Any]) -> Contract:
    """The contract from the request's terms and the 楼盘表's facts about the unit."""
    forecast = Areas(u["forecast_building"], u["forecast_inner"], u["forecast_shared"])
    measured = (
        Areas(u["measured_building"], u["measured_inner"], u["measured_shared"])
        if u["measured_building"] is not None
        else None
    )
    completed = bool(u["completed"])
    return Contract(
        number=data.number,
        template=Template.COMPLETED if completed else Template.PRESALE,
        seller=Party(
            "seller", u["developer"], "统一社会信用代码", u["developer_id"], address=u["address"]
        ),
        buyers=tuple(
            Party("buyer", b.name, b.id_type, b.id_number, phone=b.phone) for b in data.buyers
        ),
        unit=Unit(
            u["code"],
            u["address"],
            f"{u['project']} {u['building']}",
            int(u["floor"]),
            u["room"],
            u["use"],
            forecast,
            measured,
        ),
        permit=Permit(
            (u["registration_certificate"] if completed else u["permit_number"]) or "（无）",
            u["permit_authority"] or "",
        ),
        price=data.price,
        payment=Payment(PaymentMethod[data.payment_method], data.down_payment, (), data.loan_bank),
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
