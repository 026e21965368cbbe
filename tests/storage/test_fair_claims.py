"""Tenants take turns at the queues of parse tasks (storage.documents.claim_next_task) and of
questions (storage.chat.claim_next_session), against PostgreSQL alone."""

from __future__ import annotations

import uuid

import asyncpg
from opentelemetry.trace import format_trace_id

from core import tracing
from storage import chat, documents
from tests.core.spans import memory_exporter
from tests.rows import new_document, no_queued_tasks, unrelayed_session


def tenants(n: int) -> list[str]:
    return [f"t-{uuid.uuid4().hex[:12]}" for _ in range(n)]


async def _take_in_turn(pg: asyncpg.Pool, count: int) -> list[str]:
    """Claim and finish ``count`` tasks one after another, as one worker would."""
    order = []
    for _ in range(count):
        async with pg.acquire() as conn, conn.transaction():
            claim = await documents.claim_next_task(conn, "parse")
            assert claim is not None
            await documents.finish_task(conn, claim.document.tenant_id, claim.task_id)
        order.append(claim.document.tenant_id)
    return order


async def test_tenants_take_turns_whatever_the_order_of_arrival(pg: asyncpg.Pool) -> None:
    flood, lone, pair = tenants(3)
    await no_queued_tasks(pg)
    for _ in range(5):
        await new_document(pg, flood)
    await new_document(pg, lone)
    for _ in range(2):
        await new_document(pg, pair)
    order = await _take_in_turn(pg, 8)
    assert order == [flood, lone, pair, flood, pair, flood, flood, flood]


async def test_work_done_while_nobody_waited_costs_no_turn(pg: asyncpg.Pool) -> None:
    early, flood = tenants(2)
    await no_queued_tasks(pg)
    for _ in range(3):
        await new_document(pg, early)
    assert await _take_in_turn(pg, 3) == [early] * 3  # the system was idle
    for _ in range(3):
        await new_document(pg, flood)
    await new_document(pg, early)
    # Its three took no one's turn: early goes next to the flood, not after it.
    assert await _take_in_turn(pg, 4) == [flood, early, flood, flood]


async def test_work_done_while_others_waited_costs_turns(pg: asyncpg.Pool) -> None:
    busy, other = tenants(2)
    await no_queued_tasks(pg)
    for _ in range(4):
        await new_document(pg, busy)
    await new_document(pg, other)
    await new_document(pg, other)
    assert await _take_in_turn(pg, 3) == [busy, other, busy]
    await new_document(pg, busy)
    # busy has had two turns while others waited, other one: other's second goes first.
    assert await _take_in_turn(pg, 4) == [other, busy, busy, busy]


async def test_a_task_held_by_another_worker_is_skipped_not_waited_for(pg: asyncpg.Pool) -> None:
    first, second = tenants(2)
    await no_queued_tasks(pg)
    await new_document(pg, first)
    await new_document(pg, second)
    async with pg.acquire() as holder, holder.transaction():
        held = await holder.fetchval("SELECT id FROM tasks WHERE tenant_id = $1 FOR UPDATE", first)
        async with pg.acquire() as conn, conn.transaction():
            claim = await documents.claim_next_task(conn, "parse")
    assert held is not None and claim is not None
    assert claim.document.tenant_id == second


async def test_nothing_queued_claims_nothing(pg: asyncpg.Pool) -> None:
    await no_queued_tasks(pg)
    async with pg.acquire() as conn, conn.transaction():
        assert await documents.claim_next_task(conn, "parse") is None


async def test_questions_take_turns_between_tenants(pg: asyncpg.Pool) -> None:
    flood, lone = tenants(2)
    await pg.execute("UPDATE chat_sessions SET status = 'failed' WHERE status = 'pending'")
    for _ in range(3):
        await unrelayed_session(pg, flood, "one of many")
    await unrelayed_session(pg, lone, "the only one")
    first = await chat.claim_next_session(pg)  # a flood question is being answered...
    second = await chat.claim_next_session(pg)  # ...so the lone one goes before the others
    assert first is not None and second is not None
    assert (first.tenant_id, second.tenant_id) == (flood, lone)
    assert second.status == "answering" and second.attempts == 1
    rest = [await chat.claim_next_session(pg) for _ in range(3)]
    assert [s.tenant_id if s else None for s in rest] == [flood, flood, None]


async def test_work_taken_on_a_turn_carries_the_trace_of_its_request(pg: asyncpg.Pool) -> None:
    """Whoever's turn takes it, the work joins the trace of the upload or question that made it
    (agents.runner.working_for)."""
    memory_exporter()  # a recording tracer provider: the spans below have real trace ids
    tenant = tenants(1)[0]
    await no_queued_tasks(pg)
    await pg.execute("UPDATE chat_sessions SET status = 'failed' WHERE status = 'pending'")
    with tracing.tracer.start_as_current_span("POST /v1/documents") as upload:
        await new_document(pg, tenant)
    with tracing.tracer.start_as_current_span("POST /v1/chat") as question:
        await unrelayed_session(pg, tenant, "asked under a trace")
    async with pg.acquire() as conn, conn.transaction():
        task = await documents.claim_next_task(conn, "parse")
    session = await chat.claim_next_session(pg)
    assert task is not None and session is not None
    for work, span in ((task.trace, upload), (session.trace, question)):
        trace_id = format_trace_id(span.get_span_context().trace_id)
        assert work["traceparent"].split("-")[1] == trace_id
