"""Idempotency records: one per (organisation, key), claimed, then answered; safe across crashes.

The first request with a key claims it (a row without an answer yet), then runs. A use-case's
answer is stored in the same transaction as its work (``filing.completion``): if the process
dies after the work committed, a retry gets that answer instead of doing the work twice. A
claim whose request died before its work committed is taken over by a retry once its lease
has run out. The HTTP layer (``api/idempotency.py``) decides what an answer looks like.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from filing.clock import SYSTEM, Clock

metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("org", Text, primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer),  # NULL until the request's answer is stored
    Column("media_type", Text),
    Column("body", LargeBinary),
    # When the key was claimed (or last taken over): an unanswered claim is the
    # running request's until ``created_at + lease``.
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Answer:
    """A stored answer: HTTP status, media type and body, as given the first time."""

    status: int
    media_type: str | None
    body: bytes


class IdempotencyRefused(Exception):
    """The key cannot be used for this request now."""


class KeyReused(IdempotencyRefused):
    """The key was used before for another request."""


class InProgress(IdempotencyRefused):
    """A request with this key is running within its lease."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class IdempotencyRecords:
    """The deployment's idempotency records, per organisation and key."""

    def __init__(self, engine: Engine, clock: Clock = SYSTEM) -> None:
        self.engine = engine
        self.clock = clock

    def claim(self, org: str, key: str, digest: str, lease: dt.timedelta) -> Answer | None:
        """Claim the key (None); or the stored answer; raises ``KeyReused``, ``InProgress``."""
        t = idempotency_keys.c
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(idempotency_keys).values(
                        org=org, key=key, request_hash=digest, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.request_hash, t.status, t.media_type, t.body, t.created_at).where(
                    t.org == org, t.key == key
                )
            ).first()
        if row is None:  # the claim was forgotten meanwhile: claim it afresh
            return self.claim(org, key, digest, lease)
        if row.request_hash != digest:
            raise KeyReused("Idempotency-Key already used for another request")
        if row.status is not None:
            return Answer(int(row.status), row.media_type, bytes(row.body))
        claimed = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
        if now - claimed < lease:
            raise InProgress(max(1, int((claimed + lease - now).total_seconds())))
        # The request that claimed it died before its work committed (its answer would be
        # here otherwise): take the claim over, unless another retry just did.
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(idempotency_keys)
                .where(
                    t.org == org,
                    t.key == key,
                    t.status.is_(None),
                    t.created_at == row.created_at,
                )
                .values(created_at=now)
            ).rowcount
        if taken != 1:
            return self.claim(org, key, digest, lease)
        return None

    @staticmethod
    def recorder(
        org: str, key: str, answer: Callable[[object], Answer]
    ) -> Callable[[Connection, object], None]:
        """What ``filing.completion.recording`` calls inside the work's transaction: the
        answer of the work's result stored with the work."""

        def record(conn: Connection, result: object) -> None:
            _store(conn, org, key, answer(result), only_unanswered=False)

        return record

    def answer(self, org: str, key: str, answer: Answer) -> None:
        """Store the answer of work that committed (or wrote nothing)."""
        with self.engine.begin() as conn:
            _store(conn, org, key, answer, only_unanswered=False)

    def refuse(self, org: str, key: str, answer: Answer) -> None:
        """Store a refusal: it wrote nothing, so nothing else can have answered this key
        meanwhile; never overwrite an answer stored with committed work."""
        with self.engine.begin() as conn:
            _store(conn, org, key, answer, only_unanswered=True)

    def forget_unanswered(self, org: str, key: str) -> None:
        """Release the claim of a request that failed, unless its work committed an answer."""
        t = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(
                idempotency_keys.delete().where(t.org == org, t.key == key, t.status.is_(None))
            )


def _store(conn: Connection, org: str, key: str, answer: Answer, only_unanswered: bool) -> None:
    t = idempotency_keys.c
    where = [t.org == org, t.key == key]
    if only_unanswered:
        where.append(t.status.is_(None))
    conn.execute(
        update(idempotency_keys)
        .where(*where)
        .values(status=answer.status, media_type=answer.media_type, body=answer.body)
    )
