"""The Faust application, built from Settings. Imports only config, core and faust."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as AIOKafkaDriverProducer
from faust.types import ProducerT

from config import get_settings
from core.logging import logging_config

settings = get_settings()


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner. At a log level of WARN or above the
    spinner puts the root logger at DEBUG, so that it can spin on every record: every debug
    record of aiokafka and Faust is then built and dropped, on every message sent."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


class TopicTrackingProducer(AIOKafkaDriverProducer):
    """Faust's producer, idempotent, with aiokafka's metadata tracking every topic from the
    start.

    Idempotent with acks=all (Faust turns both on only for exactly-once transactions): a send
    retried after a broker dies is written once, and only once enough replicas have it.

    aiokafka's client starts out fetching the metadata of *all* topics. The first send to a
    topic it has not seen (a table's changelog, created after the worker started) makes it
    track that one topic only, and the next metadata response then holds that topic alone:
    a batch already waiting for another topic loses its partition leader, and the sender asks
    for metadata that will never name it, in a loop, forever (one CPU core, and that event
    never delivered: a document stuck in `queued` until its lease ran out). Tracking every
    topic that exists at start keeps them all in every response; new ones are added to it.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    async def on_start(self) -> None:
        await super().on_start()
        client = self._ensure_producer().client
        everything = await client.fetch_all_metadata()
        await client.set_topics(everything.topics())


class App(faust.App):
    """Faust's app with the producer above (Faust has no setting for the producer class)."""

    def _new_producer(self) -> ProducerT:
        return TopicTrackingProducer(self.transport, loop=self.loop, beacon=self.beacon)


app = App(
    settings.app_id,
    broker=[f"kafka://{address}" for address in settings.kafka_bootstrap.split(",")],
    # Tables live in memory and are rebuilt from their changelog topics at start.
    store="memory://",
    datadir=str(settings.home / "faust"),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    broker_session_timeout=settings.broker_session_timeout_s,
    broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
    producer_acks=-1,
    # Records of the answers running at once (a first token, windows of words, ends) share a
    # produce request when sent within 5 ms of each other: fewer requests for the broker,
    # which is CPU the answers need (docs/benchmarks.md, "Where a first token's time goes").
    producer_linger_ms=5,
    web_host="127.0.0.1",
    web_port=settings.worker_web_port_base,
    autodiscover=False,
    Worker=Worker,
    logging_config=logging_config("worker", level=settings.log_level, json=settings.log_json),
)
