"""Documents' topic maps, scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg


async def chunks_with_vectors(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID, model: str
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.id, s.page, s.meta->>'heading' AS heading, s.content, e.embedding"
        " FROM segments s JOIN segment_embeddings e ON e.segment_id = s.id AND e.model = $3"
        " WHERE s.tenant_id = $1 AND s.doc_id = $2 ORDER BY s.seq",
        tenant_id, doc_id, model,
    )  # fmt: skip


async def save(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    doc_id: uuid.UUID,
    model: str,
    topic_map: Mapping[str, Any],
) -> bool:
    """Store (or replace) the map; False when the document is gone."""
    status = await conn.execute(
        "INSERT INTO document_topic_maps (doc_id, tenant_id, model, topic_map)"
        " SELECT $2, $1, $3, $4 WHERE EXISTS"
        " (SELECT 1 FROM documents WHERE tenant_id = $1 AND id = $2)"
        " ON CONFLICT (doc_id) DO UPDATE SET model = EXCLUDED.model,"
        " topic_map = EXCLUDED.topic_map, created_at = now()",
        tenant_id, doc_id, model, dict(topic_map),
    )  # fmt: skip
    return status != "INSERT 0 0"


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT topic_map, model, created_at FROM document_topic_maps"
        " WHERE tenant_id = $1 AND doc_id = $2",
        tenant_id, doc_id,
    )  # fmt: skip
    if row is None:
        return None
    return {**row["topic_map"], "model": row["model"], "computed_at": row["created_at"].isoformat()}
