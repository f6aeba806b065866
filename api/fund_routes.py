"""Fund supervision over HTTP (/v1): banks' signed statements in, an account's events out."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import base64
import datetime as dt
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Header, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import auth, idempotency
from api.auth import Caller, require
from api.filing_routes import wait_for_receipt
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import fund_service, policy
from filing.deployment import Deployment
from filing.fund_service import FundError, FundEventView, FundService
from filing.funds import FundEventKind
from filing.platform import Platform
from keys.banks import BankCertificateRefused, issue_bank_certificate

# HTTP status of each refusal; the problem's type is the error's slug.
STATUS = {
    "unknown-filing": 404,
    "statement-rejected": 422,
    "statement-mismatch": 422,
    "bad-amount": 422,
    "wrong-bank": 403,
    "wrong-account": 422,
    "duplicate-statement": 409,
    "filing-cancelled": 409,
    "not-registered": 409,
    "not-cancelled": 409,
    "already-released": 409,
    "already-refunded": 409,
    "insufficient-balance": 409,
    "amount-mismatch": 422,
}
TITLES = {
    "unknown-filing": "Unknown filing",
    "statement-rejected": "Statement rejected",
    "statement-mismatch": "The statement is of another event or filing",
    "bad-amount": "Not an amount the platform keeps",
    "wrong-bank": "Not the bank of this account",
    "wrong-account": "Not the filing's supervision account",
    "duplicate-statement": "Statement already recorded",
    "filing-cancelled": "The filing is cancelled",
    "not-registered": "The registration is not recorded yet",
    "not-cancelled": "The filing is not cancelled",
    "already-released": "The funds were released already",
    "already-refunded": "The funds were refunded already",
    "insufficient-balance": "Insufficient balance",
    "amount-mismatch": "A release or refund settles the whole balance",
}


class StatementIn(BaseModel):
    statement: str = Field(
        min_length=1, max_length=8000, description="base64 of the canonical statement (JSON)"
    )
    signature: str = Field(
        min_length=1, max_length=400, description="base64 DER ECDSA-SHA256 over the statement"
    )
    certificate: str = Field(
        min_length=1, max_length=8000, description="the bank's fund-statement certificate (PEM)"
    )


class BankKeyIn(BaseModel):
    public_key_pem: str = Field(
        min_length=1, max_length=4000, description="the bank's own P-256 public key"
    )


def decoded(data: StatementIn) -> tuple[bytes, bytes, x509.Certificate]:
    """A statement body's bytes, signature and certificate; ``statement-rejected`` if they
    are not base64 and PEM (fund supervision and maintenance funds alike)."""
    try:
        statement = base64.b64decode(data.statement, validate=True)
        signature = base64.b64decode(data.signature, validate=True)
    except ValueError as exc:  # binascii.Error, or characters outside ASCII
        raise Problem(422, "statement-rejected", "Not base64", str(exc)) from exc
    try:
        certificate = x509.load_pem_x509_certificate(data.certificate.encode())
    except ValueError as exc:
        raise Problem(422, "statement-rejected", "Not a PEM certificate", str(exc)) from exc
    return statement, signature, certificate


def router(deployment: Deployment, platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["funds"])
    service: FundService = platform.funds
    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]
    Key = Annotated[str | None, Header(alias="Idempotency-Key")]

    def once(who: Caller, key: str | None, raw: bytes, work: Any, render: Any = None) -> Response:
        lease = dt.timedelta(seconds=deployment.config.idempotency_lease_seconds)
        return idempotency.run_once(platform.idempotency, who, key, raw, work, render, lease)

    def problem(exc: FundError) -> Problem:
        slug = exc.slug
        return Problem(STATUS.get(slug, 409), slug, TITLES.get(slug, "Refused"), str(exc))

    @r.post(
        "/banks/certificate",
        status_code=201,
        summary="A bank's certificate for signing fund statements (its own key)",
        description="The bank sends the public half of a P-256 key it keeps; the platform's "
        "CA issues a certificate naming the bank (the caller's organisation) for fund "
        "statements only (docs/formats.md). Answer: the PEM chain (certificate, issuing CA).",
    )
    def bank_certificate(data: BankKeyIn, who: Who, key: Key = None) -> Response:
        require(who, *policy.CONFIRMS_FUNDS)

        def run() -> Response:
            try:
                public = serialization.load_pem_public_key(data.public_key_pem.encode())
            except (ValueError, TypeError) as exc:
                raise Problem(422, "bad-public-key", "Not a PEM public key", str(exc)) from exc
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise Problem(422, "bad-public-key", "A bank's key is ECDSA P-256")
            try:
                cert = issue_bank_certificate(deployment.pki.ca, who.org, public)
            except BankCertificateRefused as exc:
                raise Problem(
                    422, "bad-public-key", "No certificate for this key", str(exc)
                ) from exc
            chain = [cert, deployment.pki.ca.issuing]
            pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
            return Response(pem, status_code=201, media_type="application/pem-certificate-chain")

        return once(who, key, data.model_dump_json().encode(), run)

    def record(
        number: str, kind: FundEventKind, data: StatementIn, who: Caller, key: str | None
    ) -> Response:
        require(who, *policy.CONFIRMS_FUNDS)
        statement, signature, certificate = decoded(data)

        def run() -> FundEventView:
            try:
                return service.record(number, kind, statement, signature, certificate, who.org)
            except FundError as exc:
                raise problem(exc) from exc

        def answer(view: FundEventView, live: bool) -> Response:
            body = {"filing": number, **view.as_dict()}
            body["receipt"] = wait_for_receipt(deployment, view.log_index) if live else None
            return JSONResponse(body, status_code=201)

        raw = f"{number}\n{kind.value}\n".encode() + data.model_dump_json().encode()
        return once(who, key, raw, run, answer)

    @r.post(
        "/filings/{number}/funds/deposits",
        status_code=201,
        summary="资金监管: the bank confirms a deposit into the filing's supervision account",
        description="Body: the bank's signed statement (kind `deposit`). Refused when the "
        "filing is cancelled or the account settled. Log entry `funds-deposited`.",
    )
    def deposit(number: str, data: StatementIn, who: Who, key: Key = None) -> Response:
        return record(number, FundEventKind.DEPOSIT, data, who, key)

    @r.post(
        "/filings/{number}/funds/releases",
        status_code=201,
        summary="资金监管: the balance is released to the seller (after the registration)",
        description="Body: the bank's signed statement (kind `release`), for the whole "
        "balance. Only once the registration that ends the sale is recorded (new homes: "
        "the unit's REGISTER under this filing). Log entry `funds-released`.",
    )
    def release(number: str, data: StatementIn, who: Who, key: Key = None) -> Response:
        return record(number, FundEventKind.RELEASE, data, who, key)

    @r.post(
        "/filings/{number}/funds/refunds",
        status_code=201,
        summary="资金监管: the balance is refunded to the buyer (after a cancellation)",
        description="Body: the bank's signed statement (kind `refund`), for the whole "
        "balance. Only once the filing is cancelled. Log entry `funds-refunded`.",
    )
    def refund(number: str, data: StatementIn, who: Who, key: Key = None) -> Response:
        return record(number, FundEventKind.REFUND, data, who, key)

    def readable(number: str, who: Caller) -> None:
        """Parties of the filing, the authority, a court, the account's bank; others 403."""
        require(who, *policy.READS_FUND_ACCOUNTS)
        try:
            parties = service.parties(number)
        except fund_service.UnknownFiling as exc:
            raise Problem(404, "unknown-filing", "Unknown filing", number) from exc
        if not policy.sees_fund_account(
            who, parties.developer, parties.buyers, parties.bank, parties.brokerage
        ):
            raise Problem(403, "forbidden", "Not a party, the authority, a court or its bank")

    @r.get("/filings/{number}/funds", summary="A filing's supervision account and its events")
    def account(number: str, who: Who) -> dict[str, Any]:
        readable(number, who)
        platform.access.record(who, "read-fund-account", number)
        return service.account(number).as_dict()

    @r.get(
        "/filings/{number}/funds/{index}/statement",
        summary="A fund event's signed statement, signature and certificate (evidence)",
    )
    def statement(number: str, who: Who, index: int = Path(ge=0, le=2**63 - 1)) -> dict[str, Any]:
        readable(number, who)
        try:
            signed = service.statement(number, index)
        except fund_service.UnknownFiling as exc:
            raise Problem(404, "unknown-fund-event", "No such fund event", str(exc)) from exc
        cert = x509.load_der_x509_certificate(signed.certificate)
        return {
            "log_index": signed.log_index,
            "statement": base64.b64encode(signed.statement).decode(),
            "signature": base64.b64encode(signed.signature).decode(),
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "receipt": wait_for_receipt(deployment, signed.log_index),
        }

    return r
