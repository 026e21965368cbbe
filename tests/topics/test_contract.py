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
}


def test_public_names_are_pinned():
    assert sorted(topics.__all__) == sorted([
        "ALL_TOPICS", "PARSED", "PARSE_DEAD_LETTERS", "PARSE_REQUESTED", "READY", "STATUS",
        "DocumentParsed", "DocumentReady", "DocumentStatusChanged", "ParseDeadLetter",
        "ParseRequested", "document_key",
    ])  # fmt: skip
    assert set(topics.ALL_TOPICS) == set(RECORD_OF_TOPIC)
    for name in topics.ALL_TOPICS:
        assert name.startswith("pdfchat.") and name.endswith(".v1")


@pytest.mark.parametrize("topic", sorted(RECORD_OF_TOPIC))
def test_golden_v1_payloads_still_decode_and_round_trip(topic):
    payload = json.loads((GOLDEN / f"{topic}.json").read_text())
    record_type = RECORD_OF_TOPIC[topic]
    record = record_type.loads(json.dumps(payload).encode())
    assert record.tenant_id == "acme"
    assert record.kafka_key() == f"acme:{record.document_id}"
    # Encoding today gives exactly the v1 payload: no field renamed, retyped or dropped.
    assert json.loads(record.dumps()) == payload


@pytest.mark.parametrize("topic", sorted(RECORD_OF_TOPIC))
def test_namespaces_are_versioned(topic):
    payload = json.loads((GOLDEN / f"{topic}.json").read_text())
    assert payload["__faust"]["ns"].endswith(".v1")
