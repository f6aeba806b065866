"""Integrators' lists: contracts and filings by status, unit, project, kind and time, a page
at a time, scoped to what the caller may see (``filing.policy.list_scope``).

Pages are keyset pages: contracts in (created_at, id) order, filings in (filed_at, number)
order, oldest first, each page's ``next`` an opaque cursor holding the last row's key. So:

* no row is listed twice, whatever is inserted or changed between pages;
* every row committed before the first page is read, and still matching the filters when its
  page is read, is listed (no gaps);
* a row committed while paging is listed if its key sorts after the page being read (new rows
  take the platform's clock, so they come at the end, unless their transaction was open
  while a later one committed); a row whose status changes between pages is listed as it is
  when its page is read (and, with a status filter, only if it still matches).

A cursor names its list and the digest of its filters: given with another list or other
filters it is refused (``BadCursor``, 422), as is anything that is not one. Each page costs
one indexed query (the indexes of migration 0007_lists), whatever the size of the tables.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, exists, or_, select, tuple_

from filing import kinds, schema
from filing.holdings import person_key
from filing.policy import ListScope
from filing.status import ContractStatus, FilingStatus

MAX_LIMIT = 200
T = TypeVar("T")
DEFAULT_LIMIT = 50
CURSOR_VERSION = 1


class BadCursor(ValueError):
    """The cursor is not one this list gave for these filters."""


class BadListQuery(ValueError):
    """A filter or the page size is out of range (the message says which)."""


@dataclass(frozen=True)
class ContractFilter:
    status: ContractStatus | None = None
    unit: str | None = None  # 不动产单元代码
    project: int | None = None
    kind: str | None = None  # filing.kinds.Kind's value
    created_from: dt.datetime | None = None  # inclusive, UTC
    created_to: dt.datetime | None = None  # exclusive, UTC


@dataclass(frozen=True)
class FilingFilter:
    status: FilingStatus | None = None
    unit: str | None = None
    project: int | None = None
    kind: str | None = None
    filed_from: dt.datetime | None = None  # inclusive, UTC
    filed_to: dt.datetime | None = None  # exclusive, UTC


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row's sort key."""

    at: dt.datetime
    key: str


@dataclass(frozen=True)
class ContractItem:
    """A contract in a list: no names, no ID numbers (``GET /v1/contracts/{id}`` has them)."""

    id: str
    number: str
    kind: str
    status: ContractStatus
    developer_id: str
    unit_code: str
    project_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    signed_fields: tuple[str, ...]
    required: tuple[str, ...]  # every signature field in signing order
    filing: str | None  # the filing number once filed


@dataclass(frozen=True)
class FilingItem:
    number: str
    kind: str
    status: FilingStatus
    contract_id: str
    contract_number: str
    developer_id: str
    unit_code: str
    project_id: int
    doc_sha256: str
    log_index: int
    filed_at: dt.datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next: str | None  # the cursor of the next page; None when this one is the last


def utc(moment: dt.datetime) -> dt.datetime:
    """A filter's time in UTC; a time without an offset is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadListQuery(f"{moment.isoformat()} has no UTC offset (write Z or +08:00)")
    return moment.astimezone(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadListQuery(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
    return limit


def _digest(name: str, scope: ListScope, flt: ContractFilter | FilingFilter) -> str:
    fields = {
        k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(flt).items()
    }
    canonical = json.dumps([name, asdict(scope), fields], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(name: str, digest: str, position: Position) -> str:
    body = {
        "v": CURSOR_VERSION,
        "l": name,
        "f": digest,
        "t": position.at.astimezone(dt.UTC).isoformat(),
        "k": position.key,
    }
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, name: str, digest: str) -> Position:
    """The position a cursor holds; ``BadCursor`` for anything this list did not give."""
    if not token or len(token) > 512:
        raise BadCursor("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError and JSON errors too
        raise BadCursor("not a cursor") from exc
    if not isinstance(body, dict) or body.get("v") != CURSOR_VERSION:
        raise BadCursor("not a cursor of this version")
    if body.get("l") != name:
        raise BadCursor(f"not a cursor of the {name} list")
    if body.get("f") != digest:
        raise BadCursor("the cursor was given for other filters (or another caller)")
    at, key = body.get("t"), body.get("k")
    if not isinstance(at, str) or not isinstance(key, str) or not key or len(key) > 64:
        raise BadCursor("not a cursor")
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError as exc:
        raise BadCursor("not a cursor") from exc
    if moment.tzinfo is None:
        raise BadCursor("not a cursor")
    return Position(moment.astimezone(dt.UTC), key)


def _check_kind(kind: str | None) -> None:
    if kind is not None:
        try:
            kinds.get(kind)
        except kinds.UnknownKind as exc:
            raise BadListQuery(str(exc)) from exc


def _check_range(start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is not None and end is not None and not start < end:
        raise BadListQuery("the range's start must come before its end")


def _page(rows: Sequence[T], limit: int, name: str, digest: str, key: Any) -> Page[T]:
    if len(rows) <= limit:
        return Page(tuple(rows), None)
    shown = tuple(rows[:limit])
    return Page(shown, encode_cursor(name, digest, key(shown[-1])))


def _scoped(query: Select[Any], scope: ListScope, contract_id: Any) -> Select[Any]:
    """Only the rows of contracts the scope names: a developer's by ``contracts_by_developer``,
    a person's and an agency's by the parties' indexes (``contract_buyers_by_person``,
    ``contract_parties_by_party``): a page is still one indexed query."""
    c, cb, cp = schema.contracts, schema.contract_buyers, schema.contract_parties
    if scope.developer is not None:
        query = query.where(c.c.developer_id == scope.developer)
    if scope.person is not None:
        key = person_key(scope.person)
        bought = select(cb.c.contract_id).where(cb.c.person == key)
        named = select(cp.c.contract_id).where(cp.c.party == key)
        query = query.where(or_(contract_id.in_(bought), contract_id.in_(named)))
    if scope.agency is not None:
        query = query.where(
            contract_id.in_(select(cp.c.contract_id).where(cp.c.party == scope.agency))
        )
    return query


# -- contracts ---------------------------------------------------------------------------


def contracts(
    conn: Connection,
    scope: ListScope,
    flt: ContractFilter,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ContractItem]:
    check_limit(limit)
    _check_kind(flt.kind)
    _check_range(flt.created_from, flt.created_to)
    digest = _digest("contracts", scope, flt)
    after = None if cursor is None else decode_cursor(cursor, "contracts", digest)
    c, u, b, f = schema.contracts, schema.units, schema.buildings, schema.filings
    query: Select[Any] = (
        select(
            c.c.id,
            c.c.number,
            c.c.kind,
            c.c.status,
            c.c.developer_id,
            c.c.created_at,
            c.c.expires_at,
            c.c.signed_fields,
            c.c.data,
            u.c.code,
            b.c.project_id,
            f.c.number.label("filing"),
        )
        .select_from(
            c.join(u, u.c.id == c.c.unit_id)
            .join(b, b.c.id == u.c.building_id)
            .outerjoin(f, f.c.contract_id == c.c.id)
        )
        # The parties' cancellation and change agreements are rows of ``contracts`` too;
        # they are listed with their filing, not here.
        .where(~exists().where(schema.filing_agreements.c.contract_id == c.c.id))
    )
    query = _scoped(query, scope, c.c.id)
    if flt.status is not None:
        query = query.where(c.c.status == flt.status.value)
    if flt.unit is not None:
        query = query.where(u.c.code == flt.unit)
    if flt.project is not None:
        query = query.where(b.c.project_id == flt.project)
    if flt.kind is not None:
        query = query.where(c.c.kind == flt.kind)
    if flt.created_from is not None:
        query = query.where(c.c.created_at >= flt.created_from)
    if flt.created_to is not None:
        query = query.where(c.c.created_at < flt.created_to)
    if after is not None:
        query = query.where(tuple_(c.c.created_at, c.c.id) > tuple_(after.at, after.key))
    rows = conn.execute(query.order_by(c.c.created_at, c.c.id).limit(limit + 1)).all()
    items = [_contract_item(r) for r in rows]
    return _page(items, limit, "contracts", digest, lambda i: Position(i.created_at, i.id))


def _contract_item(r: Any) -> ContractItem:
    kind = kinds.get(r.kind)
    return ContractItem(
        id=r.id,
        number=r.number,
        kind=r.kind,
        status=ContractStatus(r.status),
        developer_id=r.developer_id,
        unit_code=r.code,
        project_id=int(r.project_id),
        created_at=_aware(r.created_at),
        expires_at=_aware(r.expires_at),
        signed_fields=tuple(x for x in r.signed_fields.split(",") if x),
        required=kind.signature_fields(kinds.load(r.kind, r.data)),
        filing=r.filing,
    )


# -- filings -----------------------------------------------------------------------------


def filings(
    conn: Connection,
    scope: ListScope,
    flt: FilingFilter,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[FilingItem]:
    check_limit(limit)
    _check_kind(flt.kind)
    _check_range(flt.filed_from, flt.filed_to)
    digest = _digest("filings", scope, flt)
    after = None if cursor is None else decode_cursor(cursor, "filings", digest)
    f, c, u, b = schema.filings, schema.contracts, schema.units, schema.buildings
    query: Select[Any] = select(
        f.c.number,
        f.c.kind,
        f.c.status,
        f.c.contract_id,
        c.c.number.label("contract_number"),
        c.c.developer_id,
        u.c.code,
        b.c.project_id,
        f.c.doc_sha256,
        f.c.log_index,
        f.c.filed_at,
    ).select_from(
        f.join(c, c.c.id == f.c.contract_id)
        .join(u, u.c.id == f.c.unit_id)
        .join(b, b.c.id == u.c.building_id)
    )
    query = _scoped(query, scope, f.c.contract_id)
    if flt.status is not None:
        query = query.where(f.c.status == flt.status.value)
    if flt.unit is not None:
        query = query.where(u.c.code == flt.unit)
    if flt.project is not None:
        query = query.where(b.c.project_id == flt.project)
    if flt.kind is not None:
        query = query.where(f.c.kind == flt.kind)
    if flt.filed_from is not None:
        query = query.where(f.c.filed_at >= flt.filed_from)
    if flt.filed_to is not None:
        query = query.where(f.c.filed_at < flt.filed_to)
    if after is not None:
        query = query.where(tuple_(f.c.filed_at, f.c.number) > tuple_(after.at, after.key))
    rows = conn.execute(query.order_by(f.c.filed_at, f.c.number).limit(limit + 1)).all()
    items = [
        FilingItem(
            number=r.number,
            kind=r.kind,
            status=FilingStatus(r.status),
            contract_id=r.contract_id,
            contract_number=r.contract_number,
            developer_id=r.developer_id,
            unit_code=r.code,
            project_id=int(r.project_id),
            doc_sha256=r.doc_sha256,
            log_index=int(r.log_index),
            filed_at=_aware(r.filed_at),
        )
        for r in rows
    ]
    return _page(items, limit, "filings", digest, lambda i: Position(i.filed_at, i.number))
