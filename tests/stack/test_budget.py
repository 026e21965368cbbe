"""Budgets at the door: with only paid models configured, a tenant whose month's budget is spent
is refused with 402 before anything is queued; other tenants are not affected."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from quart.typing import TestClientProtocol as QuartClient

from storage import usage
from storage.usage import Entry
from web.app import create_app

pytestmark = pytest.mark.stack


@pytest.fixture
async def paid_only(settings) -> AsyncIterator[QuartClient]:
    """A web app (in this process, on the real database and broker) whose catalog has no free
    model and whose tenants may spend $1 a month."""
    app = create_app(
        settings.model_copy(
            update={
                "chat_models": "openai:gpt-4o-mini",
                "tenant_budget_usd": 1.0,
                "tenant_budgets_usd": {"rich": 1000.0, "broke": 0.0},
            }
        )
    )
    async with app.test_app() as running:
        yield running.test_client()


async def _ask(client: QuartClient, token: str):
    return await client.post(
        "/v1/chat",
        json={"question": "what is in my documents?"},
        headers={"Authorization": f"Bearer {token}"},
    )


async def _spend(db, tenant: str, usd: str) -> None:
    await usage.record(
        db,
        Entry(
            id=uuid.uuid4(),
            tenant_id=tenant,
            user_id="tester",
            conversation_id=None,
            model="openai:gpt-4o-mini",
            tokens_in=1000,
            tokens_out=100,
            cost_usd=Decimal(usd),
            recorded_at=datetime.now(UTC),
        ),
    )


async def test_a_spent_budget_is_refused_with_402(paid_only, token, tenant, db):
    assert (await _ask(paid_only, token(tenant))).status_code == 202
    await _spend(db, tenant, "0.60")
    assert (await _ask(paid_only, token(tenant))).status_code == 202, "$0.40 is left"
    await _spend(db, tenant, "0.40")
    refused = await _ask(paid_only, token(tenant))
    assert refused.status_code == 402
    error = (await refused.get_json())["error"]
    assert error["code"] == "budget_exceeded" and "$1.00" in error["message"]
    assert (await _ask(paid_only, token(f"other-{tenant}"))).status_code == 202

    report = await (
        await paid_only.get("/v1/usage", headers={"Authorization": f"Bearer {token(tenant)}"})
    ).get_json()
    assert (report["budget_usd"], report["spent_usd"], report["remaining_usd"]) == (1.0, 1.0, 0.0)
    # (The real worker answers the accepted questions too, with its local model, on its own
    # time: those ledger rows cost nothing and are counted under their own model.)
    assert {m["model"]: m for m in report["by_model"]}["openai:gpt-4o-mini"]["requests"] == 2


async def test_last_month_does_not_count(paid_only, token, tenant, db):
    await usage.record(
        db,
        Entry(
            id=uuid.uuid4(),
            tenant_id=tenant,
            user_id="tester",
            conversation_id=None,
            model="openai:gpt-4o-mini",
            tokens_in=1,
            tokens_out=1,
            cost_usd=Decimal("5"),
            recorded_at=datetime(2020, 1, 31, tzinfo=UTC),
        ),
    )
    assert (await _ask(paid_only, token(tenant))).status_code == 202


async def test_a_tenant_may_have_a_budget_of_its_own(paid_only, token, db):
    await _spend(db, "rich", "5")  # five times the default budget
    assert (await _ask(paid_only, token("rich"))).status_code == 202
    refused = await _ask(paid_only, token("broke"))
    assert refused.status_code == 402 and "$0.00" in (await refused.get_json())["error"]["message"]
    report = await (
        await paid_only.get("/v1/usage", headers={"Authorization": f"Bearer {token('rich')}"})
    ).get_json()
    assert report["budget_usd"] == 1000.0 and report["remaining_usd"] < 995.0 + 1e-9
