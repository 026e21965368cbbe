"""Tenant export agent: the analytics records of every tenant that has an analyst, copied to
that tenant's own topics (topics.exports), where the broker's ACLs let its analysts read them.

    status, parsed, ready,        tenant has an        pdfchat.tenant.<tenant>.documents.status.v1
    chat.requested, chat.usage ─▶ analyst? ──yes──▶  … (the same record, key and headers)

Copies are byte for byte, with the trace context and request id of the original, so the
guide to the shared topics (docs/topics.md) holds for them. At least once, like their
sources: a redelivered event is copied again, and a tenant's copies start with its grant.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import faust
from faust import current_event

from agents import runner
from agents.app import app
from agents.resources import resources
from storage import analytics
from topics.exports import EXPORTED, tenant_topic

exported = app.topic(
    *EXPORTED, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


@app.agent(exported)
async def export(records: faust.StreamT[bytes]) -> None:
    deps = await resources()
    await runner.run("tenant_export", records, lambda value: _copy(deps.pool, value))


async def _copy(pool: asyncpg.Pool, value: bytes) -> None:
    event = current_event()
    assert event is not None  # inside an agent's stream
    message = event.message
    if message.key is None:
        return
    tenant = message.key.decode().split(":", 1)[0]  # every key starts with its tenant
    # Asked for every record (a handful per document or question, against an index): a grant
    # holds for every record read after it commits, with no cache to wait out.
    if not await analytics.has_analyst(pool, tenant):
        return
    sent = await app.producer.send(
        tenant_topic(tenant, message.topic),
        message.key,
        value,
        partition=None,
        timestamp=None,
        headers=_pairs(message.headers),
    )
    await sent  # held by the broker before the event's offset may be committed


def _pairs(
    headers: Mapping[str, bytes] | list[tuple[str, bytes]] | None,
) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)
