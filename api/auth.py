"""Authentication: a request's API key names its caller (an organisation and its role).

Keys are created by ``wangqian admin create-key`` and kept hashed (``filing.api_keys``);
requests carry one as ``Authorization: Bearer <key>``. What a role may do is
``filing.policy``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from api.ratelimit import RateLimiter
from filing.api_keys import KeyStore
from filing.policy import Caller, Role

__all__ = ["BEARER", "Caller", "Role", "authenticate", "dependency", "require"]

# Declares the security scheme in the OpenAPI document (Swagger's Authorize button) for
# every operation that depends on ``dependency``; ``authenticate`` does the checking, so
# that a missing or unknown key is the same 401 problem either way.
BEARER = HTTPBearer(
    scheme_name="apiKey",
    bearerFormat="API key",
    description="An API key (`wangqian admin create-key`), sent as `Authorization: Bearer <key>`",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def dependency(keys: KeyStore, limiter: RateLimiter) -> Callable[..., Caller]:
    """The FastAPI dependency that authenticates a request and counts it against its key."""

    def caller(request: Request, _: Credentials) -> Caller:
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
