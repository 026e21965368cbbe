"""Repeated refused tokens reach the audit trail of the tenant they claim, once per burst."""

from __future__ import annotations

import base64
import json
import uuid

import topics
from web.auth_failures import AFTER


def _forged(tenant: str) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": "mallory", "tenant": tenant, "roles": ["admin"], "exp": 2**31}
    return f"{part({'alg': 'ES256'})}.{part(claims)}.{part({'sig': 'nope'})}"


async def _audited(pg, tenant: str) -> list[dict]:
    rows = await pg.fetch(
        "SELECT value FROM outbox WHERE topic = $1 AND key = $2", topics.AUDIT, tenant
    )
    return [r["value"] for r in rows]


async def test_a_burst_of_forged_tokens_is_one_audit_event(app, pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_forged(tenant)}"}
    for _ in range(AFTER - 1):
        assert (await client.get("/v1/documents", headers=headers)).status_code == 401
    assert await _audited(pg, tenant) == []
    assert (await client.get("/v1/documents", headers=headers)).status_code == 401
    (event,) = await _audited(pg, tenant)
    assert event["action"] == "auth.failures" and event["actor"].startswith("ip:")
    assert json.loads(event["detail"])["failures"] == AFTER
    for _ in range(AFTER - 1):
        await client.get("/v1/documents", headers=headers)
    assert len(await _audited(pg, tenant)) == 1  # the count started again


async def test_a_token_that_names_no_tenant_is_refused_and_not_audited(app, pg):
    client = app.test_client()
    for token in ("garbage", "a.b.c", _forged("not a tenant!")):
        response = await client.get("/v1/documents", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    assert await _audited(pg, "not a tenant!") == []
