"""A question, its session and its request, written in one statement (storage.chat.ask), or
not at all; against PostgreSQL alone."""

from __future__ import annotations

import uuid

import asyncpg

from storage import chat
from storage.outbox import OutboxMessage


def _asked(tenant: str, user: str, conversation_id: uuid.UUID) -> chat.Asked:
    session_id = uuid.uuid4()
    return chat.Asked(
        tenant_id=tenant,
        user_id=user,
        conversation_id=conversation_id,
        message_id=uuid.uuid4(),
        session_id=session_id,
        question="How long do refunds take?",
        document_ids=None,
        sla=None,
        request=OutboxMessage("pdfchat.test.v1", tenant, {"session_id": str(session_id)}),
    )


async def _written(pg: asyncpg.Pool, asked: chat.Asked) -> tuple[int, int, int]:
    """Messages, sessions and outbox rows of the question."""
    return (
        await pg.fetchval("SELECT count(*) FROM messages WHERE id = $1", asked.message_id),
        await pg.fetchval("SELECT count(*) FROM chat_sessions WHERE id = $1", asked.session_id),
        await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE value->>'session_id' = $1", str(asked.session_id)
        ),
    )


async def test_a_question_starts_a_conversation_and_a_follow_up_goes_on_in_it(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    first = _asked(tenant, "ann", uuid.uuid4())
    assert await chat.ask(pg, first, title="Refunds")
    assert await _written(pg, first) == (1, 1, 1)
    conversation = await chat.get_conversation(pg, tenant, "ann", first.conversation_id)
    assert conversation is not None and conversation.title == "Refunds"

    follow_up = _asked(tenant, "ann", first.conversation_id)
    assert await chat.ask(pg, follow_up, title=None)
    assert await _written(pg, follow_up) == (1, 1, 1)
    touched = await chat.get_conversation(pg, tenant, "ann", first.conversation_id)
    assert touched is not None and touched.updated_at > conversation.updated_at
    session = await chat.get_session(pg, tenant, follow_up.session_id)
    assert session is not None and session.question_message_id == follow_up.message_id
    assert session.status == "pending"


async def test_a_question_in_a_conversation_not_the_users_writes_nothing(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    ann = _asked(tenant, "ann", uuid.uuid4())
    assert await chat.ask(pg, ann, title="Refunds")
    for intruder in (
        _asked(tenant, "bob", ann.conversation_id),  # another user of the tenant
        _asked(f"other-{tenant}", "ann", ann.conversation_id),  # another tenant
        _asked(tenant, "ann", uuid.uuid4()),  # no such conversation
    ):
        assert not await chat.ask(pg, intruder, title=None)
        assert await _written(pg, intruder) == (0, 0, 0)
