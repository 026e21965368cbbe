"""The topics are a public interface: names, record namespaces and v1 payloads are pinned.

A golden payload that no longer decodes, or a field that changed, fails here. Add optional
fields with defaults freely; anything else needs a new record on a ``.v2`` topic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import topics

GOLDEN = Path(__file__).parent / "golden"

RECORD_OF_TOPIC = {
    topics.PARSE_REQUESTED: topics.ParseRequested,
    topics.PARSED: topics.DocumentParsed,
    topics.STATUS: topics.DocumentStatusChanged,
    topics.PARSE_DEAD_LETTERS: topics.ParseDeadLetter,
    topics.READY: topics.DocumentReady,
    topics.CHAT_REQUESTED: topics.ChatRequested,
    topics.ANSWERS: topics.AnswerEvent,
    topics.USAGE: topics.UsageRecorded,
}
# Every golden payload: ``<topic>.json`` and variants ``<topic>.<variant>.json``.
GOLDEN_FILES = sorted(path.name for path in GOLDEN.glob("*.json"))


def _topic_of(filename: str) -> str:
    return next(t for t in RECORD_OF_TOPIC if filename.startswith(f"{t}."))


def _expected_key(record) -> str:
    """Document events by document, answer events by session, usage by tenant alone."""
    if hasattr(record, "document_id"):
        return f"acme:{record.document_id}"
    if hasattr(record, "session_id"):
        return f"acme:{record.session_id}"
    return "acme"


def test_public_names_are_pinned():
    assert sorted(topics.__all__) == sorted(
        [
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
            "ANSWERS",
            "CHAT_REQUESTED",
            "USAGE",
            "RETENTION",
            "AnswerEvent",
            "ChatRequested",
            "Citation",
            "Usage",
            "UsageRecorded",
            "session_key",
        ]
    )
    assert set(topics.ALL_TOPICS) == set(RECORD_OF_TOPIC)
    for name in topics.ALL_TOPICS:
        assert name.startswith("pdfchat.") and name.endswith(".v1")


def test_every_topic_has_a_golden_payload():
    assert {_topic_of(name) for name in GOLDEN_FILES} == set(RECORD_OF_TOPIC)


@pytest.mark.parametrize("filename", GOLDEN_FILES)
def test_golden_v1_payloads_still_decode_and_round_trip(filename):
    payload = json.loads((GOLDEN / filename).read_text())
    record_type = RECORD_OF_TOPIC[_topic_of(filename)]
    record = record_type.loads(json.dumps(payload).encode())
    assert record.tenant_id == "acme"
    assert record.kafka_key() == _expected_key(record)
    # Encoding today gives exactly the v1 payload: no field renamed, retyped or dropped.
    assert json.loads(record.dumps()) == payload


@pytest.mark.parametrize("filename", GOLDEN_FILES)
def test_namespaces_are_versioned(filename):
    payload = json.loads((GOLDEN / filename).read_text())
    assert payload["__faust"]["ns"].endswith(".v1")
    nested = [v for v in payload.values() if isinstance(v, dict) and "__faust" in v]
    nested += [
        i
        for v in payload.values()
        if isinstance(v, list)
        for i in v
        if isinstance(i, dict) and "__faust" in i
    ]
    assert all(n["__faust"]["ns"].endswith(".v1") for n in nested)
