"""The unfinished work admission control weighs: documents being ingested, questions being
answered; the caller's tenant's and everyone's."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from storage.documents import UNFINISHED


@dataclass(frozen=True)
class InProgress:
    tenant: int
    everyone: int


@dataclass(frozen=True)
class Backlog:
    documents: InProgress  # not yet ready or failed
    questions: InProgress  # not yet answered


async def backlog(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str) -> Backlog:
    # Each count reads a partial index of the unfinished rows alone (migration 007).
    row = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE d.tenant_id = $1), count(*),
               (SELECT count(*) FROM chat_sessions
                 WHERE tenant_id = $1 AND status IN ('pending', 'answering')),
               (SELECT count(*) FROM chat_sessions WHERE status IN ('pending', 'answering'))
        FROM documents d WHERE d.status = ANY($2::text[])
        """,
        tenant_id,
        list(UNFINISHED),
    )
    tenant_documents, all_documents, tenant_questions, all_questions = (int(n) for n in row)
    return Backlog(
        InProgress(tenant_documents, all_documents), InProgress(tenant_questions, all_questions)
    )
