"""A 3-broker cluster (`pdfchat up --brokers 3`) losing a broker in the middle of the work.

Its own stack, started by the same code as `pdfchat up`: three KRaft nodes on loopback, two
workers, the web server and the supervisor. Every topic has three replicas and takes a write
once two have it. While documents ingest and answers stream, one broker is killed with
SIGKILL; the supervisor starts it again. Nothing is lost or written twice: every document ends
ready with the segments of a clean run, every answer arrives whole, each token once and in
order, and no worker or web process restarts.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

import pdfgen
import storage
import topics
from cli.client import PdfchatClient
from cli.stack import Stack, isolated_settings, running_stack
from config import Settings
from core.tokens import mint
from pdf import parse_pdf
from storage import migrate_database
from tests.conftest import TEST_SETTINGS
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

DOCUMENTS = 24
CHATS = 10
TIMEOUT_S = 300
# The answer lease at its default: it must outlast a broker's failover (its 9 s session
# timeout, then new leaders and a rebalance), or the sweep ends answers that merely waited.
CLUSTER = {"kafka_brokers": 3, "workers": 2, "chat_lease_s": 60.0}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("cluster-home"),
        **TEST_SETTINGS | CLUSTER,
    )
    with running_stack(settings, migrate_database) as stack:
        yield stack


@pytest.fixture
async def client(cluster: Stack) -> AsyncIterator[PdfchatClient]:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    token = mint(cluster.settings, tenant=tenant, user="tester", roles=["admin"])
    async with PdfchatClient(cluster.settings.web_url, token, timeout=120) as client:
        yield client


async def test_every_topic_has_three_replicas_and_needs_two(cluster: Stack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.ALL_TOPICS))
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics.ALL_TOPICS]
        )
    finally:
        await admin.close()
    replicas = {t["topic"]: {len(p["replicas"]) for p in t["partitions"]} for t in described}
    assert replicas == {name: {3} for name in topics.ALL_TOPICS}
    min_isr = {
        resource[3]: value
        for response in configs
        for resource in response.resources
        for name, value, *_ in resource[4]
        if name == "min.insync.replicas"
    }
    assert min_isr == {name: "2" for name in topics.ALL_TOPICS}


async def test_losing_a_broker_loses_and_repeats_nothing(cluster: Stack, client) -> None:
    settings = cluster.settings
    apps = {name: cluster.pid(name) for name in ("worker-1", "worker-2", "web")}
    files = [pdfgen.sample_pdf(3 + i % 4, seed=2000 + i) for i in range(DOCUMENTS)]
    first = await client.upload(files[0], "doc-0.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([first["document_id"]])
    ids = [first["document_id"]] + [
        (await client.upload(data, f"doc-{i}.pdf"))["document_id"]
        for i, data in enumerate(files[1:], start=1)
    ]
    questions = [f"What does the ledger record on page {1 + i % 3}?" for i in range(CHATS)]
    sessions = [(await client.chat(q))["stream_session_id"] for q in questions]
    answers = [asyncio.create_task(_whole_answer(client, s)) for s in sessions]

    victim = "kafka-1"  # the first bootstrap address, and a leader of partitions
    killed_pid = cluster.pid(victim)
    cluster.kill(victim, signal.SIGKILL)
    await wait_until(lambda: cluster.pid(victim) not in (None, killed_pid), within_s=TIMEOUT_S)
    await wait_until(lambda: cluster.service(victim).healthy(), within_s=TIMEOUT_S)

    async with asyncio.timeout(TIMEOUT_S):
        views = await client.wait_for(ids)
        streamed = await asyncio.gather(*answers)
    assert {v["status"] for v in views.values()} == {"ready"}, views
    await _assert_segments_of_a_clean_run(settings, ids, files)
    for session_id, messages in zip(sessions, streamed, strict=True):
        seqs = [m["seq"] for m in messages]
        assert seqs == list(range(1, len(messages) + 1)), f"{session_id}: {seqs}"
        assert messages[-1]["type"] == "end", messages[-1]
    assert {name: cluster.pid(name) for name in apps} == apps, "an app was restarted"


async def _whole_answer(client: PdfchatClient, session_id: str) -> list[dict]:
    return [message async for message in client.answer(session_id)]


async def _assert_segments_of_a_clean_run(
    settings: Settings, ids: list[str], files: list[bytes]
) -> None:
    pool: asyncpg.Pool = await storage.create_pool(settings.dsn, max_size=1)
    try:
        for document_id, data in zip(ids, files, strict=True):
            clean = parse_pdf(
                data, max_pages=settings.max_pages, segment_chars=settings.segment_chars
            )
            doc = uuid.UUID(document_id)
            stored = await pool.fetchval("SELECT count(*) FROM segments WHERE doc_id = $1", doc)
            embedded = await pool.fetchval(
                "SELECT count(*) FROM segment_embeddings WHERE doc_id = $1", doc
            )
            assert (stored, embedded) == (len(clean.segments), len(clean.segments)), document_id
    finally:
        await pool.close()
