"""RFC 9457 problem details with stable ``type`` URIs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from filing.platform import ConstraintBroken, ValueUnstorable

PROBLEM_BASE = "https://wangqian.example/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int, slug: str, title: str, detail: str = "", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


# The HTTP errors the framework raises itself. FastAPI answers 400 for a body its JSON parser
# gives up on (nested deeper than the parser's recursion limit, say).
_SLUGS = {
    400: ("unreadable-body", "The request body cannot be read"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}

OTHER_HTTP_ERROR = ("http-error", "HTTP error")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        response = problem_response(exc.status, exc.slug, exc.title, exc.detail, **exc.extra)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem_response(422, "invalid-request", "Invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _SLUGS.get(exc.status_code, OTHER_HTTP_ERROR)
        return problem_response(exc.status_code, slug, title, str(exc.detail))

    @app.exception_handler(ConstraintBroken)
    async def _integrity(_: Request, exc: ConstraintBroken) -> JSONResponse:
        # A constraint refused a write and its transaction rolled back: the request clashes
        # with what is recorded. Routes name the cases they expect (a contract number used
        # before); this is every other. The exception's text holds the values: never shown.
        log.warning(
            "a write broke a database constraint (%s): answered 409", type(exc.orig).__name__
        )
        return problem_response(
            409, "conflict", "Conflicts with recorded data", "Nothing of this request was written."
        )

    @app.exception_handler(ValueUnstorable)
    async def _unstorable(_: Request, exc: ValueUnstorable) -> JSONResponse:
        # A value the database cannot store (a NUL character in text on PostgreSQL); its
        # transaction rolled back. Its text holds the values: never shown.
        log.warning("the database refused a value (%s): answered 422", type(exc.orig).__name__)
        return problem_response(
            422,
            "invalid-value",
            "A value cannot be stored",
            "A text holds a character that is not allowed (such as NUL), or a number is out "
            "of range. Nothing of this request was written.",
        )
