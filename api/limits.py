"""Request bodies are refused by their size before they are read into memory.

An ASGI middleware: a declared ``Content-Length`` above the route's limit is answered
413 at once, without reading a byte; a body sent without one (chunked) is counted as
it arrives and cut off at the limit. Routes read their bodies as usual and can rely
on this bound. The same 413 problem for every route. A path with a control character
(``%00`` and the like) names no route: 404 before any route reads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from api.problems import problem_response
from verifier.document import MAX_PDF_SIZE

MiB = 1024 * 1024
MAX_PDF = MAX_PDF_SIZE  # a contract PDF, as the verifier reads it
MAX_CSV = 5 * MiB  # a 楼盘表 or department extract
MAX_DER = 16 * 1024  # an RFC 3161 or OCSP request
MAX_JSON = 64 * 1024  # any other request
# /v1/verification carries a PDF in base64 inside JSON (and a receipt of at most 64 KiB).
MAX_VERIFICATION = (MAX_PDF * 4) // 3 + 4 + 80 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class BodyLimit:
    pattern: re.Pattern[str]
    limit: int


ROUTES = (
    BodyLimit(re.compile(r"/v1/verification"), MAX_VERIFICATION),
    BodyLimit(
        re.compile(
            r"/v1/(contracts/[^/]+/signatures|filings|filings/[^/]+/(changes|cancellation))"
        ),
        MAX_PDF,
    ),
    BodyLimit(re.compile(r"/v1/(registry/import|departments/[^/]+)"), MAX_CSV),
    BodyLimit(re.compile(r"/(tsa|ocsp)"), MAX_DER),
)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def limit_for(path: str) -> int:
    return next((r.limit for r in ROUTES if r.pattern.fullmatch(path)), MAX_JSON)


class BodyLimitMiddleware:
    def __init__(self, app: App, limit: Callable[[str], int] = limit_for) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if _CONTROL.search(path):
            # No route has a control character in it (an escaped NUL, %00, reached
            # PostgreSQL, which refuses NUL in text, as a 500): no such resource.
            response = problem_response(404, "not-found", "Not found", "no such path")
            await response(scope, receive, send)
            return
        limit = self.limit(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, receive, send, limit)
            return
        seen = 0
        started = answered = False

        async def counted() -> Message:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not answered:
                    answered = True
                    if not started:
                        # Answer now and tell the app the client is gone: a JSON route's body
                        # parser would turn any error into a 400 and read on to the end.
                        await _too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out already; the app's late answer is not sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value.decode("latin-1"))
            except ValueError:
                return None
    return None


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        413, "payload-too-large", "Payload too large", f"at most {limit} bytes for this request"
    )
    # Close the connection: the rest of the body is not going to be read.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
