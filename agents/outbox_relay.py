"""Relays committed outbox rows to Kafka: at least once, in commit order, one relay at a time
(agents.leadership).

A record of an analytics topic whose tenant has an analyst is also sent, byte for byte with its
key and headers, to that tenant's copy of the topic (topics.exports), where the broker lets
the analyst read it. Every such record passes through here, in the same batch and with the
same acknowledgement, so the copies are as complete and as at-least-once as the originals.
"""

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
from storage import analytics, outbox
from topics.exports import EXPORTED, tenant_topic

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
            await _publish(batch, await _tenants_exported(conn, batch))
            await outbox.mark_published(conn, [m.id for m in batch])
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=POLL_S)


async def _tenants_exported(
    conn: asyncpg.Connection, batch: list[outbox.PendingMessage]
) -> set[str]:
    tenants = {_tenant(m) for m in batch if m.topic in EXPORTED}
    return await analytics.with_analysts(conn, tenants) if tenants else set()


def _tenant(m: outbox.PendingMessage) -> str:
    return m.key.split(":", 1)[0]  # every key starts with its tenant


async def _publish(batch: list[outbox.PendingMessage], exported: set[str]) -> None:
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
            headers = {k: v.encode() for k, v in tracing.inject(dict(m.headers)).items()}
            value = json.dumps(m.value).encode()
            destinations = [m.topic]
            if m.topic in EXPORTED and _tenant(m) in exported:
                destinations.append(tenant_topic(_tenant(m), m.topic))
            for topic in destinations:
                sent = await producer.send(
                    topic, m.key.encode(), value, partition=None, timestamp=None, headers=headers
                )
                pending.append(sent)
    # The rows are deleted only once the broker has acknowledged every message.
    await asyncio.gather(*pending)
