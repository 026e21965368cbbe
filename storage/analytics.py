"""Analysts and the tenant whose data each may read (the export agent's list of tenants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Grant:
    username: str
    tenant_id: str
    group: str
    created_at: datetime


async def save_grant(
    conn: asyncpg.Connection | asyncpg.Pool, *, username: str, tenant_id: str, group: str
) -> Grant:
    """Record the grant; a user granted again gets the new tenant and group."""
    row = await conn.fetchrow(
        """
        INSERT INTO analytics_grants (username, tenant_id, grp) VALUES ($1, $2, $3)
        ON CONFLICT (username) DO UPDATE SET tenant_id = $2, grp = $3
        RETURNING username, tenant_id, grp, created_at
        """,
        username,
        tenant_id,
        group,
    )
    return _grant(row)


async def delete_grant(conn: asyncpg.Connection | asyncpg.Pool, username: str) -> Grant | None:
    row = await conn.fetchrow(
        "DELETE FROM analytics_grants WHERE username = $1"
        " RETURNING username, tenant_id, grp, created_at",
        username,
    )
    return _grant(row) if row else None


async def grants(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str | None = None
) -> list[Grant]:
    rows = await conn.fetch(
        "SELECT username, tenant_id, grp, created_at FROM analytics_grants"
        " WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, username",
        tenant_id,
    )
    return [_grant(r) for r in rows]


async def with_analysts(conn: asyncpg.Connection | asyncpg.Pool, tenant_ids: set[str]) -> set[str]:
    """Which of ``tenant_ids`` have at least one analyst."""
    rows = await conn.fetch(
        "SELECT DISTINCT tenant_id FROM analytics_grants WHERE tenant_id = ANY($1::text[])",
        list(tenant_ids),
    )
    return {r["tenant_id"] for r in rows}


def _grant(row: asyncpg.Record) -> Grant:
    return Grant(row["username"], row["tenant_id"], row["grp"], row["created_at"])
