"""The browser UI: one HTML page, its scripts and styles (no build step, no CDN), and the
development sign-in that mints a token for any tenant when no identity provider is set up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, send_from_directory

from config import Settings
from core.errors import NotFound
from core.tokens import TENANT_PATTERN, mint
from web import resources
from web.params import json_body

STATIC = Path(__file__).resolve().parent / "static"

blueprint = Blueprint("page", __name__)

# Scripts and styles come only from this server; page images are fetched with the token and
# shown as blob: URLs; the stream is a WebSocket to this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
        " connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    tenant_id: str = Field(pattern=TENANT_PATTERN.pattern)
    user_id: str = Field(pattern=USER_PATTERN)
    role: Literal["admin", "editor", "viewer"] = "admin"


@blueprint.get("/")
async def index() -> Response:
    settings: Settings = resources.settings()
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    # The page asks for the dev sign-in form only when the server would accept its tokens.
    html = html.replace("{{dev_login}}", "true" if settings.dev_login_enabled else "false")
    return _revalidated(Response(html, mimetype="text/html"))


@blueprint.get("/assets/<path:filename>")
async def asset(filename: str) -> Response:
    return _revalidated(await send_from_directory(STATIC, filename))


@blueprint.post("/v1/dev/token")
async def dev_token() -> dict[str, Any]:
    settings: Settings = resources.settings()
    if not settings.dev_login_enabled:
        raise NotFound("development sign-in is off on this server; sign in with your provider")
    body = await json_body(DevTokenRequest, hints=_HINTS)
    token = await asyncio.to_thread(
        mint, settings, tenant=body.tenant_id, user=body.user_id, roles=[body.role]
    )  # reads (or on first use writes) the signing key file
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": settings.jwt_ttl_s,
        "tenant_id": body.tenant_id,
        "user_id": body.user_id,
        "role": body.role,
    }


_HINTS = {
    "tenant_id": "tenant_id must be 1 to 63 letters, digits, '.', '_' or '-', starting with a"
    " letter or digit",
    "user_id": "user_id must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a"
    " letter or digit",
    "role": "role must be one of admin, editor, viewer",
}


def _revalidated(response: Response) -> Response:
    """Assets carry no version in their names (no build step), so browsers check back each
    time; the ETag makes that check cheap (304)."""
    response.headers["Cache-Control"] = "no-cache"
    response.headers.pop("Expires", None)  # send_file's, which would contradict no-cache
    response.headers.update(SECURITY_HEADERS)
    return response
