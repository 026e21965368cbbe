"""Topic names and record definitions: the public Kafka interface. No app import here."""

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
    document_key,
)

ALL_TOPICS = (PARSE_REQUESTED, PARSE_DEAD_LETTERS, PARSED, STATUS, READY)

__all__ = [
    "ALL_TOPICS",
    "PARSED",
    "PARSE_DEAD_LETTERS",
    "PARSE_REQUESTED",
    "READY",
    "STATUS",
    "DocumentParsed",
    "DocumentReady",
    "DocumentStatusChanged",
    "ParseDeadLetter",
    "ParseRequested",
    "document_key",
]
