"""Background care of the re-ranker's encodings: every ready document's segments get one."""

from __future__ import annotations

import logging

import asyncpg

import topics
from storage import encodings, outbox
from storage.outbox import OutboxMessage
from workflows.topic_maps import ready_again

log = logging.getLogger("pdfchat.encodings")

# A document the encode agent fails on this many times stays partly encoded (its searches rank
# without the encoder) rather than being asked for forever.
MAX_REQUESTS = 5


async def request_unencoded(
    pool: asyncpg.Pool, encoder: str, *, lease_s: float, limit: int = 20
) -> int:
    """Publish DocumentReady again, through the outbox, for ready documents with segments
    ``encoder`` has not encoded for longer than ``lease_s``: documents ready before the encoder
    was installed, or whose event was lost. The topic-map agent passes over such an event when
    its map is current. At most ``limit`` per call, each at most once per lease."""
    async with pool.acquire() as conn, conn.transaction():
        due = await encodings.take_unencoded(
            conn, encoder, older_than_s=lease_s, max_requests=MAX_REQUESTS, limit=limit
        )
        await outbox.enqueue(conn, [OutboxMessage.of(topics.READY, ready_again(r)) for r in due])
    if due:
        log.info("requested missing encodings", extra={"documents": len(due)})
    return len(due)
