"""The maintenance sweep's requests for work after a document is ready (the re-ranker's
encodings, the topic map): one table per kind of work (``encoding_requests``,
``topic_map_requests``), kept the same way. A ready document whose work is not done is asked
for again at most once a lease and at most so many times; one asked for every time in vain is
given up on, and counted for an alert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

REQUEST_TABLES = frozenset({"encoding_requests", "topic_map_requests"})


async def take_due(
    conn: asyncpg.Connection,
    table: str,
    undone: str,
    args: Sequence[Any],
    *,
    older_than_s: float,
    max_requests: int,
    limit: int,
) -> list[asyncpg.Record]:
    """Ready documents (of any tenant: maintenance) ready for ``older_than_s`` whose work is
    ``undone`` (a condition on ``documents d``: $1 is ``older_than_s``, $2 ``max_requests``,
    and its own ``args`` are $3 on), not requested in ``table`` within ``older_than_s`` and
    fewer than ``max_requests`` times; each is recorded as requested now. Returns the fields
    of their DocumentReady event (workflows.topic_maps.ready_again)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        WITH due AS (
            SELECT d.id, d.tenant_id, d.embedding_model, m.dimension, d.segment_count,
                   d.updated_at
            FROM documents d
            JOIN embedding_models m ON m.name = d.embedding_model
            LEFT JOIN {_checked(table)} r ON r.doc_id = d.id
            WHERE d.status = 'ready'
              AND d.updated_at < now() - make_interval(secs => $1)
              AND (r.doc_id IS NULL OR (r.requested_at < now() - make_interval(secs => $1)
                                        AND r.attempts < $2))
              AND {undone}
            ORDER BY d.updated_at
            LIMIT ${len(args) + 3}
        ), requested AS (
            INSERT INTO {table} (doc_id, tenant_id) SELECT id, tenant_id FROM due
            ON CONFLICT (doc_id) DO UPDATE
                SET requested_at = now(), attempts = {table}.attempts + 1
        )
        SELECT id, tenant_id, embedding_model AS model, dimension,
               coalesce(segment_count, 0) AS segments, updated_at AS ready_at
        FROM due
        """,
        older_than_s,
        max_requests,
        *args,
        limit,
    )
    return rows


async def given_up(
    conn: asyncpg.Connection | asyncpg.Pool,
    table: str,
    undone: str,
    args: Sequence[Any],
    *,
    max_requests: int,
    older_than_s: float,
) -> int:
    """How many ready documents (all tenants) have their work ``undone`` (as in ``take_due``),
    though asked for ``max_requests`` times, the last more than ``older_than_s`` ago: the sweep
    asks no more."""
    count: int = await conn.fetchval(
        f"""
        SELECT count(*) FROM documents d
        JOIN {_checked(table)} r ON r.doc_id = d.id
        WHERE d.status = 'ready'
          AND r.requested_at < now() - make_interval(secs => $1) AND r.attempts >= $2
          AND {undone}
        """,
        older_than_s,
        max_requests,
        *args,
    )
    return count


def _checked(table: str) -> str:
    if table not in REQUEST_TABLES:  # a name in SQL text: only ours
        raise ValueError(f"not a request table: {table}")
    return table
