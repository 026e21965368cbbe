"""The embedding agent driven through Faust's test_context(): events from an in-memory
channel, segments and vectors in a real PostgreSQL, the local embedder; no broker, no worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg

import topics
from agents import embed
from agents.resources import provided
from core.errors import TransientError
from retrieval import LocalEmbedder
from storage import documents, segments
from storage.segments import NewSegment
from tests.rows import new_document, no_queued_tasks
from tests.waiting import wait_until

TEXTS = ["The lighthouse at Gull Point was built in 1871.", "Its lamp burns whale oil."]


async def _parsed(pg: asyncpg.Pool, tenant: str) -> topics.DocumentParsed:
    """A parsed document with its segments and its queued embed task (as the parse agent
    leaves them), and the event that says so."""
    doc = await new_document(pg, tenant, status="parsed")
    async with pg.acquire() as conn, conn.transaction():
        await segments.replace_for_document(
            conn, tenant, doc, [NewSegment(i, 1, text) for i, text in enumerate(TEXTS)]
        )
        await documents.ensure_task(conn, tenant, doc, "embed")
    return topics.DocumentParsed(
        tenant_id=tenant,
        document_id=str(doc),
        pages=1,
        segments=len(TEXTS),
        parse_result_key="k",
        title=None,
        parsed_at=datetime.now(UTC),
    )


async def _status(pg: asyncpg.Pool, tenant: str, event: topics.DocumentParsed) -> str:
    document = await documents.get(pg, tenant, uuid.UUID(event.document_id))
    return document.status


async def test_a_parsed_document_is_embedded_once_and_ready(pg: asyncpg.Pool, tenant: str) -> None:
    await no_queued_tasks(pg)
    event, last = await _parsed(pg, tenant), await _parsed(pg, tenant)
    deps: Any = SimpleNamespace(pool=pg, embedder=LocalEmbedder())
    with provided(deps):
        async with embed.embed_documents.test_context() as agent:
            # The second is a redelivery. The agent handles one event at a time and put()
            # returns once it took one: when the last is ready, the others are done.
            for each in (event, event, last):
                await agent.put(each)
            await wait_until(lambda: _ready_events(pg, last), within_s=10)

    doc = uuid.UUID(event.document_id)
    assert await _status(pg, tenant, event) == "ready"
    vectors = await pg.fetchval("SELECT count(*) FROM segment_embeddings WHERE doc_id = $1", doc)
    assert vectors == len(TEXTS)
    assert await _ready_events(pg, event) == 1, "announced ready once"
    # Full text's postings were written beside the vectors, once.
    lexicons = await pg.fetchval("SELECT count(*) FROM document_lexicons WHERE doc_id = $1", doc)
    assert lexicons == 1
    assert await pg.fetchval("SELECT count(*) FROM postings WHERE doc_id = $1", doc) > 0


async def test_a_failing_embedder_puts_the_task_back_for_later(
    pg: asyncpg.Pool, tenant: str
) -> None:
    class Unreachable(LocalEmbedder):
        async def embed_documents(self, texts: Any) -> list[list[float]]:
            raise TransientError("the embedding service is unreachable")

    await no_queued_tasks(pg)
    event = await _parsed(pg, tenant)
    deps: Any = SimpleNamespace(pool=pg, embedder=Unreachable())
    with provided(deps):
        async with embed.embed_documents.test_context() as agent:
            await agent.put(event)
            await wait_until(lambda: _task_error(pg, event), within_s=10)

    assert await _status(pg, tenant, event) == "embedding", "not failed: retried later"
    assert "unreachable" in (await _task_error(pg, event) or "")
    vectors = await pg.fetchval(
        "SELECT count(*) FROM segment_embeddings WHERE doc_id = $1", uuid.UUID(event.document_id)
    )
    assert vectors == 0


async def _ready_events(pg: asyncpg.Pool, event: topics.DocumentParsed) -> int:
    """DocumentReady records of the document waiting in the outbox (no relay runs here)."""
    count: int = await pg.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1 AND value->>'document_id' = $2",
        topics.READY,
        event.document_id,
    )
    return count


async def _task_error(pg: asyncpg.Pool, event: topics.DocumentParsed) -> str | None:
    error: str | None = await pg.fetchval(
        "SELECT error FROM tasks WHERE document_id = $1 AND kind = 'embed' AND status = 'queued'",
        uuid.UUID(event.document_id),
    )
    return error
