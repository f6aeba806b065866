"""Internal errors: an opaque incident id for the caller; for the log, the exception's type
and where it was raised, never its text.

Exception messages carry what the code was handling: SQLAlchemy's the statement and its
parameters (a buyer's name, ID number and phone in a contract), a database's ``DETAIL``
the duplicated key. So the server writes the types of the exception chain and its frames
(file, line, function) — enough to find the fault — and none of the messages; the caller
gets a generic 500 problem with the incident id that ties the two together.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any

from api.problems import problem_response

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def new_incident() -> str:
    """An opaque id, unguessable, to quote between the caller and the operator."""
    return secrets.token_hex(8)


def describe(exc: BaseException) -> str:
    """The exception chain, oldest first, as types and frames: no message, no locals."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines = ["Traceback (messages withheld; they may hold personal data):"]
    for n, e in enumerate(reversed(chain)):
        if n:
            lines.append("  which led to")
        for frame in traceback.extract_tb(e.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        lines.append(f"{type(e).__module__}.{type(e).__qualname__}")
    return "\n".join(lines)


class SafeFormatter(logging.Formatter):
    """A formatter whose tracebacks say where and what type, never the exception's text.

    Every handler of ``wangqian serve`` uses it (``configure_logging``, ``UVICORN_LOGGING``),
    so a ``log.exception`` anywhere — ours, uvicorn's, a library's — leaks no parameters.
    """

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have cached the full traceback text on the record already.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: Any) -> str:
        exc = ei[1] if isinstance(ei, tuple) and len(ei) == 3 else None
        return describe(exc) if isinstance(exc, BaseException) else ""


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Expected chatter of the libraries: fontTools on tables it does not subset, pyHanko on
# embedding revocation data we supply ourselves instead of fetching it.
QUIET = ("fontTools.subset", "pyhanko.sign.signers.pdf_signer")


def configure_logging(level: int = logging.WARNING) -> None:
    """The root handler for the command line and the server: stderr, ``SafeFormatter``."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)


# uvicorn's logging configuration with ``SafeFormatter`` in place of its formatters (it logs
# "Exception in ASGI application" with the full exception otherwise), and the root logger's
# too: ``serve --workers`` processes apply this and nothing else.
UVICORN_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "api.incidents.SafeFormatter", "fmt": LOG_FORMAT},
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            "use_colors": False,
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        **{name: {"level": "ERROR"} for name in QUIET},
    },
    "root": {"handlers": ["default"], "level": "WARNING"},
}


class LastResortMiddleware:
    """Any exception no handler turned into a problem becomes a generic 500 problem.

    Outermost of the app's middleware, so nothing escapes it to the server (which would
    log the exception in full). It logs the incident id, the type and the frames only.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            incident = new_incident()
            # The path names records (contract ids, filing numbers), never a person; the
            # query string is left out all the same.
            log.error(
                "incident %s: %s in %s %s\n%s",
                incident,
                type(exc).__name__,
                scope.get("method", ""),
                scope.get("path", ""),
                describe(exc),
            )
            if started:
                return  # part of an answer went out: nothing to add, the connection ends
            response = problem_response(
                500,
                "internal-error",
                "Internal error",
                "The platform could not complete this request. "
                "Quote the incident id to the platform's operator.",
                incident=incident,
            )
            await response(scope, receive, send)
