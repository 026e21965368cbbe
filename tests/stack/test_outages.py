"""Outages and crashes on the real stack: nothing stalls silently, nothing is restarted by hand.

Postgres and then the broker go away for 10 s in the middle of an ingest of 30 documents;
every document still ends ready with the segments of a clean run, and the worker and web
processes live through it (same pids). A killed worker is brought back by the supervisor.
/readyz says when a worker is missing. Each test leaves the stack as it found it.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import httpx
import pytest

import pdfgen
from pdf import parse_pdf
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

DOCUMENTS = 30
OUTAGE_S = 10.0
TIMEOUT_S = 240


async def _ingest_through_outage(stack, api, tenant, settings, db, service: str) -> None:
    client = api(tenant)
    files = [pdfgen.sample_pdf(4 + i % 5, seed=1000 + i) for i in range(DOCUMENTS)]
    apps = {name: stack.pid(name) for name in ("worker-1", "web")}
    ids = [
        (await client.upload(data, f"doc-{i}.pdf"))["document_id"] for i, data in enumerate(files)
    ]

    async def some_ready() -> bool:
        return any(d["status"] == "ready" for d in await client.documents(limit=100))

    await wait_until(some_ready, within_s=TIMEOUT_S)
    stack.hold(service)  # the supervisor leaves it down for the outage
    stack.kill(service, signal.SIGKILL)
    outage_ends = time.monotonic() + OUTAGE_S
    while time.monotonic() < outage_ends:  # the outage itself lasts a fixed time
        await asyncio.sleep(0.5)
        assert all(stack.pid(name) == pid for name, pid in apps.items()), "an app died"
    stack.release(service)  # the supervisor, not the test, starts it again
    await wait_until(lambda: stack.service(service).healthy(), within_s=TIMEOUT_S)

    async with asyncio.timeout(TIMEOUT_S):
        views = await client.wait_for(ids)
    assert {v["status"] for v in views.values()} == {"ready"}, views
    for document_id, data in zip(ids, files, strict=True):
        clean = parse_pdf(data, max_pages=settings.max_pages, segment_chars=settings.segment_chars)
        doc = uuid.UUID(document_id)
        assert await db.fetchval("SELECT count(*) FROM segments WHERE doc_id = $1", doc) == len(
            clean.segments
        )
        embedded = await db.fetchval(
            "SELECT count(*) FROM segment_embeddings WHERE doc_id = $1", doc
        )
        assert embedded == len(clean.segments)
    assert {name: stack.pid(name) for name in apps} == apps, "an app was restarted"


async def test_a_postgres_outage_during_ingest_loses_nothing(stack, api, tenant, settings, db):
    await _ingest_through_outage(stack, api, tenant, settings, db, "postgres")


async def test_a_broker_outage_during_ingest_loses_nothing(stack, api, tenant, settings, db):
    await _ingest_through_outage(stack, api, tenant, settings, db, "kafka")


async def test_the_supervisor_restarts_a_killed_worker(stack, api, tenant):
    before = stack.pid("worker-1")
    stack.kill("worker-1", signal.SIGKILL)

    def replaced() -> bool:
        pid = stack.pid("worker-1")
        return pid not in (None, before) and stack.service("worker-1").healthy()

    await wait_until(replaced, within_s=TIMEOUT_S)
    client = api(tenant)
    uploaded = await client.upload(pdfgen.sample_pdf(2, seed=7), "after.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        views = await client.wait_for([uploaded["document_id"]])
    assert views[uploaded["document_id"]]["status"] == "ready"
    assert 'pdfchat_supervisor_restarts_total{service="worker-1"}' in _supervisor_metrics(stack)


def _supervisor_metrics(stack) -> str:
    return httpx.get(f"http://127.0.0.1:{stack.settings.supervisor_port}/metrics").text


async def test_readyz_reports_a_missing_worker(stack, settings):
    async def readiness() -> tuple[int, dict]:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{settings.web_url}/readyz")
        return response.status_code, response.json()

    assert (await readiness())[0] == 200
    stack.stop("worker-1")
    try:

        async def reported() -> bool:
            status, body = await readiness()
            return status == 503 and not body["checks"]["workers"]["ok"]

        await wait_until(reported, within_s=settings.worker_missing_after_s + 30)
        _, body = await readiness()
        error = body["checks"]["workers"]["error"]
        assert "parse_documents" in error and "worker-1" in error
    finally:
        stack.start("worker-1")
    await wait_until(lambda: _ready(settings), within_s=TIMEOUT_S)


async def _ready(settings) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{settings.web_url}/readyz")).status_code == 200


async def test_a_document_whose_work_order_was_lost_is_driven_again(api, tenant, db):
    client = api(tenant)
    uploaded = await client.upload(pdfgen.sample_pdf(3, seed=11), "lost.pdf")
    doc = uploaded["document_id"]
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([doc])
    # As if the parsed event had been lost before the embed task existed.
    await db.execute(
        "UPDATE documents SET status = 'parsed', updated_at = now() - interval '60 seconds'"
        " WHERE id = $1",
        uuid.UUID(doc),
    )
    await db.execute("DELETE FROM tasks WHERE document_id = $1 AND kind = 'embed'", uuid.UUID(doc))

    async def ready_again() -> bool:
        return (await client.document(doc))["status"] == "ready"

    await wait_until(ready_again, within_s=TIMEOUT_S)


async def test_a_document_stuck_past_its_deadline_fails_with_a_reason(api, tenant, db, settings):
    client = api(tenant)
    uploaded = await client.upload(pdfgen.sample_pdf(2, seed=12), "stuck.pdf")
    doc = uploaded["document_id"]
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([doc])
    await db.execute(
        "UPDATE documents SET status = 'embedding',"
        " updated_at = now() - make_interval(secs => $2) WHERE id = $1",
        uuid.UUID(doc),
        settings.document_deadline_s + 60,
    )

    async def failed() -> bool:
        return (await client.document(doc))["status"] == "failed"

    await wait_until(failed, within_s=TIMEOUT_S)
    view = await client.document(doc)
    assert view["error_code"] == "stuck"
    assert "embedding" in view["error"] and "runbook" in view["error"]
