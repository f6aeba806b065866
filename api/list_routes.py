"""Integrators' reads: lists of contracts and filings (cursor pages), and the caller's events.

Who sees which rows is ``filing.policy``'s (``list_scope``, ``event_scope``); the lists and
events name no people. See docs/api.md, "Lists and events".
"""

# No ``from __future__ import annotations``: FastAPI reads the local ``Who`` alias at runtime.

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api import auth
from api.auth import Caller, require
from api.problems import Problem
from api.ratelimit import RateLimiter
from filing import listing, policy
from filing.listing import BadCursor, BadListQuery, ContractFilter, FilingFilter
from filing.outbox import Event
from filing.platform import Platform
from filing.status import ContractStatus, FilingStatus

MAX_EVENTS = 500


class ContractItemOut(BaseModel):
    id: str
    number: str
    kind: str = Field(description="the transaction kind: new-presale, new-completed, …")
    status: ContractStatus
    developer_id: str = Field(description="the developer's 统一社会信用代码")
    unit: str = Field(description="不动产单元代码 (28 characters)")
    project: int
    created_at: dt.datetime = Field(description="UTC")
    expires_at: dt.datetime = Field(description="UTC: the unit's hold ends (a draft)")
    signed: list[str] = Field(description="the signature fields signed so far, in order")
    required: list[str] = Field(description="every signature field, in signing order")
    filing: str | None = Field(description="the filing number once filed")


class ContractPageOut(BaseModel):
    items: list[ContractItemOut]
    next: str | None = Field(description="the cursor of the next page; null on the last page")


class FilingItemOut(BaseModel):
    number: str
    kind: str
    status: FilingStatus
    contract_id: str
    contract_number: str
    developer_id: str
    unit: str
    project: int
    document_sha256: str
    log_index: int
    filed_at: dt.datetime = Field(description="UTC")


class FoundOut(BaseModel):
    """A filed document found by its SHA-256 (``GET /v1/filings?sha256=``)."""

    filing: str
    kind: str = Field(description="filed (a sealed contract) or changed (a change agreement)")
    status: FilingStatus
    log_index: int
    filed_at: str = Field(description="UTC, ISO 8601")


class FilingPageOut(BaseModel):
    items: list[FilingItemOut]
    next: str | None = Field(description="the cursor of the next page; null on the last page")


class EventOut(BaseModel):
    id: int
    event: str = Field(
        description="a filing's: filed, changed, cancelled, registered, funds-deposited, "
        "funds-released, funds-refunded, maintenance-deposited, maintenance-used, "
        "maintenance-refunded; a "
        "contract's (before filing): contract-signed, draft-withdrawn, draft-expired"
    )
    filing: str | None = Field(description="the filing number; null for a contract's event")
    log_index: int | None = Field(description="the log entry; null for a contract's event")
    at: str = Field(description="UTC, ISO 8601 with Z")
    unit: str
    document_sha256: str | None = Field(
        description="the filed document, or for contract-signed the revision signed so far"
    )
    ref: int | None
    kind: str | None
    contract: str | None = Field(description="the contract's id")
    field: str | None = Field(
        description="contract-signed: the signature field (seller, buyer-1, …; no names)"
    )


class EventPageOut(BaseModel):
    events: list[EventOut]
    next: int = Field(
        description="ask again with after=next: every event up to it has been looked at"
    )


def _contract(i: listing.ContractItem) -> ContractItemOut:
    return ContractItemOut(
        id=i.id,
        number=i.number,
        kind=i.kind,
        status=i.status,
        developer_id=i.developer_id,
        unit=i.unit_code,
        project=i.project_id,
        created_at=i.created_at,
        expires_at=i.expires_at,
        signed=list(i.signed_fields),
        required=list(i.required),
        filing=i.filing,
    )


def _filing(i: listing.FilingItem) -> FilingItemOut:
    return FilingItemOut(
        number=i.number,
        kind=i.kind,
        status=i.status,
        contract_id=i.contract_id,
        contract_number=i.contract_number,
        developer_id=i.developer_id,
        unit=i.unit_code,
        project=i.project_id,
        document_sha256=i.doc_sha256,
        log_index=i.log_index,
        filed_at=i.filed_at,
    )


def _event(e: Event) -> EventOut:
    p = e.payload()
    return EventOut(**p)


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, BadCursor):
        return Problem(422, "bad-cursor", "Not a cursor of this list", str(exc))
    if isinstance(exc, BadListQuery):
        return Problem(422, "bad-list-query", "A filter or the page size is out of range", str(exc))
    if isinstance(exc, policy.NotListed):
        allowed = ", ".join(r.value for r in policy.LISTS_CONTRACTS)
        return Problem(403, "forbidden", "Not allowed for this role", f"needs one of: {allowed}")
    raise exc


def _time(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else listing.utc(moment)


Limit = Annotated[
    int,
    Query(ge=1, le=listing.MAX_LIMIT, description=f"rows per page, 1 to {listing.MAX_LIMIT}"),
]
Cursor = Annotated[
    str | None, Query(max_length=512, description="the `next` of the previous page, as it is")
]
Unit = Annotated[str | None, Query(max_length=28, description="不动产单元代码")]
Project = Annotated[int | None, Query(ge=1, description="the project's id")]
Kind = Annotated[str | None, Query(max_length=24, description="new-presale, new-completed, …")]
From = Annotated[dt.datetime | None, Query(description="inclusive; ISO 8601 with Z or an offset")]
To = Annotated[dt.datetime | None, Query(description="exclusive; ISO 8601 with Z or an offset")]


def router(platform: Platform, limiter: RateLimiter) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["lists and events"])
    reads = platform.contracts
    Who = Annotated[Caller, Depends(auth.dependency(platform.keys, limiter))]

    @r.get(
        "/contracts",
        response_model=ContractPageOut,
        summary="List contracts (cursor pages, oldest first)",
        description="A developer lists its own, a person (`buyer` role) the contracts naming "
        "them as buyer or as a resale's seller or agent, an agency the resales naming its "
        "brokerage, the authority and courts all; other roles 403. No names or ID numbers: "
        "`GET /v1/contracts/{id}` has them. Order: `created_at`, then `id`; pass `next` "
        "as `cursor` for the next page (a cursor of other filters or not given by this "
        "list: 422 `bad-cursor`).",
    )
    def list_contracts(
        who: Who,
        status: ContractStatus | None = None,
        unit: Unit = None,
        project: Project = None,
        kind: Kind = None,
        created_from: From = None,
        created_to: To = None,
        limit: Limit = listing.DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ContractPageOut:
        try:
            flt = ContractFilter(
                status, unit, project, kind, _time(created_from), _time(created_to)
            )
            page = reads.list_contracts(who, flt, limit, cursor)
        except (BadCursor, BadListQuery, policy.NotListed) as exc:
            raise _problem(exc) from exc
        return ContractPageOut(items=[_contract(i) for i in page.items], next=page.next)

    @r.get(
        "/filings",
        response_model=FilingPageOut | list[FoundOut],
        summary="List filings (cursor pages, oldest first); or find a document by SHA-256",
        description="Without `sha256`: a page of filings, scoped as the contract list, in "
        "`filed_at`, then `number` order. With `sha256` (any role; no other parameter "
        "counts): was this PDF ever filed? — a list of the filings (`kind: filed`) and change "
        "agreements (`kind: changed`) with that SHA-256, as before the list existed.",
    )
    def list_filings(
        who: Who,
        sha256: Annotated[
            str | None, Query(pattern="^[0-9a-f]{64}$", description="a document's SHA-256")
        ] = None,
        status: FilingStatus | None = None,
        unit: Unit = None,
        project: Project = None,
        kind: Kind = None,
        filed_from: From = None,
        filed_to: To = None,
        limit: Limit = listing.DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> FilingPageOut | list[FoundOut]:
        if sha256 is not None:
            return [
                FoundOut(
                    filing=f.filing,
                    kind=f.kind,
                    status=f.status,
                    log_index=f.log_index,
                    filed_at=f.filed_at.isoformat(),
                )
                for f in reads.with_sha256(sha256)
            ]
        try:
            flt = FilingFilter(status, unit, project, kind, _time(filed_from), _time(filed_to))
            page = reads.list_filings(who, flt, limit, cursor)
        except (BadCursor, BadListQuery, policy.NotListed) as exc:
            raise _problem(exc) from exc
        return FilingPageOut(items=[_filing(i) for i in page.items], next=page.next)

    @r.get(
        "/events",
        response_model=EventPageOut,
        summary="Your filing events after an id (a page; poll with after=next)",
        description="A developer gets the events of its own contracts and filings only "
        "(signed, withdrawn, expired, filed, changed, cancelled, fund events), an agency "
        "those of the resales naming it; the authority, "
        "departments, tax, banks and courts every event, as on the stream and their "
        "webhooks. Events carry no personal data. Each call "
        "looks at no more than 5,000 event ids: a page may be empty with `next` moved on; "
        "keep asking with `after=next` until `next` stops moving.",
    )
    def events(
        who: Who,
        after: Annotated[int, Query(ge=0, description="the last event id you have")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
    ) -> EventPageOut:
        require(who, *policy.SUBSCRIBES)
        page = platform.supervision.events(who, after, limit)
        return EventPageOut(events=[_event(e) for e in page.events], next=page.scanned_to)

    return r
