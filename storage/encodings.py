"""The re-ranker's encodings of segments (retrieval/encoder.py), scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import numpy as np

from storage import requests


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


async def finish(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID, encoder: str
) -> None:
    """Record that ``encoder`` has encoded every segment of the document (nothing when it is
    gone): the sweep asks no more for it."""
    await conn.execute(
        "INSERT INTO encoded_documents (doc_id, encoder, tenant_id)"
        " SELECT id, $3, tenant_id FROM documents WHERE tenant_id = $1 AND id = $2"
        " ON CONFLICT DO NOTHING",
        tenant_id,
        doc_id,
        encoder,
    )


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


# A ready document the encoder ($3) has not finished (``finish``)...
_UNFINISHED = """
    NOT EXISTS (SELECT 1 FROM encoded_documents done
                WHERE done.doc_id = d.id AND done.encoder = $3)
"""
# ...and of which it encoded nothing within the lease ($1): a worker at work on a big document
# is left to it.
_IDLE = """
    NOT EXISTS (SELECT 1 FROM segment_encodings e
                WHERE e.tenant_id = d.tenant_id AND e.doc_id = d.id AND e.encoder = $3
                  AND e.encoded_at > now() - make_interval(secs => $1))
"""
# For the gauge, which knows no encoder: finished by none.
_FINISHED_BY_NONE = "NOT EXISTS (SELECT 1 FROM encoded_documents done WHERE done.doc_id = d.id)"


async def take_unencoded(
    conn: asyncpg.Connection,
    encoder: str,
    *,
    older_than_s: float,
    max_requests: int,
    limit: int,
) -> list[asyncpg.Record]:
    """Ready documents (of any tenant: maintenance) that ``encoder`` has not finished and of
    which it encoded nothing within ``older_than_s``, due to be asked for again
    (``requests.take_due``); each is recorded as requested now."""
    return await requests.take_due(
        conn,
        "encoding_requests",
        f"{_UNFINISHED} AND {_IDLE}",
        [encoder],
        older_than_s=older_than_s,
        max_requests=max_requests,
        limit=limit,
    )


async def given_up(
    conn: asyncpg.Connection | asyncpg.Pool, *, max_requests: int, older_than_s: float
) -> int:
    """How many ready documents (all tenants) no encoder has finished, though asked for
    ``max_requests`` times, the last more than ``older_than_s`` ago: the sweep asks no more,
    and their tenants' searches rank without the encoder."""
    return await requests.given_up(
        conn,
        "encoding_requests",
        _FINISHED_BY_NONE,
        [],
        max_requests=max_requests,
        older_than_s=older_than_s,
    )


def _literal(encoding: np.ndarray) -> str:
    """pgvector's text form: an array of a custom type is a parameter asyncpg cannot send."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(encoding, dtype=np.float32)) + "]"
