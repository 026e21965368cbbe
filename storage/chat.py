"""Conversations, messages and answer sessions. Every query is scoped by tenant (and user).

Functions that change state take a connection so callers can compose them with
``outbox.enqueue`` in one transaction. A question (``ask``) and an answer (``answer``) are each
one statement with their outbox rows: they are on every chat's path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from core import tracing
from storage import outbox
from storage.outbox import OutboxMessage

UNFINISHED = ("pending", "answering")


@dataclass(frozen=True)
class Conversation:
    id: uuid.UUID
    tenant_id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: str
    content: str
    citations: list[dict[str, Any]]
    usage: dict[str, Any] | None
    session_id: uuid.UUID | None
    created_at: datetime
    found: bool | None  # an answer: False when the documents do not say; None: a question


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    tenant_id: str
    user_id: str
    conversation_id: uuid.UUID
    question_message_id: uuid.UUID
    question: str
    document_ids: list[uuid.UUID] | None
    status: str
    model: str | None
    last_seq: int | None
    error_code: str | None
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    sla: str | None = None
    # The trace context of the request that asked: the answer belongs to that trace, also when
    # it is given on another question's turn.
    trace: dict[str, str] = field(default_factory=dict)


_SESSION_COLUMNS = ", ".join(Session.__dataclass_fields__)
# claim_next_session tries this many of the first turns (others may hold some: SKIP LOCKED).
TURN_CANDIDATES = 256  # more than answers run at once, so a turn is never lost to locks
_MESSAGE_COLUMNS = ", ".join(Message.__dataclass_fields__)


@dataclass(frozen=True)
class Asked:
    """A question as POST /v1/chat asks it: the ids are made by the caller, so the request
    (``request``, for the outbox) can name them before anything is written."""

    tenant_id: str
    user_id: str
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    session_id: uuid.UUID
    question: str
    document_ids: Sequence[uuid.UUID] | None
    sla: str | None
    request: OutboxMessage


# The question in its conversation, its session and its request, in one statement (a round
# trip instead of eight on the way to a first token): the conversation's row comes first, and
# each insert after it reads the one before, so a conversation that is not the user's makes
# none. Foreign keys are checked at the statement's end, after all of them.
_ASK = """
WITH conversation AS ({conversation}),
message AS (
    INSERT INTO messages (id, tenant_id, conversation_id, role, content, session_id)
    SELECT $4, $2, id, 'user', $6, $5 FROM conversation
    RETURNING conversation_id
),
session AS (
    INSERT INTO chat_sessions (id, tenant_id, user_id, conversation_id, question_message_id,
                               question, document_ids, sla, trace)
    SELECT $5, $2, $3, conversation_id, $4, $6, $7, $8, $9 FROM message
    RETURNING conversation_id
),
request AS (
    INSERT INTO outbox (topic, key, value, headers) SELECT $10, $11, $12, $13 FROM session
    RETURNING id
)
SELECT pg_notify($14, '') FROM request
"""
_NEW_CONVERSATION = _ASK.format(
    conversation="INSERT INTO conversations (id, tenant_id, user_id, title)"
    " VALUES ($1, $2, $3, $15) RETURNING id"
)
_OWN_CONVERSATION = _ASK.format(
    conversation="UPDATE conversations SET updated_at = now()"
    " WHERE id = $1 AND tenant_id = $2 AND user_id = $3 RETURNING id"
)


async def ask(conn: asyncpg.Connection | asyncpg.Pool, asked: Asked, *, title: str | None) -> bool:
    """The question, its session and its request, committed together: in a new conversation
    titled ``title``, or (``title`` None) in the user's conversation ``asked.conversation_id``.
    False, and nothing written, when that conversation is not the user's."""
    args: list[Any] = [
        asked.conversation_id,
        asked.tenant_id,
        asked.user_id,
        asked.message_id,
        asked.session_id,
        asked.question,
        list(asked.document_ids) if asked.document_ids is not None else None,
        asked.sla,
        dict(tracing.inject({})),
        *outbox.row_of(asked.request),
        outbox.NOTIFY_CHANNEL,
    ]
    if title is None:
        return await conn.fetchrow(_OWN_CONVERSATION, *args) is not None
    return await conn.fetchrow(_NEW_CONVERSATION, *args, title) is not None


async def get_conversation(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    user_id: str,
    conversation_id: uuid.UUID,
) -> Conversation | None:
    row = await conn.fetchrow(
        "SELECT * FROM conversations WHERE id = $1 AND tenant_id = $2 AND user_id = $3",
        conversation_id,
        tenant_id,
        user_id,
    )
    return Conversation(**dict(row)) if row else None


async def list_conversations(
    pool: asyncpg.Pool, tenant_id: str, user_id: str, *, limit: int, offset: int
) -> list[Conversation]:
    rows = await pool.fetch(
        "SELECT * FROM conversations WHERE tenant_id = $1 AND user_id = $2"
        " ORDER BY updated_at DESC, id LIMIT $3 OFFSET $4",
        tenant_id,
        user_id,
        limit,
        offset,
    )
    return [Conversation(**dict(r)) for r in rows]


async def delete_conversation(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    user_id: str,
    conversation_id: uuid.UUID,
) -> bool:
    done: str = await conn.execute(
        "DELETE FROM conversations WHERE id = $1 AND tenant_id = $2 AND user_id = $3",
        conversation_id,
        tenant_id,
        user_id,
    )
    return done != "DELETE 0"


async def messages(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    conversation_id: uuid.UUID,
    *,
    limit: int = 1000,
) -> list[Message]:
    """The conversation's last ``limit`` messages, oldest first."""
    rows = await conn.fetch(
        f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages"
        " WHERE tenant_id = $1 AND conversation_id = $2"
        " ORDER BY created_at DESC, id DESC LIMIT $3) last ORDER BY created_at, id",
        tenant_id,
        conversation_id,
        limit,
    )
    return [Message(**dict(r)) for r in rows]


@dataclass(frozen=True)
class Answered:
    """An answer as its orchestrator commits it: the assistant's message and the events that
    go out with it (``events``, for the outbox: the stream's end and the usage)."""

    tenant_id: str
    session_id: uuid.UUID
    attempts: int  # the orchestrator's claim: one that lost the session commits nothing
    last_seq: int
    model: str
    message_id: uuid.UUID
    content: str
    citations: Sequence[dict[str, Any]]
    usage: dict[str, Any]
    found: bool
    events: tuple[OutboxMessage, OutboxMessage]


# The session finished, the assistant's message, the conversation touched and the events, in
# one statement (a round trip instead of seven): each part reads the session's update, so a
# session that another orchestrator holds, or that has ended, changes nothing.
_ANSWER = """
WITH ended AS (
    UPDATE chat_sessions SET status = 'finished', last_seq = $4, model = $5,
                             updated_at = now(), finished_at = now()
    WHERE id = $1 AND tenant_id = $2 AND status IN ('pending', 'answering') AND attempts = $3
    RETURNING conversation_id
),
message AS (
    INSERT INTO messages (id, tenant_id, conversation_id, role, content, citations, usage,
                          session_id, found)
    SELECT $6, $2, conversation_id, 'assistant', $7, $8, $9, $1, $10 FROM ended
),
touched AS (
    UPDATE conversations SET updated_at = now()
    WHERE id = (SELECT conversation_id FROM ended) AND tenant_id = $2
),
events AS (
    INSERT INTO outbox (topic, key, value, headers)
    SELECT e.* FROM ended, (VALUES ($11::text, $12::text, $13::jsonb, $14::jsonb),
                                   ($15, $16, $17, $18)) AS e
)
SELECT pg_notify($19, '') FROM ended
"""


async def answer(conn: asyncpg.Connection | asyncpg.Pool, answered: Answered) -> bool:
    """Commit the answer: the session finished, the assistant's message, its events. False,
    and nothing written, when the session was not this orchestrator's to finish."""
    end, usage = answered.events
    row = await conn.fetchrow(
        _ANSWER,
        answered.session_id,
        answered.tenant_id,
        answered.attempts,
        answered.last_seq,
        answered.model,
        answered.message_id,
        answered.content,
        list(answered.citations),
        answered.usage,
        answered.found,
        *outbox.row_of(end),
        *outbox.row_of(usage),
        outbox.NOTIFY_CHANNEL,
    )
    return row is not None


async def get_session(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, session_id: uuid.UUID
) -> Session | None:
    row = await conn.fetchrow(
        f"SELECT {_SESSION_COLUMNS} FROM chat_sessions WHERE id = $1 AND tenant_id = $2",
        session_id,
        tenant_id,
    )
    return Session(**dict(row)) if row else None


async def claim_session(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, session_id: uuid.UUID
) -> Session | None:
    """pending → answering, once: a redelivered request finds nothing to claim."""
    row = await conn.fetchrow(
        "UPDATE chat_sessions SET status = 'answering', attempts = attempts + 1,"
        " updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status = 'pending'"
        f" RETURNING {_SESSION_COLUMNS}",
        session_id,
        tenant_id,
    )
    return Session(**dict(row)) if row else None


async def claim_next_session(
    conn: asyncpg.Connection | asyncpg.Pool, *, skip_tenants: Sequence[str] = ()
) -> Session | None:
    """pending → answering for the pending session whose turn comes first, tenants taking
    turns: a session's turn is its place in its tenant's queue plus the tenant's sessions
    being answered now. Sessions of ``skip_tenants`` are left. None when no session is
    pending."""
    row = await conn.fetchrow(
        f"""
        UPDATE chat_sessions SET status = 'answering', attempts = attempts + 1, updated_at = now()
        WHERE id = (
            SELECT s.id FROM chat_sessions s
            JOIN (
                SELECT p.id, p.created_at, coalesce(busy.n, 0)
                       + row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.created_at)
                       AS turn
                FROM chat_sessions p
                LEFT JOIN (SELECT tenant_id, count(*) AS n FROM chat_sessions
                           WHERE status = 'answering' GROUP BY tenant_id) busy USING (tenant_id)
                WHERE p.status = 'pending' AND p.tenant_id <> ALL($2::text[])
                ORDER BY turn, p.created_at LIMIT $1
            ) next ON next.id = s.id
            WHERE s.status = 'pending'
            ORDER BY next.turn, next.created_at
            LIMIT 1 FOR UPDATE OF s SKIP LOCKED
        )
        RETURNING {_SESSION_COLUMNS}
        """,
        TURN_CANDIDATES,
        list(skip_tenants),
    )
    return Session(**dict(row)) if row else None


async def end_session(
    conn: asyncpg.Connection,
    tenant_id: str,
    session_id: uuid.UUID,
    *,
    attempts: int,
    status: str,
    last_seq: int,
    model: str | None = None,
    error_code: str | None = None,
    error: str | None = None,
) -> bool:
    """answering (or pending) → finished or failed, by whoever took it ``attempts``-th; False if
    it had ended already, or was handed to another orchestrator meanwhile."""
    done: str = await conn.execute(
        "UPDATE chat_sessions SET status = $3, last_seq = $4, model = $5, error_code = $6,"
        " error = $7, updated_at = now(), finished_at = now()"
        " WHERE id = $1 AND tenant_id = $2 AND status IN ('pending', 'answering')"
        " AND attempts = $8",
        session_id,
        tenant_id,
        status,
        last_seq,
        model,
        error_code,
        error,
        attempts,
    )
    return done != "UPDATE 0"


async def take_stale_sessions(
    conn: asyncpg.Connection, *, older_than_s: float, limit: int = 100
) -> list[Session]:
    """Unfinished sessions nobody touched for ``older_than_s``, locked for the caller's tx."""
    rows = await conn.fetch(
        f"SELECT {_SESSION_COLUMNS} FROM chat_sessions"
        " WHERE status IN ('pending', 'answering')"
        " AND updated_at < now() - make_interval(secs => $1)"
        " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        older_than_s,
        limit,
    )
    return [Session(**dict(r)) for r in rows]


async def requeue_session(conn: asyncpg.Connection, tenant_id: str, session_id: uuid.UUID) -> None:
    """answering → pending, for another orchestrator to take over (its attempts stay counted)."""
    await conn.execute(
        "UPDATE chat_sessions SET status = 'pending', updated_at = now()"
        " WHERE id = $1 AND tenant_id = $2 AND status IN ('pending', 'answering')",
        session_id,
        tenant_id,
    )


async def touch_session(
    pool: asyncpg.Pool, tenant_id: str, session_id: uuid.UUID, *, attempts: int
) -> bool:
    """Renew the lease of a long answer, so the sweep does not take it for dead; False when
    the session is no longer this orchestrator's (``attempts``: its claim's count): it was
    handed to another, or ended."""
    done: str = await pool.execute(
        "UPDATE chat_sessions SET updated_at = now() WHERE id = $1 AND tenant_id = $2"
        " AND status = 'answering' AND attempts = $3",
        session_id,
        tenant_id,
        attempts,
    )
    return done != "UPDATE 0"
