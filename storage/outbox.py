"""The transactional outbox: enqueue inside a transaction, relay to Kafka afterwards.

A message whose writer sends it itself, right after the commit, to save the relay's hop
(``enqueue_unless_sent``), is due to the relay only some seconds later; the writer withdraws
it once Kafka has it. So it reaches Kafka at least once even if the writer dies in between.

Each message carries, in its headers, the trace context and the request id of the code that
enqueued it: the relay publishes them as Kafka headers, so a trace goes on from the request
that committed the row to every agent that handles the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from core import tracing

NOTIFY_CHANNEL = "pdfchat_outbox"


class Publishable(Protocol):
    def kafka_key(self) -> str: ...
    def dumps(self) -> bytes: ...


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    key: str
    value: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, topic: str, record: Publishable, headers: Mapping[str, str] | None = None
    ) -> OutboxMessage:
        return cls(topic, record.kafka_key(), json.loads(record.dumps()), headers or {})


@dataclass(frozen=True)
class PendingMessage:
    id: int
    topic: str
    key: str
    value: Mapping[str, Any]
    headers: Mapping[str, str]


async def enqueue(conn: asyncpg.Connection, messages: Sequence[OutboxMessage]) -> None:
    """Must run inside the caller's transaction: the messages commit with the data.

    Every message gets the current trace context and request id in its headers (headers the
    caller set explicitly win)."""
    if not messages:
        return
    context = dict(tracing.inject({}))
    await conn.executemany(
        "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4)",
        [(m.topic, m.key, m.value, {**context, **m.headers}) for m in messages],
    )
    # Delivered at commit, and not at all on rollback.
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


async def enqueue_unless_sent(
    conn: asyncpg.Connection, message: OutboxMessage, *, within_s: float
) -> PendingMessage:
    """Must run inside the caller's transaction, like ``enqueue``: for a message the caller
    will send itself once the transaction commits. The relay sends it only if it is still
    here ``within_s`` seconds from now; the caller ``withdraw``s it once sent.

    Relayed late, such a message may come after messages of its key committed later: only
    for messages whose order does not matter."""
    headers = {**tracing.inject({}), **message.headers}
    message_id = await conn.fetchval(
        "INSERT INTO outbox (topic, key, value, headers, deliver_after)"
        " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id",
        message.topic,
        message.key,
        message.value,
        headers,
        within_s,
    )
    return PendingMessage(message_id, message.topic, message.key, message.value, headers)


async def withdraw(conn: asyncpg.Connection | asyncpg.Pool, message_id: int) -> None:
    """The caller sent the message itself: the relay must not."""
    await conn.execute("DELETE FROM outbox WHERE id = $1", message_id)


async def pending(conn: asyncpg.Connection, *, limit: int = 500) -> list[PendingMessage]:
    """The messages due, oldest first."""
    rows = await conn.fetch(
        "SELECT id, topic, key, value, headers FROM outbox WHERE deliver_after <= now()"
        " ORDER BY id LIMIT $1",
        limit,
    )
    return [PendingMessage(**dict(r)) for r in rows]


async def mark_published(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))


async def backlog(conn: asyncpg.Connection) -> tuple[int, float]:
    """How many messages are due and not yet sent, and how long in seconds the oldest of
    them has been due."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n,"
        " coalesce(extract(epoch FROM now() - min(deliver_after)), 0) AS age FROM outbox"
        " WHERE deliver_after <= now()"
    )
    return int(row["n"]), float(row["age"])
