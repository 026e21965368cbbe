"""The two halves of hybrid retrieval, each scoped by tenant: nearest vectors and full text."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

import asyncpg

from storage.embeddings import INDEX_MIN_ROWS, index_name, sql_literal

# Up to INDEX_MIN_ROWS vectors in scope an exact scan is fast and never misses; above it the
# model's HNSW index answers (when built). pgvector 0.6 filters HNSW results after the scan,
# so a small tenant inside a large index could otherwise get fewer than k hits.
HNSW_EF_SEARCH = 200


@dataclass(frozen=True)
class Hit:
    segment_id: uuid.UUID
    document_id: uuid.UUID
    page: int
    content: str
    heading: str | None
    score: float
    title: str | None = None  # the document's title, or its file name when it has none


# With the document's readable name, so that a chat's prompt needs no query of its own for it.
_COLUMNS = (
    "s.id, s.doc_id, s.page, s.content, s.meta->>'heading' AS heading,"
    " coalesce(nullif(d.title, ''), d.filename) AS title"
)
_DOCUMENT = "JOIN documents d ON d.id = s.doc_id AND d.tenant_id = s.tenant_id"


def _hits(rows: Sequence[asyncpg.Record]) -> list[Hit]:
    return [
        Hit(
            r["id"],
            r["doc_id"],
            r["page"],
            r["content"],
            r["heading"],
            float(r["score"]),
            r["title"],
        )
        for r in rows
    ]


async def nearest(
    db: asyncpg.Pool | asyncpg.Connection,
    tenant_id: str,
    *,
    model: str,
    dimension: int,
    query: Sequence[float],
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> list[Hit]:
    """Segments closest to ``query`` by cosine distance, best first; score = similarity.

    The model's HNSW index serves tenants with more than INDEX_MIN_ROWS vectors in scope; an
    exact scan serves the others (the index would return the nearest of every tenant, and
    filter most away). One query decides, counting no further than that threshold."""
    scope = await db.fetchrow(
        """
        SELECT (SELECT count(*) FROM (SELECT FROM segment_embeddings
                                      WHERE tenant_id = $1 AND model = $2
                                        AND ($3::uuid[] IS NULL OR doc_id = ANY($3))
                                      LIMIT $4) AS bounded) AS in_scope,
               EXISTS (SELECT FROM pg_indexes WHERE indexname = $5) AS indexed
        """,
        tenant_id,
        model,
        document_ids,
        INDEX_MIN_ROWS + 1,
        index_name(model),
    )
    cast = f"::vector({int(dimension)})"
    # The indexed expression (with the cast) lets the planner use the model's HNSW index;
    # the uncast one forces the exact scan.
    indexed = scope["indexed"] and scope["in_scope"] > INDEX_MIN_ROWS
    distance = f"e.embedding{cast} <=> $2{cast}" if indexed else "e.embedding <=> $2::vector"
    # Nearest first on the vectors alone (the index's own query shape), then the join for text.
    sql = f"""
        SELECT {_COLUMNS}, 1 - n.distance AS score
        FROM (SELECT e.segment_id, {distance} AS distance
              FROM segment_embeddings e
              WHERE e.tenant_id = $1 AND e.model = {sql_literal(model)}
                AND ($3::uuid[] IS NULL OR e.doc_id = ANY($3))
              ORDER BY {distance}
              LIMIT $4) n
        JOIN segments s ON s.id = n.segment_id
        {_DOCUMENT}
        ORDER BY n.distance
        """
    arguments = (tenant_id, list(query), document_ids, limit)
    if not indexed:
        return _hits(await db.fetch(sql, *arguments))
    async with _connection(db) as conn, conn.transaction():
        await conn.execute(f"SET LOCAL hnsw.ef_search = {HNSW_EF_SEARCH}")
        return _hits(await conn.fetch(sql, *arguments))


def _connection(
    db: asyncpg.Pool | asyncpg.Connection,
) -> AbstractAsyncContextManager[asyncpg.Connection]:
    return db.acquire() if isinstance(db, asyncpg.Pool) else nullcontext(db)


# Shares of a query's words that full_text's passes ask of the passages they rank, in turn
# (rounded up; the last pass, at least 1 word, ranks every match). The early passes read
# only passages with the rarer words, so one that falls short costs little.
FULL_TEXT_PASSES = (1, 5 / 6, 2 / 3, 1 / 2, 1 / 3, 1 / 6)


async def full_text(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    query: str,
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> list[Hit]:
    """Segments matching any of the query's words (English stemming), best first: those that
    match more of the distinct words, then by cover density.

    plainto_tsquery ANDs the words; questions rarely share every word with their answer, so
    the terms are ORed. Cover density alone knows nothing of how many different query words
    a passage has (nor how rare they are), so that count comes first, as Lucene's
    coordination factor did.

    Speed: a query's common words match a large share of the passages, and each match costs
    a read of its row. A passage with at least k of the n words has one of any n - k + 1 of
    them, so a pass over the passages with one of the n - k + 1 rarest finds every passage
    with k or more. When at least ``limit`` of them have k or more, the top is among them,
    in the same order: that pass is the answer, and the common words' passages are never
    read. Otherwise the next pass asks for fewer words, down to 1 (every match). The passes
    run in the database, in one round trip (``full_text_ranked``, migration 018)."""
    rows = await conn.fetch(
        "SELECT * FROM full_text_ranked($1, $2, $3, $4, $5)",
        tenant_id,
        query,
        document_ids,
        limit,
        list(FULL_TEXT_PASSES),
    )
    return _hits(rows)
