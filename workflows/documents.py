"""Submitting, moving and deleting documents."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

import topics
from core.errors import InvalidInput, PayloadTooLarge, PdfchatError, UnsupportedMedia
from core.retry import backoff
from pdf import sniff_pdf
from storage import blobs, documents, outbox
from storage.availability import rolled_back
from storage.blobs import BlobStore
from storage.documents import Document, NewDocument, Transition
from storage.outbox import OutboxMessage
from topics.audit import DOCUMENT_DELETED
from workflows import audit
from workflows.admission import Limit, admit_document

MAX_FILENAME_CHARS = 255
# A delete that PostgreSQL rolled back (a deadlock with a worker) runs again, at most so often.
DELETE_ATTEMPTS = 3


@dataclass(frozen=True)
class Upload:
    tenant_id: str
    user_id: str
    filename: str
    content_type: str
    data: bytes
    idempotency_key: str | None = None


def validate_upload(upload: Upload, *, max_bytes: int) -> None:
    if not upload.data:
        raise InvalidInput("the uploaded file is empty", code="empty_file")
    if len(upload.data) > max_bytes:
        raise PayloadTooLarge(
            f"the file is {len(upload.data)} bytes; the limit is {max_bytes} bytes"
        )
    if not sniff_pdf(upload.data[:1024]):
        raise UnsupportedMedia("the file is not a PDF", code="not_pdf")
    if len(upload.filename) > MAX_FILENAME_CHARS:
        raise InvalidInput(f"the file name is longer than {MAX_FILENAME_CHARS} characters")


async def submit(
    pool: asyncpg.Pool, store: BlobStore, upload: Upload, *, max_bytes: int, limit: Limit
) -> tuple[Document, bool]:
    """Store the original, then commit the document, its task and its events together.
    Returns the document and whether it was created (False: an idempotent retry, admitted
    whatever the backlog). A new document past ``limit`` is refused, and nothing is kept."""
    validate_upload(upload, max_bytes=max_bytes)
    document_id, task_id = uuid.uuid4(), uuid.uuid4()
    key = blobs.original_key(upload.tenant_id, str(document_id))
    # The blob is written before the row commits, so a committed row always has its file.
    await store.put(key, upload.data)
    new = NewDocument(
        id=document_id,
        task_id=task_id,
        tenant_id=upload.tenant_id,
        filename=upload.filename or "document.pdf",
        content_type="application/pdf",
        size_bytes=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        blob_key=key,
        created_by=upload.user_id,
        idempotency_key=upload.idempotency_key,
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            document, created = await documents.create(conn, new)
            if created:
                await admit_document(conn, upload.tenant_id, limit)
                await outbox.enqueue(conn, [parse_requested(document, task_id)])
                await outbox.enqueue(conn, [status_event(document, None, document.created_at)])
    except PdfchatError:
        # Refused inside the transaction (admission): it rolled back, the file is nobody's.
        await store.delete_prefix(blobs.document_prefix(upload.tenant_id, str(document_id)))
        raise
    # Any other failure may have come after the commit (PostgreSQL or the connection died
    # during COMMIT, the request was cancelled): the row may exist, so its file stays. A
    # file whose row never committed costs only space.
    if not created:
        await store.delete_prefix(blobs.document_prefix(upload.tenant_id, str(document_id)))
    return document, created


async def delete(
    pool: asyncpg.Pool, store: BlobStore, tenant_id: str, document_id: uuid.UUID, *, actor: str
) -> Document:
    """Delete the document, its rows and its files. A worker moving the document at the same
    moment holds its task row and then asks for the document's, while the delete's cascade
    holds the document's and asks for the task's: PostgreSQL breaks that deadlock by rolling
    one of them back, and a rolled-back delete runs again (the worker's event is retried)."""
    async for attempt in backoff(
        attempts=DELETE_ATTEMPTS, base_s=0.05, max_s=0.5, retry_when=rolled_back
    ):
        with attempt:
            document = await _delete_rows(pool, tenant_id, document_id, actor=actor)
    await store.delete_prefix(blobs.document_prefix(tenant_id, str(document_id)))
    return document


async def _delete_rows(
    pool: asyncpg.Pool, tenant_id: str, document_id: uuid.UUID, *, actor: str
) -> Document:
    async with pool.acquire() as conn, conn.transaction():
        document = await documents.delete(conn, tenant_id, document_id)
        gone = topics.DocumentStatusChanged(
            tenant_id=tenant_id,
            document_id=str(document_id),
            status="deleted",
            previous=document.status,
            at=datetime.now(UTC),
        )
        detail = {"filename": document.filename, "uploaded_by": document.created_by}
        await outbox.enqueue(
            conn,
            [
                OutboxMessage.of(topics.STATUS, gone),
                audit.recorded(tenant_id, actor, DOCUMENT_DELETED, str(document_id), detail),
            ],
        )
    return document


async def remove_orphan_blobs(
    pool: asyncpg.Pool, store: BlobStore, *, older_than_s: float, batch: int = 1000
) -> int:
    """Delete the files of documents that do not exist; returns how many documents' files went.

    They come from an upload whose row never committed (its file is written first, and kept
    when the commit's outcome is unknown), a parse that finished after its document was
    deleted, or a delete cut short between its commit and the file's removal. Only files
    untouched for ``older_than_s`` are candidates: a file younger than that may belong to an
    upload still committing."""
    candidates = await store.documents_untouched(older_than_s)
    removed = 0
    for start in range(0, len(candidates), batch):
        chunk = candidates[start : start + batch]
        known = await documents.existing_in_any_tenant(pool, chunk)
        for tenant_id, document_id in chunk:
            if (tenant_id, document_id) not in known:
                await store.delete_prefix(blobs.document_prefix(tenant_id, document_id))
                removed += 1
    return removed


async def move(
    conn: asyncpg.Connection,
    document: Document,
    to_status: str,
    *,
    allowed_from: Sequence[str],
    detail: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    also_publish: Sequence[OutboxMessage] = (),
) -> Transition | None:
    """Transition the document and publish the change, in the caller's transaction."""
    moved = await documents.transition(
        conn,
        document.tenant_id,
        document.id,
        to_status,
        allowed_from=allowed_from,
        detail=detail,
        changes=changes,
    )
    if moved is not None:
        await outbox.enqueue(
            conn, [status_event(moved.document, moved.previous, moved.at), *also_publish]
        )
    return moved


def status_event(document: Document, previous: str | None, at: datetime) -> OutboxMessage:
    record = topics.DocumentStatusChanged(
        tenant_id=document.tenant_id,
        document_id=str(document.id),
        status=document.status,
        previous=previous,
        at=at,
        error_code=document.error_code,
        error=document.error,
    )
    return OutboxMessage.of(topics.STATUS, record)


def parse_requested(document: Document, task_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage.of(topics.PARSE_REQUESTED, parse_request(document, task_id))


def parse_request(document: Document, task_id: uuid.UUID) -> topics.ParseRequested:
    """The work order of the document's parse task, as the upload published it."""
    return topics.ParseRequested(
        tenant_id=document.tenant_id,
        document_id=str(document.id),
        task_id=str(task_id),
        blob_key=document.blob_key,
        filename=document.filename,
        requested_at=document.created_at,
        requested_by=document.created_by,
    )
