"""Apache Kafka 4 in KRaft mode, from its jars on Maven Central: one node, or a cluster of
``kafka_brokers`` nodes on loopback, each a broker and a controller.

Each node has three listeners: PLAINTEXT for pdfchat's own clients and between brokers,
CONTROLLER for the quorum, and ANALYTICS (SASL/SCRAM-SHA-256) for analytics teams. Every request
is authorized: pdfchat's side connects without credentials, as ``User:ANONYMOUS``, which is a
super user; an analyst reads only what an ACL grants it (core/kafka_access.py).

One node finds its controller quorum through ``controller.quorum.bootstrap.servers`` and is
formatted ``--standalone``; a cluster has a static quorum (``controller.quorum.voters``) of
all its nodes, so it runs on while a majority of them do."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import uuid
from pathlib import Path

from cli.processes import (
    Detached,
    StartupError,
    ensure_port_free,
    port_open,
    require_java_and_maven,
)
from config import REPO_ROOT, Settings

KAFKA_DIR = REPO_ROOT / "ops" / "kafka"
LIB_DIR = KAFKA_DIR / "lib"
START_TIMEOUT_S = 60
STOP_GRACE_S = 30
STARTED_MARK = b"Kafka Server started"

PROPERTIES = """\
# Written by `pdfchat up` on every start from the settings; edits here are overwritten.
process.roles=broker,controller
node.id={node}
{quorum}
listeners={listeners}
advertised.listeners={listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,ANALYTICS:SASL_PLAINTEXT
# Nothing without an ACL, except for the super user: every client of the PLAINTEXT and
# CONTROLLER listeners (pdfchat's own, the brokers and controllers themselves) is ANONYMOUS.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
# Analysts' users are SCRAM credentials kept in the cluster's metadata (core/kafka_access.py).
listener.name.analytics.sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.analytics.scram-sha-256.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs={log_dirs}
num.partitions={partitions}
# Topics are declared by the workers with the partitions they need; a typo never makes one.
auto.create.topics.enable=false
# Never more replicas than brokers (a coordinator would wait for them forever); with three,
# a write is acknowledged once two have it, so losing any one broker loses nothing.
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
"""


def ensure_jars() -> None:
    """The install step: fetch the broker's jars through ops/kafka/pom.xml, once."""
    if any(LIB_DIR.glob("kafka_2.13-*.jar")):
        return
    require_java_and_maven("Kafka")
    command = ["mvn", "-q", "-f", str(KAFKA_DIR / "pom.xml"), "dependency:copy-dependencies"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise StartupError(f"fetching the Kafka jars failed: {' '.join(command)}\n{output}")


def kafka_nodes(settings: Settings) -> list[Kafka]:
    return [Kafka(settings, node) for node in range(1, settings.kafka_brokers + 1)]


class Kafka(Detached):
    """Node ``node`` (1-based): "kafka" when it is the only one, "kafka-<node>" in a cluster."""

    stop_grace_s = STOP_GRACE_S

    def __init__(self, settings: Settings, node: int = 1) -> None:
        alone = settings.kafka_brokers == 1
        self.name = "kafka" if alone else f"kafka-{node}"
        super().__init__(settings)
        self.node = node
        self.host = settings.kafka_host
        self.port, self.controller_port = settings.kafka_nodes[node - 1]
        self.analytics_port = settings.kafka_analytics_ports[node - 1]
        self.cluster_root = settings.home / "kafka"
        self.root = self.cluster_root if alone else self.cluster_root / f"node-{node}"

    def healthy(self) -> bool:
        return self.pid() is not None and port_open(self.host, self.port)

    def start(self) -> None:
        ensure_jars()
        for port in (self.port, self.controller_port, self.analytics_port):
            ensure_port_free(self.host, port, self.name)
        properties = self._write_properties()
        self._format(properties)
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.launch(
            self._command(properties),
            env=os.environ,
            ready=lambda: self._started(offset),
            within_s=START_TIMEOUT_S,
        )

    def _command(self, properties: Path) -> list[str]:
        return [
            "java",
            "-Xms256m",
            f"-Xmx{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.settings.log_dir}",
            "-cp",
            f"{LIB_DIR}/*",
            "kafka.Kafka",
            str(properties),
        ]

    def _started(self, offset: int) -> bool:
        """Ready once this run's log says so and the port answers; fail fast if it died."""
        if self.pid() is None:
            raise StartupError(f"{self.name} exited during start-up")
        with open(self.log, "rb") as log:
            log.seek(offset)
            return STARTED_MARK in log.read() and port_open(self.host, self.port)

    def _write_properties(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "server.properties"
        path.write_text(
            PROPERTIES.format(
                node=self.node,
                quorum=self._quorum(),
                listeners=self._listeners(),
                log_dirs=self.root / "data",
                partitions=self.settings.topic_partitions,
                replicas=self.settings.topic_replication_factor,
                min_isr=self.settings.min_insync_replicas,
            )
        )
        return path

    def _listeners(self) -> str:
        return (
            f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port},"
            f"ANALYTICS://{self.host}:{self.analytics_port}"
        )

    def _quorum(self) -> str:
        if self.settings.kafka_brokers == 1:
            return f"controller.quorum.bootstrap.servers={self.host}:{self.controller_port}"
        voters = ",".join(
            f"{n}@{self.host}:{controller}"
            for n, (_, controller) in enumerate(self.settings.kafka_nodes, start=1)
        )
        return f"controller.quorum.voters={voters}"

    def _format(self, properties: Path) -> None:
        """Format the storage once, with a cluster id kept beside it."""
        if (self.root / "data" / "meta.properties").exists():
            return  # formatted; skipping saves a JVM start (about 1.5 s here)
        cluster_id = shared_cluster_id(self.cluster_root / "cluster-id")
        # -g ignores an already formatted directory, should a previous format half-finish.
        command = [
            "java",
            "-cp",
            f"{LIB_DIR}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
            "-g",
            # A static quorum (controller.quorum.voters) is formatted without either flag.
            *(["--standalone"] if self.settings.kafka_brokers == 1 else []),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-2000:]
            raise StartupError(f"formatting the Kafka storage failed:\n{output}")


def shared_cluster_id(path: Path) -> str:
    """The id every node of a cluster is formatted with, kept at ``path``. The nodes start in
    parallel: the first to get here makes it, the others read it. Written whole and then
    linked into place, which fails if it exists, so no node ever reads half an id or makes a
    second one (a cluster formatted with two ids never elects a leader)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
    draft.write_text(_random_cluster_id())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another node made it first
    finally:
        draft.unlink()
    return path.read_text().strip()


def _random_cluster_id() -> str:
    """What `StorageTool random-uuid` prints (16 random bytes, URL-safe base64, no padding),
    without starting a JVM; like Kafka's Uuid.randomUuid it never begins with a dash."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
