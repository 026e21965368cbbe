"""A question with its session and request (storage.chat.ask), and an answer with its events
(storage.chat.answer): each written in one statement, or not at all; against PostgreSQL
alone."""

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


def _answered(asked: chat.Asked, *, attempts: int) -> chat.Answered:
    event = {"session_id": str(asked.session_id)}
    return chat.Answered(
        tenant_id=asked.tenant_id,
        session_id=asked.session_id,
        attempts=attempts,
        last_seq=12,
        model="local:extractive",
        message_id=uuid.uuid4(),
        content="Within 14 days.",
        citations=[{"page": 3}],
        usage={"tokens_out": 4},
        found=True,
        events=(
            OutboxMessage("pdfchat.test.end.v1", asked.tenant_id, event),
            OutboxMessage("pdfchat.test.usage.v1", asked.tenant_id, event),
        ),
    )


async def _events(pg: asyncpg.Pool, asked: chat.Asked) -> list[str]:
    rows = await pg.fetch(
        "SELECT topic FROM outbox WHERE value->>'session_id' = $1 AND topic LIKE '%.test.%.v1'"
        " ORDER BY id",
        str(asked.session_id),
    )
    return [r["topic"] for r in rows]


async def test_an_answer_commits_once_and_only_by_the_orchestrator_that_holds_it(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    asked = _asked(tenant, "ann", uuid.uuid4())
    assert await chat.ask(pg, asked, title="Refunds")
    claimed = await chat.claim_session(pg, tenant, asked.session_id)
    assert claimed is not None and claimed.attempts == 1

    assert not await chat.answer(pg, _answered(asked, attempts=2))  # not the holder's claim
    assert await _events(pg, asked) == []
    assert await chat.answer(pg, _answered(asked, attempts=1))
    assert not await chat.answer(pg, _answered(asked, attempts=1))  # ended already

    session = await chat.get_session(pg, tenant, asked.session_id)
    assert session is not None
    assert (session.status, session.last_seq, session.model) == ("finished", 12, "local:extractive")
    kept = await chat.messages(pg, tenant, asked.conversation_id)
    assert [(m.role, m.content, m.citations, m.found) for m in kept] == [
        ("user", "How long do refunds take?", [], None),
        ("assistant", "Within 14 days.", [{"page": 3}], True),
    ]
    assert await _events(pg, asked) == ["pdfchat.test.end.v1", "pdfchat.test.usage.v1"]
