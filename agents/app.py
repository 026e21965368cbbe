"""The Faust application, built from Settings. Imports only config, core and faust."""

from __future__ import annotations

import logging

import faust

from config import get_settings
from core.logging import logging_config

settings = get_settings()


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner. At a log level of WARN or above the
    spinner puts the root logger at DEBUG, so that it can spin on every record: every debug
    record of aiokafka and Faust is then built and dropped, on every message sent."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


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
    Worker=Worker,
    logging_config=logging_config("worker", level=settings.log_level, json=settings.log_json),
)
