"""Relays committed outbox rows to Kafka: at least once, in commit order, one relay at a time.

Every worker runs this task; the one holding the relay advisory lock publishes and the others
wait on the lock, taking over as soon as the leader's database session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg

import storage
from agents.app import app, settings
from agents.resources import Resources, resources
from storage import outbox
from workflows.chat import fail_stale
from workflows.embedding import schedule_reembedding
from workflows.tasks import requeue_stale
from workflows.topic_maps import request_missing

log = logging.getLogger("pdfchat.relay")

RECONNECT_S = 1.0
# The relay looks at the outbox this often even without a notification (one may be missed
# while reconnecting); the leader sweeps for due work (stale tasks and sessions, re-embedding,
# missing topic maps) as often.
SWEEP_S = 2.0


@app.task
async def relay_outbox() -> None:
    await resources()
    while True:
        try:
            conn = await storage.connect(settings.dsn)
            try:
                await _lead(conn)
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox relay lost its connection; reconnecting", extra={"error": str(exc)})
            await asyncio.sleep(RECONNECT_S)


async def _lead(conn: asyncpg.Connection) -> None:
    await outbox.become_relay(conn)
    log.info("this worker now relays the outbox")
    wakeup = asyncio.Event()
    await conn.add_listener(outbox.NOTIFY_CHANNEL, lambda *_: wakeup.set())
    # The leader also sweeps, beside the relay: a slow sweep must not hold up publishing.
    sweeper = asyncio.create_task(_sweep_forever(await resources()))
    try:
        while True:
            wakeup.clear()
            batch = await outbox.pending(conn)
            if batch:
                await _publish(batch)
                await outbox.mark_published(conn, [m.id for m in batch])
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=SWEEP_S)
    finally:
        sweeper.cancel()


async def _sweep_forever(deps: Resources) -> None:
    while True:
        try:
            await _sweep(deps)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("sweep failed; next one in a moment", extra={"error": str(exc)})
        await asyncio.sleep(SWEEP_S)


async def _sweep(deps: Resources) -> None:
    """Work the database says is due but whose event was lost, or whose worker died."""
    if failed := await fail_stale(deps.pool, lease_s=settings.chat_lease_s):
        log.warning("ended stale chat sessions", extra={"sessions": failed})
    if requeued := await requeue_stale(deps.pool, lease_s=settings.task_lease_s):
        log.warning("requeued stale tasks", extra={"tasks": requeued})
    if queued := await schedule_reembedding(deps.pool, deps.embedder.model):
        log.info("re-embedding with the configured model", extra={"documents": queued})
    await request_missing(deps.pool, lease_s=settings.task_lease_s)


async def _publish(batch: list[outbox.PendingMessage]) -> None:
    producer = app.producer
    pending = [
        await producer.send(
            m.topic,
            m.key.encode(),
            json.dumps(m.value).encode(),
            partition=None,
            timestamp=None,
            headers={k: v.encode() for k, v in m.headers.items()},
        )
        for m in batch
    ]
    # The rows are deleted only once the broker has acknowledged every message.
    await asyncio.gather(*pending)
