"""Token buckets in PostgreSQL, so a limit holds across every web process (take_token, in
migration 012)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Bucket:
    key: str
    capacity: float  # the burst: tokens a full bucket holds
    per_s: float  # the sustained rate: tokens added per second


async def take(conn: asyncpg.Connection | asyncpg.Pool, buckets: Sequence[Bucket]) -> float:
    """Take one token from each of ``buckets``, or from none; 0 when taken, else the seconds
    until each holds one."""
    ordered = sorted(buckets, key=lambda b: b.key)
    wait: float = await conn.fetchval(
        "SELECT take_token($1::text[], $2::float8[], $3::float8[])",
        [b.key for b in ordered],
        [b.capacity for b in ordered],
        [b.per_s for b in ordered],
    )
    return wait


async def forget_idle(conn: asyncpg.Connection | asyncpg.Pool, *, older_than_s: float) -> int:
    """Drop buckets untouched that long: they would be full again anyway."""
    done = await conn.execute(
        "DELETE FROM rate_buckets WHERE updated_at < now() - make_interval(secs => $1)",
        older_than_s,
    )
    return int(done.split()[-1])
