"""The Faust application, built from Settings. Imports only config, core and faust."""

from __future__ import annotations

import faust

from config import get_settings
from core.logging import logging_config

settings = get_settings()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    # Tables live in memory and are rebuilt from their changelog topics at start.
    store="memory://",
    datadir=str(settings.home / "faust"),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    broker_session_timeout=settings.broker_session_timeout_s,
    broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
    producer_acks=-1,
    web_host="127.0.0.1",
    web_port=settings.worker_web_port_base,
    autodiscover=False,
    logging_config=logging_config("worker", level=settings.log_level, json=settings.log_json),
)
