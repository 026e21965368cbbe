"""Background care of unfinished tasks."""

from __future__ import annotations

import asyncpg

from storage import documents, outbox
from workflows.documents import parse_requested
from workflows.parsing import parsed_event


async def requeue_stale(pool: asyncpg.Pool, *, lease_s: float) -> int:
    """Publish the parse request again for tasks nobody finished within ``lease_s``.

    Kafka redelivers what a crashed worker had in hand, but only if the consumer's committed
    offsets are right; Faust has committed past unprocessed events around crashes (seen in our
    kill tests). The database knows which work is unfinished, so it has the last word. A
    duplicate request is harmless: the parse agent skips finished tasks.
    """
    async with pool.acquire() as conn, conn.transaction():
        stale = await documents.take_stale_tasks(conn, older_than_s=lease_s)
        requests = [
            parse_requested(d, task_id) if kind == "parse" else parsed_event(d)
            for d, task_id, kind in stale
        ]
        await outbox.enqueue(conn, requests)
    return len(stale)
