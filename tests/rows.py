"""Rows written straight to PostgreSQL, for tests that need a state the API would not leave."""

from __future__ import annotations

import uuid

import asyncpg

from storage import chat, documents
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
    async with pool.acquire() as conn, conn.transaction():
        conversation = await chat.create_conversation(conn, tenant, "tester", question[:40])
        message_id = await chat.add_message(
            conn, tenant, conversation.id, role="user", content=question, session_id=session_id
        )
        await chat.create_session(
            conn,
            session_id=session_id,
            tenant_id=tenant,
            user_id="tester",
            conversation_id=conversation.id,
            question_message_id=message_id,
            question=question,
            document_ids=None,
        )
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
