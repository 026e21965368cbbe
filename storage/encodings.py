"""The re-ranker's encodings of segments (retrieval/encoder.py), scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import numpy as np


async def unencoded(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    doc_id: uuid.UUID,
    encoder: str,
    *,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` of the document's segments (id, content) that ``encoder`` has not
    encoded yet, in reading order; none once the document is encoded, or gone."""
    return list(
        await conn.fetch(
            "SELECT s.id, s.content FROM segments s"
            " WHERE s.tenant_id = $1 AND s.doc_id = $2 AND NOT EXISTS"
            " (SELECT 1 FROM segment_encodings e WHERE e.segment_id = s.id AND e.encoder = $3)"
            " ORDER BY s.seq LIMIT $4",
            tenant_id,
            doc_id,
            encoder,
            limit,
        )
    )


async def save(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    doc_id: uuid.UUID,
    encoder: str,
    encodings: Sequence[tuple[uuid.UUID, np.ndarray]],
) -> int:
    """Store (segment id, encoding) pairs; how many were stored. Segments deleted meanwhile
    (their document was) and pairs stored already are skipped."""
    status: str = await conn.execute(
        "INSERT INTO segment_encodings (segment_id, encoder, tenant_id, doc_id, encoding)"
        " SELECT s.id, $3, s.tenant_id, s.doc_id, e.encoding::vector"
        " FROM unnest($4::uuid[], $5::text[]) AS e (segment_id, encoding)"
        " JOIN segments s ON s.id = e.segment_id AND s.tenant_id = $1 AND s.doc_id = $2"
        " ON CONFLICT DO NOTHING",
        tenant_id,
        doc_id,
        encoder,
        [segment_id for segment_id, _ in encodings],
        [_literal(encoding) for _, encoding in encodings],
    )
    return int(status.rsplit(" ", 1)[-1])


async def of(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    encoder: str,
    segment_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, np.ndarray]:
    """The tenant's encodings of these segments (those it has), as float32 arrays."""
    rows = await conn.fetch(
        "SELECT segment_id, encoding FROM segment_encodings"
        " WHERE tenant_id = $1 AND encoder = $2 AND segment_id = ANY($3::uuid[])",
        tenant_id,
        encoder,
        list(segment_ids),
    )
    return {r["segment_id"]: r["encoding"].to_numpy() for r in rows}


async def count(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID, encoder: str
) -> int:
    """How many of the document's segments ``encoder`` has encoded."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM segment_encodings"
        " WHERE tenant_id = $1 AND doc_id = $2 AND encoder = $3",
        tenant_id,
        doc_id,
        encoder,
    )
    return found


def _literal(encoding: np.ndarray) -> str:
    """pgvector's text form: an array of a custom type is a parameter asyncpg cannot send."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(encoding, dtype=np.float32)) + "]"
