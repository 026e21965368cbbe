"""Rate limits on the real app over PostgreSQL: a user's and a tenant's buckets, 429 with
Retry-After, nothing stored for a refused request, other tenants untouched."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pdfgen
import storage
from config.settings import ActionLimits, Rate
from core.tokens import mint
from tests.web.files import pdf_file
from tests.web.real_app import app_over_postgres
from topics.flags import FlagChanged

SLOW = Rate(per_s=0.01, burst=2)


def _headers(settings, tenant: str, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(settings, tenant=tenant, user=user, roles=['admin'])}"}


async def test_a_user_over_its_rate_gets_429_and_others_go_on(make_app, postgres_settings, pg):
    app = await make_app(rate_limits={"uploads": ActionLimits(user=SLOW)})
    client, tenant = app.test_client(), f"t-{uuid.uuid4().hex[:12]}"

    async def upload(user: str, tenant: str = tenant):
        files = {"file": pdf_file(pdfgen.sample_pdf(1, seed=7))}
        return await client.post(
            "/v1/documents", files=files, headers=_headers(postgres_settings, tenant, user)
        )

    assert [(await upload("ann")).status_code for _ in range(2)] == [202, 202]
    refused = await upload("ann")
    assert refused.status_code == 429
    assert (await refused.get_json())["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 100
    assert await pg.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant) == 2
    assert (await upload("bob")).status_code == 202  # another user of the tenant
    assert (await upload("ann", f"{tenant}-x")).status_code == 202  # another tenant


async def test_a_tenant_over_its_rate_is_refused_for_every_user(make_app, postgres_settings):
    app = await make_app(rate_limits={"searches": ActionLimits(tenant=SLOW, user=None)})
    client, tenant = app.test_client(), f"t-{uuid.uuid4().hex[:12]}"
    statuses = [
        (
            await client.post(
                "/v1/search",
                json={"query": "ledger"},
                headers=_headers(postgres_settings, tenant, user),
            )
        ).status_code
        for user in ("ann", "bob", "cid")
    ]
    assert statuses == [200, 200, 429]


async def test_chats_are_limited_and_a_lifted_limit_is_no_limit(make_app, postgres_settings):
    app = await make_app(rate_limits={"chats": ActionLimits(user=SLOW), "searches": ActionLimits()})
    client, tenant = app.test_client(), f"t-{uuid.uuid4().hex[:12]}"
    headers = _headers(postgres_settings, tenant, "ann")
    asked = [
        (await client.post("/v1/chat", json={"question": "why?"}, headers=headers)).status_code
        for _ in range(3)
    ]
    assert asked == [202, 202, 429]
    searched = [
        (await client.post("/v1/search", json={"query": "q"}, headers=headers)).status_code
        for _ in range(5)
    ]
    assert searched == [200] * 5


def _set_flag(app, tenant: str, value: object) -> None:
    """What the flags topic would bring: the dynamic setting web.rate_limits for ``tenant``."""
    record = FlagChanged(
        tenant_id=tenant,
        service="web",
        name="rate_limits",
        enabled=True,
        rollout_percent=100,
        value=json.dumps(value),
        updated_at=datetime.now(UTC),
        updated_by="ops",
    )
    app.extensions["flags"].add(record.dumps())


async def test_the_dynamic_setting_changes_a_tenants_limits_at_run_time(
    make_app, postgres_settings
):
    app = await make_app()
    client, tenant = app.test_client(), f"t-{uuid.uuid4().hex[:12]}"
    other = f"{tenant}-x"

    async def asked(of: str, user: str = "ann") -> int:
        headers = _headers(postgres_settings, of, user)
        return (
            await client.post("/v1/chat", json={"question": "why?"}, headers=headers)
        ).status_code

    assert [await asked(tenant) for _ in range(3)] == [202, 202, 202]  # the generous defaults
    _set_flag(app, tenant, {"chats": {"user": {"per_s": 0.01, "burst": 1}}})
    # The bucket holds no more than the new burst at once: one more, then refused.
    assert [await asked(tenant) for _ in range(2)] == [202, 429]
    assert [await asked(other) for _ in range(3)] == [202, 202, 202]
    _set_flag(app, tenant, {"chats": {"user": None, "tenant": None}})
    assert await asked(tenant) == 202
    _set_flag(app, tenant, {"chats": {"tenant": {"per_s": -1}}})  # refused by PUT; ignored here
    assert await asked(tenant, "bob") == 202  # the settings' limits, not a 500


async def test_the_buckets_hold_across_web_processes(postgres_settings):
    """Two apps, each with its own connection pool, as two web processes have: the bucket is
    in PostgreSQL, so a user alternating between them gets no more than from one."""
    settings = postgres_settings.model_copy(
        update={"rate_limits": {"searches": ActionLimits(user=SLOW, tenant=None)}}
    )
    pools = [await storage.create_pool(settings.dsn, max_size=2) for _ in range(2)]
    try:
        clients = [(await app_over_postgres(settings, pool)).test_client() for pool in pools]
        tenant = f"t-{uuid.uuid4().hex[:12]}"
        headers = _headers(settings, tenant, "ann")
        statuses = [
            (
                await clients[n % 2].post("/v1/search", json={"query": "x"}, headers=headers)
            ).status_code
            for n in range(4)
        ]
        assert statuses == [200, 200, 429, 429]
    finally:
        for pool in pools:
            await pool.close()
