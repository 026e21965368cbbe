"""Asking a question and finishing its answer: rows and events committed together.

    start()   POST /v1/chat: conversation + user message + session + ChatRequested, one tx
    claim()   the orchestrator takes a pending session (once)
    finish()  assistant message + session finished + end event + usage event, one tx
    fail()    session failed + error event, one tx
    take_over_stale()  the sweep hands the sessions of a dead orchestrator to another

The end and error events go through the outbox, so a client never sees an answer end that did
not commit, and every committed answer ends on the stream. Tokens and citations are sent
straight to Kafka by the orchestrator (they are worth nothing without the end).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

import topics
from core.errors import InvalidInput, NotFound
from storage import chat, documents, outbox, rollouts
from storage.chat import Session
from storage.outbox import OutboxMessage
from storage.rollouts import Sample
from topics.audit import CONVERSATION_DELETED
from workflows import audit

MAX_QUESTION_CHARS = 4000
MAX_DOCUMENT_IDS = 100
TITLE_CHARS = 80
# How many earlier messages an answer sees; the prompt pipeline trims further to fit a model.
HISTORY_MESSAGES = 12


@dataclass(frozen=True)
class Question:
    tenant_id: str
    user_id: str
    question: str
    document_ids: list[str] | None = None
    conversation_id: str | None = None
    sla: str | None = None


@dataclass(frozen=True)
class Started:
    session_id: uuid.UUID
    conversation_id: uuid.UUID


def validate(question: Question) -> None:
    if not question.question.strip():
        raise InvalidInput("question must not be empty", code="empty_question")
    if len(question.question) > MAX_QUESTION_CHARS:
        raise InvalidInput(
            f"question is longer than {MAX_QUESTION_CHARS} characters", code="question_too_long"
        )
    if question.document_ids is not None and len(question.document_ids) > MAX_DOCUMENT_IDS:
        raise InvalidInput(f"at most {MAX_DOCUMENT_IDS} document_ids", code="too_many_documents")


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"{what} {value!r} is not a valid id", code=f"bad_{what}") from None


async def start(pool: asyncpg.Pool, question: Question) -> Started:
    validate(question)
    document_ids = await _own_documents(pool, question)
    if question.conversation_id is None:
        conversation_id, title = uuid.uuid4(), _title(question.question)
    else:
        conversation_id, title = parse_id(question.conversation_id, "conversation_id"), None
    session_id, message_id = uuid.uuid4(), uuid.uuid4()
    requested = topics.ChatRequested(
        tenant_id=question.tenant_id,
        session_id=str(session_id),
        user_id=question.user_id,
        conversation_id=str(conversation_id),
        message_id=str(message_id),
        question=question.question,
        document_ids=[str(d) for d in document_ids] if document_ids is not None else None,
        requested_at=datetime.now(UTC),
        sla=question.sla,
    )
    asked = chat.Asked(
        tenant_id=question.tenant_id,
        user_id=question.user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        session_id=session_id,
        question=question.question,
        document_ids=document_ids,
        sla=question.sla,
        request=OutboxMessage.of(topics.CHAT_REQUESTED, requested),
    )
    if not await chat.ask(pool, asked, title=title):
        raise NotFound(f"no conversation {conversation_id}", code="unknown_conversation")
    return Started(session_id, conversation_id)


def _title(question: str) -> str:
    return " ".join(question.split())[:TITLE_CHARS]


async def _own_documents(pool: asyncpg.Pool, question: Question) -> list[uuid.UUID] | None:
    """The requested documents, all of the caller's tenant (or a 404 naming the others)."""
    if question.document_ids is None:
        return None
    wanted = list(dict.fromkeys(parse_id(d, "document_id") for d in question.document_ids))
    found = await documents.existing(pool, question.tenant_id, wanted)
    if missing := [str(d) for d in wanted if d not in found]:
        raise NotFound(f"no documents {', '.join(missing)}", code="unknown_document")
    return wanted


async def claim(
    pool: asyncpg.Pool,
    request: topics.ChatRequested,
    *,
    turns: bool = False,
    full_tenants: Collection[str] = (),
) -> Session | None:
    """A request is a turn, not an order: it takes the pending session whose turn comes
    first, tenants taking turns, so one tenant's 50 questions do not stand ahead of another's
    one. There is one request per session, so every session gets its turn. Without
    ``turns``, always its own session. Sessions of ``full_tenants`` (as many answers running
    as they may have) are left for a later turn. None when there is nothing to answer (a
    redelivery, or only full tenants' questions wait)."""
    taken = await next_session(pool, full_tenants) if turns else None
    if taken is not None or request.tenant_id in full_tenants:
        return taken
    return await chat.claim_session(pool, request.tenant_id, uuid.UUID(request.session_id))


async def next_session(pool: asyncpg.Pool, full_tenants: Collection[str] = ()) -> Session | None:
    """The pending session whose turn comes first, taken; None when none is pending (but
    those of ``full_tenants``)."""
    return await chat.claim_next_session(pool, skip_tenants=list(full_tenants))


class HandedOver(Exception):
    """The sweep took this answer for dead and gave it to another orchestrator: the first
    must stop sending (the attempts count is the fence)."""


async def touch(pool: asyncpg.Pool, session: Session) -> None:
    """Renew the answer's lease; raises HandedOver if it is another orchestrator's now."""
    if not await chat.touch_session(pool, session.tenant_id, session.id, attempts=session.attempts):
        raise HandedOver(str(session.id))


async def history(pool: asyncpg.Pool, session: Session) -> list[chat.Message]:
    """The messages before this session's question, oldest first."""
    earlier = await chat.messages(
        pool, session.tenant_id, session.conversation_id, limit=HISTORY_MESSAGES + 1
    )
    return [
        m for m in earlier if m.id != session.question_message_id and m.session_id != session.id
    ]


async def finish(
    pool: asyncpg.Pool,
    session: Session,
    *,
    answer: str,
    citations: Sequence[topics.Citation],
    usage: topics.Usage,
    seq: int,
    found: bool = True,
    sample: Sample | None = None,
) -> bool:
    """Commit the answer (and its canary sample, workflows/rollouts.py); False when the sweep
    had ended the session or handed it to another orchestrator meanwhile. ``found`` is False
    when the answer is that the documents do not have it."""
    now = datetime.now(UTC)
    end = _event(session, seq, topics.chat.END, now, usage=usage, found=found)
    spent = topics.UsageRecorded(
        tenant_id=session.tenant_id,
        usage_id=str(session.id),
        user_id=session.user_id,
        conversation_id=str(session.conversation_id),
        model=usage.model,
        tokens_in=usage.tokens_in,
        tokens_out=usage.tokens_out,
        cost_usd=usage.cost_usd,
        recorded_at=now,
    )
    answered = chat.Answered(
        tenant_id=session.tenant_id,
        session_id=session.id,
        attempts=session.attempts,
        last_seq=seq,
        model=usage.model,
        message_id=uuid.uuid4(),
        content=answer,
        citations=[c.asdict() for c in citations],
        usage=usage.asdict(),
        found=found,
        events=(OutboxMessage.of(topics.ANSWERS, end), OutboxMessage.of(topics.USAGE, spent)),
    )
    if sample is None:
        return await chat.answer(pool, answered)
    async with pool.acquire() as conn, conn.transaction():
        if not await chat.answer(conn, answered):
            return False
        await rollouts.add_sample(conn, sample)
    return True


async def fail(
    pool: asyncpg.Pool,
    session: Session,
    *,
    code: str,
    message: str,
    seq: int,
    sample: Sample | None = None,
) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        if not await _fail(conn, session, code=code, message=message, seq=seq):
            return False
        if sample is not None:
            await rollouts.add_sample(conn, sample)
        return True


async def delete_conversation(
    pool: asyncpg.Pool, tenant_id: str, user_id: str, conversation_id: uuid.UUID
) -> bool:
    """The user's conversation and its messages, gone, and the act on the audit trail."""
    async with pool.acquire() as conn, conn.transaction():
        if not await chat.delete_conversation(conn, tenant_id, user_id, conversation_id):
            return False
        await outbox.enqueue(
            conn, [audit.recorded(tenant_id, user_id, CONVERSATION_DELETED, str(conversation_id))]
        )
    return True


async def take_over_stale(
    pool: asyncpg.Pool, *, lease_s: float, max_attempts: int
) -> tuple[list[str], list[str]]:
    """Give sessions whose orchestrator went quiet for a lease to another; returns the ids of
    those handed over and of those failed.

    A session handed over is pending again with a new request (a turn): the orchestrator that
    takes it goes on from the last token sent (agents/orchestrator.py). One taken
    ``max_attempts`` times already fails with ``answer_interrupted``; its last sequence number
    is unknown here (tokens went straight to Kafka), so the error event carries seq 0 and the
    web tier numbers it after the last event it saw."""
    handed_over: list[str] = []
    failed: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        for session in await chat.take_stale_sessions(conn, older_than_s=lease_s):
            if session.attempts < max_attempts:
                await chat.requeue_session(conn, session.tenant_id, session.id)
                # In the question's trace, with its request id, as the first request was.
                again = OutboxMessage.of(topics.CHAT_REQUESTED, _request(session), session.trace)
                await outbox.enqueue(conn, [again])
                handed_over.append(str(session.id))
                continue
            await _fail(
                conn,
                session,
                code="answer_interrupted",
                seq=0,
                message="the answer was interrupted; please ask again",
            )
            failed.append(str(session.id))
    return handed_over, failed


def _request(session: Session) -> topics.ChatRequested:
    """The work order of a session, as its question published it."""
    return topics.ChatRequested(
        tenant_id=session.tenant_id,
        session_id=str(session.id),
        user_id=session.user_id,
        conversation_id=str(session.conversation_id),
        message_id=str(session.question_message_id),
        question=session.question,
        document_ids=[str(d) for d in session.document_ids] if session.document_ids else None,
        requested_at=session.created_at,
        sla=session.sla,
    )


async def _fail(
    conn: asyncpg.Connection, session: Session, *, code: str, message: str, seq: int
) -> bool:
    if not await chat.end_session(
        conn,
        session.tenant_id,
        session.id,
        attempts=session.attempts,
        status="failed",
        last_seq=seq,
        error_code=code,
        error=message,
    ):
        return False
    error = _event(session, seq, topics.chat.ERROR, datetime.now(UTC), code=code, message=message)
    await outbox.enqueue(conn, [OutboxMessage.of(topics.ANSWERS, error, session.trace)])
    return True


def _event(
    session: Session, seq: int, kind: str, at: datetime, **fields: Any
) -> topics.AnswerEvent:
    return topics.AnswerEvent(
        tenant_id=session.tenant_id, session_id=str(session.id), seq=seq, type=kind, at=at, **fields
    )
