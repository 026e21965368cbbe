"""Budgets and the usage ledger: what a tenant may still spend, and what it has spent.

Budgets are monthly (UTC calendar months). The ledger in Postgres is the record of account;
the accounting agent's Faust table is the live view of the same events for operators.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

import topics
from config import Settings
from core.flags import BUDGET, FlagView
from llm.catalog import Catalog
from llm.errors import BudgetExceeded
from storage import usage
from storage.usage import Entry


@dataclass(frozen=True)
class Budget:
    monthly_usd: float
    # A model that costs nothing (the local one) can always answer, whatever was spent.
    has_free_model: bool
    per_tenant_usd: Mapping[str, float] = field(default_factory=dict)
    # The flag chat/budget_usd, changed at run time (workflows/flags.py): a tenant's own comes
    # first, then the settings' budget of that tenant, then every tenant's ("*"), then the
    # settings' default.
    flags: FlagView | None = None

    def for_tenant(self, tenant_id: str) -> float:
        flag = self.flags.state(*BUDGET, tenant=tenant_id) if self.flags else None
        dynamic = _usd(flag.value) if flag is not None and flag.enabled else None
        if flag is not None and dynamic is not None and flag.tenant_id == tenant_id:
            return dynamic
        if tenant_id in self.per_tenant_usd:
            return self.per_tenant_usd[tenant_id]
        return self.monthly_usd if dynamic is None else dynamic


def _usd(value: Any) -> float | None:
    """A budget the write path let through (workflows/flags.py), or None."""
    valid = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if valid else None


def budget_of(settings: Settings, catalog: Catalog, flags: FlagView | None = None) -> Budget:
    free = any(m.usd_in_per_m == 0 and m.usd_out_per_m == 0 for m in catalog.models)
    return Budget(
        monthly_usd=settings.tenant_budget_usd,
        has_free_model=free,
        per_tenant_usd=dict(settings.tenant_budgets_usd),
        flags=flags,
    )


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def remaining_usd(pool: asyncpg.Pool, tenant_id: str, budget: Budget) -> float:
    spent = await usage.spent_since(pool, tenant_id, month_start())
    return max(0.0, budget.for_tenant(tenant_id) - float(spent))


async def ensure_can_answer(pool: asyncpg.Pool, tenant_id: str, budget: Budget) -> None:
    """Refuse a question up front when no configured model fits what is left of the budget."""
    if budget.has_free_model:
        return
    if await remaining_usd(pool, tenant_id, budget) <= 0:
        raise BudgetExceeded(
            f"this month's chat budget of ${budget.for_tenant(tenant_id):.2f} is spent and no"
            " free model is configured; ask an administrator to raise it"
        )


async def record(pool: asyncpg.Pool, event: topics.UsageRecorded) -> bool:
    """Write the event to the ledger once; False for a redelivered event."""
    entry = Entry(
        id=uuid.UUID(event.usage_id),
        tenant_id=event.tenant_id,
        user_id=event.user_id,
        conversation_id=uuid.UUID(event.conversation_id) if event.conversation_id else None,
        model=event.model,
        tokens_in=event.tokens_in,
        tokens_out=event.tokens_out,
        cost_usd=Decimal(str(event.cost_usd)),
        recorded_at=event.recorded_at,
    )
    return await usage.record(pool, entry)


async def report(pool: asyncpg.Pool, tenant_id: str, budget: Budget) -> dict[str, Any]:
    """GET /v1/usage: this month's spend, in total and per model."""
    since = month_start()
    by_model = await usage.totals_by_model(pool, tenant_id, since)
    spent = sum((m.cost_usd for m in by_model), Decimal(0))
    monthly = budget.for_tenant(tenant_id)
    return {
        "tenant_id": tenant_id,
        "period_start": since.isoformat(),
        "budget_usd": monthly,
        "spent_usd": float(spent),
        "remaining_usd": max(0.0, monthly - float(spent)),
        "totals": {
            "requests": sum(m.requests for m in by_model),
            "tokens_in": sum(m.tokens_in for m in by_model),
            "tokens_out": sum(m.tokens_out for m in by_model),
            "cost_usd": float(spent),
        },
        "by_model": [
            {
                "model": m.model,
                "requests": m.requests,
                "tokens_in": m.tokens_in,
                "tokens_out": m.tokens_out,
                "cost_usd": float(m.cost_usd),
            }
            for m in by_model
        ],
    }
