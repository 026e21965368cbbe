"""Topic names and record definitions: the public Kafka interface. No app import here."""

from datetime import timedelta
from pathlib import Path

import faust

from topics.audit import AUDIT, AuditEvent
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
from topics.flags import FLAGS, FlagChanged
from topics.keys import document_key, session_key

# The record type of each topic. Its published Avro schemas are ``SCHEMAS/<topic>/v<N>.avsc``,
# the highest N current; every version reads the records of all earlier ones.
RECORD_OF_TOPIC: dict[str, type[faust.Record]] = {
    PARSE_REQUESTED: ParseRequested,
    PARSE_DEAD_LETTERS: ParseDeadLetter,
    PARSED: DocumentParsed,
    STATUS: DocumentStatusChanged,
    READY: DocumentReady,
    CHAT_REQUESTED: ChatRequested,
    ANSWERS: AnswerEvent,
    USAGE: UsageRecorded,
    AUDIT: AuditEvent,
    FLAGS: FlagChanged,
}
SCHEMAS = Path(__file__).parent / "schemas"
ALL_TOPICS = tuple(RECORD_OF_TOPIC)

# How long a topic keeps its records, where the broker default (7 days) is not right. Answer
# streams are replayed by web processes for reconnecting clients: an hour is ample, and they
# are the bulkiest topic.
RETENTION = {
    PARSE_DEAD_LETTERS: timedelta(days=30),
    ANSWERS: timedelta(hours=1),
    # The trail's record of account is PostgreSQL and the daily archives; the topic feeds them
    # and subscribers (a security team's SIEM) that may be down for a while.
    AUDIT: timedelta(days=30),
}

# Topics whose broker keeps the last record of each key for ever, instead of records for a
# while: a reader from the beginning finds every key's latest state (Kafka's log compaction).
COMPACTED = frozenset({FLAGS})

__all__ = [
    "ALL_TOPICS",
    "ANSWERS",
    "AUDIT",
    "CHAT_REQUESTED",
    "COMPACTED",
    "FLAGS",
    "PARSED",
    "PARSE_DEAD_LETTERS",
    "PARSE_REQUESTED",
    "READY",
    "RECORD_OF_TOPIC",
    "RETENTION",
    "SCHEMAS",
    "STATUS",
    "USAGE",
    "AnswerEvent",
    "AuditEvent",
    "ChatRequested",
    "Citation",
    "DocumentParsed",
    "DocumentReady",
    "DocumentStatusChanged",
    "FlagChanged",
    "ParseDeadLetter",
    "ParseRequested",
    "Usage",
    "UsageRecorded",
    "document_key",
    "session_key",
]
