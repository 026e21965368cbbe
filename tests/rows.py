"""Rows for storage and workflow tests on PostgreSQL alone."""

from __future__ import annotations

import uuid

import asyncpg

from storage import documents
from storage.documents import NewDocument


async def new_document(
    pool: asyncpg.Pool, tenant: str, *, status: str = "queued", idle_s: float = 0.0
) -> uuid.UUID:
    """A document in ``status`` that has not moved for ``idle_s``, with its parse task."""
    doc = NewDocument(
        id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        tenant_id=tenant,
        filename="a.pdf",
        content_type="application/pdf",
        size_bytes=1,
        sha256="0" * 64,
        blob_key=f"{tenant}/a",
        created_by="tester",
    )
    async with pool.acquire() as conn, conn.transaction():
        await documents.create(conn, doc)
        await conn.execute(
            "UPDATE documents SET status = $2, parse_result_key = 'k',"
            " updated_at = now() - make_interval(secs => $3) WHERE id = $1",
            doc.id,
            status,
            idle_s,
        )
    return doc.id
