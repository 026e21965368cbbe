"""The topics are a public interface: names, schemas, and the payloads of every released version.

Each topic's record has Avro schemas in ``topics/schemas/<topic>/v<N>.avsc``. The current one
(highest N) must describe the Faust record exactly; each version must read the records of every
earlier one (BACKWARD_TRANSITIVE, Avro's own resolution rules); released versions are frozen
(``topics/schemas/RELEASED``); and a golden payload of each version still decodes.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import avro.schema
import pytest

import topics
from tests.topics import contract

GOLDEN = Path(__file__).parent / "golden"
DOCS = Path(__file__).parents[2] / "docs" / "topics.md"
# Golden payloads: ``golden/<topic>/v<N>.json`` and variants ``v<N>.<variant>.json``.
GOLDEN_FILES = sorted(str(path.relative_to(GOLDEN)) for path in GOLDEN.glob("*/v*.json"))
VERSIONS = sorted(
    str(path.relative_to(topics.SCHEMAS))
    for t in topics.ALL_TOPICS
    for path in contract.versions(t)
)


def _version_of(golden: str) -> tuple[str, Path]:
    topic, name = golden.split("/")
    return topic, topics.SCHEMAS / topic / f"{name.split('.')[0]}.avsc"


def _expected_key(record) -> str:
    """Document events by document, answer events by session, flags by service and name,
    usage by tenant alone."""
    if hasattr(record, "rollout_percent"):
        return f"acme:{record.service}:{record.name}"
    if hasattr(record, "document_id"):
        return f"acme:{record.document_id}"
    if hasattr(record, "session_id"):
        return f"acme:{record.session_id}"
    return "acme"


def test_public_names_are_pinned():
    assert sorted(topics.__all__) == sorted(
        [
            "ALL_TOPICS",
            "AUDIT",
            "AuditEvent",
            "COMPACTED",
            "FLAGS",
            "FlagChanged",
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
            "RECORD_OF_TOPIC",
            "RETENTION",
            "SCHEMAS",
            "AnswerEvent",
            "ChatRequested",
            "Citation",
            "Usage",
            "UsageRecorded",
            "session_key",
        ]
    )
    for name in topics.ALL_TOPICS:
        assert name.startswith("pdfchat.") and name.endswith(".v1")


def test_every_topic_has_schemas_and_a_golden_payload_of_each_version():
    assert sorted(p.name for p in topics.SCHEMAS.iterdir() if p.is_dir()) == sorted(
        topics.ALL_TOPICS
    )
    for topic in topics.ALL_TOPICS:
        numbers = [int(p.stem.removeprefix("v")) for p in contract.versions(topic)]
        assert numbers == list(range(1, len(numbers) + 1)), f"{topic}: versions {numbers}"
        golden = {_version_of(name)[1] for name in GOLDEN_FILES if name.startswith(f"{topic}/")}
        assert golden == set(contract.versions(topic))


@pytest.mark.parametrize("topic", topics.ALL_TOPICS)
def test_the_current_schema_is_the_faust_record(topic):
    """A field added, removed or retyped in the record without a new schema version fails
    here; so does a schema edited without the record."""
    published = json.loads(contract.versions(topic)[-1].read_text())
    assert contract.without_docs(published) == contract.avro_shape(topics.RECORD_OF_TOPIC[topic])


@pytest.mark.parametrize("topic", topics.ALL_TOPICS)
def test_every_version_reads_the_records_of_all_earlier_ones(topic):
    """BACKWARD_TRANSITIVE: a subscriber on any version reads everything still on the topic."""
    schemas = [contract.parse(path) for path in contract.versions(topic)]
    for newer in range(1, len(schemas)):
        for older in range(newer):
            assert contract.breaks(schemas[newer], schemas[older]) == [], (
                f"{topic} v{newer + 1} cannot read v{older + 1}"
            )


def test_released_versions_are_frozen():
    """Editing a released schema in place would slip a breaking change past the check above:
    only a new version may change a topic. Every version but the newest is released."""
    pinned = contract.released()
    for name, digest in pinned.items():
        path = topics.SCHEMAS / name
        assert path.exists(), f"released schema {name} was removed"
        assert contract.sha256(path) == digest, f"released schema {name} was changed in place"
    for topic in topics.ALL_TOPICS:
        for path in contract.versions(topic)[:-1]:
            assert str(path.relative_to(topics.SCHEMAS)) in pinned, f"{path} is not released"


@pytest.mark.parametrize("golden", GOLDEN_FILES)
def test_golden_payloads_of_every_version_conform_and_still_decode(golden):
    topic, version = _version_of(golden)
    payload = json.loads((GOLDEN / golden).read_text())
    assert contract.violations(contract.parse(version), payload) == []
    record = topics.RECORD_OF_TOPIC[topic].loads(json.dumps(payload).encode())
    assert record.tenant_id == "acme"
    assert record.kafka_key() == _expected_key(record)
    # Encoding today gives the same payload, plus the defaults of the fields added since.
    encoded = json.loads(record.dumps())
    assert {k: v for k, v in encoded.items() if k in payload} == payload
    added = {k: v for k, v in encoded.items() if k not in payload}
    defaults = topics.RECORD_OF_TOPIC[topic]._options.defaults
    assert added == {k: defaults[k] for k in added}
    if version == contract.versions(topic)[-1]:
        assert added == {}
    assert contract.violations(contract.current(topic), encoded) == []


@pytest.mark.parametrize("golden", GOLDEN_FILES)
def test_namespaces_are_versioned(golden):
    payload = json.loads((GOLDEN / golden).read_text())
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


def _changed(schema: dict, field: str, **change) -> avro.schema.Schema:
    changed = copy.deepcopy(schema)
    changed["fields"] = [
        {**f, **change} if f["name"] == field else f
        for f in changed["fields"]
        if change or f["name"] != field
    ]
    return avro.schema.parse(json.dumps(changed))


def test_the_gate_refuses_what_breaks_a_subscriber_and_allows_what_does_not():
    path = contract.versions(topics.CHAT_REQUESTED)[-1]
    released = json.loads(path.read_text())
    old = contract.parse(path)
    required = {"name": "priority", "type": "long"}
    optional = {"name": "priority", "type": ["null", "long"], "default": None}
    with_required = {**released, "fields": [*released["fields"], required]}
    with_optional = {**released, "fields": [*released["fields"], optional]}

    breaking = {
        "a field added without a default": avro.schema.parse(json.dumps(with_required)),
        "a string made a long": _changed(released, "question", type="long"),
        "a nullable field made required": _changed(released, "sla", type="string"),
        "a field renamed": _changed(released, "question", name="query"),
    }
    for change, new in breaking.items():
        assert contract.breaks(new, old), change
    assert contract.breaks(avro.schema.parse(json.dumps(with_optional)), old) == []


def test_strict_validation_finds_what_avro_lets_through():
    schema = contract.current(topics.STATUS)
    payload = json.loads((GOLDEN / f"{topics.STATUS}/v1.json").read_text())
    assert contract.violations(schema, payload) == []
    assert contract.violations(schema, {**payload, "extra": 1}) == ["/extra: not in the schema"]
    assert contract.violations(schema, {**payload, "at": "yesterday"}) == [
        "/at: 'yesterday' is not an ISO 8601 date-time"
    ]
    assert contract.violations(schema, {**payload, "status": None})


def _documented_examples() -> dict[str, dict]:
    """The example record under each topic's heading in docs/topics.md."""
    examples = {}
    for section in re.split(r"^## ", DOCS.read_text(), flags=re.MULTILINE)[1:]:
        heading = section.splitlines()[0]
        block = re.search(r"```json\n(.*?)```", section, flags=re.DOTALL)
        topic = next((t for t in topics.ALL_TOPICS if f"`{t}`" in heading), None)
        if topic and block:
            examples[topic] = json.loads(block.group(1))
    return examples


def test_the_subscribers_guide_shows_a_valid_example_of_every_topic():
    examples = _documented_examples()
    assert sorted(examples) == sorted(topics.ALL_TOPICS)
    for topic, example in examples.items():
        assert contract.violations(contract.current(topic), example) == [], topic
