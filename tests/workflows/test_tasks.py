"""Background care of unfinished work (workflows.tasks) on PostgreSQL alone: what it changes
and what it hands to the outbox, without a broker."""

from __future__ import annotations

import uuid

import pytest

import topics
from tests.rows import new_document
from workflows.tasks import fail_overdue, redrive_orphans


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def _outbox(pg, doc: uuid.UUID) -> list[tuple[str, dict]]:
    rows = await pg.fetch(
        "SELECT topic, value FROM outbox WHERE value->>'document_id' = $1 ORDER BY id", str(doc)
    )
    return [(r["topic"], r["value"]) for r in rows]


async def test_an_orphan_gets_its_next_task_and_its_request(pg, tenant):
    parsed = await new_document(pg, tenant, status="parsed", idle_s=600)
    queued = await new_document(pg, tenant, status="queued", idle_s=600)
    await pg.execute("UPDATE tasks SET status = 'failed' WHERE document_id = $1", queued)

    assert await redrive_orphans(pg, lease_s=300) >= 2
    embed = await pg.fetchrow(
        "SELECT status, error FROM tasks WHERE document_id = $1 AND kind = 'embed'", parsed
    )
    assert embed["status"] == "queued" and "re-driven" in embed["error"]
    assert [t for t, _ in await _outbox(pg, parsed)] == [topics.PARSED]
    assert [t for t, _ in await _outbox(pg, queued)] == [topics.PARSE_REQUESTED]
    # Its task is queued now, so it is no orphan any more: requeue_stale takes over.
    await redrive_orphans(pg, lease_s=300)
    assert len(await _outbox(pg, parsed)) == 1


async def test_a_document_past_its_deadline_fails_with_where_it_stopped(pg, tenant):
    stuck = await new_document(pg, tenant, status="parsing", idle_s=7200)
    assert await fail_overdue(pg, deadline_s=3600) >= 1
    row = await pg.fetchrow("SELECT status, error_code, error FROM documents WHERE id = $1", stuck)
    assert (row["status"], row["error_code"]) == ("failed", "stuck")
    assert "parsing" in row["error"] and "3600 s" in row["error"]
    assert await pg.fetchval("SELECT status FROM tasks WHERE document_id = $1", stuck) == "failed"
    (status_event,) = [v for t, v in await _outbox(pg, stuck) if t == topics.STATUS]
    assert (status_event["status"], status_event["previous"]) == ("failed", "parsing")
