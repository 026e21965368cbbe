"""One trace from the HTTP request through the outbox, every Kafka hop and every agent to the
database and the model call, read back from the real collector (Jaeger, every trace kept).

The session's worker and web server run with tracing on for this module (tests/stack/restart.py
puts the originals back after). The client starts the trace itself (a W3C `traceparent`), as
a caller's own tracing would, so the test knows its id.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest

import pdfgen
from cli.observability import Collector
from cli.stack import Stack
from config import Settings
from tests.stack.restart import apps_with
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def collector(stack: Stack, settings: Settings) -> Iterator[Collector]:
    traced = settings.model_copy(
        update={
            "otel_endpoint": f"http://127.0.0.1:{settings.collector_otlp_port}",
            "trace_sample_percent": 100.0,
        }
    )
    server = Collector(traced, decision_wait_s=1)
    server.start()
    try:
        with apps_with(stack, traced):
            yield server
    finally:
        server.stop()


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def _spans(collector: Collector, trace_id: str) -> list[tuple[str, str]]:
    """(service, operation) of every span of the trace the collector kept so far."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{collector.query_url}/api/traces/{trace_id}")
    if response.status_code != 200:
        return []
    spans = []
    for trace in response.json()["data"]:
        services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
        spans += [(services[s["processID"]], s["operationName"]) for s in trace["spans"]]
    return spans


async def _trace_holding(collector: Collector, trace_id: str, wanted: set[tuple[str, str]]):
    async def complete() -> bool:
        return wanted <= set(await _spans(collector, trace_id))

    try:
        await wait_until(complete, within_s=TIMEOUT_S, poll=0.5)
    except TimeoutError:
        found = sorted(set(await _spans(collector, trace_id)))
        raise AssertionError(f"missing {wanted - set(found)}; the trace has {found}") from None
    return await _spans(collector, trace_id)


async def test_an_upload_is_one_trace_from_the_request_to_every_agent(
    collector, settings, token, tenant
):
    trace_id, parent = _traceparent()
    headers = {"Authorization": f"Bearer {token(tenant)}", "traceparent": parent}
    upload = {"file": ("a.pdf", pdfgen.sample_pdf(2, seed=90))}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=headers) as http:
        response = await http.post("/v1/documents", files=upload)
    assert response.status_code == 202
    spans = await _trace_holding(
        collector,
        trace_id,
        {
            ("pdfchat-web", "POST /v1/documents"),
            ("pdfchat-worker", "publish pdfchat.documents.parse-requested.v1"),
            ("pdfchat-worker", "parse"),
            ("pdfchat-worker", "publish pdfchat.documents.parsed.v1"),
            ("pdfchat-worker", "embed"),
            ("pdfchat-worker", "publish pdfchat.documents.ready.v1"),
            ("pdfchat-worker", "topic_map"),
            ("pdfchat-worker", "encode"),
            # Work done behind the agents (agents/backlog.py), in the same trace.
            ("pdfchat-worker", "topic_map_document"),
            ("pdfchat-worker", "encode_document"),
        },
    )
    services = {service for service, _ in spans}
    assert services == {"pdfchat-web", "pdfchat-worker"}
    # The database calls of the web request and of the agents are in the trace too.
    database = [op for service, op in spans if op.split(" ")[0] in ("INSERT", "UPDATE", "SELECT")]
    assert len(database) >= 5, sorted(set(spans))


async def test_a_question_is_one_trace_down_to_the_search_and_the_model(
    collector, settings, token, tenant, api
):
    client = api(tenant)
    uploaded = await client.upload(pdfgen.sample_pdf(3, seed=91), "b.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([uploaded["document_id"]])

    async def asked(question: str) -> str:
        """The trace id of a question asked with a traceparent of our own."""
        trace_id, parent = _traceparent()
        headers = {"Authorization": f"Bearer {token(tenant)}", "traceparent": parent}
        async with httpx.AsyncClient(base_url=settings.web_url, headers=headers) as http:
            response = await http.post("/v1/chat", json={"question": question})
        assert response.status_code == 202, response.text
        return trace_id

    await _trace_holding(
        collector,
        await asked("what does it say of the plan?"),
        {
            ("pdfchat-web", "POST /v1/chat"),
            ("pdfchat-worker", "publish pdfchat.chat.requested.v1"),
            ("pdfchat-worker", "orchestrator"),
            ("pdfchat-worker", "search"),
            ("pdfchat-worker", "search.vector"),
            ("pdfchat-worker", "search.text"),
            ("pdfchat-worker", "search.rerank"),
            ("pdfchat-worker", "chat local:extractive"),
            ("pdfchat-worker", "publish pdfchat.chat.usage.v1"),
            ("pdfchat-worker", "accounting"),
        },
    )

    # A question about the whole document reads its opening instead (workflows.overview).
    await _trace_holding(
        collector,
        await asked("what is this about?"),
        {
            ("pdfchat-worker", "orchestrator"),
            ("pdfchat-worker", "overview"),
            ("pdfchat-worker", "chat local:extractive"),
        },
    )
