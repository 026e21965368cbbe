"""POST /v1/chat, the answer socket, and the conversations of API v1."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from opentelemetry import trace
from pydantic import BaseModel, ConfigDict
from quart import Blueprint, websocket

from core import tracing
from core.errors import (
    Gone,
    InvalidInput,
    NotFound,
    PdfchatError,
    TransientError,
)
from core.metrics import FAILURES, WEBSOCKETS
from core.tokens import Principal
from storage import chat
from storage.chat import Conversation, Message, Session
from web import resources
from web.auth import authenticate, bearer_token, principal, requires
from web.errors import CLOSE_NORMAL, CLOSE_TRY_AGAIN, close_code
from web.limits import within_rate
from web.params import int_arg, json_body, uuid_or
from web.streams import AnswerStreams, ReaderTooSlow
from workflows import admission, rollouts, usage
from workflows import chat as workflow

log = logging.getLogger("pdfchat.web.chat")

blueprint = Blueprint("chat", __name__, url_prefix="/v1")

CATCH_UP_TIMEOUT_S = 15.0


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str
    document_ids: list[str] | None = None
    conversation_id: str | None = None
    sla: Literal["interactive", "batch"] | None = None


@blueprint.post("/chat")
@requires("chat:ask")
async def ask() -> tuple[dict[str, Any], int]:
    await within_rate("chats")
    body = await json_body(ChatRequest)
    who = principal()
    pool = resources.pool()
    await usage.ensure_can_answer(pool, who.tenant_id, resources.budget())
    limit = admission.limit_of(resources.settings(), "questions")
    await admission.admit_question(pool, who.tenant_id, limit)
    started = await workflow.start(
        pool,
        workflow.Question(
            tenant_id=who.tenant_id,
            user_id=who.user_id,
            question=body.question,
            document_ids=body.document_ids,
            conversation_id=body.conversation_id,
            sla=body.sla,
        ),
    )
    return {
        "stream_session_id": str(started.session_id),
        "conversation_id": str(started.conversation_id),
        "stream_url": f"/v1/chat/stream/{started.session_id}",
    }, 202


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    rating: Literal["up", "down"]
    comment: str | None = None


@blueprint.post("/chat/sessions/<session_id>/feedback")
@requires("chat:ask")
async def give_feedback(session_id: str) -> dict[str, Any]:
    """Thumbs up or down on one of the caller's own finished answers."""
    body = await json_body(FeedbackRequest)
    session = await _own_session(principal(), session_id)
    at = await rollouts.record_feedback(
        resources.pool(), session, rating=body.rating, comment=body.comment
    )
    return {
        "stream_session_id": str(session.id),
        "rating": body.rating,
        "comment": body.comment,
        "at": at.isoformat(),
    }


@blueprint.websocket("/chat/stream/<session_id>")
async def stream(session_id: str) -> None:
    """The request id (``X-Request-ID`` or a new one) and the socket's span are set by
    web/telemetry.py before this runs."""
    await websocket.accept()
    WEBSOCKETS.inc()
    try:
        await _relay(session_id)
    except PdfchatError as exc:
        await websocket.send_json({"type": "error", "code": exc.code, "message": exc.message})
        code = close_code(exc)
        if isinstance(exc, ReaderTooSlow):  # for the operator: a client that cannot keep up
            FAILURES.labels("answer_socket", exc.code).inc()
            log.warning("cut off a slow reader", extra={"session_id": session_id})
        if code == CLOSE_TRY_AGAIN:  # ours, not the client's: the trace is kept as an error
            tracing.record_error(trace.get_current_span(), exc)
        await websocket.close(code, exc.code)
    finally:
        WEBSOCKETS.dec()


async def _relay(session_id: str) -> None:
    who = await _socket_principal()
    after = _last_token_seq()
    session = await _own_session(who, session_id)
    streams: AnswerStreams = resources.streams()
    try:
        await asyncio.wait_for(streams.caught_up.wait(), CATCH_UP_TIMEOUT_S)
    except TimeoutError:
        raise TransientError(
            "answer streams are not available yet; reconnect shortly", code="streams_unavailable"
        ) from None
    key = str(session.id)
    _refuse_ended(session, streams, key, after)
    opened = time.perf_counter()
    with streams.subscribe(key, after_seq=after) as subscription:
        first = True
        while True:
            event = await subscription.next()
            if first:  # the socket is as slow as its first event, however long the answer
                tracing.mark_latency(time.perf_counter() - opened)
                first = False
            await websocket.send(event.text)
            if event.is_last:
                return await websocket.close(CLOSE_NORMAL)


async def _socket_principal() -> Principal:
    token = bearer_token(websocket.headers, websocket.args)
    return await authenticate(token, "chat:ask", client=websocket.remote_addr)


def _last_token_seq() -> int:
    raw = websocket.args.get("last_token_seq")
    if raw is None:
        return 0
    if not raw.isdecimal() or len(raw) > 9:
        raise InvalidInput(
            "last_token_seq must be a non-negative integer", code="bad_last_token_seq"
        )
    return int(raw)


async def _own_session(who: Principal, session_id: str) -> Session:
    unknown = NotFound(f"no stream session {session_id}", code="unknown_session")
    key = uuid_or(session_id, unknown)
    session = await chat.get_session(resources.pool(), who.tenant_id, key)
    if session is None or session.user_id != who.user_id:
        raise unknown  # another user's session looks exactly like a missing one
    return session


def _refuse_ended(session: Session, streams: AnswerStreams, key: str, after: int) -> None:
    """A finished session is replayed within the retention window, and only if something is
    left to send."""
    if session.finished_at is None:
        return
    horizon = datetime.now(UTC) - timedelta(seconds=streams.retention_s)
    if session.finished_at < horizon:
        raise Gone(
            "this answer is no longer streamed; read it with GET /v1/conversations/"
            f"{session.conversation_id}",
            code="stream_expired",
        )
    # Its end may still be on its way (committed, not yet relayed): then the socket waits.
    if streams.done(key) and after >= streams.last_seq(key):
        raise Gone("this answer has ended and you have all of it", code="stream_finished")


@blueprint.get("/conversations")
@requires("chat:ask")
async def list_conversations() -> dict[str, Any]:
    who = principal()
    limit = int_arg("limit", default=50, low=1, high=500)
    offset = int_arg("offset", default=0, low=0, high=10**9)
    found = await chat.list_conversations(
        resources.pool(), who.tenant_id, who.user_id, limit=limit, offset=offset
    )
    return {"conversations": [_conversation(c) for c in found], "limit": limit, "offset": offset}


@blueprint.get("/conversations/<conversation_id>")
@requires("chat:ask")
async def get_conversation(conversation_id: str) -> dict[str, Any]:
    pool = resources.pool()
    who = principal()
    found = await _own_conversation(who, conversation_id)
    history = await chat.messages(pool, who.tenant_id, found.id)
    return _conversation(found) | {"messages": [_message(m) for m in history]}


@blueprint.delete("/conversations/<conversation_id>")
@requires("chat:ask")
async def delete_conversation(conversation_id: str) -> dict[str, Any]:
    who = principal()
    found = await _own_conversation(who, conversation_id)
    await workflow.delete_conversation(resources.pool(), who.tenant_id, who.user_id, found.id)
    return {"conversation_id": str(found.id), "deleted": True}


async def _own_conversation(who: Principal, conversation_id: str) -> Conversation:
    unknown = NotFound(f"no conversation {conversation_id}", code="unknown_conversation")
    key = uuid_or(conversation_id, unknown)
    found = await chat.get_conversation(resources.pool(), who.tenant_id, who.user_id, key)
    if found is None:
        raise unknown
    return found


def _conversation(c: Conversation) -> dict[str, Any]:
    return {
        "conversation_id": str(c.id),
        "title": c.title,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "message_id": str(m.id),
        "role": m.role,
        "content": m.content,
        "citations": m.citations,
        "usage": m.usage,
        "stream_session_id": str(m.session_id) if m.session_id else None,
        "created_at": m.created_at.isoformat(),
        "found": m.found,
    }


@blueprint.get("/usage")
@requires("usage:read")
async def get_usage() -> dict[str, Any]:
    return await usage.report(resources.pool(), principal().tenant_id, resources.budget())
