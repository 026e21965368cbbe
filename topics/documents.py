"""Document lifecycle topics and their records (version 1).

Keys are ``<tenant_id>:<document_id>`` so one document's events stay in one partition, in
order, and every key names its tenant. Adding an optional field with a default is a compatible
change; anything else is a new record class on a ``.v2`` topic, run side by side.
"""

from __future__ import annotations

from datetime import datetime

from topics.keys import DocumentRecord

PARSE_REQUESTED = "pdfchat.documents.parse-requested.v1"
PARSE_DEAD_LETTERS = "pdfchat.documents.parse-requested.dlq.v1"
PARSED = "pdfchat.documents.parsed.v1"
STATUS = "pdfchat.documents.status.v1"
READY = "pdfchat.documents.ready.v1"


class ParseRequested(DocumentRecord, namespace="pdfchat.documents.ParseRequested.v1"):
    """A document was stored and waits to be parsed."""

    task_id: str
    blob_key: str
    filename: str
    requested_at: datetime
    requested_by: str


class DocumentParsed(DocumentRecord, namespace="pdfchat.documents.DocumentParsed.v1"):
    """Text and segments are in Postgres; the full parse result is in the blob store."""

    pages: int
    segments: int
    parse_result_key: str
    title: str | None
    parsed_at: datetime


class DocumentStatusChanged(DocumentRecord, namespace="pdfchat.documents.StatusChanged.v1"):
    """One state transition. ``status`` is ``deleted`` when the document was removed."""

    status: str
    previous: str | None
    at: datetime
    error_code: str | None = None
    error: str | None = None


class DocumentReady(DocumentRecord, namespace="pdfchat.documents.DocumentReady.v1"):
    """Every segment has a vector from ``model``: the document is searchable."""

    model: str
    dimension: int
    segments: int
    ready_at: datetime


class ParseDeadLetter(DocumentRecord, namespace="pdfchat.documents.ParseDeadLetter.v1"):
    """A parse request given up after ``attempts`` tries; ``request`` is the original."""

    request: ParseRequested
    attempts: int
    error: str
    failed_at: datetime
