"""Token buckets in PostgreSQL (storage.rate_limits): exact under concurrency, all or none."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from storage import rate_limits
from storage.rate_limits import Bucket


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex[:12]}"


async def test_a_burst_is_taken_then_refused_with_the_time_to_the_next_token(pg, key):
    bucket = Bucket(key, capacity=3, per_s=0.5)
    assert [await rate_limits.take(pg, [bucket]) for _ in range(3)] == [0, 0, 0]
    wait = await rate_limits.take(pg, [bucket])
    assert 1.9 < wait <= 2.0  # one token at 0.5 per second


async def test_tokens_come_back_with_time_up_to_the_burst(pg, key):
    bucket = Bucket(key, capacity=2, per_s=1)
    for _ in range(2):
        await rate_limits.take(pg, [bucket])
    assert await rate_limits.take(pg, [bucket]) > 0
    # An hour later (the clock moved back instead of waiting): full again, never fuller.
    await pg.execute(
        "UPDATE rate_buckets SET updated_at = now() - interval '1 hour' WHERE key = $1", key
    )
    assert [await rate_limits.take(pg, [bucket]) for _ in range(2)] == [0, 0]
    assert await rate_limits.take(pg, [bucket]) > 0


async def test_two_buckets_are_taken_together_or_not_at_all(pg, key):
    tenant, user = Bucket(f"{key}:t", 5, 0.001), Bucket(f"{key}:t:u", 1, 0.001)
    assert await rate_limits.take(pg, [tenant, user]) == 0
    assert await rate_limits.take(pg, [tenant, user]) > 0  # the user's is empty...
    left = await pg.fetchval("SELECT tokens FROM rate_buckets WHERE key = $1", tenant.key)
    assert 3.99 < left < 4.01  # ...so the tenant's kept its token


async def test_concurrent_takes_from_many_connections_never_overdraw(pg, key):
    bucket = Bucket(key, capacity=10, per_s=0.001)
    waits = await asyncio.gather(*(rate_limits.take(pg, [bucket]) for _ in range(40)))
    assert sum(1 for w in waits if w == 0) == 10


async def test_idle_buckets_are_forgotten(pg, key):
    await rate_limits.take(pg, [Bucket(key, 1, 1)])
    await pg.execute(
        "UPDATE rate_buckets SET updated_at = now() - interval '2 days' WHERE key = $1", key
    )
    assert await rate_limits.forget_idle(pg, older_than_s=86400) >= 1
    assert await pg.fetchval("SELECT count(*) FROM rate_buckets WHERE key = $1", key) == 0
