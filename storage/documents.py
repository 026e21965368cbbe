"""Documents, their tasks and their state transitions. Every query is scoped by tenant.

Functions that change state take a connection so callers can compose them with
``outbox.enqueue`` in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core import tracing
from core.errors import Conflict, NotFound

STATUSES = ("queued", "parsing", "parsed", "embedding", "ready", "failed")
# States a document passes through on its way to ready or failed, and the task that moves it on.
UNFINISHED = ("queued", "parsing", "parsed", "embedding")
# claim_next_task: how far back a tenant's started tasks count against its next turn, and how
# many of the first turns are tried (others may hold them: SKIP LOCKED).
FAIR_WINDOW_S = 60.0
FAIR_CANDIDATES = 32
TASK_OF_STATE = {"queued": "parse", "parsing": "parse", "parsed": "embed", "embedding": "embed"}
_UPDATABLE = frozenset(
    {
        "error_code",
        "error",
        "pages",
        "title",
        "segment_count",
        "parse_result_key",
        "embedding_model",
    }
)


@dataclass(frozen=True)
class Document:
    id: uuid.UUID
    tenant_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    blob_key: str
    status: str
    error_code: str | None
    error: str | None
    pages: int | None
    title: str | None
    segment_count: int | None
    parse_result_key: str | None
    idempotency_key: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    task_id: uuid.UUID | None = None
    embedding_model: str | None = None


@dataclass(frozen=True)
class NewDocument:
    id: uuid.UUID
    tenant_id: str
    task_id: uuid.UUID  # its parse task, created in the same transaction
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    blob_key: str
    created_by: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Transition:
    document: Document
    previous: str
    at: datetime


@dataclass(frozen=True)
class Claim:
    """A task taken by a worker: ``attempts`` counts this one; ``trace``, the trace context of
    the request that made the task (its work belongs to that trace)."""

    document: Document
    task_id: uuid.UUID
    attempts: int
    trace: Mapping[str, str]


_SELECT = """
    SELECT d.*, (SELECT t.id FROM tasks t WHERE t.document_id = d.id AND t.kind = 'parse'
                 ORDER BY t.created_at LIMIT 1) AS task_id
    FROM documents d
"""


def _current_trace() -> dict[str, str]:
    """The trace context of the code creating a task, for the worker that will do it."""
    return dict(tracing.inject({}))


def _document(row: Mapping[str, Any]) -> Document:
    return Document(**dict(row))


async def create(conn: asyncpg.Connection, new: NewDocument) -> tuple[Document, bool]:
    """Insert a queued document and its parse task; with a known idempotency key, return the
    document that key already made instead (``created`` is then False)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO documents (id, tenant_id, filename, content_type, size_bytes, sha256,
                               blob_key, status, idempotency_key, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)
        ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
        """,
        new.id,
        new.tenant_id,
        new.filename,
        new.content_type,
        new.size_bytes,
        new.sha256,
        new.blob_key,
        new.idempotency_key,
        new.created_by,
    )
    if inserted is None:
        existing = await conn.fetchrow(
            _SELECT + " WHERE d.tenant_id = $1 AND d.idempotency_key = $2",
            new.tenant_id,
            new.idempotency_key,
        )
        document = _document(existing)
        if document.sha256 != new.sha256:
            raise Conflict(
                "this Idempotency-Key was already used for a different file",
                code="idempotency_key_reused",
            )
        return document, False
    await conn.execute(
        "INSERT INTO tasks (id, tenant_id, document_id, kind, status, trace)"
        " VALUES ($1, $2, $3, 'parse', 'queued', $4)",
        new.task_id,
        new.tenant_id,
        new.id,
        _current_trace(),
    )
    await _record_event(conn, new.tenant_id, new.id, "queued", {})
    return await get(conn, new.tenant_id, new.id), True


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, document_id: uuid.UUID
) -> Document:
    row = await conn.fetchrow(
        _SELECT + " WHERE d.tenant_id = $1 AND d.id = $2", tenant_id, document_id
    )
    if row is None:
        raise NotFound(f"document {document_id} not found")
    return _document(row)


async def existing(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are documents of this tenant."""
    rows = await conn.fetch(
        "SELECT id FROM documents WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
        tenant_id,
        list(ids),
    )
    return {r["id"] for r in rows}


async def list_for_tenant(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    status: str | None = None,
) -> list[Document]:
    rows = await conn.fetch(
        _SELECT + " WHERE d.tenant_id = $1 AND ($2::text IS NULL OR d.status = $2)"
        " ORDER BY d.created_at DESC, d.id LIMIT $3 OFFSET $4",
        tenant_id,
        status,
        limit,
        offset,
    )
    return [_document(r) for r in rows]


async def ready(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    limit: int,
) -> list[Document]:
    """The tenant's ready documents (those of ``ids`` when given), newest first."""
    rows = await conn.fetch(
        _SELECT + " WHERE d.tenant_id = $1 AND d.status = 'ready'"
        " AND ($2::uuid[] IS NULL OR d.id = ANY($2::uuid[]))"
        " ORDER BY d.created_at DESC, d.id LIMIT $3",
        tenant_id,
        list(ids) if ids is not None else None,
        limit,
    )
    return [_document(r) for r in rows]


async def events(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, document_id: uuid.UUID
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT status, detail, at FROM document_events"
        " WHERE tenant_id = $1 AND document_id = $2 ORDER BY id",
        tenant_id,
        document_id,
    )
    return [dict(r) for r in rows]


async def delete(conn: asyncpg.Connection, tenant_id: str, document_id: uuid.UUID) -> Document:
    """Delete the document with its tasks, events and segments (by cascade)."""
    document = await get(conn, tenant_id, document_id)
    await conn.execute(
        "DELETE FROM documents WHERE tenant_id = $1 AND id = $2", tenant_id, document_id
    )
    return document


async def existing_in_any_tenant(
    conn: asyncpg.Connection | asyncpg.Pool, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the (tenant, document id) ``keys`` are documents (maintenance)."""
    rows = await conn.fetch(
        "SELECT tenant_id, id::text AS id FROM documents"
        " WHERE (tenant_id, id::text) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [tenant for tenant, _ in keys],
        [document for _, document in keys],
    )
    return {(r["tenant_id"], r["id"]) for r in rows}


async def ensure_task(
    conn: asyncpg.Connection, tenant_id: str, document_id: uuid.UUID, kind: str
) -> uuid.UUID | None:
    """The document's task of this kind, created queued if missing; None if the document is
    gone."""
    await conn.execute(
        "INSERT INTO tasks (id, tenant_id, document_id, kind, status, trace)"
        " SELECT $1, $2, $3, $4, 'queued', $5 WHERE EXISTS"
        " (SELECT 1 FROM documents WHERE tenant_id = $2 AND id = $3)"
        " ON CONFLICT (document_id, kind) DO NOTHING",
        uuid.uuid4(),
        tenant_id,
        document_id,
        kind,
        _current_trace(),
    )
    task_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM tasks WHERE tenant_id = $1 AND document_id = $2 AND kind = $3",
        tenant_id,
        document_id,
        kind,
    )
    return task_id


async def requeue_task(
    conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, *, error: str | None = None
) -> None:
    """Put a task back in the queue: after a failed attempt, with its ``error`` and its attempts
    counted on (the stale-task sweep retries it); or, with no error, from scratch for new work
    on the same document."""
    await conn.execute(
        "UPDATE tasks SET status = 'queued', error = $3, updated_at = now(),"
        " attempts = CASE WHEN $3::text IS NULL THEN 0 ELSE attempts END"
        " WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        task_id,
        error,
    )


async def embedded_with_other_model(
    conn: asyncpg.Connection, model: str, *, limit: int = 100
) -> list[Document]:
    """Ready documents (of any tenant: maintenance) whose vectors come from another model and
    that are not being embedded already."""
    rows = await conn.fetch(
        _SELECT
        + """
        WHERE d.status = 'ready' AND d.embedding_model IS DISTINCT FROM $1
          AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.document_id = d.id AND t.kind = 'embed'
                          AND t.status IN ('queued', 'running'))
        ORDER BY d.updated_at LIMIT $2
        """,
        model,
        limit,
    )
    return [_document(r) for r in rows]


async def claim_task(conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID) -> Claim | None:
    """Take a queued or interrupted task and count the attempt; None when the task is already
    finished or its document was deleted (a redelivered message)."""
    row = await conn.fetchrow(
        """
        UPDATE tasks SET status = 'running', attempts = attempts + 1, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')
        RETURNING document_id, attempts, trace
        """,
        tenant_id,
        task_id,
    )
    if row is None:
        return None
    document = await get(conn, tenant_id, row["document_id"])
    return Claim(document, task_id, row["attempts"], row["trace"])


async def claim_next_task(
    conn: asyncpg.Connection, kind: str, *, window_s: float = FAIR_WINDOW_S
) -> Claim | None:
    """Take the queued task of ``kind`` whose turn comes first, tenants taking turns: a
    task's turn is its place in its tenant's queue plus the tenant's tasks of this kind
    started in the last ``window_s`` while some task waited (since the oldest queued one came:
    work done when nobody waited took no one's turn). One tenant's 200 uploads then go one
    by one between the others' instead of ahead of them, and a tenant that used the idle
    system just before is not made to wait for it. None when nothing of this kind is queued."""
    row = await conn.fetchrow(
        """
        UPDATE tasks SET status = 'running', attempts = attempts + 1, updated_at = now()
        WHERE id = (
            SELECT t.id FROM tasks t
            JOIN (
                SELECT q.id, q.created_at, coalesce(served.n, 0)
                       + row_number() OVER (PARTITION BY q.tenant_id ORDER BY q.created_at) AS turn
                FROM tasks q
                LEFT JOIN (SELECT tenant_id, count(*) AS n FROM tasks
                           WHERE kind = $1 AND status <> 'queued'
                             AND updated_at > greatest(
                                 now() - make_interval(secs => $2),
                                 (SELECT min(created_at) FROM tasks
                                  WHERE kind = $1 AND status = 'queued'))
                           GROUP BY tenant_id) served USING (tenant_id)
                WHERE q.kind = $1 AND q.status = 'queued'
                ORDER BY turn, q.created_at LIMIT $3
            ) next ON next.id = t.id
            WHERE t.status = 'queued'
            ORDER BY next.turn, next.created_at
            LIMIT 1 FOR UPDATE OF t SKIP LOCKED
        )
        RETURNING tenant_id, document_id, id, attempts, trace
        """,
        kind,
        window_s,
        FAIR_CANDIDATES,
    )
    if row is None:
        return None
    document = await get(conn, row["tenant_id"], row["document_id"])
    return Claim(document, row["id"], row["attempts"], row["trace"])


async def take_stale_tasks(
    conn: asyncpg.Connection, *, older_than_s: float, limit: int = 100
) -> list[tuple[Document, uuid.UUID, str, Mapping[str, str]]]:
    """Unfinished tasks untouched for ``older_than_s``, across tenants (maintenance), with their
    documents, kinds and traces; their clock restarts, so each is taken once per period."""
    rows = await conn.fetch(
        """
        UPDATE tasks SET updated_at = now()
        WHERE id IN (SELECT id FROM tasks
                     WHERE status IN ('queued', 'running')
                       AND updated_at < now() - make_interval(secs => $1)
                     ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING tenant_id, document_id, id, kind, trace
        """,
        older_than_s,
        limit,
    )
    return [
        (await get(conn, r["tenant_id"], r["document_id"]), r["id"], r["kind"], r["trace"])
        for r in rows
    ]


async def take_orphans(
    conn: asyncpg.Connection, *, older_than_s: float, limit: int = 100
) -> list[Document]:
    """Unfinished documents (of any tenant: maintenance) that have not moved for
    ``older_than_s`` and whose next task is neither queued nor running: the event that would
    have created or queued it was lost, so nothing would ever move them on."""
    return await _take_unmoved(
        conn,
        older_than_s,
        limit,
        also="""
          AND NOT EXISTS (
              SELECT 1 FROM tasks t
              WHERE t.document_id = d.id AND t.status IN ('queued', 'running')
                AND t.kind = CASE WHEN d.status IN ('queued', 'parsing') THEN 'parse'
                                  ELSE 'embed' END)
        """,
    )


async def take_overdue(
    conn: asyncpg.Connection, *, older_than_s: float, limit: int = 100
) -> list[Document]:
    """Unfinished documents (of any tenant) that have not moved for ``older_than_s``."""
    return await _take_unmoved(conn, older_than_s, limit)


async def _take_unmoved(
    conn: asyncpg.Connection, older_than_s: float, limit: int, *, also: str = ""
) -> list[Document]:
    """Unfinished documents untouched for ``older_than_s`` that also meet the SQL condition
    ``also`` (a constant of ours, never input), oldest first, locked for this transaction;
    rows another transaction holds are skipped."""
    rows = await conn.fetch(
        _SELECT
        + f"""
        WHERE d.status = ANY($3::text[]) AND d.updated_at < now() - make_interval(secs => $1)
        {also}
        ORDER BY d.updated_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED
        """,
        older_than_s,
        limit,
        list(UNFINISHED),
    )
    return [_document(r) for r in rows]


async def finish_open_tasks(
    conn: asyncpg.Connection, tenant_id: str, document_id: uuid.UUID, *, error: str
) -> None:
    await conn.execute(
        "UPDATE tasks SET status = 'failed', error = $3, updated_at = now()"
        " WHERE tenant_id = $1 AND document_id = $2 AND status IN ('queued', 'running')",
        tenant_id,
        document_id,
        error,
    )


@dataclass(frozen=True)
class StateAge:
    status: str
    documents: int
    oldest_s: float


async def unfinished_by_state(conn: asyncpg.Connection | asyncpg.Pool) -> list[StateAge]:
    """How many documents (all tenants) wait in each unfinished state, and for how long the
    oldest has not moved. States with none are listed with zeros."""
    rows = await conn.fetch(
        "SELECT status, count(*) AS n,"
        " extract(epoch FROM now() - min(updated_at))::float8 AS oldest FROM documents"
        " WHERE status = ANY($1::text[]) GROUP BY status",
        list(UNFINISHED),
    )
    found = {r["status"]: StateAge(r["status"], r["n"], r["oldest"]) for r in rows}
    return [found.get(state, StateAge(state, 0, 0.0)) for state in UNFINISHED]


async def finish_task(
    conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, *, error: str | None = None
) -> None:
    await conn.execute(
        "UPDATE tasks SET status = $3, error = $4, updated_at = now()"
        " WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        task_id,
        "failed" if error else "succeeded",
        error,
    )


async def transition(
    conn: asyncpg.Connection,
    tenant_id: str,
    document_id: uuid.UUID,
    to_status: str,
    *,
    allowed_from: Sequence[str],
    detail: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Transition | None:
    """Move a document to ``to_status`` if it is in one of ``allowed_from``, updating the
    given columns too; None when it is not (someone else moved it, or it is gone)."""
    assert to_status in STATUSES
    changes = dict(changes or {})
    if to_status != "failed":
        changes.setdefault("error_code", None)
        changes.setdefault("error", None)
    columns = list(changes)
    assert _UPDATABLE.issuperset(columns), columns
    assignments = "".join(f", {c} = ${i + 5}" for i, c in enumerate(columns))
    row = await conn.fetchrow(
        f"""
        UPDATE documents d SET status = $3, updated_at = now(){assignments}
        FROM (SELECT id, status FROM documents WHERE tenant_id = $1 AND id = $2 FOR UPDATE) old
        WHERE d.id = old.id AND old.status = ANY($4::text[])
        RETURNING old.status AS previous
        """,
        tenant_id,
        document_id,
        to_status,
        list(allowed_from),
        *changes.values(),
    )
    if row is None:
        return None
    at = await _record_event(conn, tenant_id, document_id, to_status, detail or {})
    document = await get(conn, tenant_id, document_id)
    return Transition(document=document, previous=row["previous"], at=at)


async def _record_event(
    conn: asyncpg.Connection,
    tenant_id: str,
    document_id: uuid.UUID,
    status: str,
    detail: Mapping[str, Any],
) -> datetime:
    at: datetime = await conn.fetchval(
        "INSERT INTO document_events (tenant_id, document_id, status, detail)"
        " VALUES ($1, $2, $3, $4) RETURNING at",
        tenant_id,
        document_id,
        status,
        dict(detail),
    )
    return at
