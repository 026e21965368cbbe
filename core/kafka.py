"""Creating the topics of the public interface (topics/) on the broker before anyone uses them.

Workers and web processes both call this at start: a source topic that does not exist when a
Faust worker subscribes is never consumed, a web process cannot replay answer streams from a
topic that is not there, and analytics teams need every topic before its first event.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

import topics
from core.retry import backoff


async def declare_topics(bootstrap: str, partitions: int) -> list[str]:
    """Create the topics that do not exist yet; returns their names."""
    async for attempt in backoff(attempts=10, base_s=0.5, max_s=5):  # the broker may be starting
        with attempt:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                created = await _create_missing(admin, partitions)
            finally:
                await admin.close()
    return created


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of ``topic`` as the broker has them now (empty if it is missing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = next((t for t in described if t["topic"] == topic and t["error_code"] == 0), None)
    return sorted(p["partition"] for p in found["partitions"]) if found else []


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
        pass  # another process starting at the same moment made them
    return [t.name for t in missing]


def _config(name: str) -> dict[str, str]:
    retention = topics.RETENTION.get(name)
    return {"retention.ms": str(int(retention.total_seconds() * 1000))} if retention else {}
