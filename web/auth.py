"""Bearer-token authentication and role checks for routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import current_app, g, request

from core.errors import Forbidden, Unauthenticated
from core.tokens import Principal, TokenVerifier

P = ParamSpec("P")
R = TypeVar("R")

# What each role may do; a token may carry several roles.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"documents:read", "documents:write", "chat:ask"}),
    "editor": frozenset({"documents:read", "documents:write", "chat:ask"}),
    "viewer": frozenset({"documents:read", "chat:ask"}),
}


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    return token.strip()


def principal() -> Principal:
    return g.principal


def requires(permission: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> R:
            verifier: TokenVerifier = current_app.extensions["verifier"]
            who = verifier.verify(bearer_token())
            if not any(permission in PERMISSIONS.get(role, ()) for role in who.roles):
                raise Forbidden(f"your roles {sorted(who.roles)} do not allow {permission}")
            g.principal = who
            return await handler(*args, **kwargs)

        return wrapper

    return decorate
