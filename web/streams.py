"""Answer streams for the sockets of this web process, read from Kafka.

Every web process reads every partition of the answers topic (no consumer group), starting
``retention_s`` in the past, and keeps each session's events in memory for that long. So any
process can serve any socket, a reconnect that lands on another process — or on a process
started after the answer — replays exactly the events after ``last_token_seq``, and sockets
are independent of which worker produced the answer. Tenancy is enforced where a socket is
opened (the session must be the caller's); this is a cache, not an authority.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

import topics
from core.errors import TooManyRequests
from core.kafka import partitions_of
from topics import AnswerEvent

log = logging.getLogger("pdfchat.web.streams")

RECONNECT_S = 2.0
EVICT_EVERY_S = 30.0


class ReaderTooSlow(TooManyRequests):
    code = "reader_too_slow"


@dataclass(frozen=True, slots=True)
class Sent:
    """One WebSocket message of an answer, ready to send: ``text`` is its JSON (a record of the
    answers topic may carry several: topics.AnswerEvent.messages)."""

    seq: int
    text: str
    is_last: bool


@dataclass(eq=False)  # by identity: a stream's set of listeners holds them
class Subscription:
    """A socket's view of one answer: the events so far, and a bounded queue of those still to
    come. A socket that does not keep up is paused by its own sends; once its queue is full it
    is cut off (``next`` raises ReaderTooSlow), and may resume from ``last_token_seq``."""

    backlog: list[Sent]
    live: asyncio.Queue[Sent]
    overflowed: bool = False

    async def next(self) -> Sent:
        if self.backlog:
            return self.backlog.pop(0)
        if self.overflowed:
            raise ReaderTooSlow(
                f"the answer came faster than this socket read it (over {self.live.maxsize}"
                " waiting events); reconnect with last_token_seq",
                retry_after_s=0,
            )
        return await self.live.get()

    def offer(self, event: Sent) -> bool:
        """Queue ``event``; False (and cut off for good) when the queue is full."""
        try:
            self.live.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
        return not self.overflowed


@dataclass
class _Stream:
    """One answer's messages so far, as JSON texts with their seqs (ascending).

    Kept as strings and an array, not one object per message: a web process holds every
    answer of the last ``retention_s``, and each object the garbage collector tracks would
    lengthen every full collection, which stops the whole process (core/heap.py). Strings
    and arrays are not tracked."""

    seqs: array[int] = field(default_factory=lambda: array("q"))
    texts: list[str] = field(default_factory=list)
    done: bool = False
    listeners: set[Subscription] = field(default_factory=set)
    touched: float = field(default_factory=time.monotonic)

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def append(self, seq: int, text: str, is_last: bool) -> Sent:
        self.seqs.append(seq)
        self.texts.append(text)
        self.done = is_last
        return Sent(seq, text, is_last)

    def after(self, seq: int) -> list[Sent]:
        first = bisect_right(self.seqs, seq)
        last = len(self.seqs) - 1
        return [
            Sent(self.seqs[i], self.texts[i], self.done and i == last)
            for i in range(first, len(self.seqs))
        ]


class AnswerStreams:
    def __init__(self, bootstrap: str, *, retention_s: float, queue_max: int = 1000) -> None:
        self._bootstrap = bootstrap
        self.retention_s = retention_s
        self.queue_max = queue_max
        self._streams: dict[str, _Stream] = {}
        self.caught_up = asyncio.Event()

    # -- sockets --------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, session_id: str, *, after_seq: int) -> Iterator[Subscription]:
        """The events after ``after_seq`` so far, and a queue of those still to come.

        Both are taken in one step of the event loop, so nothing falls between them.
        """
        stream = self._streams.setdefault(session_id, _Stream())
        backlog = stream.after(after_seq)
        subscription = Subscription(backlog, asyncio.Queue(maxsize=self.queue_max))
        stream.listeners.add(subscription)
        try:
            yield subscription
        finally:
            stream.listeners.discard(subscription)
            stream.touched = time.monotonic()

    def last_seq(self, session_id: str) -> int:
        stream = self._streams.get(session_id)
        return stream.last_seq if stream else 0

    def done(self, session_id: str) -> bool:
        stream = self._streams.get(session_id)
        return stream is not None and stream.done

    # -- Kafka ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the answers topic until cancelled, reconnecting after broker failures."""
        evictor = asyncio.create_task(self._evict_forever())
        try:
            while True:
                try:
                    await self._follow()
                except KafkaError as exc:
                    log.warning(
                        "answer streams lost the broker; reconnecting", extra={"error": str(exc)}
                    )
                    await asyncio.sleep(RECONNECT_S)
        finally:
            evictor.cancel()

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # Under load, one fetch per few tokens instead of one per token: the broker holds a
            # fetch up to 5 ms for 16 KB (Kafka's CPU per answer 22 -> 17 ms in one run each).
            fetch_min_bytes=16384,
            fetch_max_wait_ms=5,
        )
        await consumer.start()
        try:
            partitions = await self._rewind(consumer)
            end = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
                for records in batches.values():
                    for record in records:
                        self.add(record.value)
                if not self.caught_up.is_set() and await _reached(consumer, end):
                    self.caught_up.set()
                    log.info("answer streams caught up", extra={"sessions": len(self._streams)})
        finally:
            await consumer.stop()

    async def _rewind(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        numbers = await partitions_of(self._bootstrap, topics.ANSWERS)
        if not numbers:
            raise KafkaError(f"topic {topics.ANSWERS} does not exist yet")
        partitions = [TopicPartition(topics.ANSWERS, n) for n in numbers]
        consumer.assign(partitions)
        since_ms = int((time.time() - self.retention_s) * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        # Not seek_to_end: that resolves at the first fetch, skipping whatever arrives between
        # now and then — the first tokens of an answer that starts while we start.
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = offsets.get(tp)
            consumer.seek(tp, found.offset if found is not None else end[tp])
        return partitions

    def add(self, value: bytes | None) -> None:
        """One record of the answers topic, as read from Kafka."""
        try:
            event = AnswerEvent.loads(value or b"")
        except Exception:  # a foreign or broken record must not stop every stream
            log.warning("skipped an undecodable answer event")
            return
        stream = self._streams.setdefault(event.session_id, _Stream())
        if stream.done:
            return
        if event.seq == 0 and event.is_last:
            # The stale-session sweep does not know the last seq: it follows what we saw.
            event = event.derive(seq=stream.last_seq + 1)
        for message in event.messages():
            seq = message["seq"]
            assert isinstance(seq, int)
            if seq <= stream.last_seq:
                continue  # a duplicate (redelivery, replay after reconnect, a takeover)
            sent = stream.append(seq, _compact(message), event.is_last)
            for listener in list(stream.listeners):
                if not listener.offer(sent):
                    stream.listeners.discard(listener)
        stream.touched = time.monotonic()

    async def _evict_forever(self) -> None:
        while True:
            await asyncio.sleep(EVICT_EVERY_S)
            self.evict()

    def evict(self) -> None:
        horizon = time.monotonic() - self.retention_s
        for session_id in [
            s
            for s, stream in self._streams.items()
            if stream.touched < horizon and not stream.listeners
        ]:
            del self._streams[session_id]


def _compact(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"))


async def _reached(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
