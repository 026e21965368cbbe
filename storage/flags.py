"""Feature flags and dynamic settings in PostgreSQL, the record of truth (workflows/flags.py
publishes each change on the compacted topic in the same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Setting:
    """What a change sets: the flag ``service``/``name`` of ``tenant_id`` ("*": every
    tenant's default)."""

    tenant_id: str
    service: str
    name: str
    enabled: bool
    rollout_percent: int
    value: Any  # JSON: a dynamic setting, or None


@dataclass(frozen=True)
class Flag:
    tenant_id: str  # a tenant, or "*": every tenant's default
    service: str
    name: str
    enabled: bool
    rollout_percent: int
    value: Any  # JSON: a dynamic setting, or None
    updated_at: datetime
    updated_by: str


async def save(conn: asyncpg.Connection, setting: Setting, *, updated_by: str) -> Flag:
    """Insert or replace the flag's row; returns it as stored. One clock (the database's)
    stamps every change, and a flag's stamps only grow: readers keep the latest by it."""
    row = await conn.fetchrow(
        """
        INSERT INTO flags (tenant_id, service, name, enabled, rollout_percent, value,
                           updated_at, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7)
        ON CONFLICT (service, name, tenant_id) DO UPDATE SET
            enabled = excluded.enabled, rollout_percent = excluded.rollout_percent,
            value = excluded.value, updated_by = excluded.updated_by,
            updated_at = greatest(excluded.updated_at, flags.updated_at + interval '1 microsecond')
        RETURNING *
        """,
        setting.tenant_id,
        setting.service,
        setting.name,
        setting.enabled,
        setting.rollout_percent,
        setting.value,
        updated_by,
    )
    return Flag(**dict(row))


async def flags(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    tenants: Sequence[str] | None = None,
    service: str | None = None,
    name: str | None = None,
) -> list[Flag]:
    """The flags of ``tenants`` (all when None), optionally of one service or one flag."""
    rows = await conn.fetch(
        """
        SELECT * FROM flags
        WHERE ($1::text[] IS NULL OR tenant_id = ANY($1))
          AND ($2::text IS NULL OR service = $2) AND ($3::text IS NULL OR name = $3)
        ORDER BY service, name, tenant_id
        """,
        list(tenants) if tenants is not None else None,
        service,
        name,
    )
    return [Flag(**dict(r)) for r in rows]
