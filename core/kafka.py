"""Creating the topics of the public interface (topics/) on the broker before anyone uses them.

Workers and web processes both call this at start: a source topic that does not exist when a
Faust worker subscribes is never consumed, a web process cannot replay answer streams from a
topic that is not there, and analytics teams need every topic before its first event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from faust.exceptions import ProducerSendError

import topics
from config import Settings
from core.retry import backoff


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the broker could not be reached or is electing a leader: worth
    waiting for, unlike a malformed request."""
    if isinstance(exc, ProducerSendError) and exc.__cause__ is not None:
        return is_unavailable(exc.__cause__)
    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and exc.retriable)


async def declare_topics(
    settings: Settings,
    names: Sequence[str] = topics.ALL_TOPICS,
    *,
    partitions: int | None = None,
) -> list[str]:
    """Create the topics of ``names`` (the public interface, by default) that do not exist
    yet, with ``partitions`` (the settings' by default) and the settings' replicas; returns
    their names."""
    async for attempt in backoff(attempts=10, base_s=0.5, max_s=5):  # the broker may be starting
        with attempt:
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
            await admin.start()
            try:
                created = await _create_missing(
                    admin, settings, names, partitions or settings.topic_partitions
                )
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


async def _create_missing(
    admin: AIOKafkaAdminClient, settings: Settings, names: Sequence[str], partitions: int
) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [
        NewTopic(
            name,
            partitions,
            settings.topic_replication_factor,
            topic_configs=_config(name, settings.min_insync_replicas),
        )
        for name in names
        if name not in existing
    ]
    try:
        if missing:
            await admin.create_topics(missing)
    except TopicAlreadyExistsError:
        pass  # another process starting at the same moment made them
    return [t.name for t in missing]


def _config(name: str, min_insync_replicas: int) -> dict[str, str]:
    config = {"min.insync.replicas": str(min_insync_replicas)}
    if name in topics.COMPACTED:
        config["cleanup.policy"] = "compact"
    if retention := topics.RETENTION.get(name):
        config["retention.ms"] = str(int(retention.total_seconds() * 1000))
    return config


async def records_of_key(
    bootstrap: str, topic: str, key: str, *, since_ms: int, within_s: float = 30.0
) -> list[bytes]:
    """The values of every record of ``topic`` with ``key`` written since ``since_ms`` (epoch
    milliseconds) and up to now, in log order.

    Only the key's partition is read (the producers' default partitioner, Faust's too), from
    the first offset at ``since_ms`` to the end offset when the read starts. Raises
    KafkaTimeoutError (an outage, ``is_unavailable``) if that takes over ``within_s``: a broker
    that stops answering must not hold the caller for ever."""
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(within_s):
            return await _read_key(consumer, topic, partitions, key, since_ms)
    except TimeoutError:
        raise KafkaTimeoutError(f"reading {topic} took over {within_s} s") from None
    finally:
        await consumer.stop()


async def _read_key(
    consumer: AIOKafkaConsumer, topic: str, partitions: list[int], key: str, since_ms: int
) -> list[bytes]:
    wanted = key.encode()
    tp = TopicPartition(topic, DefaultPartitioner()(wanted, partitions, partitions))
    consumer.assign([tp])
    end = (await consumer.end_offsets([tp]))[tp]
    found = (await consumer.offsets_for_times({tp: since_ms}))[tp]
    if found is None or found.offset >= end:
        return []
    consumer.seek(tp, found.offset)
    values: list[bytes] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        values += [r.value for r in batch.get(tp, []) if r.key == wanted and r.offset < end]
    return values


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partition: int
    messages: int


class LagProbe:
    """Consumer lag of every group, and the depth of chosen topics, from the broker itself.

    No lag exporter works with Kafka 4 here, and Faust reports only the partitions a live
    worker holds; the broker keeps committed offsets after the last worker of a group is gone,
    so this probe still sees lag grow while nobody consumes. Clients stay open between polls.
    """

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._offsets.start()

    async def close(self) -> None:
        await self._offsets.stop()
        await self._admin.close()

    async def lag(self, sources: Mapping[str, Sequence[str]] | None = None) -> list[Lag]:
        """Lag of every partition a group has committed on; and for ``sources`` (group →
        topics it consumes) also of partitions it never committed on, counted from the start
        of the log, as a consumer starting from the earliest offset would read them (a worker
        that has never consumed a topic still has lag there)."""
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group, *_ in await self._admin.list_consumer_groups():
            offsets = await self._admin.list_consumer_group_offsets(group)
            committed |= {
                (group, tp): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
            }
        for group, topics_read in (sources or {}).items():
            for tp in await self._partitions(topics_read):
                committed.setdefault((group, tp), -1)
        partitions = list({tp for _, tp in committed})
        ends = await self._offsets.end_offsets(partitions)
        starts = await self._offsets.beginning_offsets(partitions)
        return [
            Lag(group, tp.topic, tp.partition, max(0, ends[tp] - max(offset, starts[tp])))
            for (group, tp), offset in sorted(committed.items())
        ]

    async def depth(self, topic: str) -> int:
        """Messages the topic holds now (end minus start offsets, over its partitions)."""
        tps = await self._partitions([topic])
        starts = await self._offsets.beginning_offsets(tps)
        ends = await self._offsets.end_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)

    async def _partitions(self, names: Sequence[str]) -> list[TopicPartition]:
        described = await self._admin.describe_topics(list(names))
        return [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        ]
