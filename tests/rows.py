"""Rows written straight to PostgreSQL, for tests that need a state the API would not leave."""

from __future__ import annotations

import uuid

import asyncpg

import topics
from storage import chat, documents
from storage.documents import NewDocument
from storage.outbox import OutboxMessage


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


async def unrelayed_session(
    pool: asyncpg.Pool,
    tenant: str,
    question: str,
    *,
    status: str = "pending",
    attempts: int = 0,
    idle_s: float = 0.0,
) -> uuid.UUID:
    """A chat session committed without its request on Kafka, as if the relay or the worker
    died: in ``status`` after ``attempts`` claims, untouched for ``idle_s``. Nobody answers it
    until the stale-session sweep hands it over after chat_lease_s (or ends it, once taken
    chat_max_attempts times)."""
    session_id = uuid.uuid4()
    asked = chat.Asked(
        tenant_id=tenant,
        user_id="tester",
        conversation_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
        session_id=session_id,
        question=question,
        document_ids=None,
        sla=None,
        request=OutboxMessage(topics.CHAT_REQUESTED, tenant, {"session_id": str(session_id)}),
    )
    async with pool.acquire() as conn, conn.transaction():
        assert await chat.ask(conn, asked, title=question[:40])
        # The request never reaches Kafka.
        await conn.execute("DELETE FROM outbox WHERE value->>'session_id' = $1", str(session_id))
        await conn.execute(
            "UPDATE chat_sessions SET status = $2, attempts = $3,"
            " updated_at = now() - make_interval(secs => $4) WHERE id = $1",
            session_id,
            status,
            attempts,
            idle_s,
        )
    return session_id


async def no_queued_tasks(pool: asyncpg.Pool) -> None:
    """Fail the tasks other tests left queued: a claim takes whichever task's turn comes first,
    and a test that counts turns must count only its own."""
    await pool.execute("UPDATE tasks SET status = 'failed' WHERE status = 'queued'")
