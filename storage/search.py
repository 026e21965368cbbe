"""The two halves of hybrid retrieval, each scoped by tenant: nearest vectors and full text."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from storage.embeddings import INDEX_MIN_ROWS, index_name, sql_literal

# Up to INDEX_MIN_ROWS vectors in scope an exact scan is fast and never misses; above it the
# model's HNSW index answers (when built). pgvector 0.6 filters HNSW results after the scan,
# so a small tenant inside a large index could otherwise get fewer than k hits: every
# connection searches with this ef_search (storage/db.py sets it as the session starts).
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
    filter most away). One statement decides, counting no further than that threshold, and
    runs only the branch it chose (the other's filter is false before it starts)."""
    rows = await db.fetch(
        _nearest_sql(model, dimension),
        tenant_id,
        list(query),
        document_ids,
        limit,
        model,
        INDEX_MIN_ROWS,
        index_name(model),
    )
    return _hits(rows)


def _nearest_sql(model: str, dimension: int) -> str:
    # The indexed expression (with the cast) lets the planner use the model's HNSW index,
    # whose predicate names the model as a literal; the uncast one forces the exact scan.
    # Nearest first on the vectors alone (the index's own query shape), then the join for text.
    cast = f"::vector({int(dimension)})"
    exact, indexed = "e.embedding <=> $2::vector", f"e.embedding{cast} <=> $2{cast}"
    where = (
        f"e.tenant_id = $1 AND e.model = {sql_literal(model)}"
        " AND ($3::uuid[] IS NULL OR e.doc_id = ANY($3))"
    )
    return f"""
        WITH scope AS (  -- read by both branches, computed once
            SELECT (SELECT count(*) FROM (SELECT FROM segment_embeddings
                                          WHERE tenant_id = $1 AND model = $5
                                            AND ($3::uuid[] IS NULL OR doc_id = ANY($3))
                                          LIMIT $6 + 1) AS bounded) > $6
                   AND EXISTS (SELECT FROM pg_indexes WHERE indexname = $7) AS indexed
        ), nearest AS (
            (SELECT e.segment_id, {exact} AS distance FROM segment_embeddings e
             WHERE NOT (SELECT indexed FROM scope) AND {where}
             ORDER BY {exact} LIMIT $4)
            UNION ALL
            (SELECT e.segment_id, {indexed} AS distance FROM segment_embeddings e
             WHERE (SELECT indexed FROM scope) AND {where}
             ORDER BY {indexed} LIMIT $4)
        )
        SELECT {_COLUMNS}, 1 - n.distance AS score
        FROM nearest n JOIN segments s ON s.id = n.segment_id {_DOCUMENT}
        ORDER BY n.distance
        """


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
