"""The caller's rate limits (workflows.rate_limits), checked first thing in a limited route:
a refused request costs one query and reads no body."""

from __future__ import annotations

import logging

from config.settings import ActionLimits
from core.errors import InvalidInput
from web import resources
from web.auth import principal
from workflows import rate_limits

log = logging.getLogger("pdfchat.web.limits")


async def within_rate(action: str) -> None:
    who = principal()
    await rate_limits.admit(
        resources.pool(),
        limits_for(who.tenant_id),
        action,
        tenant_id=who.tenant_id,
        user_id=who.user_id,
    )


def limits_for(tenant_id: str) -> dict[str, ActionLimits]:
    """The settings' limits, with the dynamic setting ``web.rate_limits`` in force for the
    tenant over them."""
    limits = resources.settings().effective_rate_limits
    service, name = rate_limits.FLAG
    changed = resources.flags().value(service, name, tenant=tenant_id)
    if changed is None:
        return limits
    try:
        return limits | rate_limits.override_of(changed)
    except InvalidInput as exc:  # set before this check existed, or straight in the table
        log.warning("ignoring web.rate_limits", extra={"error": exc.message})
        return limits
