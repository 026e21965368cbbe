"""The usage ledger: what each answer cost, per tenant. The record of account for budgets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg


@dataclass(frozen=True)
class Entry:
    id: uuid.UUID
    tenant_id: str
    user_id: str
    conversation_id: uuid.UUID | None
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    recorded_at: datetime


@dataclass(frozen=True)
class ModelTotals:
    model: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal


async def record(conn: asyncpg.Connection | asyncpg.Pool, entry: Entry) -> bool:
    """Insert once; False when this usage was recorded before (a redelivered event)."""
    row = await conn.fetchrow(
        "INSERT INTO usage_ledger (id, tenant_id, user_id, conversation_id, model, tokens_in,"
        " tokens_out, cost_usd, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        entry.id,
        entry.tenant_id,
        entry.user_id,
        entry.conversation_id,
        entry.model,
        entry.tokens_in,
        entry.tokens_out,
        entry.cost_usd,
        entry.recorded_at,
    )
    return row is not None


async def spent_since(pool: asyncpg.Pool, tenant_id: str, since: datetime) -> Decimal:
    value = await pool.fetchval(
        "SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger"
        " WHERE tenant_id = $1 AND recorded_at >= $2",
        tenant_id,
        since,
    )
    return Decimal(value)


async def totals_by_model(pool: asyncpg.Pool, tenant_id: str, since: datetime) -> list[ModelTotals]:
    rows = await pool.fetch(
        "SELECT model, count(*) AS requests, sum(tokens_in) AS tokens_in,"
        " sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd FROM usage_ledger"
        " WHERE tenant_id = $1 AND recorded_at >= $2 GROUP BY model ORDER BY model",
        tenant_id,
        since,
    )
    return [ModelTotals(**dict(r)) for r in rows]


async def spent_by_tenant_since(pool: asyncpg.Pool, since: datetime) -> dict[str, Decimal]:
    """Every tenant's spend since ``since`` (maintenance: budgets on the dashboards)."""
    rows = await pool.fetch(
        "SELECT tenant_id, sum(cost_usd) AS spent FROM usage_ledger"
        " WHERE recorded_at >= $1 GROUP BY tenant_id",
        since,
    )
    return {r["tenant_id"]: Decimal(r["spent"]) for r in rows}
