"""The topics the agents read and write, bound to the app, and their creation.

Workers create missing topics before Faust starts: a source topic that does not exist when a
worker subscribes is never consumed, and analytics teams need every topic to exist before its
first event.
"""

from __future__ import annotations

from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

import topics
from agents.app import app
from config import Settings
from core.retry import backoff

parse_requested = app.topic(
    topics.PARSE_REQUESTED, value_type=topics.ParseRequested, key_type=str
)
parse_dead_letters = app.topic(
    topics.PARSE_DEAD_LETTERS, value_type=topics.ParseDeadLetter, key_type=str
)
parsed = app.topic(topics.PARSED, value_type=topics.DocumentParsed, key_type=str)
status = app.topic(topics.STATUS, value_type=topics.DocumentStatusChanged, key_type=str)
ready = app.topic(topics.READY, value_type=topics.DocumentReady, key_type=str)

RETENTION = {topics.PARSE_DEAD_LETTERS: timedelta(days=30)}


async def declare_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; returns their names."""
    async for attempt in backoff(attempts=10, base_s=0.5, max_s=5):  # the broker may be starting
        with attempt:
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
            await admin.start()
            try:
                created = await _create_missing(admin, settings.topic_partitions)
            finally:
                await admin.close()
    return created


async def _create_missing(admin: AIOKafkaAdminClient, partitions: int) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [
        NewTopic(name, partitions, 1, topic_configs=_config(name))
        for name in topics.ALL_TOPICS
        if name not in existing
    ]
    try:
        if missing:
            await admin.create_topics(missing)
    except TopicAlreadyExistsError:
        pass  # another worker starting at the same moment made them
    return [t.name for t in missing]


def _config(name: str) -> dict[str, str]:
    retention = RETENTION.get(name)
    return {"retention.ms": str(int(retention.total_seconds() * 1000))} if retention else {}
