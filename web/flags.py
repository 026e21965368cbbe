"""Feature flags and dynamic settings (docs/api.md#flags): read and change them, admins only.

An admin reads the defaults of every tenant (tenant ``"*"``) and its own tenant's flags, and
changes its own tenant's; the defaults are the operators' (`pdfchat flags set`). A change goes
through workflows/flags.py, as the command's does, and reaches every process within seconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, request

from core.errors import Forbidden, PayloadTooLarge
from core.flags import FlagState
from storage import flags
from storage.flags import Flag, Setting
from topics.flags import EVERY_TENANT
from web import resources
from web.auth import principal, requires
from web.params import json_body
from workflows import flags as flag_changes

blueprint = Blueprint("flags", __name__, url_prefix="/v1")
MAX_BODY_BYTES = flag_changes.MAX_VALUE_BYTES + 1024


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool
    rollout_percent: int = Field(ge=0, le=100)
    value: Any = None
    tenant: str | None = None


@blueprint.get("/flags")
@requires("flags:read")
async def list_flags() -> dict[str, Any]:
    found = await flags.flags(resources.pool(), tenants=[EVERY_TENANT, principal().tenant_id])
    return {"flags": [view(f) for f in found]}


@blueprint.get("/flags/<service>/<name>")
@requires("flags:read")
async def get_flag(service: str, name: str) -> dict[str, Any]:
    """The stored rows, and what this process's live view decides for the tenant (and for
    ``?user_id=``, whether that user is in)."""
    tenant = principal().tenant_id
    found = await flags.flags(
        resources.pool(), tenants=[EVERY_TENANT, tenant], service=service, name=name
    )
    live = resources.flags().state(service, name, tenant=tenant)
    answer: dict[str, Any] = {
        "service": service,
        "name": name,
        "stored": [view(f) for f in found],
        "live": view(live) if live else None,
    }
    if user_id := request.args.get("user_id"):
        answer["user_id"] = user_id
        answer["enabled_for_user"] = resources.flags().enabled(
            service, name, tenant=tenant, user_id=user_id
        )
    return answer


@blueprint.put("/flags/<service>/<name>")
@requires("flags:write")
async def put_flag(service: str, name: str) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    body = await json_body(FlagUpdate)
    own = principal().tenant_id
    if body.tenant not in (None, own):
        raise Forbidden(
            "an admin changes its own tenant's flags; the defaults of every tenant are set"
            " with `pdfchat flags set --tenant '*'`"
        )
    setting = Setting(own, service, name, body.enabled, body.rollout_percent, body.value)
    saved = await flag_changes.set_flag(resources.pool(), setting, actor=principal().user_id)
    return view(saved)


def view(flag: Flag | FlagState) -> dict[str, Any]:
    return {
        "tenant": flag.tenant_id,
        "service": flag.service,
        "name": flag.name,
        "enabled": flag.enabled,
        "rollout_percent": flag.rollout_percent,
        "value": flag.value,
        "updated_at": flag.updated_at.isoformat(),
        "updated_by": flag.updated_by,
    }
