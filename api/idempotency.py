"""``Idempotency-Key`` for every POST, kept in the database; safe across crashes.

The first request with a key claims it (a row without an answer yet), then runs. A
use-case's answer is stored in the same transaction as its work (``filing.completion``):
if the process dies after the work committed, a retry gets that answer instead of doing
the work twice. A claim whose request died before its work committed is taken over by
a retry once its lease has run out, and the request runs again from the start. A repeat
with the same key and body gets the stored answer; the same key with another body is
refused (422); a repeat while the first is still running within its lease gets 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.responses import Response
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

from api.auth import Caller
from api.problems import Problem, problem_response
from filing.completion import recording

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

# Render a use-case's result as the HTTP answer; ``live`` is False inside the work's
# transaction (nothing may wait there, e.g. for a receipt), True after it committed.
Render = Callable[[Any, bool], Response]


def run_once(
    engine: Engine,
    caller: Caller,
    key: str | None,
    request: bytes,
    work: Callable[[], Any],
    render: Render | None = None,
    lease: dt.timedelta = dt.timedelta(seconds=30),
) -> Response:
    """Run ``work`` once for this key; ``render`` turns its result into the answer (by
    default the result is the answer)."""
    if not key:
        raise Problem(400, "idempotency-key-required", "Idempotency-Key header required")
    if len(key) > 200:
        raise Problem(400, "idempotency-key-invalid", "Idempotency-Key longer than 200 characters")
    answer: Render = render or _as_is
    digest = hashlib.sha256(request).hexdigest()
    stored = _claim(engine, caller, key, digest, lease)
    if stored is not None:
        return stored
    t = idempotency_keys.c
    mine = (t.org == caller.org) & (t.key == key)

    def record(conn: Connection, result: object) -> None:
        response = answer(result, False)
        conn.execute(update(idempotency_keys).where(mine).values(**_stored(response)))

    try:
        with recording(record):
            result = work()
        response = answer(result, True)
    except Problem as problem:
        if problem.status >= 500:
            _forget_unanswered(engine, caller, key)
            raise
        response = problem_response(
            problem.status, problem.slug, problem.title, problem.detail, **problem.extra
        )
        # A refusal writes nothing, so nothing else can have answered this key meanwhile;
        # never overwrite an answer stored with committed work.
        with engine.begin() as conn:
            conn.execute(
                update(idempotency_keys).where(mine, t.status.is_(None)).values(**_stored(response))
            )
        return response
    except BaseException:
        _forget_unanswered(engine, caller, key)
        raise
    with engine.begin() as conn:
        conn.execute(update(idempotency_keys).where(mine).values(**_stored(response)))
    return response


def _claim(
    engine: Engine, caller: Caller, key: str, digest: str, lease: dt.timedelta
) -> Response | None:
    """Claim the key; or the stored answer; or a refusal (Problem)."""
    t = idempotency_keys.c
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(idempotency_keys).values(
                    org=caller.org, key=key, request_hash=digest, created_at=now
                )
            )
        return None
    except IntegrityError:
        pass
    with engine.connect() as conn:
        row = conn.execute(
            select(t.request_hash, t.status, t.media_type, t.body, t.created_at).where(
                t.org == caller.org, t.key == key
            )
        ).first()
    if row is None:  # the claim was forgotten meanwhile: claim it afresh
        return _claim(engine, caller, key, digest, lease)
    if row.request_hash != digest:
        raise Problem(
            422, "idempotency-key-reused", "Idempotency-Key already used for another request"
        )
    if row.status is not None:
        return Response(bytes(row.body), status_code=int(row.status), media_type=row.media_type)
    claimed = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    if now - claimed < lease:
        retry = max(1, int((claimed + lease - now).total_seconds()))
        raise Problem(
            409,
            "request-in-progress",
            "A request with this Idempotency-Key is running",
            f"retry in {retry} s",
            retry_after=retry,
        )
    # The request that claimed it died before its work committed (its answer would be
    # here otherwise): take the claim over, unless another retry just did.
    with engine.begin() as conn:
        taken = conn.execute(
            update(idempotency_keys)
            .where(
                t.org == caller.org,
                t.key == key,
                t.status.is_(None),
                t.created_at == row.created_at,
            )
            .values(created_at=now)
        ).rowcount
    if taken != 1:
        return _claim(engine, caller, key, digest, lease)
    return None


def _as_is(result: Any, live: bool) -> Response:
    if not isinstance(result, Response):
        raise TypeError("without a renderer, the work must return the answer")
    return result


def _stored(response: Response) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "media_type": response.media_type,
        "body": bytes(response.body),
    }


def _forget_unanswered(engine: Engine, caller: Caller, key: str) -> None:
    """Release the claim of a request that failed, unless its work committed an answer."""
    t = idempotency_keys.c
    with engine.begin() as conn:
        conn.execute(
            idempotency_keys.delete().where(t.org == caller.org, t.key == key, t.status.is_(None))
        )
