"""The topics' contract, checked: published Avro schemas against the Faust records, against
their own earlier versions, and against the records the stack produces.

The Avro schema a Faust record implies (``avro_shape``):

Records travel as JSON (Faust's ``json`` serializer), so the schema describes the JSON: a
timestamp is an ISO 8601 string (``"format": "date-time"``), an ``int`` a ``long``, an optional
field a union with ``null`` (default ``null`` when the record has that default), a nested
record a named record, and every record ends with Faust's ``__faust`` field naming its type.
Docs are left out: the published schema has them, and they are not part of the shape.
"""

from __future__ import annotations

import hashlib
import json
import types
from datetime import datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import avro.io
import avro.schema
import faust
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

import topics

# Released versions, frozen: ``<sha256>  <topic>/v<N>.avsc`` per line. A change to a released
# file is refused; a new version is a new file, checked against every earlier one.
RELEASED = topics.SCHEMAS / "RELEASED"

FAUST_FIELD = {
    "name": "__faust",
    "type": {
        "type": "record",
        "name": "FaustType",
        "namespace": "pdfchat",
        "fields": [{"name": "ns", "type": "string"}],
    },
}
PRIMITIVES: dict[type, Any] = {
    str: "string",
    int: "long",
    float: "double",
    bool: "boolean",
    datetime: {"type": "string", "format": "date-time"},
}


def versions(topic: str) -> list[Path]:
    """The schema files of ``topic``, oldest first."""
    return sorted(
        (topics.SCHEMAS / topic).glob("v*.avsc"), key=lambda path: int(path.stem.removeprefix("v"))
    )


def parse(path: Path) -> avro.schema.Schema:
    return avro.schema.parse(path.read_text())


def current(topic: str) -> avro.schema.Schema:
    return parse(versions(topic)[-1])


def released() -> dict[str, str]:
    """Each released schema file (relative to ``topics.SCHEMAS``) → its pinned sha256."""
    pinned = (line.split() for line in RELEASED.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pinned}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def breaks(reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[str]:
    """Why a consumer with schema ``reader`` could not read records written with ``writer``
    (empty when it can): Avro's own schema resolution rules."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    return sorted(
        f"{message} at {', '.join(sorted(result.locations))}" for message in result.messages
    )


def violations(schema: avro.schema.Schema, datum: Any, where: str = "") -> list[str]:
    """What is wrong with the decoded JSON ``datum`` under ``schema``. Stricter than
    ``avro.io.validate``: a field the schema does not have is an error, and a ``date-time``
    string must be ISO 8601."""
    if isinstance(schema, avro.schema.UnionSchema):
        if any(not violations(branch, datum) for branch in schema.schemas):
            return []
        return [f"{where or '/'}: {json.dumps(datum)[:80]} is none of {schema.to_json()}"]
    if isinstance(schema, avro.schema.RecordSchema):
        if not isinstance(datum, dict):
            return [f"{where or '/'}: {json.dumps(datum)[:80]} is not a record"]
        names = {field.name for field in schema.fields}
        found = [f"{where}/{key}: not in the schema" for key in datum if key not in names]
        for field in schema.fields:
            found += violations(field.type, datum.get(field.name), f"{where}/{field.name}")
        return found
    if isinstance(schema, avro.schema.ArraySchema):
        if not isinstance(datum, list):
            return [f"{where}: {json.dumps(datum)[:80]} is not an array"]
        return [
            e
            for i, item in enumerate(datum)
            for e in violations(schema.items, item, f"{where}/{i}")
        ]
    if not avro.io.validate(schema, datum):
        return [f"{where}: {json.dumps(datum)[:80]} is not a {schema.type}"]
    if schema.get_prop("format") == "date-time":
        try:
            datetime.fromisoformat(datum)
        except ValueError:
            return [f"{where}: {datum!r} is not an ISO 8601 date-time"]
    return []


def avro_shape(record: type[faust.Record]) -> dict[str, Any]:
    return _record(record, defined=set())


def without_docs(schema: Any) -> Any:
    """``schema`` with every ``doc`` removed, for comparing shapes."""
    if isinstance(schema, dict):
        return {k: without_docs(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [without_docs(item) for item in schema]
    return schema


def full_name(record: type[faust.Record]) -> tuple[str, str]:
    """(namespace, name): ``pdfchat.chat.AnswerEvent.v1`` is ``AnswerEvent`` in
    ``pdfchat.chat``. The version stays out of the name, so the name is stable across
    versions (the topic's name carries the major version)."""
    *namespace, name, _version = record._options.namespace.split(".")
    return ".".join(namespace), name


def _record(record: type[faust.Record], defined: set[str]) -> Any:
    namespace, name = full_name(record)
    qualified = f"{namespace}.{name}"
    if qualified in defined:
        return qualified
    defined.add(qualified)
    options = record._options
    fields = []
    for field, annotation in options.fields.items():
        entry: dict[str, Any] = {"name": field, "type": _type(annotation, defined)}
        if field in options.defaults:
            entry["default"] = options.defaults[field]
        fields.append(entry)
    faust_field = (
        FAUST_FIELD
        if "pdfchat.FaustType" not in defined
        else {
            "name": "__faust",
            "type": "pdfchat.FaustType",
        }
    )
    defined.add("pdfchat.FaustType")
    return {
        "type": "record",
        "name": name,
        "namespace": namespace,
        "fields": [*fields, faust_field],
    }


def _type(annotation: Any, defined: set[str]) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        (member,) = members
        return ["null", _type(member, defined)]
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": _type(item, defined)}
    if isinstance(annotation, type) and issubclass(annotation, faust.Record):
        return _record(annotation, defined)
    return PRIMITIVES[annotation]
