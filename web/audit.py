"""GET /v1/audit: the tenant's audit trail, oldest first (docs/api.md#audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import Blueprint, request

from core.errors import InvalidInput
from storage import audit
from storage.audit import Entry
from web import resources
from web.auth import principal, requires
from web.params import int_arg

blueprint = Blueprint("audit", __name__, url_prefix="/v1")
MAX_LIMIT = 500
MAX_FILTER_CHARS = 200


@blueprint.get("/audit")
@requires("audit:read")
async def trail() -> dict[str, Any]:
    found = await audit.entries(
        resources.pool(),
        principal().tenant_id,
        actor=_text("actor"),
        action=_text("action"),
        since=_since(),
        after_seq=int_arg("after", default=0, low=0, high=2**62),
        limit=int_arg("limit", default=100, low=1, high=MAX_LIMIT),
    )
    return {"events": [_view(e) for e in found], "next_after": found[-1].seq if found else None}


def _text(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None and not 0 < len(value) <= MAX_FILTER_CHARS:
        raise InvalidInput(f"{name} must be 1 to {MAX_FILTER_CHARS} characters")
    return value


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("since must be an ISO 8601 time, e.g. 2026-12-04T09:00:00Z") from None
    if since.tzinfo is None:
        raise InvalidInput("since must say its time zone, e.g. 2026-12-04T09:00:00Z")
    return since


def _view(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "audit_id": str(entry.audit_id),
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "request_id": entry.request_id,
        "hash": entry.hash,
    }
