"""The transactional outbox: enqueue inside a transaction, relay to Kafka afterwards.

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


def row_of(message: OutboxMessage) -> tuple[str, str, Mapping[str, Any], dict[str, str]]:
    """The outbox row of ``message`` (topic, key, value, headers): its headers hold the current
    trace context and request id (headers the caller set explicitly win)."""
    return message.topic, message.key, message.value, {**tracing.inject({}), **message.headers}


async def enqueue(conn: asyncpg.Connection, messages: Sequence[OutboxMessage]) -> None:
    """Must run inside the caller's transaction: the messages commit with the data."""
    if not messages:
        return
    await conn.executemany(
        "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4)",
        [row_of(m) for m in messages],
    )
    # Delivered at commit, and not at all on rollback.
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


async def pending(conn: asyncpg.Connection, *, limit: int = 500) -> list[PendingMessage]:
    rows = await conn.fetch(
        "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1", limit
    )
    return [PendingMessage(**dict(r)) for r in rows]


async def mark_published(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))


async def backlog(conn: asyncpg.Connection) -> tuple[int, float]:
    """How many messages wait, and the age in seconds of the oldest."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n,"
        " coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
    )
    return int(row["n"]), float(row["age"])
