"""Topic names and record definitions: the public Kafka interface. No app import here."""

from datetime import timedelta

from topics.chat import (
    ANSWERS,
    CHAT_REQUESTED,
    USAGE,
    AnswerEvent,
    ChatRequested,
    Citation,
    Usage,
    UsageRecorded,
)
from topics.documents import (
    PARSE_DEAD_LETTERS,
    PARSE_REQUESTED,
    PARSED,
    READY,
    STATUS,
    DocumentParsed,
    DocumentReady,
    DocumentStatusChanged,
    ParseDeadLetter,
    ParseRequested,
)
from topics.keys import document_key, session_key

ALL_TOPICS = (
    PARSE_REQUESTED,
    PARSE_DEAD_LETTERS,
    PARSED,
    STATUS,
    READY,
    CHAT_REQUESTED,
    ANSWERS,
    USAGE,
)

# How long a topic keeps its records, where the broker default (7 days) is not right. Answer
# streams are replayed by web processes for reconnecting clients: an hour is ample, and they
# are the bulkiest topic.
RETENTION = {PARSE_DEAD_LETTERS: timedelta(days=30), ANSWERS: timedelta(hours=1)}

__all__ = [
    "ALL_TOPICS",
    "ANSWERS",
    "CHAT_REQUESTED",
    "PARSED",
    "PARSE_DEAD_LETTERS",
    "PARSE_REQUESTED",
    "READY",
    "RETENTION",
    "STATUS",
    "USAGE",
    "AnswerEvent",
    "ChatRequested",
    "Citation",
    "DocumentParsed",
    "DocumentReady",
    "DocumentStatusChanged",
    "ParseDeadLetter",
    "ParseRequested",
    "Usage",
    "UsageRecorded",
    "document_key",
    "session_key",
]
