"""Leases (租赁备案) over HTTP: draft (``POST /v1/lease-contracts``; then the parties sign
through the contract routes, and the last signature files it), entrustments to rental
enterprises, a unit's lease status, the sealed 租赁登记备案证明, and expiry (期满终止).
Early termination by judgment is the filing's cancellation (``/filings/{n}/cancellation``).
"""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, Response

from api import auth, idempotency
from api.auth import Caller, require
from api.filing_routes import drafted_answerer, drafter_of, filing_errors, run_draft
from api.lease_models import EntrustmentEndIn, EntrustmentIn, LeaseIn, RenewalIn, lease_terms
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import policy, registry
from filing.contracts import NotForYourRole, UnknownFiling
from filing.deployment import Deployment
from filing.lease import Entrustment
from filing.leasing import (
    EntrustmentEnded,
    EntrustmentTaken,
    InvalidEntrustment,
    NoCertificate,
    UnknownEntrustment,
)
from filing.platform import Platform
from filing.service import AgreementKind, Drafted, FilingError, UnknownContract
from filing.statistics import city_day
from filing.status import ContractStatus


def router(deployment: Deployment, platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["leases"])
    service = platform.service
    leases = platform.leases

    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(who: Caller, key: str | None, raw: bytes, work: Any, render: Any) -> Response:
        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        return idempotency.run_once(platform.idempotency, who, key, raw, work, render, lease)

    @r.post(
        "/lease-contracts",
        status_code=201,
        summary="Draft a lease (住房租赁): checks and rendering; the space is held while signed",
        description="By one of the owners of record (a person key, role `buyer`), or by the "
        "rental enterprise that is the lessor (role `developer`, its key's org the credit "
        "code; `enterprise` names its recorded entrustment). The house and its certificate "
        "are the register's. Refusals: 422 `unit-not-sellable` (`checks`: NOT_HOUSING, "
        "UNIT_NOT_REGISTERED, UNIT_SEIZED, LESSORS_NOT_OWNERS, NOT_ENTRUSTED, "
        "AREA_PER_OCCUPANT), 409 `unit-not-sellable` with LEASE_OVERLAPS (another live lease "
        "of the space in the term), 403 `not-a-drafter`, 404 `unknown-unit`. Then the "
        "lessors (`lessor-1…` remotely, or the enterprise's seal `lessor` by `seal`) and "
        "each lessee (`lessee-1…`) sign; the last files it. A lease never changes the "
        "unit's status or owners.",
    )
    def draft_lease(data: LeaseIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.DRAFTS_LEASES)
        if (data.enterprise is None) != bool(data.lessors):  # the owners, or the enterprise
            raise Problem(
                422, "invalid-contract", "Invalid contract data", "name lessors or an enterprise"
            )

        drafter = who.org if who.role is policy.Role.DEVELOPER else drafter_of(who)

        def run() -> Drafted:
            return run_draft(lambda: service.draft_lease(lease_terms(data), drafter))

        return once(who, key, data.model_dump_json().encode(), run, drafted_answerer(data.number))

    @r.post(
        "/filings/{number}/renewal-agreements",
        status_code=201,
        summary="续订: propose a lease's renewal to a new last day, signed by every party",
        description="By a party of the lease (a lessor or lessee; an enterprise lessor). The "
        "renewal agreement (续订协议) is signed in the lease's own fields and order; its last "
        "signature logs it against the filing (`changed`, `kind: lease`) and extends the "
        "term, if the days it adds overlap no other live lease of the space (409 "
        "`unit-not-sellable` `LEASE_OVERLAPS`) and its lessors may still lease the home "
        "(422 `LESSORS_NOT_OWNERS`/`NOT_ENTRUSTED`: sold meanwhile). 409 `contract-state`: "
        "the lease is not in "
        "force, the new end is not later, or an agreement on it is being signed.",
    )
    def renew(number: str, data: RenewalIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.PROPOSES_AGREEMENTS)
        try:
            filing = platform.contracts.filing(number, who)
            required = platform.contracts.contract(filing.contract_id, who).required
        except UnknownFiling as exc:
            raise Problem(404, "unknown-filing", "Unknown filing", number) from exc
        except UnknownContract as exc:  # another party's
            raise Problem(404, "unknown-contract", "Unknown contract", str(exc)) from exc
        except NotForYourRole as exc:
            raise Problem(403, "forbidden", "Not allowed for this role", str(exc)) from exc

        def run() -> tuple[str, str, str]:
            try:
                return service.propose_agreement(
                    number, AgreementKind.CHANGE, data.reason, who.org, renew_until=data.end
                )
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(proposed: tuple[str, str, str], live: bool) -> Response:
            agreement_id, agreement_number, digest = proposed
            return JSONResponse(
                {
                    "id": agreement_id,
                    "number": agreement_number,
                    "kind": "renewal",
                    "filing": number,
                    "status": ContractStatus.DRAFT.value,
                    "required": list(required),
                    "draft_sha256": digest,
                },
                status_code=201,
            )

        return once(who, key, number.encode() + data.model_dump_json().encode(), run, answer)

    @r.post(
        "/units/{code}/lease-entrustments",
        status_code=201,
        summary="Record the owners' entrustment of a unit to a rental enterprise (委托)",
        description="The authority records it after checking the owners' signed entrustment. "
        "The enterprise may then lease the unit, for terms within the entrustment only. "
        "409 `entrustment-exists` for a reference used before; 422 `invalid-entrustment`.",
    )
    def record_entrustment(code: str, data: EntrustmentIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.RECORDS_ENTRUSTMENTS)

        def run() -> Entrustment:
            try:
                return leases.record_entrustment(
                    code,
                    data.reference,
                    data.enterprise,
                    data.enterprise_name,
                    data.valid_from,
                    data.valid_until,
                    who.org,
                )
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            except EntrustmentTaken as exc:
                raise Problem(409, "entrustment-exists", "Entrustment recorded", str(exc)) from exc
            except InvalidEntrustment as exc:
                raise Problem(422, "invalid-entrustment", "Invalid entrustment", str(exc)) from exc

        def answer(e: Entrustment, live: bool) -> Response:
            return JSONResponse(
                {
                    "unit": code,
                    "reference": e.reference,
                    "enterprise": e.enterprise,
                    "valid_from": e.valid_from.isoformat(),
                    "valid_until": e.valid_until.isoformat(),
                },
                status_code=201,
            )

        return once(who, key, code.encode() + data.model_dump_json().encode(), run, answer)

    @r.post(
        "/units/{code}/lease-entrustment-ends",
        status_code=201,
        summary="Record that an entrustment ended or was revoked (委托终止/撤销)",
        description="The authority records it after checking the owners' revocation (or the "
        "agreement ending it). Append-only: the entrustment stays on record with its end. "
        "Leases filed under it stand; the enterprise's new drafts under it are refused "
        "(422 `unit-not-sellable`, NOT_ENTRUSTED). 404 `unknown-entrustment` (none of this "
        "reference on the unit); 409 `entrustment-ended` (its end is recorded already); "
        "422 `invalid-entrustment` (the day is outside its term).",
    )
    def end_entrustment(code: str, data: EntrustmentEndIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.RECORDS_ENTRUSTMENTS)

        def run() -> Entrustment:
            try:
                return leases.end_entrustment(
                    code, data.reference, data.ended_on, data.reason, who.org
                )
            except registry.UnknownUnit as exc:
                raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
            except UnknownEntrustment as exc:
                raise Problem(404, "unknown-entrustment", "Unknown entrustment", str(exc)) from exc
            except EntrustmentEnded as exc:
                raise Problem(409, "entrustment-ended", "Entrustment ended", str(exc)) from exc
            except InvalidEntrustment as exc:
                raise Problem(422, "invalid-entrustment", "Invalid entrustment", str(exc)) from exc

        def answer(e: Entrustment, live: bool) -> Response:
            return JSONResponse({"unit": code, **_entrustment(e)}, status_code=201)

        return once(who, key, code.encode() + data.model_dump_json().encode(), run, answer)

    @r.get(
        "/units/{code}/lease-entrustments",
        summary="A unit's entrustments to rental enterprises, ended ones too",
        description="For the authority, courts and departments. `ended_on` is null while "
        "the entrustment has not ended.",
    )
    def unit_entrustments(code: str, who: Who) -> dict[str, Any]:
        require(who, *policy.SEES_LEASES)
        try:
            found = leases.entrustments(code)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        return {"unit": code, "entrustments": [_entrustment(e) for e in found]}

    @r.get(
        "/units/{code}/leases",
        summary="A unit's lease status: its filed leases, no names",
        description="For the authority, courts and departments (residence permits, provident "
        "fund, schools). `leased` is true while a lease of any space is in force today.",
    )
    def unit_leases(code: str, who: Who) -> dict[str, Any]:
        require(who, *policy.SEES_LEASES)
        try:
            found = leases.of_unit(code)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        return {
            "unit": code,
            "leased": any(x.status == "LEASED" for x in found),
            "leases": [
                {
                    "filing": x.filing,
                    "space": x.space or None,
                    "start": x.starts_on.isoformat(),
                    "end": x.ends_on.isoformat(),
                    "occupants": x.occupants,
                    "status": x.status,
                    "ended_on": None if x.ended_on is None else x.ended_on.isoformat(),
                    "end_reason": x.end_reason,
                }
                for x in found
            ],
        }

    @r.get(
        "/filings/{number}/lease-certificate",
        summary="A lease's 租赁登记备案证明 (application/pdf), sealed by the platform",
        description="For the lease's parties and for the authority, courts and departments "
        "that accept it. It names the filing number, the contract's SHA-256 and its log "
        "index; check its seal with the verifier and the filing's status in the log.",
    )
    def lease_certificate(number: str, who: Who) -> Response:
        try:
            pdf = leases.certificate(number, who)
        except NoCertificate as exc:
            raise Problem(404, "unknown-contract", "Unknown contract or filing", str(exc)) from exc
        return Response(pdf, media_type="application/pdf")

    @r.post(
        "/leases/expiry",
        summary="期满终止: end every filed lease whose term ran out, each with a log entry",
        description="The authority runs it (daily). Each lease whose last day is before "
        "today (Beijing) gets an `expired` log entry and stops being in force.",
    )
    def expire(who: Who, key: Key = None) -> Response:
        require(who, *policy.ENDS_LEASES)

        def run() -> list[int]:
            try:
                return service.expire_leases(actor=who.org)
            except FilingError as exc:
                raise filing_errors(exc) from exc

        def answer(indexes: list[int], live: bool) -> Response:
            return JSONResponse({"expired": len(indexes), "log_indexes": indexes})

        day = city_day(platform.clock.now()).isoformat()  # one run a day per key
        return once(who, key, day.encode(), run, answer)

    return r


def _entrustment(e: Entrustment) -> dict[str, Any]:
    return {
        "reference": e.reference,
        "enterprise": e.enterprise,
        "valid_from": e.valid_from.isoformat(),
        "valid_until": e.valid_until.isoformat(),
        "ended_on": None if e.ended_on is None else e.ended_on.isoformat(),
    }
