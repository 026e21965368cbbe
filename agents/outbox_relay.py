"""Relays committed outbox rows to Kafka: at least once, in commit order, one relay at a time
(agents.leadership)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
from opentelemetry.trace import SpanKind

from agents.app import app
from agents.leadership import lead_forever
from agents.resources import resources
from core import tracing
from core.logging import request_id
from storage import outbox

# The relay looks at the outbox this often even without a notification (one may be missed
# while reconnecting).
POLL_S = 2.0


@app.task
async def relay_outbox() -> None:
    await resources()
    await lead_forever("relay", _relay)


async def _relay(conn: asyncpg.Connection) -> None:
    wakeup = asyncio.Event()
    await conn.add_listener(outbox.NOTIFY_CHANNEL, lambda *_: wakeup.set())
    while True:
        wakeup.clear()
        batch = await outbox.pending(conn)
        if batch:
            await _publish(batch)
            await outbox.mark_published(conn, [m.id for m in batch])
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=POLL_S)


async def _publish(batch: list[outbox.PendingMessage]) -> None:
    producer = app.producer
    pending = []
    for m in batch:
        # The request that committed the row is the parent: its trace shows the relay's delay.
        request_id.set(tracing.request_id_from(m.headers))
        with tracing.tracer.start_as_current_span(
            f"publish {m.topic}",
            context=tracing.extract(m.headers),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": m.topic},
        ):
            headers = tracing.inject(dict(m.headers))
            sent = await producer.send(
                m.topic,
                m.key.encode(),
                json.dumps(m.value).encode(),
                partition=None,
                timestamp=None,
                headers={k: v.encode() for k, v in headers.items()},
            )
        pending.append(sent)
    # The rows are deleted only once the broker has acknowledged every message.
    await asyncio.gather(*pending)
