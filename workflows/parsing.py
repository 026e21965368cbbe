"""The parse task's steps: claim, then complete, reject or give up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

import topics
from pdf import ParsedPdf
from storage import blobs, documents, outbox, segments
from storage.blobs import BlobStore
from storage.documents import Claim, Document
from storage.outbox import OutboxMessage
from storage.segments import NewSegment
from workflows.documents import move, parse_request

KIND = "parse"
EMBED = "embed"  # workflows.embedding.KIND, which imports this module


async def claim(
    pool: asyncpg.Pool,
    request: topics.ParseRequested,
    *,
    worker: str,
    turns: bool = False,
) -> Claim | None:
    """Count an attempt and mark the document parsing.

    A request is a turn, not an order: it takes the queued parse task whose turn comes first,
    tenants taking turns (storage.documents.claim_next_task), and only when none is queued its
    own task (one a dead worker left running). There is one request per task, so every task
    gets its turn. Without ``turns``, always its own task. None when there is nothing left to
    do (a duplicate delivery)."""
    async with pool.acquire() as conn, conn.transaction():
        taken = await documents.claim_next_task(conn, KIND) if turns else None
        taken = taken or await documents.claim_task(
            conn, request.tenant_id, uuid.UUID(request.task_id)
        )
        return await _parsing(conn, taken, worker)


async def claim_again(pool: asyncpg.Pool, claim: Claim, *, worker: str) -> Claim | None:
    """The same task once more, for a retry; None when it finished or its document is gone."""
    async with pool.acquire() as conn, conn.transaction():
        taken = await documents.claim_task(conn, claim.document.tenant_id, claim.task_id)
        return await _parsing(conn, taken, worker)


async def _parsing(conn: asyncpg.Connection, taken: Claim | None, worker: str) -> Claim | None:
    if taken is None:
        return None
    await move(
        conn,
        taken.document,
        "parsing",
        allowed_from=("queued", "parsing"),
        detail={"attempt": taken.attempts, "worker": worker},
    )
    return taken


async def complete(
    pool: asyncpg.Pool, store: BlobStore, claim: Claim, parsed: ParsedPdf, *, worker: str
) -> bool:
    """Store the parse result and the segments and mark the document parsed, exactly once:
    False when another delivery finished first or the document was deleted meanwhile."""
    document = claim.document
    result_key = blobs.parse_result_key(document.tenant_id, str(document.id))
    await store.put(result_key, parsed.to_json())
    async with pool.acquire() as conn, conn.transaction():
        moved = await move(
            conn,
            document,
            "parsed",
            allowed_from=("parsing",),
            detail={"attempt": claim.attempts, "worker": worker, "segments": len(parsed.segments)},
            changes={
                "pages": parsed.page_count,
                "title": parsed.title,
                "segment_count": len(parsed.segments),
                "parse_result_key": result_key,
            },
        )
        if moved is None:
            return False
        await outbox.enqueue(conn, [parsed_event(moved.document)])
        await segments.replace_for_document(
            conn, document.tenant_id, document.id, _segments(parsed)
        )
        await documents.finish_task(conn, document.tenant_id, claim.task_id)
        # Queued now, so that embed turns can pick it before its event arrives.
        await documents.ensure_task(conn, document.tenant_id, document.id, EMBED)
    return True


async def fail(
    pool: asyncpg.Pool,
    claim: Claim,
    *,
    code: str,
    reason: str,
    worker: str,
    dead_letter: topics.ParseDeadLetter | None = None,
) -> None:
    """Mark the document failed with a readable reason, and dead-letter the request if given."""
    extra = [OutboxMessage.of(topics.PARSE_DEAD_LETTERS, dead_letter)] if dead_letter else []
    async with pool.acquire() as conn, conn.transaction():
        await move(
            conn,
            claim.document,
            "failed",
            allowed_from=("queued", "parsing"),
            detail={"attempt": claim.attempts, "worker": worker, "code": code},
            changes={"error_code": code, "error": reason},
            also_publish=extra,
        )
        await documents.finish_task(conn, claim.document.tenant_id, claim.task_id, error=reason)


def parsed_event(document: Document) -> OutboxMessage:
    """The document is parsed: also the embedding agent's work order."""
    assert document.parse_result_key is not None
    record = topics.DocumentParsed(
        tenant_id=document.tenant_id,
        document_id=str(document.id),
        pages=document.pages or 0,
        segments=document.segment_count or 0,
        parse_result_key=document.parse_result_key,
        title=document.title,
        parsed_at=datetime.now(UTC),
    )
    return OutboxMessage.of(topics.PARSED, record)


def dead_letter(claim: Claim, *, error: str) -> topics.ParseDeadLetter:
    """The work order of the claimed task (not necessarily the request that gave the turn)."""
    document, attempts = claim.document, claim.attempts
    return topics.ParseDeadLetter(
        tenant_id=document.tenant_id,
        document_id=str(document.id),
        request=parse_request(document, claim.task_id),
        attempts=attempts,
        error=error,
        failed_at=datetime.now(UTC),
    )


def _segments(parsed: ParsedPdf) -> list[NewSegment]:
    return [
        NewSegment(seq=c.seq, page=c.page, content=c.text, meta={"heading": c.heading})
        for c in parsed.segments
    ]
