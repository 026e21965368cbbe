"""Worker heartbeats: who runs which agents, who was seen lately, and who is stuck."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class WorkerSeen:
    id: str
    role: str
    agents: list[str]
    pid: int
    seen_s_ago: float
    busy: dict[str, float]


async def heartbeat(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    worker_id: str,
    role: str,
    agents: Sequence[str],
    pid: int,
    started_at: datetime,
    busy: Mapping[str, float],
) -> None:
    await conn.execute(
        """
        INSERT INTO workers (id, role, agents, pid, started_at, seen_at, busy)
        VALUES ($1, $2, $3, $4, $5, now(), $6)
        ON CONFLICT (id) DO UPDATE SET role = $2, agents = $3, pid = $4, started_at = $5,
                                       seen_at = now(), busy = $6
        """,
        worker_id,
        role,
        list(agents),
        pid,
        started_at,
        dict(busy),
    )


async def seen(conn: asyncpg.Connection | asyncpg.Pool) -> list[WorkerSeen]:
    rows = await conn.fetch(
        "SELECT id, role, agents, pid, busy,"
        " extract(epoch FROM now() - seen_at)::float8 AS seen_s_ago FROM workers ORDER BY id"
    )
    return [
        WorkerSeen(
            r["id"], r["role"], list(r["agents"]), r["pid"], r["seen_s_ago"], dict(r["busy"])
        )
        for r in rows
    ]


async def forget_gone(conn: asyncpg.Connection | asyncpg.Pool, *, older_than_s: float) -> int:
    """Drop workers not seen for ``older_than_s``: their agents stop being expected."""
    result = await conn.execute(
        "DELETE FROM workers WHERE seen_at < now() - make_interval(secs => $1)", older_than_s
    )
    return int(result.split()[-1])
