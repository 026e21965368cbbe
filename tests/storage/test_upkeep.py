"""The queries maintenance and /readyz rely on, against PostgreSQL alone."""

from __future__ import annotations

import asyncio
import errno
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from cli.processes import free_port
from storage import documents, workers
from storage.availability import is_unavailable
from storage.leadership import become_leader
from tests.rows import new_document
from tests.waiting import wait_until


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def _taken(pool, take, **kwargs) -> set[uuid.UUID]:
    async with pool.acquire() as conn, conn.transaction():
        return {d.id for d in await take(conn, **kwargs)}


async def test_orphans_are_unfinished_idle_documents_without_a_live_task(pg, tenant):
    parsed_without_task = await new_document(pg, tenant, status="parsed", idle_s=600)
    queued_with_task = await new_document(pg, tenant, status="queued", idle_s=600)
    recent = await new_document(pg, tenant, status="parsed", idle_s=0)
    ready = await new_document(pg, tenant, status="ready", idle_s=600)
    parsing_task_done = await new_document(pg, tenant, status="parsing", idle_s=600)
    await pg.execute(
        "UPDATE tasks SET status = 'succeeded' WHERE document_id = $1", parsing_task_done
    )

    taken = await _taken(pg, documents.take_orphans, older_than_s=300)
    assert parsed_without_task in taken and parsing_task_done in taken
    assert not taken & {queued_with_task, recent, ready}


async def test_overdue_documents_are_the_unfinished_ones_past_the_deadline(pg, tenant):
    stuck = await new_document(pg, tenant, status="embedding", idle_s=4000)
    young = await new_document(pg, tenant, status="embedding", idle_s=10)
    failed = await new_document(pg, tenant, status="failed", idle_s=4000)
    taken = await _taken(pg, documents.take_overdue, older_than_s=3600)
    assert stuck in taken and not taken & {young, failed}


async def test_unfinished_by_state_lists_every_state_with_its_oldest(pg, tenant):
    await new_document(pg, tenant, status="parsed", idle_s=120)
    states = {s.status: s for s in await documents.unfinished_by_state(pg)}
    assert list(states) == list(documents.UNFINISHED)
    assert states["parsed"].documents >= 1 and states["parsed"].oldest_s >= 120


async def test_heartbeats_record_agents_and_busy_events(pg):
    name = f"w-{uuid.uuid4().hex[:6]}"
    started = datetime.now(UTC)
    await workers.heartbeat(
        pg, worker_id=name, role="all", agents=["a.parse"], pid=1, started_at=started, busy={}
    )
    await workers.heartbeat(
        pg,
        worker_id=name,
        role="ingest",
        agents=["a.parse", "a.embed"],
        pid=2,
        started_at=started,
        busy={"parse": 12.5},
    )
    (seen,) = [w for w in await workers.seen(pg) if w.id == name]
    assert (seen.role, seen.agents, seen.pid, seen.busy) == (
        "ingest",
        ["a.parse", "a.embed"],
        2,
        {"parse": 12.5},
    )
    assert seen.seen_s_ago < 5
    await pg.execute("UPDATE workers SET seen_at = now() - interval '2 days' WHERE id = $1", name)
    assert await workers.forget_gone(pg, older_than_s=86400) >= 1
    assert name not in {w.id for w in await workers.seen(pg)}


async def test_one_leader_per_duty_until_its_session_ends(postgres_settings):
    first, second, third = [await asyncpg.connect(postgres_settings.dsn) for _ in range(3)]
    try:
        await become_leader(first, "maintenance")
        waiting = asyncio.create_task(become_leader(second, "maintenance"))
        await asyncio.wait_for(become_leader(third, "relay"), timeout=10)  # another duty is free
        done, _ = await asyncio.wait([waiting], timeout=0.5)
        assert not done  # the second session waits while the first leads
        await first.close()
        await asyncio.wait_for(waiting, timeout=10)
    finally:
        for conn in (first, second, third):
            if not conn.is_closed():
                await conn.close()


async def test_unreachable_database_is_told_apart_from_bad_queries(pg, postgres_settings):
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/pdfchat"
    with pytest.raises(OSError) as refused:
        await asyncpg.connect(nobody, timeout=5)
    assert is_unavailable(refused.value)
    with pytest.raises(asyncpg.PostgresError) as bad:
        await pg.execute("SELECT * FROM no_such_table")
    assert not is_unavailable(bad.value)
    assert not is_unavailable(FileNotFoundError(errno.ENOENT, "gone"))
    assert is_unavailable(asyncpg.DeadlockDetectedError("deadlock detected"))
    assert is_unavailable(asyncpg.SerializationError("could not serialize access"))
    assert is_unavailable(ConnectionResetError(errno.ECONNRESET, "reset"))
    conn = await asyncpg.connect(postgres_settings.dsn)
    terminated = await pg.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
    assert terminated
    await wait_until(conn.is_closed, within_s=10)  # as an idle pooled connection sees it
    with pytest.raises(Exception) as lost:
        await conn.fetchval("SELECT 1")
    assert is_unavailable(lost.value), repr(lost.value)
    await conn.close()
