"""Feature flags and dynamic settings as every process sees them: ``FlagView``.

The compacted topic ``pdfchat.flags.v1`` holds the latest state of every flag (topics/flags.py).
A view reads it from the beginning with a plain consumer (no group: every process reads all of
it), keeps the latest state per key in memory, and follows new records, so a change reaches
the process within seconds, without a restart:

    view = FlagView(settings.kafka_bootstrap)
    task = asyncio.create_task(view.run())          cancelled at shutdown
    view.enabled("chat", "rerank", tenant="acme", user_id="u1")
    view.value("chat", "model_priority", tenant="acme", default=["large", "small"])

A tenant's own flag overrides the default of every tenant (tenant ``"*"``). A broker outage
costs nothing but freshness: the view keeps the last states it read, reconnects, and goes on
from where it was. Memory is bounded: at most ``max_flags`` keys (each value is bounded by the
write path, workflows/flags.py); records of new keys beyond that are dropped, with a warning
and ``pdfchat_flag_records_dropped_total``; ``pdfchat_flags_disconnected`` is 1 while the
view has lost the broker.

Rollout: a user is in a flag's rollout when ``rollout_bucket(service, name, user_id) <
rollout_percent``. The bucket is the first 8 bytes of ``sha256("service:name:user_id")`` as an
integer, mod 100: stable across processes, releases and Python's hash seed, uniform over
users, and independent between flags (a user in the first 10 % of one flag is not thereby in
the first 10 % of every other).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from core.kafka import partitions_of
from core.metrics import FLAG_RECORDS_DROPPED, FLAGS_DISCONNECTED
from topics.flags import EVERY_TENANT, FLAGS, FlagChanged

log = logging.getLogger("pdfchat.flags")

MAX_FLAGS = 10_000
# The flag a canary rollout drives (workflows/rollouts.py); only rollouts change it.
CANARY = ("chat", "canary")
# Dynamic settings of chat (docs/api.md#flags): a tenant's monthly budget in USD, and the
# models that answer, in order (only those).
BUDGET = ("chat", "budget_usd")
MODEL_ROUTE = ("chat", "model_route")
RECONNECT_S = 1.0


def rollout_bucket(service: str, name: str, user_id: str) -> int:
    """The user's bucket, 0..99, for this flag (module docstring)."""
    digest = hashlib.sha256(f"{service}:{name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def in_rollout(service: str, name: str, user_id: str, percent: int) -> bool:
    return rollout_bucket(service, name, user_id) < percent


@dataclass(frozen=True)
class FlagState:
    tenant_id: str
    service: str
    name: str
    enabled: bool
    rollout_percent: int
    value: Any  # decoded JSON, or None
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, record: FlagChanged) -> FlagState:
        value = json.loads(record.value) if record.value is not None else None
        return cls(
            record.tenant_id,
            record.service,
            record.name,
            record.enabled,
            record.rollout_percent,
            value,
            record.updated_at,
            record.updated_by,
        )


class FlagView:
    """The latest state of every flag, read from the compacted topic (module docstring)."""

    def __init__(self, bootstrap: str, *, topic: str = FLAGS, max_flags: int = MAX_FLAGS) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._max = max_flags
        self._flags: dict[tuple[str, str, str], FlagState] = {}
        self._positions: dict[TopicPartition, int] = {}
        self.caught_up = asyncio.Event()  # everything on the topic at start has been read
        self.dropped = 0  # records of new keys refused by the bound

    # -- answers --------------------------------------------------------------------------

    def state(self, service: str, name: str, *, tenant: str) -> FlagState | None:
        """The flag in force for ``tenant``: its own, else every tenant's default, else None."""
        own = self._flags.get((tenant, service, name))
        return own if own is not None else self._flags.get((EVERY_TENANT, service, name))

    def enabled(
        self, service: str, name: str, *, tenant: str, user_id: str, default: bool = False
    ) -> bool:
        """Whether the flag is on for this user: enabled, and the user within its rollout.
        ``default`` when no such flag exists."""
        flag = self.state(service, name, tenant=tenant)
        if flag is None:
            return default
        return flag.enabled and in_rollout(service, name, user_id, flag.rollout_percent)

    def value(
        self,
        service: str,
        name: str,
        *,
        tenant: str,
        user_id: str | None = None,
        default: Any = None,
    ) -> Any:
        """A dynamic setting: the flag's value when it is enabled (for ``user_id``, when
        given: within its rollout) and has one; ``default`` otherwise."""
        flag = self.state(service, name, tenant=tenant)
        if flag is None or flag.value is None or not flag.enabled:
            return default
        if user_id is not None and not in_rollout(service, name, user_id, flag.rollout_percent):
            return default
        return flag.value

    def snapshot(self) -> list[FlagState]:
        return sorted(self._flags.values(), key=lambda f: (f.service, f.name, f.tenant_id))

    # -- Kafka ----------------------------------------------------------------------------

    def add(self, value: bytes | None) -> None:
        """One record of the topic, as read from Kafka; an older state than the one kept (a
        repeat, a replay) changes nothing."""
        if value is None:
            return  # a tombstone: pdfchat never writes one
        try:
            state = FlagState.of(FlagChanged.loads(value))
        except Exception:  # a foreign or broken record must not stop the view
            log.warning("skipped an undecodable flag record")
            FLAG_RECORDS_DROPPED.inc()
            return
        key = (state.tenant_id, state.service, state.name)
        kept = self._flags.get(key)
        if kept is None and len(self._flags) >= self._max:
            self.dropped += 1
            FLAG_RECORDS_DROPPED.inc()
            log.warning("too many flags; dropped one", extra={"flag": ":".join(key)})
            return
        if kept is None or state.updated_at >= kept.updated_at:
            self._flags[key] = state

    async def run(self) -> None:
        """Follow the topic until cancelled, reconnecting after broker failures."""
        while True:
            try:
                await self._follow()
            except KafkaError as exc:
                FLAGS_DISCONNECTED.set(1)
                log.warning("flags lost the broker; reconnecting", extra={"error": str(exc)})
                await asyncio.sleep(RECONNECT_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            numbers = await partitions_of(self._bootstrap, self._topic)
            if not numbers:
                raise KafkaError(f"topic {self._topic} does not exist yet")
            partitions = [TopicPartition(self._topic, n) for n in numbers]
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:  # where we were before an outage, else the beginning
                consumer.seek(tp, max(self._positions.get(tp, 0), starts[tp]))
            end = await consumer.end_offsets(partitions)
            FLAGS_DISCONNECTED.set(0)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for tp, records in batches.items():
                    for record in records:
                        self.add(record.value)
                    if records:
                        self._positions[tp] = records[-1].offset + 1
                if not self.caught_up.is_set() and await _reached(consumer, end):
                    self.caught_up.set()
                    log.info("flags caught up", extra={"flags": len(self._flags)})
        finally:
            await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
