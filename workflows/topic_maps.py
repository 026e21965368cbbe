"""Background care of topic maps: every ready document gets one, of the current version."""

from __future__ import annotations

import logging

import asyncpg

import topics
from retrieval.topic_map import VERSION
from storage import outbox, topic_maps
from storage.outbox import OutboxMessage

log = logging.getLogger("pdfchat.topic_maps")

# A document the topic-map agent fails on this many times is left without a map (logged by
# the agent each time) rather than requested forever.
MAX_REQUESTS = 5


async def request_missing(pool: asyncpg.Pool, *, lease_s: float, limit: int = 20) -> int:
    """Publish DocumentReady again, through the outbox, for ready documents that have had no
    map (or one of an older version) for longer than ``lease_s``: their event was lost, the
    agent crashed on it, or the map predates this version of the guide. At most ``limit`` per
    call, each at most once per lease, so an upgrade's backlog drains without a burst."""
    async with pool.acquire() as conn, conn.transaction():
        due = await topic_maps.take_missing(
            conn, version=VERSION, older_than_s=lease_s, max_requests=MAX_REQUESTS, limit=limit
        )
        await outbox.enqueue(
            conn, [OutboxMessage.of(topics.READY, ready_again(row)) for row in due]
        )
    if due:
        log.info("requested missing topic maps", extra={"documents": len(due)})
    return len(due)


def ready_again(row: asyncpg.Record) -> topics.DocumentReady:
    """A ready document's DocumentReady event, published again, from the fields a sweep's
    query returns (id, tenant_id, model, dimension, segments, ready_at)."""
    return topics.DocumentReady(
        tenant_id=row["tenant_id"],
        document_id=str(row["id"]),
        model=row["model"],
        dimension=row["dimension"],
        segments=row["segments"],
        ready_at=row["ready_at"],
    )
