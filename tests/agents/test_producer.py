"""The worker's producer against the session's Kafka: a send to a topic created after the
worker started must not make the producer forget the topics it already knew."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import topics
from agents.app import App
from tests.records import INJECTED

pytestmark = pytest.mark.stack


async def test_a_new_topic_leaves_every_known_topic_in_the_metadata(settings, stack):
    app = App(f"test-producer-{uuid.uuid4().hex[:8]}", broker=f"kafka://{settings.kafka_bootstrap}")
    producer = app._new_producer()
    await producer.start()
    try:
        cluster = producer._ensure_producer().client.cluster
        # Known from the metadata of all topics, as a worker knows its topics at start.
        await producer._ensure_producer().client.force_metadata_update()
        await (
            await producer.send(
                topics.ANSWERS,
                key=b"k",
                value=b"v",
                partition=None,
                timestamp=None,
                headers=INJECTED,
            )
        )
        assert cluster.partitions_for_topic(topics.ANSWERS)

        changelog = f"test-changelog-{uuid.uuid4().hex[:8]}"  # as a table's, made later
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(changelog, 2, 1)])
        finally:
            await admin.close()
        await (
            await producer.send(
                changelog, key=b"k", value=b"v", partition=None, timestamp=None, headers=None
            )
        )

        # Before the fix the metadata now named the changelog alone, and a batch still
        # waiting for the answers topic would have waited for its leader forever.
        assert cluster.partitions_for_topic(topics.ANSWERS)
        assert cluster.partitions_for_topic(changelog)
    finally:
        await producer.stop()
