"""Reading a topic the way a subscriber does: every record still on it, from the beginning."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from config import Settings

# The header of records a test writes to a public topic by hand (not the stack's own): the
# check that every record conforms to its topic's schema leaves them out.
INJECTED = [("pdfchat-test", b"injected")]


async def read_all(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic`` up to its end offsets now, partition by partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        # The workers declare every topic with the configured partition count.
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            batch = await consumer.getmany(timeout_ms=500)
            for fetched in batch.values():
                records += fetched
        return records
    finally:
        await consumer.stop()


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def injected(record: ConsumerRecord) -> bool:
    return any((name, value) in INJECTED for name, value in record.headers)
