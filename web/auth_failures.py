"""Repeated authentication failures onto the audit trail.

Refused tokens are counted per client address and claimed tenant (read from the token without
trusting it: a forged token claims someone's tenant, which is exactly what that tenant's
admins want to see). The ``AFTER``-th failure within ``WITHIN_S`` records one
``auth.failures`` event and starts the count again, so a flood costs the trail one event per
``AFTER`` failures, not one per request. Counts are per web process, in bounded memory.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict, deque
from typing import Any

from core.tokens import TENANT_PATTERN, claim
from topics.audit import AUTH_FAILURES
from web import resources
from workflows import audit

log = logging.getLogger("pdfchat.web.auth")

AFTER = 5
WITHIN_S = 60.0
MAX_KEYS = 10_000

_recent: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()


async def note(client: str, token: str, reason: str) -> None:
    tenant = _claimed_tenant(token)
    if tenant is None:
        log.warning("refused a token that names no tenant", extra={"client": client})
        return
    key = (client, tenant)
    now = time.monotonic()
    seen = _recent.pop(key, deque())
    seen.append(now)
    while seen and now - seen[0] > WITHIN_S:
        seen.popleft()
    if len(seen) < AFTER:
        _recent[key] = seen
        while len(_recent) > MAX_KEYS:
            _recent.popitem(last=False)
        return
    detail = {"failures": len(seen), "within_s": WITHIN_S, "last_reason": reason}
    message = audit.recorded(tenant, f"ip:{client}", AUTH_FAILURES, client, detail)
    await audit.record_now(resources.pool(), message)


def _claimed_tenant(token: str) -> str | None:
    try:
        payload = token.split(".")[1]
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    tenant = claim(claims, resources.settings().oidc_tenant_claim)
    return tenant if isinstance(tenant, str) and TENANT_PATTERN.match(tenant) else None
