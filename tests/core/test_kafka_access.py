"""Analysts' SCRAM users and read ACLs (core.kafka_access) on the session's real brokers: the
user reads exactly its tenant's topics, with its one group, over the SASL listener; pdfchat's
own PLAINTEXT clients stay super users (the rest of the suite runs on them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from cli.processes import free_port
from config import Settings
from core import kafka_access
from core.errors import PdfchatError, TransientError
from tests.records import INJECTED
from tests.waiting import wait_until
from topics.documents import STATUS

pytestmark = pytest.mark.stack

WITHIN_S = 30
PASSWORD = "correct-horse-battery-staple"
REFUSED = (KafkaConnectionError, TopicAuthorizationFailedError, GroupAuthorizationFailedError)


@pytest.fixture(autouse=True)
def _running_stack(stack):
    return stack


@dataclass(frozen=True)
class Tenant:
    id: str
    topics: list[str]

    @property
    def group(self) -> str:
        return f"analytics.{self.id}.x"


@pytest.fixture
async def tenants(settings: Settings) -> AsyncIterator[tuple[Tenant, Tenant]]:
    """Two tenants with two topics each and a record on every one (its topic's name). B's id
    starts with A's and a dot: a prefix ACL for A's topics would match B's too."""
    a = f"acme_{uuid.uuid4().hex[:8]}"
    both = tuple(
        Tenant(t, [f"pdfchat.tenant.{t}.{topic}" for topic in ("documents.status.v1", "usage.v1")])
        for t in (a, f"{a}.eu-1")
    )
    names = [name for tenant in both for name in tenant.topics]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        replicas = settings.topic_replication_factor
        await admin.create_topics([NewTopic(name, 1, replicas) for name in names])
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            for name in names:
                await producer.send_and_wait(name, name.encode(), headers=INJECTED)
        finally:
            await producer.stop()
        yield both[0], both[1]
    finally:
        await admin.delete_topics(names)
        await admin.close()


@pytest.fixture
async def analyst(settings: Settings) -> AsyncIterator[str]:
    user = f"analyst.{uuid.uuid4().hex[:8]}"
    yield user
    await kafka_access.revoke_all(settings.kafka_bootstrap, user)
    await kafka_access.delete_scram_user(settings.kafka_bootstrap, user)


def _sasl(settings: Settings, user: str, password: str = PASSWORD) -> dict[str, Any]:
    assert settings.kafka_analytics_bootstrap
    return {
        "bootstrap_servers": settings.kafka_analytics_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


async def _read(config: dict[str, Any], topic: str, group: str) -> list[bytes]:
    """The records of ``topic`` from its beginning, as a member of ``group`` (which commits
    nothing, so the next read starts from the beginning too)."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, **config
    )
    try:
        await consumer.start()
        async with asyncio.timeout(WITHIN_S):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                if batch:
                    return [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()


async def _produce(config: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(**config)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"not yours to write")
    finally:
        await producer.stop()


def _refused(attempt: Callable[[], Any], *errors: type[KafkaError]) -> Callable[[], Any]:
    """A condition: ``attempt()`` fails with one of ``errors`` (the brokers apply a change from
    their metadata log a moment after it is acknowledged)."""

    async def condition() -> bool:
        try:
            await attempt()
        except errors:
            return True
        return False

    return condition


async def _granted(settings: Settings, user: str, tenant: Tenant) -> None:
    await kafka_access.upsert_scram_user(settings.kafka_bootstrap, user, PASSWORD)
    await kafka_access.grant_read(
        settings.kafka_bootstrap, user, topics=tenant.topics, group=tenant.group
    )
    config = _sasl(settings, user)
    await wait_until(
        lambda: _succeeds(_read(config, tenant.topics[0], tenant.group)), within_s=WITHIN_S
    )


async def _succeeds(attempt: Any) -> bool:
    try:
        await attempt
    except REFUSED:
        return False
    return True


async def test_an_analyst_reads_its_tenants_topics_with_its_group_and_nothing_else(
    settings: Settings, tenants: tuple[Tenant, Tenant], analyst: str
) -> None:
    a, b = tenants
    await _granted(settings, analyst, a)
    assert await kafka_access.acls_of(settings.kafka_bootstrap, analyst) == [
        ("group", a.group, "read"),
        *sorted(("topic", name, "read") for name in a.topics),
    ]
    config = _sasl(settings, analyst)
    for topic in a.topics:
        assert await _read(config, topic, a.group) == [topic.encode()]

    for topic in [*b.topics, STATUS]:
        with pytest.raises(TopicAuthorizationFailedError):
            await _read(config, topic, a.group)
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(config, a.topics[0], f"analytics.{a.id}.y")
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(config, a.topics[0])
    with pytest.raises(KafkaConnectionError):
        await _read(_sasl(settings, analyst, "wrong-password"), a.topics[0], a.group)


async def test_granting_again_changes_nothing_and_a_new_password_replaces_the_old(
    settings: Settings, tenants: tuple[Tenant, Tenant], analyst: str
) -> None:
    a, _ = tenants
    await _granted(settings, analyst, a)
    before = await kafka_access.acls_of(settings.kafka_bootstrap, analyst)
    await kafka_access.grant_read(settings.kafka_bootstrap, analyst, topics=a.topics, group=a.group)
    assert await kafka_access.acls_of(settings.kafka_bootstrap, analyst) == before

    await kafka_access.upsert_scram_user(settings.kafka_bootstrap, analyst, "a-new-password")
    old, new = _sasl(settings, analyst), _sasl(settings, analyst, "a-new-password")
    await wait_until(
        _refused(lambda: _read(old, a.topics[0], a.group), KafkaConnectionError),
        within_s=WITHIN_S,
    )
    assert await _read(new, a.topics[1], a.group) == [a.topics[1].encode()]


async def test_revoked_then_deleted_the_analyst_can_neither_read_nor_connect(
    settings: Settings, tenants: tuple[Tenant, Tenant], analyst: str
) -> None:
    a, _ = tenants
    await _granted(settings, analyst, a)
    config = _sasl(settings, analyst)

    await kafka_access.revoke_all(settings.kafka_bootstrap, analyst)
    assert await kafka_access.acls_of(settings.kafka_bootstrap, analyst) == []
    await wait_until(
        _refused(
            lambda: _read(config, a.topics[0], a.group),
            TopicAuthorizationFailedError,
            GroupAuthorizationFailedError,
        ),
        within_s=WITHIN_S,
    )

    await kafka_access.delete_scram_user(settings.kafka_bootstrap, analyst)
    await wait_until(
        _refused(lambda: _read(config, a.topics[0], a.group), KafkaConnectionError),
        within_s=WITHIN_S,
    )
    await kafka_access.delete_scram_user(settings.kafka_bootstrap, analyst)  # gone already
    await kafka_access.revoke_all(settings.kafka_bootstrap, analyst)  # nothing to revoke


async def test_a_request_the_broker_refuses_is_a_pdfchat_error(
    settings: Settings, analyst: str
) -> None:
    with pytest.raises(PdfchatError, match="Kafka refused") as refused:
        await kafka_access.grant_read(settings.kafka_bootstrap, analyst, topics=[""], group="g")
    assert not refused.value.retriable
    assert await kafka_access.acls_of(settings.kafka_bootstrap, analyst) == []


async def test_kafka_out_of_reach_is_a_transient_error() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    with pytest.raises(TransientError, match=f"Kafka at {nobody} failed"):
        await kafka_access.acls_of(nobody, "anyone")
