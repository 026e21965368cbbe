"""Background care of unfinished work (workflows.tasks) on PostgreSQL alone: what it changes
and what it hands to the outbox, without a broker."""

from __future__ import annotations

import uuid

import pytest

import topics
from core.logging import request_id
from tests.rows import new_document, unrelayed_session
from workflows.chat import take_over_stale
from workflows.tasks import fail_overdue, redrive_orphans, requeue_stale


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


async def test_work_sent_again_by_a_sweep_keeps_the_request_id_of_its_request(pg, tenant):
    """A subscriber joins records to the API call behind them by x-request-id: the records a
    sweep sends again (a stalled task, an answer taken over or given up) still carry it."""
    token = request_id.set("upload-1")
    stalled = await new_document(pg, tenant, status="parsing")
    request_id.set("ask-1")
    taken_over = await unrelayed_session(pg, tenant, "q1", status="answering", attempts=1)
    request_id.set("ask-2")
    given_up = await unrelayed_session(pg, tenant, "q2", status="answering", attempts=3)
    request_id.reset(token)
    await pg.execute(
        "UPDATE tasks SET status = 'running', updated_at = now() - interval '10 minutes'"
        " WHERE document_id = $1",
        stalled,
    )
    await pg.execute(
        "UPDATE chat_sessions SET updated_at = now() - interval '10 minutes' WHERE id = ANY($1)",
        [taken_over, given_up],
    )

    await requeue_stale(pg, lease_s=300)
    await take_over_stale(pg, lease_s=300, max_attempts=3)

    sent = {
        (r["topic"], r["key"]): r["headers"].get("x-request-id")
        for r in await pg.fetch(
            "SELECT topic, key, headers FROM outbox WHERE key LIKE $1", f"{tenant}:%"
        )
    }
    assert sent[(topics.PARSE_REQUESTED, f"{tenant}:{stalled}")] == "upload-1"
    assert sent[(topics.CHAT_REQUESTED, f"{tenant}:{taken_over}")] == "ask-1"
    assert sent[(topics.ANSWERS, f"{tenant}:{given_up}")] == "ask-2"
