"""Rate limits: a token bucket per tenant and per user of a tenant for each limited action,
shared by every web process (storage.rate_limits). Over either: 429 with Retry-After.

The limits are the settings' (PDFCHAT_RATE_LIMITS over the defaults), changed at run time by
the dynamic setting ``web.rate_limits`` (a flag whose value has the same JSON shape; every
tenant's default, or one tenant's own), which reaches every web process within seconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import asyncpg
from pydantic import TypeAdapter, ValidationError

from config.settings import ActionLimits
from core.errors import InvalidInput, TooManyRequests
from storage import rate_limits
from storage.rate_limits import Bucket

FLAG = ("web", "rate_limits")
_OVERRIDE = TypeAdapter(dict[Literal["uploads", "searches", "chats"], ActionLimits])


def override_of(value: Any) -> dict[str, ActionLimits]:
    """The flag's value as limits; InvalidInput (naming what is wrong) if it is none."""
    try:
        return {str(action): limit for action, limit in _OVERRIDE.validate_python(value).items()}
    except ValidationError as exc:
        raise InvalidInput(f"web.rate_limits must be like PDFCHAT_RATE_LIMITS: {exc}") from None


async def admit(
    pool: asyncpg.Pool,
    limits: Mapping[str, ActionLimits],
    action: str,
    *,
    tenant_id: str,
    user_id: str,
) -> None:
    """Take a token for ``action`` from the tenant's bucket and the user's, or refuse."""
    limit = limits.get(action)
    buckets = []
    if limit is not None and limit.tenant is not None:
        buckets.append(Bucket(f"{action}:{tenant_id}", limit.tenant.burst, limit.tenant.per_s))
    if limit is not None and limit.user is not None:
        key = f"{action}:{tenant_id}:{user_id}"  # tenant ids hold no ':'
        buckets.append(Bucket(key, limit.user.burst, limit.user.per_s))
    if not buckets:
        return
    if wait_s := await rate_limits.take(pool, buckets):
        raise TooManyRequests(
            f"too many {action} for now; try again in {wait_s:.1f} s",
            retry_after_s=wait_s,
            code="rate_limited",
        )
