"""Bearer-token authentication and role checks: the one path of routes and the answer socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import g, request
from werkzeug.datastructures import Headers, MultiDict

from core.errors import Forbidden, Unauthenticated
from core.tokens import Principal
from web import auth_failures, resources

P = ParamSpec("P")
R = TypeVar("R")

# What each role may do (docs/api.md#roles); a token may carry several roles, and may do what
# any of them may. Every route and the answer socket name the action they need.
VIEWER = frozenset({"documents:read", "search", "chat:ask"})
EDITOR = VIEWER | {"documents:upload", "documents:delete_own"}
ADMIN = EDITOR | {"documents:delete_any", "usage:read", "flags:read", "flags:write", "audit:read"}
ANALYST = frozenset({"usage:read", "topics:read"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "editor": EDITOR,
    "admin": ADMIN,
    "analyst": ANALYST,
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


async def authenticate(token: str, *any_of: str, client: str | None = None) -> Principal:
    """The principal of a valid ``token`` whose roles allow one of the actions ``any_of``;
    a refused token from ``client`` (its address) is counted (web/auth_failures.py)."""
    try:
        who = await resources.verifier().verify(token)
    except Unauthenticated as exc:
        await auth_failures.note(client or "unknown", token, exc.message)
        raise
    if not any(may(who, action) for action in any_of):
        raise Forbidden(f"your roles {sorted(who.roles)} do not allow {' or '.join(any_of)}")
    return who


def may(who: Principal, action: str) -> bool:
    return any(action in PERMISSIONS.get(role, ()) for role in who.roles)


def principal() -> Principal:
    who: Principal = g.principal
    return who


def requires(*any_of: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """The route needs a token allowing one of the actions ``any_of``."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> R:
            token = bearer_token(request.headers)
            g.principal = await authenticate(token, *any_of, client=request.remote_addr)
            return await handler(*args, **kwargs)

        return wrapper

    return decorate
