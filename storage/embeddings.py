"""Segment vectors per embedding model, and the per-model HNSW indexes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import asyncpg
import numpy as np

from core.errors import Conflict
from storage.locks import Lock

# Up to this many vectors of a model, search scans exactly (fast, and never misses) and the
# model has no HNSW index: an index costs ~2.6 ms per inserted vector on 2 cores (measured),
# which would dominate ingestion of small collections. Past it, the index is built once.
INDEX_MIN_ROWS = 20_000


def sql_literal(text: str) -> str:
    """A string as an SQL literal, for the few statements that cannot take parameters
    (DDL, and partial-index predicates the planner must see as constants)."""
    return "'" + text.replace("'", "''") + "'"


def index_name(model: str) -> str:
    return "segment_embeddings_hnsw_" + hashlib.sha1(model.encode()).hexdigest()[:16]


async def register_model(conn: asyncpg.Connection, model: str, dimension: int) -> None:
    """Record the model and its dimension."""
    known = await conn.fetchval("SELECT dimension FROM embedding_models WHERE name = $1", model)
    if known is not None and known != dimension:
        raise Conflict(
            f"embedding model {model!r} is recorded with dimension {known}, not {dimension}"
        )
    if known is None:
        await conn.execute(
            "INSERT INTO embedding_models (name, dimension) VALUES ($1, $2)"
            " ON CONFLICT (name) DO NOTHING",
            model,
            dimension,
        )


async def ensure_index(conn: asyncpg.Connection, model: str, dimension: int) -> bool:
    """Build the model's HNSW index (cosine, on a cast to its dimension) once it has more than
    INDEX_MIN_ROWS vectors. Outside any transaction: the build is CONCURRENTLY, so ingestion
    and search go on meanwhile. Returns whether it built the index now."""
    if await has_index(conn, model):
        return False
    rows = await conn.fetchval("SELECT count(*) FROM segment_embeddings WHERE model = $1", model)
    if rows <= INDEX_MIN_ROWS:
        return False
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", int(Lock.INDEX_BUILD)):
        return False  # another worker is building it
    try:
        await conn.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index_name(model)} ON segment_embeddings"
            f" USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops)"
            f" WHERE model = {sql_literal(model)}"
        )
        # Statistics now, not when autovacuum next comes by: without them the planner chose a
        # sequential scan over the new index (100,000 vectors: 41 ms a query against 4 ms).
        await conn.execute("ANALYZE segment_embeddings")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", int(Lock.INDEX_BUILD))
    return True


async def has_index(conn: asyncpg.Connection | asyncpg.Pool, model: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = $1)", index_name(model)
        )
    )


async def vectors_of(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    model: str,
    segment_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, np.ndarray]:
    """The tenant's stored vectors of ``model`` for these segments (those it has), as float32
    arrays: what the embedder computed, bit for bit."""
    rows = await conn.fetch(
        "SELECT segment_id, embedding FROM segment_embeddings"
        " WHERE tenant_id = $1 AND model = $2 AND segment_id = ANY($3::uuid[])",
        tenant_id,
        model,
        list(segment_ids),
    )
    return {r["segment_id"]: r["embedding"].to_numpy() for r in rows}


async def replace_for_document(
    conn: asyncpg.Connection,
    tenant_id: str,
    doc_id: uuid.UUID,
    model: str,
    vectors: Sequence[tuple[uuid.UUID, Sequence[float]]],
) -> int:
    """Make ``vectors`` (segment id, embedding) the document's only vectors for ``model``."""
    await conn.execute(
        "DELETE FROM segment_embeddings WHERE tenant_id = $1 AND doc_id = $2 AND model = $3",
        tenant_id,
        doc_id,
        model,
    )
    await conn.copy_records_to_table(
        "segment_embeddings",
        columns=["segment_id", "model", "tenant_id", "doc_id", "embedding"],
        records=[(sid, model, tenant_id, doc_id, list(vec)) for sid, vec in vectors],
    )
    return len(vectors)


async def models_covering(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str
) -> dict[str, int]:
    """How many documents of the tenant each model has vectors for.

    Asked before every search: it steps through the index on (tenant_id, model, doc_id) one
    document at a time (a loose index scan), instead of reading every vector's entry: at 100k
    vectors in 100 documents, 0.7 ms instead of 6."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE covered AS (
            (SELECT model, doc_id FROM segment_embeddings
             WHERE tenant_id = $1 ORDER BY model, doc_id LIMIT 1)
            UNION ALL
            SELECT next.model, next.doc_id
            FROM covered c, LATERAL (
                -- The row comparison alone: with "tenant_id = $1" beside it, the scan would
                -- start at the tenant's first entry every time.
                SELECT tenant_id, model, doc_id FROM segment_embeddings
                WHERE (tenant_id, model, doc_id) > ($1, c.model, c.doc_id)
                ORDER BY tenant_id, model, doc_id LIMIT 1
            ) next
            WHERE next.tenant_id = $1
        )
        SELECT model, count(*) AS documents FROM covered GROUP BY model
        """,
        tenant_id,
    )
    return {r["model"]: r["documents"] for r in rows}


async def other_models(conn: asyncpg.Connection | asyncpg.Pool, model: str) -> list[str]:
    """Registered models other than ``model``: those a switch may still have to retire."""
    rows = await conn.fetch(
        "SELECT name FROM embedding_models WHERE name <> $1 ORDER BY name", model
    )
    return [r["name"] for r in rows]


async def tenants_covered_by(
    conn: asyncpg.Connection | asyncpg.Pool, old: str, new: str, *, limit: int
) -> list[str]:
    """Tenants with vectors from ``old`` where ``new`` has vectors for every document that
    ``old`` has (a document's vectors of a model are written in one transaction, so one
    vector means all of them)."""
    rows = await conn.fetch(
        """
        SELECT o.tenant_id
        FROM (SELECT DISTINCT tenant_id, doc_id FROM segment_embeddings WHERE model = $1) o
        GROUP BY o.tenant_id
        HAVING bool_and(EXISTS (SELECT 1 FROM segment_embeddings n
                                WHERE n.tenant_id = o.tenant_id AND n.model = $2
                                  AND n.doc_id = o.doc_id))
        ORDER BY o.tenant_id
        LIMIT $3
        """,
        old,
        new,
        limit,
    )
    return [r["tenant_id"] for r in rows]


async def delete_for_tenants(conn: asyncpg.Connection, model: str, tenants: list[str]) -> int:
    status = await conn.execute(
        "DELETE FROM segment_embeddings WHERE model = $1 AND tenant_id = ANY($2::text[])",
        model,
        tenants,
    )
    return int(status.split()[-1])


async def retire_if_unused(conn: asyncpg.Connection, model: str) -> bool:
    """Once no vector of ``model`` is left: drop its HNSW index (CONCURRENTLY, so outside any
    transaction: search goes on) and forget the model, so later sweeps need not look at it.
    Returns whether it was retired."""
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM segment_embeddings WHERE model = $1)", model
    ):
        return False
    await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name(model)}")
    status: str = await conn.execute(
        "DELETE FROM embedding_models WHERE name = $1"
        " AND NOT EXISTS (SELECT 1 FROM segment_embeddings WHERE model = $1)",
        model,
    )
    return status == "DELETE 1"
