"""Workers: crash and restart, sharing partitions, dead letters, the outbox, table recovery.

These tests stop, kill and start worker processes of the session's stack; each leaves
worker-1 running, alone, as it found it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client.parser import text_string_to_metric_families

import pdfgen
import topics
from pdf import parse_pdf
from pdf.extract import RANGE_PAGES
from tests.records import headers_of, read_all
from tests.stack.processes import page_readers
from tests.topics import contract
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

TIMEOUT_S = 120


async def _parsed_counts(db, tenant: str) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT document_id::text AS id, count(*) AS n FROM document_events"
        " WHERE tenant_id = $1 AND status = 'parsed' GROUP BY document_id",
        tenant,
    )
    return {r["id"]: r["n"] for r in rows}


async def test_killed_worker_restarts_and_finishes_every_document_exactly_once(
    stack, api, tenant, settings, db
):
    client = api(tenant)
    files = [pdfgen.big_pdf(150 + 10 * i) for i in range(6)]
    ids = [
        (await client.upload(data, f"big-{i}.pdf"))["document_id"] for i, data in enumerate(files)
    ]

    async def someone_parsing() -> bool:
        return any(d["status"] == "parsing" for d in await client.documents())

    await wait_until(someone_parsing, within_s=TIMEOUT_S)
    stack.kill("worker-1", signal.SIGKILL)
    stack.start("worker-1")

    async with asyncio.timeout(TIMEOUT_S):
        views = await client.wait_for(ids)
    assert {v["status"] for v in views.values()} == {"ready"}
    assert await _parsed_counts(db, tenant) == dict.fromkeys(ids, 1)
    for document_id, data in zip(ids, files, strict=True):
        expected = parse_pdf(
            data, max_pages=settings.max_pages, segment_chars=settings.segment_chars
        )
        rows = await db.fetch(
            "SELECT seq, page FROM segments WHERE doc_id = $1 ORDER BY seq", uuid.UUID(document_id)
        )
        assert [(r["seq"], r["page"]) for r in rows] == [(c.seq, c.page) for c in expected.segments]
    # At least one document was interrupted and needed a second attempt.
    attempts = await db.fetch("SELECT attempts FROM tasks WHERE tenant_id = $1", tenant)
    assert max(r["attempts"] for r in attempts) >= 2


async def test_a_dead_page_reader_is_replaced_and_its_document_parsed_again(
    stack, api, tenant, settings, db
):
    """A process reading page ranges dies (the OOM killer, a crash in MuPDF): the worker
    lives on, replaces its pool of readers, and the next attempt parses the whole document."""
    worker = psutil.Process(stack.pid("worker-1"))
    assert settings.parse_processes >= 1
    await wait_until(  # started with the worker's resources, just after it answers health
        lambda: len(page_readers(stack, "worker-1")) == settings.parse_processes,
        within_s=TIMEOUT_S,
    )
    readers = page_readers(stack, "worker-1")
    for reader in readers:  # hold them, so the parse is surely waiting on its ranges
        reader.suspend()
    client = api(tenant)
    data = pdfgen.big_pdf(2 * RANGE_PAGES, seed=12)
    document_id = (await client.upload(data, "readers.pdf"))["document_id"]
    await wait_until(
        lambda: _status_is(client, document_id, "parsing"), within_s=TIMEOUT_S, poll=0.02
    )
    readers[0].kill()
    for reader in readers[1:]:
        reader.resume()

    async with asyncio.timeout(TIMEOUT_S):
        views = await client.wait_for([document_id])
    assert views[document_id]["status"] == "ready"
    expected = parse_pdf(data, max_pages=settings.max_pages, segment_chars=settings.segment_chars)
    rows = await db.fetch(
        "SELECT seq, page FROM segments WHERE doc_id = $1 ORDER BY seq", uuid.UUID(document_id)
    )
    assert [(r["seq"], r["page"]) for r in rows] == [(c.seq, c.page) for c in expected.segments]
    attempts = await db.fetchval(
        "SELECT attempts FROM tasks WHERE document_id = $1 AND kind = 'parse'",
        uuid.UUID(document_id),
    )
    assert attempts == 2
    assert worker.is_running()
    await wait_until(
        lambda: len(page_readers(stack, "worker-1")) == settings.parse_processes,
        within_s=TIMEOUT_S,
    )
    renewed = page_readers(stack, "worker-1")
    assert not {r.pid for r in renewed} & {r.pid for r in readers}
    # The operator sees why the parse was retried.
    async with httpx.AsyncClient() as http:
        metrics = await http.get(f"http://127.0.0.1:{settings.worker_web_port_base}/metrics")
    retried = {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(metrics.text)
        if family.name == "pdfchat_retries"
        for s in family.samples
        if s.name == "pdfchat_retries_total" and s.labels["operation"] == "parse"
    }
    assert retried.get("page_reader_died", 0) >= 1, retried


async def _status_is(client, document_id: str, status: str) -> bool:
    return (await client.document(document_id))["status"] == status


async def test_two_workers_share_the_partitions(stack, api, tenant, settings, db):
    stack.start("worker-2")
    try:
        await wait_until(
            lambda: _members_with_partitions(settings, topics.PARSE_REQUESTED, 2),
            within_s=TIMEOUT_S,
        )
        client = api(tenant)
        workers: set[str] = set()
        ids: list[str] = []
        # Keys are random, so upload until both workers have parsed something (bounded).
        while len(workers) < 2 and len(ids) < 40:
            batch = [
                (await client.upload(pdfgen.sample_pdf(1, seed=i), f"{i}.pdf"))["document_id"]
                for i in range(len(ids), len(ids) + 8)
            ]
            ids += batch
            async with asyncio.timeout(TIMEOUT_S):
                await client.wait_for(batch)
            rows = await db.fetch(
                "SELECT detail->>'worker' AS worker FROM document_events"
                " WHERE tenant_id = $1 AND status = 'parsed'",
                tenant,
            )
            workers = {r["worker"] for r in rows}
        assert len(workers) == 2
        assert await _parsed_counts(db, tenant) == dict.fromkeys(ids, 1)
    finally:
        stack.stop("worker-2")


async def _members_with_partitions(settings, topic: str, expected: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    (group,) = response.groups
    members = group[5]
    owners = 0
    for *_, raw_assignment in members:
        if not raw_assignment:
            continue
        assignment = ConsumerProtocolMemberAssignment.decode(raw_assignment)
        owners += any(t == topic and parts for t, parts in assignment.assignment)
    return owners == expected


async def test_missing_original_is_retried_then_dead_lettered(stack, api, tenant, settings, db):
    client = api(tenant)
    stack.stop("worker-1")
    try:
        body = await client.upload(pdfgen.sample_pdf(1), "vanishing.pdf")
        document_id = body["document_id"]
        # The committed task's event waits in the outbox while no worker runs.
        waiting = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1", f"{tenant}:{document_id}"
        )
        assert waiting >= 1
        (Path(settings.blob_root) / tenant / document_id / "original.pdf").unlink()
    finally:
        stack.start("worker-1")

    async with asyncio.timeout(TIMEOUT_S):
        view = (await client.wait_for([document_id]))[document_id]
    assert view["status"] == "failed"
    assert f"after {settings.parse_max_attempts} attempts" in view["error"]
    attempts = await db.fetchval(
        "SELECT attempts FROM tasks WHERE document_id = $1", uuid.UUID(document_id)
    )
    assert attempts == settings.parse_max_attempts

    key = f"{tenant}:{document_id}".encode()

    async def ours() -> list[ConsumerRecord]:
        return [m for m in await read_all(settings, topics.PARSE_DEAD_LETTERS) if m.key == key]

    # The letter leaves with the failure's transaction, through the outbox: the relay sends it
    # after the document reads "failed".
    async def published() -> bool:
        return bool(await ours())

    await wait_until(published, within_s=TIMEOUT_S)
    letters = await ours()
    assert len(letters) == 1
    # The letter is what the topic's schema promises, in the trace of the upload.
    assert headers_of(letters[0])["traceparent"].startswith("00-")
    mine = [json.loads(m.value) for m in letters]
    assert contract.violations(contract.current(topics.PARSE_DEAD_LETTERS), mine[0]) == []
    assert mine[0]["attempts"] == settings.parse_max_attempts
    assert mine[0]["request"]["document_id"] == document_id


async def test_a_lost_parse_request_is_published_again(stack, api, tenant, settings, db):
    client = api(tenant)
    stack.stop("worker-1")
    try:
        document_id = (await client.upload(pdfgen.sample_pdf(1), "a.pdf"))["document_id"]
        # The event never reaches Kafka: the database still knows the task is unfinished.
        lost = await db.execute("DELETE FROM outbox WHERE key = $1", f"{tenant}:{document_id}")
        assert lost == "DELETE 2"  # the parse request and the 'queued' status event
    finally:
        stack.start("worker-1")
    async with asyncio.timeout(TIMEOUT_S):
        view = (await client.wait_for([document_id]))[document_id]
    assert view["status"] == "ready"
    assert await _parsed_counts(db, tenant) == {document_id: 1}


async def test_status_events_reach_the_topic_in_order(api, tenant, settings):
    client = api(tenant)
    document_id = (await client.upload(pdfgen.sample_pdf(1), "a.pdf"))["document_id"]
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([document_id])
    key = f"{tenant}:{document_id}".encode()

    async def all_three_published() -> bool:
        events = [
            json.loads(m.value) for m in await read_all(settings, topics.STATUS) if m.key == key
        ]
        return [e["status"] for e in events] == [
            "queued",
            "parsing",
            "parsed",
            "embedding",
            "ready",
        ]

    await wait_until(all_three_published, within_s=TIMEOUT_S)


async def test_progress_table_is_recovered_after_a_restart(stack, api, tenant, settings):
    client = api(tenant)
    ids = [
        (await client.upload(pdfgen.sample_pdf(1, seed=i), f"{i}.pdf"))["document_id"]
        for i in range(3)
    ]
    bad = (await client.upload(pdfgen.encrypted_pdf(), "locked.pdf"))["document_id"]
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([*ids, bad])
    expected = {"documents": 4, "by_status": {"ready": 3, "failed": 1}}

    async def progress_is_expected() -> bool:
        return await _progress(settings, tenant) == expected

    await wait_until(progress_is_expected, within_s=TIMEOUT_S)
    stack.stop("worker-1")
    stack.start("worker-1")
    # Nothing new happened for this tenant: the state can only come from the changelog.
    await wait_until(progress_is_expected, within_s=TIMEOUT_S)


async def test_usage_table_is_recovered_after_a_restart(stack, api, tenant, settings):
    client = api(tenant)
    created = await client.upload(pdfgen.sample_pdf(2, seed=61), "usage.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([created["document_id"]])
    for question in ("What does the ledger record?", "Which deliveries are recorded?"):
        started = await client.chat(question)
        async for _ in client.answer(started["stream_session_id"]):
            pass

    async def two_answers_counted() -> bool:
        totals = await _worker_page(settings, f"/usage/{tenant}/")
        return bool(totals) and totals["requests"] == 2 and "local:extractive" in totals["by_model"]

    await wait_until(two_answers_counted, within_s=TIMEOUT_S)
    stack.stop("worker-1")
    stack.start("worker-1")
    # Nothing new happened for this tenant: the totals can only come from the changelog.
    await wait_until(two_answers_counted, within_s=TIMEOUT_S)


async def _progress(settings, tenant: str) -> dict | None:
    return await _worker_page(settings, f"/progress/{tenant}/")


async def _worker_page(settings, path: str) -> dict | None:
    url = f"http://127.0.0.1:{settings.worker_web_port_base}{path}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(url)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None
