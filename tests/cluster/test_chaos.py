"""Chaos on a 3-broker cluster (`pdfchat up --brokers 3`), printing its figures.

Its own stack, started by the same code as `pdfchat up`: three KRaft nodes on loopback, two
workers, the web server and the supervisor. Every topic has three replicas and takes a write
once two have it.

While 100 documents ingest (one tenant) and 20 clients chat (another), one broker, then a
worker, then the web process, then PostgreSQL are killed with SIGKILL, in turn; each next one
once the system serves again. The test restarts nothing: the supervisor does. Clients behave
as the API asks: an upload that got no answer is sent again with its Idempotency-Key, a socket
that drops is opened again with `last_token_seq`. The result:
- every document is there once and ready, with exactly the segments of a clean run;
- every answer is whole and exact: the same events, each once and in order, as the same
  question answered before the faults (the local model answers the same way twice; an answer
  whose worker died is finished by another from the last token sent);
- every killed process was brought back, and no other restarted.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential
from websockets.exceptions import InvalidHandshake

import pdfgen
import storage
import topics
from cli.client import ApiError, PdfchatClient, StreamDropped
from cli.stack import Stack, isolated_settings, running_stack
from core.tokens import mint
from pdf import parse_pdf
from storage import migrate_database
from tests.conftest import TEST_SETTINGS
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

DOCUMENTS = 100
BATCHES = 5  # one before the faults, one uploaded into each fault
CHATS = 20
FAULTS = ("kafka-2", "worker-1", "web", "postgres")
TIMEOUT_S = 300
STREAMING_AT_A_FAULT = 3
# An answer whose worker died waits chat_lease_s before another takes it over, and a task
# task_lease_s before the sweep drives it again: long enough that a broker's failover (its
# session timeout, new leaders, a rebalance) is not taken for a death. A killed worker's tasks
# come back sooner anyway: its uncommitted events go to the other worker. With the tests' 4 s
# lease and 3 parse attempts, one run in six ended with a document failed: a task stalled by
# a failover is taken for lost and claimed again, and every claim counts an attempt.
CLUSTER = {
    "kafka_brokers": 3,
    "workers": 2,
    "chat_lease_s": 20.0,
    "task_lease_s": 30.0,
    "parse_max_attempts": 4,
}
QUESTIONS = [
    "What does the ledger record on page 1?",
    "What does the ledger record on page 2?",
    "Which entries mention the harbour?",
    "What is written about the inventory?",
    "Summarise the third page.",
]
# What a client meets while a process it talks to is down or starting: it tries again.
RETRYABLE = (httpx.TransportError, StreamDropped, OSError, InvalidHandshake)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("cluster-home"),
        **TEST_SETTINGS | CLUSTER,
    )
    with running_stack(settings, migrate_database) as stack:
        yield stack


def _client(cluster: Stack, tenant: str) -> PdfchatClient:
    token = mint(cluster.settings, tenant=tenant, user="tester", roles=["admin"])
    return PdfchatClient(cluster.settings.web_url, token, timeout=120)


@pytest.fixture
async def library(cluster: Stack) -> AsyncIterator[PdfchatClient]:
    """A tenant with documents to ask about, ready before the faults."""
    async with _client(cluster, f"lib-{uuid.uuid4().hex[:8]}") as client:
        ids = [
            (await client.upload(pdfgen.sample_pdf(3, seed=3000 + i), f"lib-{i}.pdf"))[
                "document_id"
            ]
            for i in range(3)
        ]
        async with asyncio.timeout(TIMEOUT_S):
            await client.wait_for(ids)
            # Answers are compared with a reference: ranked the same way, with the encoder.
            await client.wait_until_encoded(ids)
        yield client


@pytest.fixture
async def ingest(cluster: Stack) -> AsyncIterator[PdfchatClient]:
    async with _client(cluster, f"ing-{uuid.uuid4().hex[:8]}") as client:
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


@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    upload_retries: int = 0
    chat_retries: int = 0
    streaming: int = 0  # answers under way: some messages read, not the last
    resumed: int = 0  # answers whose socket dropped and that went on with last_token_seq
    answers: int = 0
    answers_by_client: Counter[int] = field(default_factory=Counter)
    back_after_s: dict[str, float] = field(default_factory=dict)


async def test_chaos_loses_and_repeats_nothing(cluster: Stack, library, ingest) -> None:
    figures = Figures()
    reference = {q: await _whole_answer(library, q, figures) for q in QUESTIONS}
    never_killed = {name: cluster.pid(name) for name in ("worker-2", "supervisor")}
    files = [pdfgen.sample_pdf(3 + i % 4, seed=4000 + i) for i in range(DOCUMENTS)]
    keys = [str(uuid.uuid4()) for _ in files]
    batches = [range(b, DOCUMENTS, BATCHES) for b in range(BATCHES)]
    ids: dict[int, str] = {}

    async def upload_batch(batch: range) -> None:
        for i in batch:
            ids[i] = await _upload(ingest, files[i], f"doc-{i}.pdf", keys[i], figures)

    await upload_batch(batches[0])
    faults_over = asyncio.Event()
    mismatches: list[str] = []
    chats = [
        asyncio.create_task(_chat_until(library, n, reference, faults_over, figures, mismatches))
        for n in range(CHATS)
    ]
    async with asyncio.timeout(TIMEOUT_S * 2):
        for victim, batch in zip(FAULTS, batches[1:], strict=True):
            uploading = asyncio.create_task(upload_batch(batch))
            await wait_until(lambda b=batch: sum(i in ids for i in b) >= 3, within_s=TIMEOUT_S)
            # Every fault strikes answers under way, not only questions waiting.
            await wait_until(lambda: figures.streaming >= STREAMING_AT_A_FAULT, within_s=TIMEOUT_S)
            await _kill_and_wait_for_its_return(cluster, victim, figures)
            answered = figures.answers
            await uploading
            await wait_until(lambda a=answered: figures.answers >= a + CHATS, within_s=TIMEOUT_S)
        faults_over.set()
        await asyncio.gather(*chats)
        views = await ingest.wait_for(ids.values())
        # Encoded too, though a worker was killed with documents in its encoding queue: the
        # maintenance sweep asks for them again.
        await ingest.wait_until_encoded(ids.values())
        # And mapped, the same way: topic maps are worked on behind their agent too.
        await wait_until(lambda: _all_mapped(ingest, ids.values()), within_s=TIMEOUT_S, poll=1)

    _print(figures, cluster)
    assert not mismatches, mismatches
    assert all(figures.answers_by_client[n] > 0 for n in range(CHATS)), figures.answers_by_client
    assert figures.resumed > 0, "no answer was resumed with last_token_seq"
    assert [v for v in views.values() if v["status"] != "ready"] == []
    await _assert_once_each_with_the_segments_of_a_clean_run(cluster, ingest, ids, files)
    assert {name: cluster.pid(name) for name in never_killed} == never_killed


async def _all_mapped(client: PdfchatClient, document_ids: Iterable[str]) -> bool:
    for document_id in document_ids:
        try:
            await client.topics(document_id)
        except ApiError as exc:
            if exc.status != 409:  # topics_not_ready
                raise
            return False
    return True


async def _kill_and_wait_for_its_return(cluster: Stack, victim: str, figures: Figures) -> None:
    killed_pid = cluster.pid(victim)
    assert killed_pid is not None
    killed_at = time.monotonic()
    cluster.kill(victim, signal.SIGKILL)
    await wait_until(lambda: cluster.pid(victim) not in (None, killed_pid), within_s=TIMEOUT_S)
    await wait_until(lambda: cluster.service(victim).healthy(), within_s=TIMEOUT_S)
    figures.back_after_s[victim] = time.monotonic() - killed_at


async def _until_answered(send: Callable[[], Awaitable[dict]], retried: Callable[[], None]) -> dict:
    """Send until the server answers (not down, not starting, not overloaded), as a client
    of the API would; ``retried`` counts each time it was sent again."""

    def worth_again(exc: BaseException) -> bool:
        if isinstance(exc, ApiError):
            return exc.status >= 500 or exc.status == 429
        return isinstance(exc, RETRYABLE)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(worth_again),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        stop=stop_after_delay(TIMEOUT_S),
        before_sleep=lambda _: retried(),
        reraise=True,
    ):
        with attempt:
            return await send()
    raise AssertionError("tenacity returns or raises")


async def _upload(client: PdfchatClient, data: bytes, name: str, key: str, figures: Figures) -> str:
    """The same Idempotency-Key each time, so an upload that committed before its answer was
    lost is not made twice."""

    def count() -> None:
        figures.upload_retries += 1

    created = await _until_answered(lambda: client.upload(data, name, idempotency_key=key), count)
    return str(created["document_id"])


async def _whole_answer(client: PdfchatClient, question: str, figures: Figures) -> list[dict]:
    """Ask, then read the answer to its end, opening the socket again with last_token_seq
    whenever it drops."""
    session_id = await _ask(client, question, figures)
    messages: list[dict[str, Any]] = []
    dropped = False
    while not messages or messages[-1]["type"] not in ("end", "error"):
        last = messages[-1]["seq"] if messages else 0
        try:
            async for message in client.stream(session_id, last_token_seq=last):
                figures.streaming += not messages
                messages.append(message)
        except RETRYABLE:
            dropped = dropped or bool(messages)
            await asyncio.sleep(0.2)
    figures.streaming -= 1
    figures.resumed += dropped
    return messages


async def _ask(client: PdfchatClient, question: str, figures: Figures) -> str:
    def count() -> None:
        figures.chat_retries += 1

    started = await _until_answered(lambda: client.chat(question), count)
    return str(started["stream_session_id"])


async def _chat_until(
    client: PdfchatClient,
    n: int,
    reference: dict[str, list[dict]],
    faults_over: asyncio.Event,
    figures: Figures,
    mismatches: list[str],
) -> None:
    """One client asking in a loop until the faults are over; every answer must be exactly
    the reference answer of its question."""
    for question in itertools.cycle(QUESTIONS[n % len(QUESTIONS) :] + QUESTIONS):
        if faults_over.is_set():
            return
        messages = await _whole_answer(client, question, figures)
        if messages != reference[question]:
            mismatches.append(
                f"client {n}, {question!r}: {_differs(messages, reference[question])}"
            )
        figures.answers += 1
        figures.answers_by_client[n] += 1


def _differs(got: list[dict], wanted: list[dict]) -> str:
    for i, (a, b) in enumerate(zip(got, wanted, strict=False)):
        if a != b:
            return f"message {i}: {a} instead of {b}"
    return f"{len(got)} messages instead of {len(wanted)}"


async def _assert_once_each_with_the_segments_of_a_clean_run(
    cluster: Stack, ingest: PdfchatClient, ids: dict[int, str], files: list[bytes]
) -> None:
    settings = cluster.settings
    listed = await ingest.documents(limit=DOCUMENTS + 50)
    assert len(listed) == DOCUMENTS == len(set(ids.values())), "a document lost or made twice"
    pool: asyncpg.Pool = await storage.create_pool(settings.dsn, max_size=1)
    try:
        for i, document_id in ids.items():
            clean = parse_pdf(
                files[i], max_pages=settings.max_pages, segment_chars=settings.segment_chars
            )
            doc = uuid.UUID(document_id)
            stored = await pool.fetchval("SELECT count(*) FROM segments WHERE doc_id = $1", doc)
            embedded = await pool.fetchval(
                "SELECT count(*) FROM segment_embeddings WHERE doc_id = $1", doc
            )
            assert (stored, embedded) == (len(clean.segments), len(clean.segments)), document_id
        taken_over = await pool.fetchval("SELECT count(*) FROM chat_sessions WHERE attempts > 1")
    finally:
        await pool.close()
    print(f"answers finished by another orchestrator after their worker died: {taken_over}")


def _print(figures: Figures, cluster: Stack) -> None:
    back = ", ".join(f"{name} {s:.1f} s" for name, s in figures.back_after_s.items())
    print(
        f"\nchaos on {cluster.settings.kafka_brokers} brokers, {cluster.settings.workers} workers:"
        f" {DOCUMENTS} documents, {figures.answers} answers by {CHATS} clients in"
        f" {time.monotonic() - figures.started:.0f} s\n"
        f"killed and back (healthy) after: {back}\n"
        f"uploads sent again: {figures.upload_retries}, questions sent again:"
        f" {figures.chat_retries}, answers resumed with last_token_seq: {figures.resumed}"
    )
