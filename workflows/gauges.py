"""The system-wide gauges operators alert on, polled by every web process.

Consumer lag and dead-letter depth come from the broker, the outbox backlog, the age of work
in each unfinished state, the tenants' budgets, the ready documents without full-text
postings and those whose encodings or topic map the sweep gave up on from Postgres. Each web
process polls on its own (alerts take the max over processes); a dependency that is down
leaves its gauges as they were and counts a poll error, and never touches a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

import asyncpg

import topics
from config import Settings
from core.kafka import LagProbe
from core.metrics import (
    BUDGET_USED,
    CONSUMER_LAG,
    DLQ_DEPTH,
    DOCUMENTS,
    DOCUMENTS_GIVEN_UP,
    DOCUMENTS_WITHOUT_POSTINGS,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST,
    POLL_ERRORS,
    TASK_AGE,
)
from retrieval.topic_map import VERSION as TOPIC_MAP_VERSION
from storage import documents, encodings, outbox, segments, topic_maps, usage
from workflows import encodings as encoding_care
from workflows import topic_maps as topic_map_care
from workflows.usage import Budget, month_start

log = logging.getLogger("pdfchat.gauges")

DEAD_LETTER_TOPICS = (topics.PARSE_DEAD_LETTERS,)
# What the workers' consumer group reads: nobody consumes dead letters, and web processes read
# the answers without a group.
WORKER_SOURCES = tuple(
    t for t in topics.ALL_TOPICS if t not in (topics.PARSE_DEAD_LETTERS, topics.ANSWERS)
)
# Budgets move slowly and their query reads the month's ledger, and the checks for documents
# without postings, encodings or maps read every ready document: poll them less often.
SLOW_EVERY_S = 60.0


async def poll_forever(settings: Settings, pool: asyncpg.Pool, budget: Budget) -> None:
    probe: LagProbe | None = None
    slow_due = 0.0
    try:
        while True:
            probe = await _poll_kafka(settings, probe)
            await _poll("postgres", _database(pool))
            if time.monotonic() >= slow_due:
                await _poll("budgets", _budgets(pool, budget))
                await _poll("postings", _postings(pool))
                await _poll("given_up", _given_up(pool, settings.task_lease_s))
                slow_due = time.monotonic() + SLOW_EVERY_S
            await asyncio.sleep(settings.metrics_poll_s)
    finally:
        if probe is not None:
            await _close(probe)


async def _poll_kafka(settings: Settings, probe: LagProbe | None) -> LagProbe | None:
    """Poll the broker; a probe that failed is closed, and a new one made next time."""
    fresh, probe = probe is None, probe or LagProbe(settings.kafka_bootstrap)
    try:
        if fresh:
            await probe.start()
        await asyncio.wait_for(_kafka(probe, settings.app_id), timeout=settings.metrics_poll_s * 2)
        return probe
    except BaseException as exc:
        await _close(probe)  # also when cancelled: its clients must not leak
        if not isinstance(exc, Exception):
            raise
        POLL_ERRORS.labels("kafka").inc()
        log.warning("could not poll the broker for lag", extra={"error": str(exc)})
        return None


async def _poll(source: str, poll: Awaitable[None]) -> None:
    try:
        await asyncio.wait_for(poll, timeout=10)
    except Exception as exc:
        POLL_ERRORS.labels(source).inc()
        log.warning("could not poll a gauge", extra={"source": source, "error": str(exc)})


async def _kafka(probe: LagProbe, group: str) -> None:
    for lag in await probe.lag({group: WORKER_SOURCES}):
        CONSUMER_LAG.labels(lag.group, lag.topic, str(lag.partition)).set(lag.messages)
    for topic in DEAD_LETTER_TOPICS:
        DLQ_DEPTH.labels(topic).set(await probe.depth(topic))


async def _database(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        waiting, oldest_s = await outbox.backlog(conn)
        states = await documents.unfinished_by_state(conn)
    OUTBOX_BACKLOG.set(waiting)
    OUTBOX_OLDEST.set(oldest_s)
    for state in states:
        DOCUMENTS.labels(state.status).set(state.documents)
        TASK_AGE.labels(state.status).set(state.oldest_s)


async def _postings(pool: asyncpg.Pool) -> None:
    DOCUMENTS_WITHOUT_POSTINGS.set(await segments.ready_without_postings(pool))


async def _given_up(pool: asyncpg.Pool, lease_s: float) -> None:
    DOCUMENTS_GIVEN_UP.labels("encodings").set(
        await encodings.given_up(
            pool, max_requests=encoding_care.MAX_REQUESTS, older_than_s=lease_s
        )
    )
    DOCUMENTS_GIVEN_UP.labels("topic_maps").set(
        await topic_maps.given_up(
            pool,
            version=TOPIC_MAP_VERSION,
            max_requests=topic_map_care.MAX_REQUESTS,
            older_than_s=lease_s,
        )
    )


async def _budgets(pool: asyncpg.Pool, budget: Budget) -> None:
    for tenant, spent in (await usage.spent_by_tenant_since(pool, month_start())).items():
        limit = budget.for_tenant(tenant)
        BUDGET_USED.labels(tenant).set(float(spent) / limit if limit else 1.0)


async def _close(probe: LagProbe) -> None:
    try:
        await probe.close()
    except Exception as exc:  # closing a client whose broker is gone may fail too
        log.debug("closing the lag probe failed", extra={"error": str(exc)})
