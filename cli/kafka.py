"""A single-node Apache Kafka 4 broker in KRaft mode, from its jars on Maven Central."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cli.processes import (
    PidFile,
    StartupError,
    log_tail,
    port_open,
    spawn,
    terminate,
    wait_until,
)
from config import REPO_ROOT, Settings

KAFKA_DIR = REPO_ROOT / "ops" / "kafka"
LIB_DIR = KAFKA_DIR / "lib"
START_TIMEOUT_S = 90
STARTED_MARK = "Kafka Server started"

PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={host}:{controller_port}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dirs}
num.partitions={partitions}
# Topics are declared by the workers with the partitions they need; a typo never makes one.
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""


def ensure_jars() -> None:
    """The install step: fetch the broker's jars through ops/kafka/pom.xml, once."""
    if LIB_DIR.is_dir() and any(LIB_DIR.glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StartupError("Kafka needs Java 17+ and Maven on the PATH (apt-get install maven)")
    subprocess.run(
        ["mvn", "-q", "-f", str(KAFKA_DIR / "pom.xml"), "dependency:copy-dependencies"],
        check=True,
    )


class Kafka:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.kafka_port
        self.root = settings.home / "kafka"
        self.log = settings.log_dir / "kafka.log"
        self.pid_file = PidFile(settings.run_dir / "kafka.pid")

    def pid(self) -> int | None:
        return self.pid_file.alive_pid()

    def healthy(self) -> bool:
        return self.pid() is not None and port_open(self.settings.kafka_host, self.port)

    def start(self) -> None:
        ensure_jars()
        properties = self._write_properties()
        self._format(properties)
        offset = self.log.stat().st_size if self.log.exists() else 0
        pid = spawn(
            [
                "java", "-Xms256m", f"-Xmx{self.settings.kafka_heap}", "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.root / 'logs'}",
                "-cp", f"{LIB_DIR}/*", "kafka.Kafka", str(properties),
            ],
            env=os.environ, log=self.log, cwd=self.root,
        )  # fmt: skip
        self.pid_file.write(pid)

        def started() -> bool:
            if self.pid() is None:
                raise StartupError(f"kafka exited during start-up\n{log_tail(self.log)}")
            with open(self.log, "rb") as f:
                f.seek(offset)
                return STARTED_MARK.encode() in f.read() and self.healthy()

        try:
            wait_until(started, within_s=START_TIMEOUT_S, what="kafka")
        except StartupError as exc:
            raise StartupError(f"{exc}\n{log_tail(self.log)}") from None

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid, grace_s=30)
        self.pid_file.remove()

    def _write_properties(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "server.properties"
        path.write_text(
            PROPERTIES.format(
                host=self.settings.kafka_host,
                port=self.port,
                controller_port=self.settings.kafka_controller_port,
                log_dirs=self.root / "data",
                partitions=self.settings.topic_partitions,
            )
        )
        return path

    def _format(self, properties: Path) -> None:
        """Format the storage once, with a cluster id kept beside it (`-g`: safe to repeat)."""
        cluster_id_file = self.root / "cluster-id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(_java_tool("random-uuid").strip())
        _java_tool("format", "-t", cluster_id_file.read_text().strip(), "-c", str(properties),
                   "--standalone", "-g")  # fmt: skip


def _java_tool(*args: str) -> str:
    command = ["java", "-cp", f"{LIB_DIR}/*", "kafka.tools.StorageTool", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise StartupError(f"kafka StorageTool {args[0]} failed: {result.stderr[-2000:]}")
    return result.stdout
