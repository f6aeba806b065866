"""Signing on a phone with a one-time invitation (``/sign`` and the token routes behind it).

A party's invitation token is its only credential here: it travels in the ``X-Invitation``
header (the page keeps it in the URL's fragment, which browsers send to nobody), never in a
path or query that a log or a Referer would carry. Every route is rate-limited per client
address, as the other public routes are. The drafter issues an invitation again with its
API key (``POST /v1/contracts/{id}/invitations/{field}``), which revokes the one before.
"""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from api import auth, idempotency, sign_page
from api.filing_routes import (
    device_key,
    filing_errors,
    invitation_json,
    signed_answer,
)
from api.problems import Problem
from api.ratelimit import CpuBudget, RateLimiter
from filing import invitations, policy
from filing.deployment import Deployment
from filing.invitations import SentInvitation
from filing.phone_signing import IdentityMismatch
from filing.platform import Platform
from filing.policy import Caller
from filing.service import FilingError, FilingRecord
from signing.page_images import PageUnavailable

HEADER = "X-Invitation"
MAX_TOKEN = 100
Token = Annotated[
    str, Header(alias=HEADER, max_length=MAX_TOKEN, description="the invitation's token")
]
SignatureField = Annotated[str, PathParam(max_length=40)]
PageIndex = Annotated[int, PathParam(ge=0, le=1000)]


class IdentityIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_type: str = Field(default="居民身份证", max_length=20)
    id_number: str = Field(min_length=1, max_length=40)


class PhoneStartIn(BaseModel):
    public_key_pem: str = Field(
        min_length=1, max_length=4000, description="the browser's P-256 public key (SPKI PEM)"
    )


class PhoneFinishIn(BaseModel):
    signature: str = Field(
        min_length=1,
        max_length=200,
        description="base64 of WebCrypto's ECDSA P-256 signature, raw r || s (64 bytes)",
    )


def refusal(exc: invitations.InvitationRefused) -> Problem:
    if isinstance(exc, invitations.InvitationInvalid):
        return Problem(401, "invitation-invalid", "Not a valid invitation", str(exc))
    if isinstance(exc, invitations.InvitationUsed):
        return Problem(410, "invitation-used", "The invitation was used", str(exc))
    if isinstance(exc, invitations.InvitationExpired):
        return Problem(410, "invitation-expired", "The invitation expired", str(exc))
    if isinstance(exc, invitations.InvitationElsewhere):
        return Problem(403, "invitation-elsewhere", "Not this invitation's field", str(exc))
    if isinstance(exc, invitations.InvitationLocked):
        return Problem(403, "invitation-locked", "Too many failed identity checks", str(exc))
    return Problem(409, "identity-not-checked", "Identity check first", str(exc))


def router(
    deployment: Deployment, platform: Platform, limiter: RateLimiter, budget: CpuBudget
) -> APIRouter:
    r = APIRouter(tags=["signing on a phone"])
    phone = platform.phone
    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def client(request: Request) -> str:
        key = f"sign:{request.client.host if request.client else '-'}"
        limiter.check(key)
        return key

    def call(work: Any) -> Any:
        """Run a use-case; its refusals as problems."""
        try:
            return work()
        except invitations.InvitationRefused as exc:
            raise refusal(exc) from exc
        except IdentityMismatch as exc:
            raise Problem(
                422,
                "identity-rejected",
                "Identity check failed",
                str(exc),
                attempts_left=exc.attempts_left,
            ) from exc
        except FilingError as exc:
            raise filing_errors(exc) from exc

    @r.get("/sign", response_class=HTMLResponse, summary="The phone signing page")
    def sign_page_route() -> HTMLResponse:
        return HTMLResponse(sign_page.PAGE, headers=sign_page.HEADERS)

    @r.post(
        "/v1/contracts/{contract_id}/invitations/{field}",
        status_code=201,
        summary="Send a party's signing invitation again (revokes the one before)",
        description="By the contract's drafter (a developer; a resale's seller or "
        "brokerage). The platform sends the new invitation by SMS to the party's phone "
        "of record (the police's identity extract), never to the drafter; the answer says "
        f"whether it went (`sent`). At most {invitations.MAX_PER_FIELD} invitations per "
        f"field and draft, {invitations.MAX_PER_PERSON_PER_DAY} per person and drafter a "
        "day (409 `too-many-invitations`); `sent` false: the party has no phone of "
        "record, nothing was sent.",
    )
    def reissue(contract_id: str, field: SignatureField, who: Who, key: Key = None) -> Response:
        auth.require(who, *policy.ISSUES_INVITATIONS)

        def run() -> SentInvitation:
            return call(lambda: phone.reissue(contract_id, field, who))  # type: ignore[no-any-return]

        def answer(sent: SentInvitation, live: bool) -> Response:
            return JSONResponse(invitation_json(sent), status_code=201)

        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        raw = f"{contract_id}/{field}".encode()
        return idempotency.run_once(platform.idempotency, who, key, raw, run, answer, lease)

    @r.get("/v1/invitations/{contract_id}/{field}", summary="The contract an invitation signs")
    def view(
        contract_id: str, field: SignatureField, request: Request, token: Token = ""
    ) -> dict[str, Any]:
        client(request)
        v = call(lambda: phone.view(contract_id, field, token))
        return {
            "contract_id": v.contract_id,
            "number": v.number,
            "kind": v.kind,
            "unit": v.unit,
            "field": v.field,
            "role": v.role,
            "name": v.name,
            "pages": v.pages,
            "status": v.status,
            "signed": list(v.signed),
            "next_field": v.next_field,
            "expires_at": v.expires_at.isoformat(),
            "identity_checked": v.identity_checked,
            "attempts_left": v.attempts_left,
        }

    @r.get(
        "/v1/invitations/{contract_id}/{field}/pages/{index}",
        summary="A page of the contract as it stands, as a PNG image",
        response_class=Response,
    )
    async def page(
        contract_id: str,
        field: SignatureField,
        index: PageIndex,
        request: Request,
        token: Token = "",
    ) -> Response:
        key = client(request)

        def render() -> bytes:
            with budget.charge(key):  # rendering costs CPU: charged as verification is
                try:
                    return call(lambda: phone.page(contract_id, field, token, index))  # type: ignore[no-any-return]
                except PageUnavailable as exc:
                    raise Problem(404, "no-such-page", "No such page", str(exc)) from exc

        png = await run_in_threadpool(render)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @r.post(
        "/v1/invitations/{contract_id}/{field}/identity",
        summary="The identity check of the invited party",
    )
    def identity(
        contract_id: str,
        field: SignatureField,
        data: IdentityIn,
        request: Request,
        token: Token = "",
    ) -> dict[str, Any]:
        client(request)
        call(
            lambda: phone.check_identity(
                contract_id, field, token, data.name, data.id_type, data.id_number
            )
        )
        return {"identity_checked": True}

    @r.post(
        "/v1/invitations/{contract_id}/{field}/start",
        summary="Signing on a phone, step 1: what the browser signs",
    )
    def start(
        contract_id: str,
        field: SignatureField,
        data: PhoneStartIn,
        request: Request,
        token: Token = "",
    ) -> dict[str, Any]:
        client(request)
        public = device_key(data.public_key_pem)
        challenge = call(lambda: phone.start(contract_id, field, token, public))
        return {
            "signed_attributes": base64.b64encode(challenge.signed_attrs).decode(),
            "digest_to_sign": base64.b64encode(challenge.digest_to_sign).decode(),
            "algorithm": "ECDSA-P256-SHA256",
        }

    @r.post(
        "/v1/invitations/{contract_id}/{field}/finish",
        summary="Signing on a phone, step 2: the signature (the last one files)",
    )
    def finish(
        contract_id: str,
        field: SignatureField,
        data: PhoneFinishIn,
        request: Request,
        token: Token = "",
    ) -> Response:
        client(request)
        try:
            raw = base64.b64decode(data.signature, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Problem(422, "bad-signature", "Signature is not base64") from exc
        record: FilingRecord | None = call(lambda: phone.finish(contract_id, field, token, raw))
        return signed_answer(deployment, record)

    return r
