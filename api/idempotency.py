"""``Idempotency-Key`` for every POST: the HTTP side of ``filing.idempotency``.

A use-case's answer is stored in the same transaction as its work (``filing.completion``).
A repeat with the same key and body gets the stored answer; the same key with another body is
refused (422); a repeat while the first is still running within its lease gets 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.responses import Response

from api.problems import Problem, problem_response
from filing.completion import recording
from filing.idempotency import Answer, IdempotencyRecords, InProgress, KeyReused
from filing.policy import Caller

# Render a use-case's result as the HTTP answer; ``live`` is False inside the work's
# transaction (nothing may wait there, e.g. for a receipt), True after it committed.
Render = Callable[[Any, bool], Response]


def run_once(
    records: IdempotencyRecords,
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
    try:
        stored = records.claim(caller.org, key, digest, lease)
    except KeyReused as exc:
        raise Problem(422, "idempotency-key-reused", str(exc)) from exc
    except InProgress as exc:
        raise Problem(
            409,
            "request-in-progress",
            "A request with this Idempotency-Key is running",
            str(exc),
            retry_after=exc.retry_after,
        ) from exc
    if stored is not None:
        return Response(stored.body, status_code=stored.status, media_type=stored.media_type)

    try:
        with recording(records.recorder(caller.org, key, lambda r: _stored(answer(r, False)))):
            result = work()
        response = answer(result, True)
    except Problem as problem:
        if problem.status >= 500:
            records.forget_unanswered(caller.org, key)
            raise
        response = problem_response(
            problem.status, problem.slug, problem.title, problem.detail, **problem.extra
        )
        records.refuse(caller.org, key, _stored(response))
        return response
    except BaseException:
        records.forget_unanswered(caller.org, key)
        raise
    records.answer(caller.org, key, _stored(response))
    return response


def _as_is(result: Any, live: bool) -> Response:
    if not isinstance(result, Response):
        raise TypeError("without a renderer, the work must return the answer")
    return result


def _stored(response: Response) -> Answer:
    return Answer(response.status_code, response.media_type, bytes(response.body))
