"""The outbox: every filing and contract event, written in the transaction that makes it,
for delivery later.

The database row is the event; the Redis Stream and the webhooks are copies made from
it afterwards (``filing/relay.py``), so an outage of either delays delivery and loses
nothing. Event ids are the outbox's ids: increasing, and what receivers deduplicate by.
Payloads carry no personal data.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from filing import schema
from filing.entry import EntryEvent

MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(seconds=2)
LAST_RETRY = dt.timedelta(minutes=10)


class ContractEvent(enum.StrEnum):
    """What happens to a contract before it is filed (no log entry: these are news only)."""

    SIGNED = "contract-signed"  # a party's signature (the developer's seal too) was taken
    WITHDRAWN = "draft-withdrawn"
    EXPIRED = "draft-expired"


@dataclass(frozen=True)
class Event:
    id: int
    # filed | changed | cancelled | registered | funds-* | maintenance-* ; or a ContractEvent
    event: str
    filing: str | None  # None for a contract event
    log_index: int | None  # None for a contract event
    at: dt.datetime
    unit: str
    document_sha256: str | None  # contract-signed: the revision as signed so far
    ref: int | None  # for changed/cancelled: the filing's log index
    kind: str | None = None  # the transaction kind (filing/kinds.py Kind)
    contract: str | None = None  # the contract's id
    field: str | None = None  # contract-signed: whose signature field (seller, buyer-1…)

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "filing": self.filing,
            "log_index": self.log_index,
            "at": self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "unit": self.unit,
            "document_sha256": self.document_sha256,
            "ref": self.ref,
            "kind": self.kind,
            "contract": self.contract,
            "field": self.field,
        }

    def body(self) -> bytes:
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()


def enqueue(
    conn: Connection,
    event: str,
    filing: str,
    log_index: int,
    at: dt.datetime,
    unit: str,
    document_sha256: str,
    ref: int | None = None,
) -> int:
    """Record an event in the caller's transaction; returns its id."""
    return int(
        conn.execute(
            insert(schema.outbox)
            .values(
                event=event,
                filing_number=filing,
                log_index=log_index,
                at=at,
                unit=unit,
                document_sha256=document_sha256,
                ref=ref,
            )
            .returning(schema.outbox.c.id)
        ).scalar_one()
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for what was stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def enqueue_contract_event(
    conn: Connection,
    event: ContractEvent,
    contract_id: str,
    unit: str,
    at: dt.datetime,
    field: str | None = None,
    document_sha256: str | None = None,
) -> int:
    """Record a contract's event in the caller's transaction; returns its id.

    The caller holds the log's append order (``Log.hold_append_order``): receivers read
    events by increasing id, so an id must not commit after a higher one.
    """
    return int(
        conn.execute(
            insert(schema.outbox)
            .values(
                event=event.value,
                contract_id=contract_id,
                field=field,
                at=at,
                unit=unit,
                document_sha256=document_sha256,
            )
            .returning(schema.outbox.c.id)
        ).scalar_one()
    )


def _event(row: Any) -> Event:
    return Event(
        int(row.id), row.event, row.filing_number,
        None if row.log_index is None else int(row.log_index), _aware(row.at), row.unit,
        row.document_sha256, row.ref, row.kind or row.contract_kind,
        row.contract_id or row.filing_contract, row.field,
    )  # fmt: skip


def _with_kind() -> Any:
    """Outbox rows with their transaction kind and contract (the filing's, or the contract
    event's own)."""
    o, f, c = schema.outbox, schema.filings, schema.contracts
    return select(
        o,
        f.c.kind,
        f.c.contract_id.label("filing_contract"),
        c.c.kind.label("contract_kind"),
    ).select_from(
        o.outerjoin(f, f.c.number == o.c.filing_number).outerjoin(c, c.c.id == o.c.contract_id)
    )


def events_after(conn: Connection, after: int, limit: int = 500) -> list[Event]:
    o = schema.outbox
    rows = conn.execute(_with_kind().where(o.c.id > after).order_by(o.c.id).limit(limit)).all()
    return [_event(r) for r in rows]


# A use of a unit's maintenance fund is its owners' affair: its event names the filing that
# opened the account (a developer's sale, years before; after a resale, another owner's
# fund), so the sale's developer or agency would follow every later repair of a home it
# no longer has anything to do with. Scoped subscribers do not get it; the authority and
# the departments do.
OWNERS_ONLY = EntryEvent.MAINTENANCE_USED.value

# How many outbox rows one scoped read looks at, at most: a developer's page or delivery
# costs a range of the outbox's primary key, however rare its events are among others'.
SCAN_WINDOW = 5000


@dataclass(frozen=True)
class ScopedEvents:
    events: tuple[Event, ...]
    scanned_to: int  # every event up to this id was looked at: resume after it


def events_of(
    conn: Connection,
    after: int,
    developer: str | None,
    limit: int = 100,
    window: int = SCAN_WINDOW,
) -> ScopedEvents:
    """Events after ``after`` in id order, only those of ``developer``'s contracts and
    filings if given (every event if None); looks at no more than ``window`` ids past
    ``after``.

    ``developer``: whose (policy.event_scope): a developer's credit code (the contracts it
    drafted) or an agency's ``agency:<filing number>`` (the resales naming its brokerage,
    ``contract_parties``, which include every one it drafted)."""
    o, f, c, cp = schema.outbox, schema.filings, schema.contracts, schema.contract_parties
    top = latest_event_id(conn)
    end = min(top, after + window)
    query = _with_kind().where(o.c.id > after, o.c.id <= end)
    if developer is not None:
        named = select(cp.c.contract_id).where(cp.c.party == developer)
        ours = select(c.c.id).where(or_(c.c.developer_id == developer, c.c.id.in_(named)))
        mine = select(f.c.number).where(f.c.contract_id.in_(ours))
        query = query.where(
            or_(o.c.filing_number.in_(mine), o.c.contract_id.in_(ours)),
            o.c.event != OWNERS_ONLY,
        )
    rows = conn.execute(query.order_by(o.c.id).limit(limit)).all()
    events = tuple(_event(r) for r in rows)
    scanned = events[-1].id if len(events) == limit else max(end, after)
    return ScopedEvents(events, scanned)


def cursor(conn: Connection, name: str) -> int:
    value = conn.execute(
        select(schema.outbox_cursors.c.last_id).where(schema.outbox_cursors.c.name == name)
    ).scalar()
    return int(value or 0)


def advance(conn: Connection, name: str, last_id: int) -> None:
    c = schema.outbox_cursors
    done = conn.execute(update(c).where(c.c.name == name).values(last_id=last_id)).rowcount
    if not done:
        conn.execute(insert(c).values(name=name, last_id=last_id))


# -- webhooks ------------------------------------------------------------------


class AttemptStatus(enum.StrEnum):
    """Where an event stands with a subscription."""

    DELIVERED = "DELIVERED"
    RETRY = "RETRY"  # failed; tried again at next_attempt_at
    DEAD = "DEAD"  # failed max_attempts times: dead-lettered, the next event goes
    REDELIVER = "REDELIVER"  # a dead letter the subscriber asked to have tried once more


class DeliveryFailure(enum.StrEnum):
    """What a subscriber is told of a failed delivery, besides ``HTTP <status>``.

    Never the network error: "connection refused" and "timed out" or "not HTTP" tell a
    closed port from an open one, and a subscriber could map the platform's network.
    """

    REFUSED_ADDRESS = "refused address"  # the URL is, or resolved to, a refused address
    NO_ANSWER = "no answer"  # no HTTP answer: not resolved, not reached, not HTTP, timed out


_HTTP_STATUS = re.compile(r"HTTP [1-5][0-9][0-9]")


def http_status(status: int) -> str:
    return f"HTTP {status}"


def shown_error(recorded: str) -> str:
    """A recorded error as the subscriber may see it (rows from older releases held the
    network error's text: they read as "no answer")."""
    if not recorded or _HTTP_STATUS.fullmatch(recorded):
        return recorded
    if recorded in DeliveryFailure.__members__.values():
        return recorded
    return DeliveryFailure.NO_ANSWER.value


@dataclass(frozen=True)
class Subscription:
    id: int
    org: str
    url: str
    secret: str
    cursor: int  # the last event delivered or dead-lettered
    developer: str | None = None  # only this developer's filings' events (None: every event)


def subscribe(
    conn: Connection,
    org: str,
    url: str,
    from_event: int | None = None,
    developer: str | None = None,
) -> Subscription:
    """A new webhook; it receives events after ``from_event`` (default: from now on), only
    those of ``developer``'s filings if given."""
    start = from_event if from_event is not None else latest_event_id(conn)
    secret = secrets.token_urlsafe(32)
    sub_id = conn.execute(
        insert(schema.webhook_subscriptions)
        .values(
            org=org,
            url=url,
            secret=secret,
            cursor=start,
            developer=developer,
            created_at=dt.datetime.now(dt.UTC),
        )
        .returning(schema.webhook_subscriptions.c.id)
    ).scalar_one()
    return Subscription(int(sub_id), org, url, secret, start, developer)


def latest_event_id(conn: Connection) -> int:
    o = schema.outbox
    return int(conn.execute(select(o.c.id).order_by(o.c.id.desc()).limit(1)).scalar() or 0)


def subscriptions(conn: Connection, org: str | None = None) -> list[Subscription]:
    s = schema.webhook_subscriptions
    query = select(s).order_by(s.c.id)
    if org is not None:
        query = query.where(s.c.org == org)
    return [
        Subscription(int(r.id), r.org, r.url, r.secret, int(r.cursor), r.developer)
        for r in conn.execute(query).all()
    ]


def skip_to(conn: Connection, sub_id: int, event_id: int) -> None:
    """Move a scoped subscription past events that are not its own (none is skipped that is)."""
    s = schema.webhook_subscriptions
    conn.execute(update(s).where(s.c.id == sub_id, s.c.cursor < event_id).values(cursor=event_id))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>." ‖ body)>``: what receivers recompute."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> dt.timedelta:
    delay: dt.timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LAST_RETRY)


def attempt_state(conn: Connection, sub_id: int, event_id: int) -> tuple[int, dt.datetime | None]:
    a = schema.webhook_attempts
    row = conn.execute(
        select(a.c.attempts, a.c.next_attempt_at).where(
            a.c.subscription_id == sub_id, a.c.event_id == event_id
        )
    ).first()
    if row is None:
        return 0, None
    when = row.next_attempt_at
    return int(row.attempts), None if when is None else _aware(when)


def record_attempt(
    conn: Connection,
    sub: Subscription,
    event_id: int,
    ok: bool,
    error: str,
    now: dt.datetime,
    max_attempts: int = MAX_ATTEMPTS,
    first_retry: dt.timedelta = FIRST_RETRY,
) -> AttemptStatus:
    """Note one delivery attempt; returns DELIVERED, RETRY or DEAD (then the next event goes)."""
    a, s = schema.webhook_attempts, schema.webhook_subscriptions
    attempts, _ = attempt_state(conn, sub.id, event_id)
    attempts += 1
    if ok:
        status = AttemptStatus.DELIVERED
    else:
        status = AttemptStatus.DEAD if attempts >= max_attempts else AttemptStatus.RETRY
    wait = min(first_retry * (2 ** (attempts - 1)), LAST_RETRY)
    values = {
        "attempts": attempts,
        "status": status.value,
        "last_error": shown_error(error)[:500],
        "next_attempt_at": now + wait if status is AttemptStatus.RETRY else None,
        "updated_at": now,
    }
    changed = conn.execute(
        update(a).where(a.c.subscription_id == sub.id, a.c.event_id == event_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(a).values(subscription_id=sub.id, event_id=event_id, **values))
    if status is not AttemptStatus.RETRY:
        conn.execute(
            update(s).where(s.c.id == sub.id, s.c.cursor < event_id).values(cursor=event_id)
        )
    return status


def dead_letters(conn: Connection, sub_id: int) -> list[dict[str, Any]]:
    a = schema.webhook_attempts
    rows = conn.execute(
        select(a.c.event_id, a.c.attempts, a.c.last_error, a.c.updated_at)
        .where(a.c.subscription_id == sub_id, a.c.status == AttemptStatus.DEAD.value)
        .order_by(a.c.event_id)
    ).all()
    return [
        {
            "event_id": int(r.event_id),
            "attempts": int(r.attempts),
            "last_error": shown_error(r.last_error or ""),
            "at": _aware(r.updated_at).isoformat(),
        }
        for r in rows
    ]


def redeliver(conn: Connection, sub_id: int, event_id: int) -> bool:
    """Queue a dead letter for one more attempt; False if there is no such dead letter."""
    a = schema.webhook_attempts
    return bool(
        conn.execute(
            update(a)
            .where(
                a.c.subscription_id == sub_id,
                a.c.event_id == event_id,
                a.c.status == AttemptStatus.DEAD.value,
            )
            .values(status=AttemptStatus.REDELIVER.value)
        ).rowcount
    )


def redeliveries(conn: Connection, sub_id: int) -> list[int]:
    a = schema.webhook_attempts
    rows = conn.execute(
        select(a.c.event_id)
        .where(a.c.subscription_id == sub_id, a.c.status == AttemptStatus.REDELIVER.value)
        .order_by(a.c.event_id)
    ).all()
    return [int(r[0]) for r in rows]


def event(conn: Connection, event_id: int) -> Event | None:
    row = conn.execute(_with_kind().where(schema.outbox.c.id == event_id)).first()
    return None if row is None else _event(row)
