"""The embed task's steps: claim, then complete, or retry later, or give up."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

import topics
from storage import documents, embeddings, outbox, segments
from storage.documents import Claim
from storage.outbox import OutboxMessage
from workflows.documents import move
from workflows.parsing import parsed_event

log = logging.getLogger("pdfchat.embedding")

KIND = "embed"
# A parsed document is embedded; a ready one again, for a new model.
EMBEDDABLE = ("parsed", "embedding", "ready")


async def claim(
    pool: asyncpg.Pool, event: topics.DocumentParsed, *, worker: str, turns: bool = False
) -> Claim | None:
    """Count an attempt; a parsed document becomes ``embedding``, a ready one (re-embedding
    for a new model) stays ready and searchable.

    Like a parse request, the event is a turn: it takes the queued embed task whose turn comes
    first, tenants taking turns, and its own document's only when none is queued (without
    ``turns``, always its own). None when there is nothing left to do (a duplicate, or a
    deleted document)."""
    async with pool.acquire() as conn, conn.transaction():
        taken = (await _next_task(conn) if turns else None) or await _own_task(conn, event)
        if taken is None:
            return None
        if taken.document.status == "parsed":
            await move(
                conn,
                taken.document,
                "embedding",
                allowed_from=("parsed",),
                detail={"attempt": taken.attempts, "worker": worker},
            )
        return taken


async def _next_task(conn: asyncpg.Connection) -> Claim | None:
    while (taken := await documents.claim_next_task(conn, KIND)) is not None:
        if taken.document.status in EMBEDDABLE:
            return taken
        # Its document moved on (failed meanwhile): the task has nothing left to do.
        error = f"the document is {taken.document.status}"
        await documents.finish_task(conn, taken.document.tenant_id, taken.task_id, error=error)
    return None


async def _own_task(conn: asyncpg.Connection, event: topics.DocumentParsed) -> Claim | None:
    tenant_id, document_id = event.tenant_id, uuid.UUID(event.document_id)
    task_id = await documents.ensure_task(conn, tenant_id, document_id, KIND)
    if task_id is None:
        return None
    taken = await documents.claim_task(conn, tenant_id, task_id)
    return taken if taken is not None and taken.document.status in EMBEDDABLE else None


async def segment_texts(pool: asyncpg.Pool, claim: Claim) -> list[tuple[uuid.UUID, str]]:
    return await segments.texts(pool, claim.document.tenant_id, claim.document.id)


async def index_postings(pool: asyncpg.Pool, claim: Claim) -> None:
    """Full text's postings of the document's segments, unless it has them. The embed step
    writes them while its embedder works: they cost the database's CPU (about 0.1 ms a
    segment), not the worker's, and the document is ready only once both are done."""
    await segments.index_postings(pool, claim.document.tenant_id, claim.document.id)


async def complete(
    pool: asyncpg.Pool,
    claim: Claim,
    *,
    model: str,
    dimension: int,
    vectors: Sequence[tuple[uuid.UUID, Sequence[float]]],
    worker: str,
) -> bool:
    """Store the vectors and mark the document ready, in one transaction; False (and nothing
    stored) when the document was deleted or failed meanwhile."""
    document = claim.document
    try:
        async with pool.acquire() as conn, conn.transaction():
            await embeddings.register_model(conn, model, dimension)
            await embeddings.replace_for_document(
                conn, document.tenant_id, document.id, model, vectors
            )
            ready = topics.DocumentReady(
                tenant_id=document.tenant_id,
                document_id=str(document.id),
                model=model,
                dimension=dimension,
                segments=len(vectors),
                ready_at=datetime.now(UTC),
            )
            moved = await move(
                conn,
                document,
                "ready",
                allowed_from=("embedding", "ready"),
                detail={"attempt": claim.attempts, "worker": worker, "model": model},
                changes={"embedding_model": model},
                also_publish=[OutboxMessage.of(topics.READY, ready)],
            )
            if moved is None:
                raise _Gone
            await documents.finish_task(conn, document.tenant_id, claim.task_id)
    except _Gone:
        return False
    return True


class _Gone(Exception):
    """Rolls back the transaction of a document that moved on without us."""


async def schedule_reembedding(pool: asyncpg.Pool, model: str, *, limit: int = 100) -> int:
    """After a model switch: queue ready documents embedded with another model. They stay
    ready, and search keeps using their old vectors until the new model covers as many of the
    tenant's documents (workflows.search.search_model); then the old vectors are purged."""
    async with pool.acquire() as conn, conn.transaction():
        scheduled = []
        for document in await documents.embedded_with_other_model(conn, model, limit=limit):
            task_id = await documents.ensure_task(conn, document.tenant_id, document.id, KIND)
            if task_id is not None:  # None: deleted since the query
                await documents.requeue_task(conn, document.tenant_id, task_id)
                scheduled.append(parsed_event(document))
        await outbox.enqueue(conn, scheduled)
    await purge_replaced(pool, model)
    return len(scheduled)


async def purge_replaced(pool: asyncpg.Pool, model: str, *, tenants_per_model: int = 20) -> int:
    """The end of a switch: delete another model's vectors of every tenant whose documents
    ``model`` now covers — never before, since search answers from the old vectors until then
    (workflows.search.search_model) — and once none are left anywhere, drop that model's index.
    Returns the vectors deleted."""
    deleted = 0
    for old in await embeddings.other_models(pool, model):
        async with pool.acquire() as conn:
            tenants = await embeddings.tenants_covered_by(conn, old, model, limit=tenants_per_model)
            if tenants:
                deleted += await embeddings.delete_for_tenants(conn, old, tenants)
                log.info(
                    "purged the vectors of a replaced model",
                    extra={"model": old, "tenants": len(tenants)},
                )
            if await embeddings.retire_if_unused(conn, old):
                log.info("retired a replaced model and its index", extra={"model": old})
    return deleted


async def index_when_large(pool: asyncpg.Pool, model: str, dimension: int) -> None:
    async with pool.acquire() as conn:
        if await embeddings.ensure_index(conn, model, dimension):
            log.info("built the HNSW index", extra={"model": model})


async def retry_later_or_fail(
    pool: asyncpg.Pool, claim: Claim, *, error: str, max_attempts: int, worker: str
) -> bool:
    """Embedding failures never block a document for good: the task goes back to the queue
    for the stale-task sweep to retry, until ``max_attempts``; then the document fails.
    Returns True when it gave up."""
    document = claim.document
    async with pool.acquire() as conn, conn.transaction():
        if claim.attempts < max_attempts:
            await documents.requeue_task(conn, document.tenant_id, claim.task_id, error=error)
            return False
        reason = f"embedding failed after {claim.attempts} attempts: {error}"
        await move(
            conn,
            document,
            "failed",
            allowed_from=("embedding",),
            detail={"attempt": claim.attempts, "worker": worker, "code": "embedding_failed"},
            changes={"error_code": "embedding_failed", "error": reason},
        )
        await documents.finish_task(conn, document.tenant_id, claim.task_id, error=reason)
    return True
