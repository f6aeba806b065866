"""Authentication: a request's API key names its caller (an organisation and its role).

Keys are created by ``wangqian admin create-key`` and kept hashed (``filing.api_keys``);
requests carry one as ``Authorization: Bearer <key>``. What a role may do is
``filing.policy``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from api.problems import Problem
from api.ratelimit import RateLimiter
from filing.api_keys import KeyStore
from filing.policy import Caller, Role

__all__ = ["Caller", "Role", "authenticate", "dependency", "require"]


def dependency(keys: KeyStore, limiter: RateLimiter) -> Callable[[Request], Caller]:
    """The FastAPI dependency that authenticates a request and counts it against its key."""

    def caller(request: Request) -> Caller:
        who = authenticate(keys, request)
        limiter.check(f"{who.role.value}:{who.org}")
        return who

    return caller


def authenticate(keys: KeyStore, request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Problem(
            401, "unauthenticated", "API key required", "send Authorization: Bearer <key>"
        )
    who = keys.caller(header[7:].strip())
    if who is None:
        raise Problem(401, "unauthenticated", "Unknown API key")
    return who


def require(caller: Caller, *roles: Role) -> None:
    if caller.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Problem(403, "forbidden", "Not allowed for this role", f"needs one of: {allowed}")
