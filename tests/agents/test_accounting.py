"""The accounting agent driven through Faust's test_context(): events from an in-memory
channel, the ledger in a real PostgreSQL, no broker and no worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import asyncpg

import topics
from agents import accounting
from agents.resources import provided
from storage import usage
from tests.waiting import wait_until


def _usage(tenant: str, *, model: str = "openai:gpt-4o-mini", cost: float = 0.25) -> Any:
    return topics.UsageRecorded(
        tenant_id=tenant,
        usage_id=str(uuid.uuid4()),
        user_id="alice",
        conversation_id="",
        model=model,
        tokens_in=100,
        tokens_out=20,
        cost_usd=cost,
        recorded_at=datetime.now(UTC),
    )


async def test_each_answer_is_counted_once_in_the_ledger_and_the_table(
    pg: asyncpg.Pool, tenant: str
) -> None:
    first, second = _usage(tenant), _usage(tenant, model="cohere:command-r", cost=0.5)
    last = _usage(tenant, model="local:extractive", cost=0.0)
    with provided(SimpleNamespace(pool=pg)):  # type: ignore[arg-type]
        async with accounting.account.test_context() as agent:
            # The third is a redelivery. put() returns once the agent has taken an event, and
            # the agent handles one at a time: when the last one is in, the others are done.
            for event in (first, second, first, last):
                await agent.put(event)
            await wait_until(lambda: _models(tenant) == 3, within_s=10)

    totals = {t.model: t for t in await usage.totals_by_model(pg, tenant, datetime(2000, 1, 1))}
    assert {m: (t.requests, t.cost_usd) for m, t in totals.items()} == {
        "openai:gpt-4o-mini": (1, Decimal("0.25")),
        "cohere:command-r": (1, Decimal("0.5")),
        "local:extractive": (1, Decimal("0")),
    }
    table = accounting.tenant_usage[tenant]
    assert (table["requests"], table["tokens_in"], table["cost_usd"]) == (3, 300, 0.75)
    assert table["by_model"]["openai:gpt-4o-mini"]["requests"] == 1


def _models(tenant: str) -> int:
    return len(accounting.tenant_usage[tenant].get("by_model", {}))
