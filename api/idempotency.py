"""``Idempotency-Key`` for every POST, kept in the database.

The first request with a key runs and its answer (success or a 4xx problem) is
stored; a repeat with the same key and the same body gets the stored answer; the
same key with another body is refused (422). A repeat while the first is still
running gets 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

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
from api.problems import Problem

metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("org", Text, primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer),  # NULL while the first request runs
    Column("media_type", Text),
    Column("body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create(conn: Connection) -> None:
    metadata.create_all(conn)


def run_once(
    engine: Engine, caller: Caller, key: str | None, request: bytes, handler: Callable[[], Response]
) -> Response:
    if not key:
        raise Problem(400, "idempotency-key-required", "Idempotency-Key header required")
    if len(key) > 200:
        raise Problem(400, "idempotency-key-invalid", "Idempotency-Key longer than 200 characters")
    digest = hashlib.sha256(request).hexdigest()
    t = idempotency_keys.c
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(idempotency_keys).values(
                    org=caller.org, key=key, request_hash=digest, created_at=dt.datetime.now(dt.UTC)
                )
            )
    except IntegrityError:
        with engine.connect() as conn:
            row = conn.execute(
                select(t.request_hash, t.status, t.media_type, t.body).where(
                    t.org == caller.org, t.key == key
                )
            ).first()
        assert row is not None
        if row[0] != digest:
            raise Problem(
                422, "idempotency-key-reused", "Idempotency-Key already used for another request"
            ) from None
        if row[1] is None:
            raise Problem(
                409, "request-in-progress", "A request with this Idempotency-Key is running"
            ) from None
        return Response(bytes(row[3]), status_code=int(row[1]), media_type=row[2])
    try:
        response = handler()
    except Problem as problem:
        if problem.status >= 500:
            _forget(engine, caller, key)
            raise
        from api.problems import problem_response

        response = problem_response(
            problem.status, problem.slug, problem.title, problem.detail, **problem.extra
        )
    except BaseException:
        _forget(engine, caller, key)
        raise
    with engine.begin() as conn:
        conn.execute(
            update(idempotency_keys)
            .where(t.org == caller.org, t.key == key)
            .values(
                status=response.status_code,
                media_type=response.media_type,
                body=bytes(response.body),
            )
        )
    return response


def _forget(engine: Engine, caller: Caller, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            idempotency_keys.delete().where(
                idempotency_keys.c.org == caller.org, idempotency_keys.c.key == key
            )
        )
