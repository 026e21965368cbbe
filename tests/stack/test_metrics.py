"""Every process's /metrics, scraped from the live stack after real work: the families
operators alert on exist with their labels, and the ones this work touched have moved."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pdfgen
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

WEB_FAMILIES = {
    "pdfchat_http_requests": {"route", "method", "status"},
    "pdfchat_http_request_duration_seconds": {"route", "method"},
    "pdfchat_search_duration_seconds": {"mode"},
    "pdfchat_websocket_connections": set(),
    "pdfchat_consumer_lag_messages": {"group", "topic", "partition"},
    "pdfchat_dlq_messages": {"topic"},
    "pdfchat_outbox_backlog_messages": set(),
    "pdfchat_outbox_oldest_age_seconds": set(),
    "pdfchat_task_age_seconds": {"state"},
    "pdfchat_documents": {"status"},
    "pdfchat_documents_without_postings": set(),
    "pdfchat_documents_given_up": {"work"},
    "pdfchat_tenant_budget_used_ratio": {"tenant"},
}
WORKER_FAMILIES = {
    "pdfchat_agent_events": {"agent", "outcome"},
    "pdfchat_agent_event_duration_seconds": {"agent"},
    "pdfchat_parse_duration_seconds": set(),
    "pdfchat_parsed_pages": set(),
    "pdfchat_embed_duration_seconds": set(),
    "pdfchat_embedded_segments": set(),
    "pdfchat_failures": {"stage", "error_code"},
    "pdfchat_chat_time_to_first_token_seconds": set(),
    "pdfchat_chat_tokens": {"tenant", "model", "direction"},
    "pdfchat_chat_cost_usd": {"tenant", "model"},
    "pdfchat_circuit_breaker_state": {"model"},
    "pdfchat_search_duration_seconds": {"mode"},
}
DECLARED_ONLY = {"pdfchat_retries", "pdfchat_dependency_outage_waits"}


def _scrape(url: str) -> dict[str, list]:
    text = httpx.get(url, timeout=10).text
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _labels(samples: list) -> set[str]:
    return {name for s in samples for name in s.labels} - {"le"}


async def _exercise(api, tenant: str) -> None:
    client = api(tenant)
    good = await client.upload(pdfgen.sample_pdf(3, seed=41), "good.pdf")
    bad = await client.upload(pdfgen.corrupt_pdf(), "bad.pdf")
    async with asyncio.timeout(120):
        await client.wait_for([good["document_id"], bad["document_id"]])
    await client.search("what does the document say", top_k=3)
    asked = await client.chat("what does the document say?")
    async with asyncio.timeout(60):
        async for message in client.answer(asked["stream_session_id"]):
            if message["type"] in ("end", "error"):
                break


async def test_every_process_exports_its_families(api, tenant, settings):
    await _exercise(api, tenant)
    web = f"{settings.web_url}/metrics"
    worker = f"http://127.0.0.1:{settings.worker_web_port_base}/metrics"

    def polled() -> bool:  # the web process polls lag and the database every metrics_poll_s
        scraped = _scrape(web)
        lag = scraped.get("pdfchat_consumer_lag_messages", [])
        # The budget gauge needs the answer's usage accounted (an agent, after the end) first.
        return bool(scraped.get("pdfchat_tenant_budget_used_ratio")) and any(
            s.labels["topic"].startswith("pdfchat.") for s in lag
        )

    await wait_until(polled, within_s=60)
    for url, families in ((web, WEB_FAMILIES), (worker, WORKER_FAMILIES)):
        scraped = _scrape(url)
        for name, labels in families.items():
            assert scraped.get(name), f"{url}: no samples of {name}"
            assert labels <= _labels(scraped[name]), f"{url}: {name} lacks {labels}"
    worker_scrape = _scrape(worker)
    for name in DECLARED_ONLY:
        assert name in worker_scrape, f"{name} is not declared"
    failures = {s.labels["error_code"] for s in worker_scrape["pdfchat_failures"]}
    assert "corrupt" in failures, failures
    supervisor = _scrape(f"http://127.0.0.1:{settings.supervisor_port}/metrics")
    assert {s.labels["service"] for s in supervisor["pdfchat_supervisor_service_up"]} >= {
        "postgres",
        "kafka",
        "worker-1",
        "web",
    }
