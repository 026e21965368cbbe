"""Changing a feature flag or dynamic setting: the one path of the API and of `pdfchat flags`.

The row (the record of truth), its record on the compacted topic and its audit event commit
in one transaction (the outbox), so every process learns of exactly the changes that were
made (core/flags.py), and the trail has each of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from core.errors import Conflict, InvalidInput, PayloadTooLarge
from core.flags import BUDGET, CANARY, MODEL_ROUTE
from core.tokens import TENANT_PATTERN
from llm.catalog import parse_model
from storage import flags, outbox
from storage.flags import Flag, Setting
from storage.outbox import OutboxMessage
from topics.audit import FLAG_CHANGED
from topics.flags import EVERY_TENANT, FLAGS, FlagChanged
from workflows import audit, rate_limits

__all__ = [
    "EVERY_TENANT",
    "MAX_VALUE_BYTES",
    "NAME_PATTERN",
    "Setting",
    "change",
    "check",
    "set_flag",
]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
MAX_VALUE_BYTES = 16 * 1024  # every process keeps every flag in memory


async def set_flag(pool: asyncpg.Pool, setting: Setting, *, actor: str) -> Flag:
    """Save the flag and publish it; the change is on the audit trail of its tenant ("*" for
    every tenant's defaults)."""
    check(setting)
    if (setting.service, setting.name) == CANARY:
        raise Conflict(
            "chat/canary is driven by canary rollouts: use `pdfchat rollout`", code="flag_reserved"
        )
    async with pool.acquire() as conn, conn.transaction():
        return await change(conn, setting, actor=actor)


async def change(conn: asyncpg.Connection, setting: Setting, *, actor: str) -> Flag:
    """``set_flag`` inside the caller's transaction, for a checked setting: the row, its record
    and its audit event commit with the caller's own change (a rollout's step)."""
    text = _json_text(setting.value)
    saved = await flags.save(conn, setting, updated_by=actor)
    detail = {
        "enabled": setting.enabled,
        "rollout_percent": setting.rollout_percent,
        "value": setting.value,
    }
    target = f"{setting.service}:{setting.name}"
    await outbox.enqueue(
        conn,
        [
            OutboxMessage.of(FLAGS, _record(saved, text)),
            audit.recorded(setting.tenant_id, actor, FLAG_CHANGED, target, detail),
        ],
    )
    return saved


def check(setting: Setting) -> None:
    if setting.tenant_id != EVERY_TENANT and not TENANT_PATTERN.match(setting.tenant_id):
        raise InvalidInput(f"tenant must be {EVERY_TENANT!r} or match {TENANT_PATTERN.pattern}")
    for what, text in (("service", setting.service), ("name", setting.name)):
        if not NAME_PATTERN.fullmatch(text):
            raise InvalidInput(f"{what} must match {NAME_PATTERN.pattern}")
    percent = setting.rollout_percent
    if isinstance(percent, bool) or not 0 <= percent <= 100:
        raise InvalidInput("rollout_percent must be an integer from 0 to 100")
    validate = _DYNAMIC.get((setting.service, setting.name))
    if validate is not None and setting.value is not None:
        validate(setting.value)  # a dynamic setting that web or workers read


def _budget(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise InvalidInput("chat/budget_usd must be a number of USD from 0 (a monthly budget)")


def _route(value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ROUTE:
        raise InvalidInput(f"chat/model_route must be a list of 1 to {MAX_ROUTE} models")
    for model in value:
        if not isinstance(model, str):
            raise InvalidInput("chat/model_route must list models as 'provider:name' strings")
        parse_model(model)


_DYNAMIC: dict[tuple[str, str], Callable[[Any], object]] = {
    rate_limits.FLAG: rate_limits.override_of,
    BUDGET: _budget,
    MODEL_ROUTE: _route,
}
MAX_ROUTE = 10


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("value must be JSON (finite numbers)") from None
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"value must be at most {MAX_VALUE_BYTES} bytes of JSON")
    return text


def _record(flag: Flag, value: str | None) -> FlagChanged:
    return FlagChanged(
        tenant_id=flag.tenant_id,
        service=flag.service,
        name=flag.name,
        enabled=flag.enabled,
        rollout_percent=flag.rollout_percent,
        value=value,
        updated_at=flag.updated_at,
        updated_by=flag.updated_by,
    )
