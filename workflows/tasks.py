"""Background care of unfinished work: nothing stalls silently.

Kafka redelivers what a crashed worker had in hand, but only if the consumer's committed
offsets are right, and an event can be lost before it ever reached Kafka's log (a worker that
died with the event in hand during a database outage). The database knows which work is
unfinished, so it has the last word: work that has not moved for a lease is driven again, and
a document that has not moved for its deadline fails with the state it was stuck in.
"""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from storage import documents, outbox
from storage.documents import TASK_OF_STATE, UNFINISHED, Document
from storage.outbox import OutboxMessage
from workflows.documents import move, parse_requested
from workflows.parsing import parsed_event

STUCK = "stuck"


async def requeue_stale(pool: asyncpg.Pool, *, lease_s: float) -> int:
    """Publish the request again for tasks nobody finished within ``lease_s``. A duplicate
    request is harmless: the agents skip finished tasks. It goes in the trace of the request
    that made the task, with its request id, as the first one did."""
    async with pool.acquire() as conn, conn.transaction():
        stale = await documents.take_stale_tasks(conn, older_than_s=lease_s)
        requests = [
            replace(
                parse_requested(d, task_id) if kind == "parse" else parsed_event(d), headers=trace
            )
            for d, task_id, kind, trace in stale
        ]
        await outbox.enqueue(conn, requests)
    return len(stale)


async def redrive_orphans(pool: asyncpg.Pool, *, lease_s: float) -> int:
    """Queue the next task of unfinished documents that have none (their work order was
    lost), and publish its request; ``requeue_stale`` takes over from there."""
    async with pool.acquire() as conn, conn.transaction():
        orphans = await documents.take_orphans(conn, older_than_s=lease_s)
        requests = [await _queue_next_task(conn, document) for document in orphans]
        await outbox.enqueue(conn, requests)
    return len(orphans)


async def fail_overdue(pool: asyncpg.Pool, *, deadline_s: float) -> int:
    """Fail documents that have not moved for ``deadline_s``, saying where they stopped."""
    async with pool.acquire() as conn, conn.transaction():
        overdue = await documents.take_overdue(conn, older_than_s=deadline_s)
        for document in overdue:
            reason = (
                f"no progress while {document.status} for more than {deadline_s:.0f} s;"
                " upload it again, or see docs/runbook.md#stuck-document"
            )
            await move(
                conn,
                document,
                "failed",
                allowed_from=UNFINISHED,
                detail={"code": STUCK, "stuck_in": document.status},
                changes={"error_code": STUCK, "error": reason},
            )
            await documents.finish_open_tasks(conn, document.tenant_id, document.id, error=reason)
    return len(overdue)


async def _queue_next_task(conn: asyncpg.Connection, document: Document) -> OutboxMessage:
    kind = TASK_OF_STATE[document.status]
    task_id = await documents.ensure_task(conn, document.tenant_id, document.id, kind)
    assert task_id is not None, "the document row is locked: it cannot be gone"
    await documents.requeue_task(conn, document.tenant_id, task_id, error="re-driven: lost event")
    return parse_requested(document, task_id) if kind == "parse" else parsed_event(document)
