"""Ownership of record over HTTP (/v1/units/{code}/ownership, /mortgages): the authority
records owners and mortgages, a mortgagee its consent; owners' identities are personal data.

The registration of a filed purchase (``POST /v1/units/{code}/registration``) lives with
the other unit routes (api/filing_routes.py) and uses ``registration_answer`` and
``ownership_problem`` from here.
"""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import auth, idempotency
from api.auth import Caller, Role, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import ownership_records as records
from filing import policy, registry
from filing.deployment import Deployment
from filing.maintenance_dues import MaintenanceNotDeposited
from filing.ownership import Mortgage, OwnershipError, is_owner, owner_views, ownership_of
from filing.platform import Platform
from filing.status import InvalidTransition

# Text the register writes: no control characters (PostgreSQL refuses NUL in text).
PLAIN = r"^[^\x00-\x1f\x7f]*$"


class OwnerIn(BaseModel):
    name: str = Field(pattern=PLAIN, min_length=1, max_length=100)
    id_type: str = Field(pattern=PLAIN, default="居民身份证", min_length=1, max_length=20)
    id_number: str = Field(pattern=PLAIN, min_length=1, max_length=40)
    share: str | None = Field(pattern=PLAIN, default=None, max_length=20, examples=["1/2"])


class OwnershipIn(BaseModel):
    certificate: str = Field(
        pattern=PLAIN,
        min_length=1,
        max_length=64,
        examples=["湘（2019）长沙市不动产权第 0000001 号"],
    )
    owners: list[OwnerIn] = Field(min_length=1, max_length=10)
    registered_on: dt.date
    acquired_on: dt.date | None = Field(
        default=None, description="when the owners bought (default: the registration day)"
    )


class MortgageIn(BaseModel):
    mortgagee: str = Field(
        pattern=PLAIN, min_length=1, max_length=100, examples=["示范银行长沙分行"]
    )
    reference: str = Field(
        pattern=PLAIN,
        min_length=1,
        max_length=64,
        description="the mortgage's 不动产登记证明 number",
    )
    registered_on: dt.date


class ConsentIn(BaseModel):
    mortgage: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="the mortgage's reference"
    )
    reference: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="the consent document's reference"
    )
    given_on: dt.date


class DischargeIn(BaseModel):
    mortgage: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="the mortgage's reference"
    )
    reference: str = Field(
        pattern=PLAIN, min_length=1, max_length=64, description="抵押权注销登记 reference"
    )
    discharged_on: dt.date


def ownership_problem(exc: Exception) -> Problem:
    """The problem+json of a refused ownership or registration record."""
    if isinstance(exc, registry.UnknownUnit):
        return Problem(404, "unknown-unit", "Unknown unit", str(exc))
    if isinstance(exc, InvalidTransition):
        return Problem(409, "invalid-transition", "Not possible in this status", str(exc))
    if isinstance(exc, registry.StaleUnit):
        return Problem(409, "unit-changed", "The unit changed meanwhile; try again", str(exc))
    if isinstance(exc, OwnershipError):
        return Problem(422, "invalid-ownership", "Invalid ownership record", str(exc))
    table: dict[type[Exception], tuple[int, str, str]] = {
        records.CertificateTaken: (409, "certificate-exists", "Certificate already recorded"),
        records.OwnershipExists: (409, "ownership-exists", "The unit has owners of record"),
        records.NoOwnershipRecord: (409, "no-ownership-record", "No owners of record"),
        records.NothingToRegister: (409, "nothing-to-register", "No filing holds the unit"),
        MaintenanceNotDeposited: (
            409,
            "maintenance-fund-due",
            "The unit's maintenance fund is not deposited yet",
        ),
        records.MortgageExists: (409, "mortgage-exists", "Mortgage already recorded"),
        records.UnknownMortgage: (404, "unknown-mortgage", "No such mortgage of this unit"),
        records.MortgageDischarged: (409, "mortgage-discharged", "The mortgage was discharged"),
        records.ConsentExists: (409, "consent-exists", "Consent already recorded"),
        records.NotTheMortgagee: (403, "not-the-mortgagee", "Not your mortgage"),
    }
    for kind, (status, slug, title) in table.items():
        if isinstance(exc, kind):
            return Problem(status, slug, title, str(exc))
    raise exc


REFUSED = (
    registry.RegistryError,
    InvalidTransition,
    OwnershipError,
    records.OwnershipRecordError,
)


def registration_answer(code: str, record: records.OwnershipRecord) -> dict[str, Any]:
    """What a registration answers: no owner's name or ID number (the caller knows them)."""
    return {
        "code": code,
        "status": "REGISTERED",
        "certificate": record.ownership.certificate,
        "basis": record.basis.value,
        "filing": record.filing_number,
        "co_ownership": record.ownership.co_ownership.name,
        "owners": len(record.ownership.owners),
        "registered_on": record.ownership.registered_on.isoformat(),
        "acquired_on": record.ownership.acquired_on.isoformat(),
    }


def _mortgage(m: Mortgage) -> dict[str, Any]:
    return {
        "mortgagee": m.mortgagee,
        "reference": m.reference,
        "registered_on": m.registered_on.isoformat(),
        "consent": m.consent,
    }


def router(deployment: Deployment, platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["ownership"])
    register = platform.ownership

    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(who: Caller, key: str | None, raw: bytes, work: Any, render: Any) -> Response:
        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        return idempotency.run_once(platform.idempotency, who, key, raw, work, render, lease)

    def refused(work: Any) -> Any:
        def run() -> Any:
            try:
                return work()
            except REFUSED as exc:
                raise ownership_problem(exc) from exc

        return run

    @r.get(
        "/units/{code}/ownership",
        summary="A unit's owners of record (不动产权证书) and its mortgages",
        description="Owners appear by name and ID number only to the authority, a court and "
        "the owners themselves (each such read is in the access log); every other role sees "
        "`owner:<pseudonym>` and the shares. 404 `no-ownership-record` if none is recorded.",
    )
    def get_ownership(code: str, who: Who) -> dict[str, Any]:
        try:
            record, mortgages = register.read(code)
        except registry.UnknownUnit as exc:
            raise Problem(404, "unknown-unit", "Unknown unit", str(exc)) from exc
        if record is None:
            raise Problem(404, "no-ownership-record", "No owners of record", code)
        sees = policy.sees_owners(who, is_owner(record.ownership, who.org))
        if sees:
            register.record_read(who, code)
        views = owner_views(record.ownership, sees, deployment.pseudonym)
        return {
            **registration_answer(code, record),
            "owners": [
                {k: v for k, v in vars(view).items() if sees or k in ("owner", "share")}
                for view in views
            ],
            "mortgages": [_mortgage(m) for m in mortgages],
        }

    @r.post(
        "/units/{code}/ownership",
        status_code=201,
        summary="Record the owners of an existing home from the register (登记簿)",
        description="For a home that never passed through the platform (NOT_RELEASED → "
        "REGISTERED), or a unit registered before owners were recorded. Owners own solely, "
        "jointly (no shares), or by shares that add up to one. A unit with owners of record "
        "changes owners only by a registered sale (`registration`).",
    )
    def import_ownership(code: str, body: OwnershipIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)

        def work() -> records.OwnershipRecord:
            given = [o.share for o in body.owners]
            shares = None if all(s is None for s in given) else [s or "" for s in given]
            ownership = ownership_of(
                body.certificate,
                [(o.name, o.id_type, o.id_number) for o in body.owners],
                body.registered_on,
                body.acquired_on,
                shares,
            )
            return register.import_ownership(code, ownership, who.org)

        def answer(record: records.OwnershipRecord, live: bool) -> Response:
            return JSONResponse(registration_answer(code, record), status_code=201)

        raw = code.encode() + body.model_dump_json().encode()
        return once(who, key, raw, refused(work), answer)

    def mortgage_answer(code: str, status: int = 200) -> Any:
        def answer(m: Mortgage, live: bool) -> Response:
            return JSONResponse({"code": code, **_mortgage(m)}, status_code=status)

        return answer

    @r.post(
        "/units/{code}/mortgages",
        status_code=201,
        summary="Record a mortgage (抵押登记); the unit is flagged MORTGAGED",
    )
    def record_mortgage(code: str, body: MortgageIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)
        raw = code.encode() + body.model_dump_json().encode()
        return once(
            who,
            key,
            raw,
            refused(
                lambda: register.record_mortgage(
                    code, body.mortgagee, body.reference, body.registered_on, who.org
                )
            ),
            mortgage_answer(code, 201),
        )

    @r.post(
        "/units/{code}/mortgages/consent",
        summary="Record the mortgagee's consent to a sale (抵押权人同意转让)",
        description="The authority, or the mortgagee itself (role `bank`, its organisation "
        "being the mortgage's mortgagee). Once every mortgage not discharged has its "
        "consent, a resale may be drafted.",
    )
    def record_consent(code: str, body: ConsentIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.RECORDS_CONSENTS)
        bank = who.org if who.role is Role.BANK else None
        raw = code.encode() + body.model_dump_json().encode()
        return once(
            who,
            key,
            raw,
            refused(
                lambda: register.record_consent(
                    code, body.mortgage, body.reference, body.given_on, who.org, bank
                )
            ),
            mortgage_answer(code),
        )

    @r.post(
        "/units/{code}/mortgages/discharge",
        summary="Record a mortgage's discharge (抵押权注销登记)",
    )
    def discharge(code: str, body: DischargeIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.KEEPS_REGISTRY)
        raw = code.encode() + body.model_dump_json().encode()
        return once(
            who,
            key,
            raw,
            refused(
                lambda: register.discharge_mortgage(
                    code, body.mortgage, body.reference, body.discharged_on, who.org
                )
            ),
            mortgage_answer(code),
        )

    return r
