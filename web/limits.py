"""The caller's rate limits (workflows.rate_limits), checked first thing in a limited route:
a refused request costs one query and reads no body."""

from __future__ import annotations

from web import resources
from web.auth import principal
from workflows import rate_limits


async def within_rate(action: str) -> None:
    who = principal()
    await rate_limits.admit(
        resources.pool(),
        resources.settings().effective_rate_limits,
        action,
        tenant_id=who.tenant_id,
        user_id=who.user_id,
    )
