"""One real stack per test session: PostgreSQL, Kafka, a worker and the web server, started
by the same code as `pdfchat up`, in a temporary home on free ports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest

import storage
from cli.client import PdfchatClient
from cli.postgres import Postgres
from cli.stack import Stack, isolated_settings, running_stack
from config import Settings
from core.tokens import mint
from storage import migrate_database

# Small limits and short timers, so that failures and recoveries happen within a test.
TEST_SETTINGS = {
    "topic_partitions": 4,
    "kafka_heap": "512m",
    "max_upload_bytes": 2 * 1024 * 1024,
    "max_pages": 400,  # the longest evaluation PDF (ops/eval/debian) has 311
    "parse_max_attempts": 3,
    "retry_base_s": 0.05,
    "retry_max_s": 0.2,
    "task_lease_s": 4.0,
    "chat_lease_s": 10.0,
    "broker_session_timeout_s": 6.0,
    "broker_heartbeat_interval_s": 1.0,
    "outage_retry_max_s": 1.0,
    "worker_heartbeat_s": 1.0,
    "worker_missing_after_s": 5.0,
    "restart_backoff_max_s": 5.0,
    "metrics_poll_s": 1.0,
    "ws_ping_interval_s": 1.0,
    "ws_dead_after_s": 6.0,
}


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return isolated_settings(tmp_path_factory.mktemp("pdfchat-home"), **TEST_SETTINGS)


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    with running_stack(settings, migrate_database) as stack:
        yield stack


@pytest.fixture(scope="session")
def token(settings: Settings, stack: Stack) -> Callable[..., str]:
    def make(tenant: str, *, user: str = "tester", roles: tuple[str, ...] = ("admin",)) -> str:
        return mint(settings, tenant=tenant, user=user, roles=list(roles))

    return make


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test, so tests never see each other's documents."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def api(settings: Settings, token) -> AsyncIterator[Callable[..., PdfchatClient]]:
    clients: list[PdfchatClient] = []

    def make(tenant: str, *, roles: tuple[str, ...] | list[str] = ("admin",)) -> PdfchatClient:
        client = PdfchatClient(settings.web_url, token(tenant, roles=tuple(roles)))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def db(settings: Settings, stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await storage.create_pool(settings.dsn, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def postgres_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """PostgreSQL alone (no Kafka, no workers), for storage and workflow tests: a change to one
    query is tested in seconds. Its own home and port, beside the session's stack."""
    settings = isolated_settings(tmp_path_factory.mktemp("postgres-only"))
    server = Postgres(settings)
    server.start()
    try:
        yield settings
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def pg(postgres_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the migrated PostgreSQL-only database, as its owner (the roles of
    storage/roles.py exist beside it)."""
    await migrate_database(postgres_settings)
    pool = await storage.create_pool(postgres_settings.dsn, max_size=4)
    yield pool
    await pool.close()
