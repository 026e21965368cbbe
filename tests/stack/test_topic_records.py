"""What subscribers read: every record the stack produced conforms to its topic's published
schema, and carries the trace context and request id of the API call behind it."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

import pdfgen
import topics
from tests.records import headers_of, injected, read_all
from tests.topics import contract
from tests.waiting import wait_until

TIMEOUT_S = 120
DOCUMENT_TOPICS = (topics.PARSE_REQUESTED, topics.PARSED, topics.STATUS, topics.READY)


@pytest.fixture
async def http(settings, token, tenant):
    async with httpx.AsyncClient(
        base_url=settings.web_url, headers={"Authorization": f"Bearer {token(tenant)}"}
    ) as client:
        yield client


async def _send(http: httpx.AsyncClient, method: str, path: str, **kwargs) -> tuple[dict, str]:
    """The response body and the request id we gave the call."""
    rid = f"{path.split('/')[2]}-{uuid.uuid4().hex[:12]}"
    response = await http.request(method, path, headers={"X-Request-ID": rid}, **kwargs)
    assert response.status_code < 300, response.text
    assert response.headers["X-Request-ID"] == rid
    return response.json(), rid


async def test_an_upload_a_question_and_a_delete_publish_records_a_subscriber_can_trust(
    settings, http, api, tenant
):
    files = {"file": ("ledger.pdf", pdfgen.sample_pdf(2, seed=77), "application/pdf")}
    uploaded, upload_rid = await _send(http, "POST", "/v1/documents", files=files)
    document_id = uploaded["document_id"]
    client = api(tenant)
    async with asyncio.timeout(TIMEOUT_S):
        assert (await client.wait_for([document_id]))[document_id]["status"] == "ready"
    asked, chat_rid = await _send(http, "POST", "/v1/chat", json={"question": "What is recorded?"})
    session_id = asked["stream_session_id"]
    async with asyncio.timeout(TIMEOUT_S):
        answer = [message async for message in client.answer(session_id)]
    assert answer[-1]["type"] == "end"
    _, delete_rid = await _send(http, "DELETE", f"/v1/documents/{document_id}")

    async def usage_recorded() -> bool:
        return any(json.loads(r.value)["usage_id"] == session_id for r in await _usage(settings))

    await wait_until(usage_recorded, within_s=TIMEOUT_S)

    async def deleted() -> bool:
        statuses = await _records(settings, topics.STATUS, f"{tenant}:{document_id}")
        return any(json.loads(r.value)["status"] == "deleted" for r in statuses)

    await wait_until(deleted, within_s=TIMEOUT_S)

    ours = {
        topic: await _records(settings, topic, f"{tenant}:{document_id}")
        for topic in DOCUMENT_TOPICS
    }
    ours[topics.CHAT_REQUESTED] = await _records(
        settings, topics.CHAT_REQUESTED, f"{tenant}:{session_id}"
    )
    ours[topics.ANSWERS] = await _records(settings, topics.ANSWERS, f"{tenant}:{session_id}")
    ours[topics.USAGE] = [
        r for r in await _usage(settings) if json.loads(r.value)["usage_id"] == session_id
    ]
    assert all(ours.values()), {topic: len(records) for topic, records in ours.items()}

    for topic, records in ours.items():
        for record in records:
            value = json.loads(record.value)
            headers = headers_of(record)
            expected = delete_rid if value.get("status") == "deleted" else upload_rid
            if topic in (topics.CHAT_REQUESTED, topics.ANSWERS, topics.USAGE):
                expected = chat_rid
            assert headers.get("x-request-id") == expected, (topic, value, headers)
            assert headers.get("traceparent", "").startswith("00-"), (topic, headers)
    # One API call is one trace: a subscriber can join the upload's records on it.
    upload_traces = {
        headers_of(r)["traceparent"].split("-")[1]
        for topic in DOCUMENT_TOPICS
        for r in ours[topic]
        if json.loads(r.value).get("status") != "deleted"
    }
    assert len(upload_traces) == 1


async def test_every_record_on_every_topic_conforms_to_its_published_schema(settings):
    """Everything the session's stack has produced so far, by every test before this one,
    sweeps and faults included: it conforms, and it joins a trace. Records tests wrote by
    hand (tests.records.INJECTED) are not the stack's."""
    checked, wrong = 0, []
    for topic in topics.ALL_TOPICS:
        schema = contract.current(topic)
        for record in await read_all(settings, topic):
            if injected(record):
                continue
            checked += 1
            value = json.loads(record.value)
            problems = contract.violations(schema, value)
            if record.key.decode().split(":")[0] != value["tenant_id"]:
                problems.append(f"key {record.key!r} is not the tenant's")
            if not headers_of(record).get("traceparent", "").startswith("00-"):
                problems.append(f"no traceparent in {headers_of(record)}")
            wrong += [(topic, record.offset, problem) for problem in problems]
    assert checked > 0
    assert wrong == []


async def _records(settings, topic: str, key: str) -> list:
    return [r for r in await read_all(settings, topic) if r.key == key.encode()]


async def _usage(settings) -> list:
    return await read_all(settings, topics.USAGE)
