"""Documents' topic maps, scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg


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


async def take_missing(
    conn: asyncpg.Connection, *, version: int, older_than_s: float, max_requests: int, limit: int
) -> list[asyncpg.Record]:
    """Ready documents (of any tenant: maintenance) ready for ``older_than_s`` without a map of
    ``version`` or later, not requested within ``older_than_s``, and requested fewer than
    ``max_requests`` times; each is recorded as requested now. Returns the fields of their
    DocumentReady event."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        WITH due AS (
            SELECT d.id, d.tenant_id, d.embedding_model, m.dimension, d.segment_count,
                   d.updated_at
            FROM documents d
            JOIN embedding_models m ON m.name = d.embedding_model
            LEFT JOIN document_topic_maps t ON t.doc_id = d.id
            LEFT JOIN topic_map_requests r ON r.doc_id = d.id
            WHERE d.status = 'ready'
              AND d.updated_at < now() - make_interval(secs => $2)
              AND (t.doc_id IS NULL OR coalesce((t.topic_map->>'version')::int, 1) < $1)
              AND (r.doc_id IS NULL OR (r.requested_at < now() - make_interval(secs => $2)
                                        AND r.attempts < $3))
            ORDER BY d.updated_at
            LIMIT $4
        ), requested AS (
            INSERT INTO topic_map_requests (doc_id, tenant_id) SELECT id, tenant_id FROM due
            ON CONFLICT (doc_id) DO UPDATE
                SET requested_at = now(), attempts = topic_map_requests.attempts + 1
        )
        SELECT id, tenant_id, embedding_model AS model, dimension,
               coalesce(segment_count, 0) AS segments, updated_at AS ready_at
        FROM due
        """,
        version,
        older_than_s,
        max_requests,
        limit,
    )
    return rows


async def given_up(
    conn: asyncpg.Connection | asyncpg.Pool, *, version: int, max_requests: int, older_than_s: float
) -> int:
    """How many ready documents (all tenants) have no map of ``version`` or later, though asked
    for ``max_requests`` times, the last more than ``older_than_s`` ago: the sweep asks no
    more, and they have no guide or topics."""
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM topic_map_requests r
        JOIN documents d ON d.id = r.doc_id AND d.status = 'ready'
        LEFT JOIN document_topic_maps t ON t.doc_id = r.doc_id
        WHERE r.attempts >= $2 AND r.requested_at < now() - make_interval(secs => $3)
          AND (t.doc_id IS NULL OR coalesce((t.topic_map->>'version')::int, 1) < $1)
        """,
        version,
        max_requests,
        older_than_s,
    )
    return count
