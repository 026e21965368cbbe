"""Bearer-token authentication and role checks: the one path of routes and the answer socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import g, request
from werkzeug.datastructures import Headers, MultiDict

from core.errors import Forbidden, Unauthenticated
from core.tokens import Principal
from web import resources

P = ParamSpec("P")
R = TypeVar("R")

# What each role may do; a token may carry several roles.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"documents:read", "documents:write", "chat:ask", "flags:read", "flags:write"}
    ),
    "editor": frozenset({"documents:read", "documents:write", "chat:ask"}),
    "viewer": frozenset({"documents:read", "chat:ask"}),
}


def bearer_token(headers: Headers, query: MultiDict[str, str] | None = None) -> str:
    """The token of ``Authorization: Bearer <token>``; with ``query`` (an answer socket: a
    browser cannot set headers on a WebSocket) also ``?access_token=<token>``."""
    header: str = headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    from_query: str | None = query.get("access_token") if query is not None else None
    if from_query:
        return from_query
    alternative = " or ?access_token=<token>" if query is not None else ""
    raise Unauthenticated(f"send 'Authorization: Bearer <token>'{alternative}")


def authenticate(token: str, permission: str) -> Principal:
    """The principal of a valid ``token`` whose roles allow ``permission``."""
    who = resources.verifier().verify(token)
    if not any(permission in PERMISSIONS.get(role, ()) for role in who.roles):
        raise Forbidden(f"your roles {sorted(who.roles)} do not allow {permission}")
    return who


def principal() -> Principal:
    who: Principal = g.principal
    return who


def requires(permission: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> R:
            g.principal = authenticate(bearer_token(request.headers), permission)
            return await handler(*args, **kwargs)

        return wrapper

    return decorate
