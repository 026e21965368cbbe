"""Page-aware segments of documents (``segments``), scoped by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(frozen=True)
class NewSegment:
    seq: int
    page: int
    content: str
    meta: Mapping[str, Any] = field(default_factory=dict)


async def replace_for_document(
    conn: asyncpg.Connection,
    tenant_id: str,
    doc_id: uuid.UUID,
    segments: Sequence[NewSegment],
) -> int:
    """Make ``segments`` the document's only segments, without postings until
    :func:`index_postings`. Run in the transaction that records the parse, so a redelivered
    parse replaces rather than duplicates."""
    await conn.execute(
        "DELETE FROM segments WHERE tenant_id = $1 AND doc_id = $2", tenant_id, doc_id
    )
    await conn.copy_records_to_table(
        "segments",
        columns=["id", "tenant_id", "doc_id", "seq", "page", "content", "meta"],
        records=[
            (uuid.uuid4(), tenant_id, doc_id, s.seq, s.page, s.content, dict(s.meta))
            for s in segments
        ],
    )
    # The old segments' postings go with them; index_postings writes the new ones.
    await conn.execute(
        "DELETE FROM document_lexicons WHERE tenant_id = $1 AND doc_id = $2", tenant_id, doc_id
    )
    return len(segments)


async def index_postings(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID
) -> None:
    """Write full text's postings of the document's segments (migration 019), unless it has
    them: a document embedded again for a new model keeps those of its segments."""
    await conn.execute(
        "SELECT index_postings($1, $2)"
        " WHERE NOT EXISTS (SELECT 1 FROM document_lexicons WHERE doc_id = $2)",
        tenant_id,
        doc_id,
    )


async def ready_without_postings(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """How many ready documents (all tenants) have segments but no postings: the embed step
    writes them before a document is ready, so any is a fault full text is blind to."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM documents d WHERE d.status = 'ready'"
        " AND NOT EXISTS (SELECT 1 FROM document_lexicons l WHERE l.doc_id = d.id)"
        " AND EXISTS (SELECT 1 FROM segments s WHERE s.tenant_id = d.tenant_id"
        " AND s.doc_id = d.id)"
    )
    return count


async def texts(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, doc_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """The document's segments as (id, content), in reading order: what the embedder needs."""
    rows = await conn.fetch(
        "SELECT id, content FROM segments WHERE tenant_id = $1 AND doc_id = $2 ORDER BY seq",
        tenant_id,
        doc_id,
    )
    return [(row["id"], row["content"]) for row in rows]
