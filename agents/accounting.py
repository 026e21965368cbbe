"""Cost accounting agent: every answer's usage into the ledger and a per-tenant Faust table.

The ledger in Postgres is the record of account (budgets, GET /v1/usage). The table is the
live view for operators (``/usage/<tenant>/`` on the worker), rebuilt from its changelog after
a restart. An event is counted in the table only when the ledger took it as new, so a
redelivered event is counted nowhere twice.
"""

from __future__ import annotations

from typing import Any

import faust
from faust import web

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import usage
from agents.resources import Resources, resources
from core.metrics import COST, TOKENS
from workflows import usage as ledger

# tenant_id → {"requests", "tokens_in", "tokens_out", "cost_usd", "by_model": {model: {...}}}
tenant_usage = app.Table("tenant-usage", default=dict, partitions=settings.topic_partitions)


@app.agent(usage)
async def account(events: faust.StreamT[topics.UsageRecorded]) -> None:
    deps = await resources()
    # Keys are tenant ids already: each tenant's totals live in one partition.
    await runner.run("accounting", events, lambda event: _count(deps, event))


async def _count(deps: Resources, event: topics.UsageRecorded) -> None:
    if not await ledger.record(deps.pool, event):
        return  # redelivered: the ledger has it, so the table has it too
    tenant_usage[event.tenant_id] = add(tenant_usage[event.tenant_id], event)
    TOKENS.labels(event.tenant_id, event.model, "in").inc(event.tokens_in)
    TOKENS.labels(event.tenant_id, event.model, "out").inc(event.tokens_out)
    COST.labels(event.tenant_id, event.model).inc(event.cost_usd)


def add(totals: dict[str, Any], event: topics.UsageRecorded) -> dict[str, Any]:
    """The totals with one more answer counted, overall and for its model."""
    by_model = dict(totals.get("by_model", {}))
    by_model[event.model] = _plus(by_model.get(event.model, {}), event)
    return _plus(totals, event) | {"by_model": by_model}


def _plus(totals: dict[str, Any], event: topics.UsageRecorded) -> dict[str, Any]:
    return totals | {
        "requests": totals.get("requests", 0) + 1,
        "tokens_in": totals.get("tokens_in", 0) + event.tokens_in,
        "tokens_out": totals.get("tokens_out", 0) + event.tokens_out,
        "cost_usd": round(totals.get("cost_usd", 0.0) + event.cost_usd, 8),
    }


@app.page("/usage/{tenant}/")
class TenantUsage(web.View):
    """Internal: a tenant's totals since the table began, from the worker that owns it."""

    # faust's View.get type knows no route arguments (``tenant``): the call is right.
    @app.table_route(table=tenant_usage, match_info="tenant")  # type: ignore[arg-type]
    async def get(self, request: web.Request, tenant: str) -> web.Response:
        return self.json(tenant_usage[tenant])
