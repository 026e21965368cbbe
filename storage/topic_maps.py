"""Documents' topic maps, scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from storage import requests


async def segments_with_vectors(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID, model: str
) -> list[asyncpg.Record]:
    """The document's segments with their vectors of ``model``, in reading order."""
    return list(
        await conn.fetch(
            "SELECT s.id, s.page, s.meta->>'heading' AS heading, s.content, e.embedding"
            " FROM segments s JOIN segment_embeddings e ON e.segment_id = s.id AND e.model = $3"
            " WHERE s.tenant_id = $1 AND s.doc_id = $2 ORDER BY s.seq",
            tenant_id,
            doc_id,
            model,
        )
    )


async def save(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    doc_id: uuid.UUID,
    model: str,
    topic_map: Mapping[str, Any],
) -> bool:
    """Store (or replace) the map; False when the document is gone."""
    await conn.execute("DELETE FROM topic_map_requests WHERE doc_id = $1", doc_id)
    status: str = await conn.execute(
        "INSERT INTO document_topic_maps (doc_id, tenant_id, model, topic_map)"
        " SELECT $2, $1, $3, $4 WHERE EXISTS"
        " (SELECT 1 FROM documents WHERE tenant_id = $1 AND id = $2)"
        " ON CONFLICT (doc_id) DO UPDATE SET model = EXCLUDED.model,"
        " topic_map = EXCLUDED.topic_map, created_at = now()",
        tenant_id,
        doc_id,
        model,
        dict(topic_map),
    )
    return status != "INSERT 0 0"


async def is_current(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    doc_id: uuid.UUID,
    *,
    model: str,
    version: int,
    since: datetime,
) -> bool:
    """Whether the document has a map of ``version`` or later, of ``model``'s vectors, made
    at ``since`` or after: a map of the document as it is since it was ready then."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM document_topic_maps"
        " WHERE tenant_id = $1 AND doc_id = $2 AND model = $3"
        " AND coalesce((topic_map->>'version')::int, 1) >= $4 AND created_at >= $5)",
        tenant_id,
        doc_id,
        model,
        version,
        since,
    )
    return found


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT topic_map, model, created_at FROM document_topic_maps"
        " WHERE tenant_id = $1 AND doc_id = $2",
        tenant_id,
        doc_id,
    )
    if row is None:
        return None
    return {
        **_current_shape(row["topic_map"]),
        "model": row["model"],
        "computed_at": row["created_at"].isoformat(),
    }


def _current_shape(topic_map: dict[str, Any]) -> dict[str, Any]:
    """A map of version 1 (before sub-topics and the guide) in today's shape, for the moment
    until the sweep has recomputed it (workflows.topic_maps)."""
    for topic in topic_map.get("topics", []):
        topic.setdefault("subtopics", [])
    return {"version": 1, "guide": topic_map.get("overview", ""), **topic_map}


# A ready document without a map of the guide's version ($3) or later.
_WITHOUT_MAP = """
    NOT EXISTS (SELECT 1 FROM document_topic_maps t WHERE t.doc_id = d.id
                AND coalesce((t.topic_map->>'version')::int, 1) >= $3)
"""


async def take_missing(
    conn: asyncpg.Connection, *, version: int, older_than_s: float, max_requests: int, limit: int
) -> list[asyncpg.Record]:
    """Ready documents (of any tenant: maintenance) without a map of ``version`` or later, due
    to be asked for again (``requests.take_due``); each is recorded as requested now."""
    return await requests.take_due(
        conn,
        "topic_map_requests",
        _WITHOUT_MAP,
        [version],
        older_than_s=older_than_s,
        max_requests=max_requests,
        limit=limit,
    )


async def given_up(
    conn: asyncpg.Connection | asyncpg.Pool, *, version: int, max_requests: int, older_than_s: float
) -> int:
    """How many ready documents (all tenants) have no map of ``version`` or later, though asked
    for ``max_requests`` times, the last more than ``older_than_s`` ago: the sweep asks no
    more, and they have no guide or topics."""
    return await requests.given_up(
        conn,
        "topic_map_requests",
        _WITHOUT_MAP,
        [version],
        max_requests=max_requests,
        older_than_s=older_than_s,
    )
