"""Chat topics and their records (version 1).

A question travels as ``ChatRequested`` to the orchestrator; the answer comes back as a
sequence of ``AnswerEvent`` records (tokens, then citations, then an end or an error) that the
web tier relays to the socket; each finished answer emits one ``UsageRecorded`` for cost
accounting. Keys are ``<tenant_id>:<stream_session_id>`` for the first two (one answer's
events share a partition and stay in order) and ``<tenant_id>`` for usage (one tenant's
totals live in one partition of the accounting table).
"""

from __future__ import annotations

from datetime import datetime

import faust

from topics.keys import SessionRecord

CHAT_REQUESTED = "pdfchat.chat.requested.v1"
ANSWERS = "pdfchat.chat.answers.v1"
USAGE = "pdfchat.chat.usage.v1"

# The answer stream types, in the order a session emits them.
TOKEN, CITATIONS, END, ERROR = "token", "citations", "end", "error"


class ChatRequested(SessionRecord, namespace="pdfchat.chat.ChatRequested.v1"):
    """A question waits for an answer; the session row in Postgres holds the same facts."""

    user_id: str
    conversation_id: str
    message_id: str
    question: str
    document_ids: list[str] | None
    requested_at: datetime
    # "interactive" prefers models quick to their first token; "batch" (or none) takes the
    # catalog's order.
    sla: str | None = None


class Citation(faust.Record, serializer="json", namespace="pdfchat.chat.Citation.v1"):
    document_id: str
    page: int
    segment_id: str
    quote: str
    marker: int | None = None  # the [n] of the answer text that points here


class Usage(faust.Record, serializer="json", namespace="pdfchat.chat.Usage.v1"):
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


class AnswerEvent(SessionRecord, namespace="pdfchat.chat.AnswerEvent.v1"):
    """One message of an answer stream. ``seq`` counts from 1 within the session.

    ``type`` is ``token`` (``content``), ``citations`` (``items``), ``end`` (``usage``) or
    ``error`` (``code``, ``message``); ``end`` and ``error`` are the last of a session.

    A token record may carry the tokens that follow it too (``more``, version 2): the
    orchestrator sends the tokens of a short window in one record, so a 100-word answer is a
    few records, not 100. Token ``seq`` is ``content``, ``seq + 1`` is ``more[0]``, and so on:
    the socket still gets one message per token, and ``last_token_seq`` stays exact.

    An end record says whether the answer was found in the documents (``found``, version 3):
    false when the model said they do not have it.
    """

    seq: int
    type: str
    at: datetime
    content: str | None = None
    items: list[Citation] | None = None
    usage: Usage | None = None
    code: str | None = None
    message: str | None = None
    more: list[str] | None = None
    found: bool | None = None

    def to_message(self) -> dict[str, object]:
        """The WebSocket message of API v1 for this event."""
        message: dict[str, object] = {"type": self.type, "seq": self.seq}
        if self.type == TOKEN:
            message["content"] = self.content
        elif self.type == CITATIONS:
            message["items"] = [item.asdict() for item in self.items or []]
        elif self.type == END:
            message["usage"] = self.usage.asdict() if self.usage else None
            if self.found is not None:
                message["found"] = self.found
        else:
            message.update(code=self.code, message=self.message)
        return message

    def messages(self) -> list[dict[str, object]]:
        """The WebSocket messages of API v1 in this record: one per token it carries."""
        first = self.to_message()
        if self.type != TOKEN or not self.more:
            return [first]
        rest = [
            {"type": TOKEN, "seq": self.seq + n, "content": text}
            for n, text in enumerate(self.more, 1)
        ]
        return [first, *rest]

    @property
    def last_seq(self) -> int:
        """The number of the last message in this record."""
        return self.seq + len(self.more or ()) if self.type == TOKEN else self.seq

    @property
    def is_last(self) -> bool:
        return self.type in (END, ERROR)


class UsageRecorded(
    faust.Record, serializer="json", isodates=True, namespace="pdfchat.chat.UsageRecorded.v1"
):
    """The model calls of one finished answer, priced. ``usage_id`` is the session id."""

    tenant_id: str
    usage_id: str
    user_id: str
    conversation_id: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    recorded_at: datetime

    def kafka_key(self) -> str:
        return self.tenant_id
