"""The stack supervisor against real services: PostgreSQL and Kafka in a temporary home on
free ports, plus stand-in app processes (a few lines of http.server), so these tests need
nothing from agents/ or web/."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from click.testing import CliRunner

from cli.main import main
from cli.postgres import Postgres
from cli.processes import PidFile, StartupError, free_port
from cli.stack import AppProcess, AppSpec, ServiceStatus, Stack, isolated_settings
from config import Settings

# A stand-in for web and workers: healthy on /healthz, killed by SIGTERM like them.
FAKE_APP = """
import http.server, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""
CRASHING_APP = "import sys; print('missing setting: boom', flush=True); sys.exit(3)"


def _app(name: str, code: str) -> AppSpec:
    port = free_port()
    argv = [sys.executable, "-c", code, str(port)]
    return AppSpec(name, argv, port, f"http://127.0.0.1:{port}/healthz")


@pytest.fixture(scope="module")
def cli_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return isolated_settings(
        tmp_path_factory.mktemp("cli-stack"),
        topic_partitions=2,
        kafka_heap="512m",
    )


@pytest.fixture(scope="module")
def prepared() -> list[Settings]:
    return []


@pytest.fixture(scope="module")
def infra(cli_settings: Settings, prepared: list[Settings]) -> Iterator[Stack]:
    async def prepare(settings: Settings) -> None:
        prepared.append(settings)

    apps = [_app("fake", FAKE_APP), _app("crashing", CRASHING_APP)]
    stack = Stack(cli_settings, apps=apps)
    try:
        stack.up(prepare=prepare, apps=False)
        yield stack
    finally:
        stack.down()


def _by_name(statuses: list[ServiceStatus]) -> dict[str, ServiceStatus]:
    return {s.name: s for s in statuses}


@contextlib.asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def _create_topic(settings: Settings, topic: str) -> None:
    """The broker creates no topic by itself (auto.create.topics.enable=false)."""
    async with _admin(settings) as admin:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])


def _gone(pid: int) -> bool:
    # A daemon's zombie waits for init to reap it; it no longer runs or holds a port.
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_up_starts_healthy_infrastructure_and_runs_prepare(infra, cli_settings, prepared):
    statuses = _by_name(infra.status())
    assert statuses["postgres"].healthy and statuses["postgres"].pid
    assert statuses["postgres"].port == cli_settings.postgres_port
    assert statuses["kafka"].healthy and statuses["kafka"].pid
    assert statuses["kafka"].port == cli_settings.kafka_port
    assert not statuses["fake"].healthy and statuses["fake"].detail == "stopped"
    assert prepared == [cli_settings]
    logs = cli_settings.log_dir
    assert (logs / "kafka.log").read_bytes().count(b"Kafka Server started") == 1
    assert (logs / "postgres.log").exists()


async def test_postgres_serves_the_database_with_pgvector(infra, cli_settings):
    connection = await asyncpg.connect(cli_settings.dsn)
    try:
        assert await connection.fetchval("SELECT current_database()") == cli_settings.postgres_db
        extensions = await connection.fetch("SELECT extname FROM pg_extension")
        assert "vector" in {r["extname"] for r in extensions}
        assert await connection.fetchval("SELECT '[1,0]'::vector <=> '[0,1]'::vector") == 1.0
    finally:
        await connection.close()


async def test_kafka_round_trip_on_a_declared_topic(infra, cli_settings):
    topic = f"cli-test-{uuid.uuid4().hex[:8]}"
    bootstrap = cli_settings.kafka_bootstrap
    await _create_topic(cli_settings, topic)
    async with _admin(cli_settings) as admin:
        (config,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    broker = {entry[0]: entry[1] for entry in config.resources[0][4]}
    assert broker["auto.create.topics.enable"] == "false"

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=topic, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await consumer.getone()
        assert (message.key, message.value) == (b"k", b"hello")
    finally:
        await consumer.stop()


def test_up_again_keeps_the_running_services(infra, cli_settings, prepared):
    before = {name: infra.pid(name) for name in ("postgres", "kafka")}
    infra.up(prepare=None, apps=False)
    assert {name: infra.pid(name) for name in before} == before
    assert len(prepared) == 1


def test_app_process_start_kill_restart_stop(infra, cli_settings):
    infra.start("fake")
    first = infra.pid("fake")
    assert first and _by_name(infra.status())["fake"].healthy
    infra.start("fake")
    assert infra.pid("fake") == first

    infra.kill("fake", signal.SIGKILL)
    assert _gone(first)
    assert _by_name(infra.status())["fake"].detail == "stopped"

    infra.start("fake")
    second = infra.pid("fake")
    assert second not in (None, first) and _by_name(infra.status())["fake"].healthy

    infra.stop("fake")
    assert _gone(second) and infra.pid("fake") is None
    assert not (cli_settings.run_dir / "fake.pid").exists()


def test_the_supervisor_cannot_start_a_service_that_start_is_about_to_start(infra, monkeypatch):
    """``start`` marks a held service wanted again only under its lock. Before, it marked it
    wanted and then took the lock, and a supervisor looking in between started the service
    as it last knew it (CI once found a worker with an earlier test's settings). Here the
    supervisor looks at exactly that moment."""
    infra.stop("fake")  # held: the supervisor leaves it down
    looked: list[bool | None] = []
    release = infra.release

    def release_then_supervisor_looks(name: str) -> None:
        release(name)
        looked.append(infra.restart_if_dead(name))

    monkeypatch.setattr(infra, "release", release_then_supervisor_looks)
    try:
        infra.start("fake")
        assert looked == [None], "the supervisor started the service in the middle of start"
        assert infra.wanted("fake") and _by_name(infra.status())["fake"].healthy
    finally:
        monkeypatch.undo()
        infra.stop("fake")


def test_the_supervisor_restarts_a_service_as_it_was_last_started(infra, cli_settings):
    """The supervisor's Stack knew the app from before; another Stack of the same home then
    started it with other settings (as `up` or a test does). Killed, it must come back with
    those, not with the ones the supervisor first knew."""
    supervisor_view = Stack(cli_settings)
    first = supervisor_view.service("fake")  # known now, from the state file
    assert isinstance(first, AppProcess)
    original = infra.apps["fake"]
    infra.stop("fake")
    infra.apps["fake"] = AppProcess(
        cli_settings, replace(original.spec, env={**original.spec.env, "FAKE_MARK": "second"})
    )
    try:
        infra.start("fake")
        infra.kill("fake", signal.SIGKILL)
        assert supervisor_view.restart_if_dead("fake") is True
        pid = infra.pid("fake")
        assert pid is not None
        assert psutil.Process(pid).environ().get("FAKE_MARK") == "second"
    finally:
        infra.stop("fake")
        infra.apps["fake"] = original


def test_an_app_that_dies_during_start_up_reports_its_log(infra):
    with pytest.raises(StartupError, match="crashing exited during start-up") as failure:
        infra.start("crashing")
    assert "missing setting: boom" in str(failure.value)


def test_status_command_lists_services_and_fails_while_apps_are_down(infra, cli_settings):
    result = CliRunner().invoke(main, ["status"], env=cli_settings.to_env())
    assert result.exit_code == 1, result.output
    for line in ("postgres", "kafka", "worker-1", "web"):
        assert line in result.output


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        settings = Settings(home=tmp_path, postgres_port=taken.getsockname()[1])
        with pytest.raises(StartupError, match="already in use"):
            Postgres(settings).start()
    assert not (tmp_path / "postgres").exists()


def test_a_pid_file_of_a_reused_pid_is_not_trusted(tmp_path: Path):
    pid_file = PidFile(tmp_path / "me.pid")
    pid_file.write(os.getpid())
    assert pid_file.alive_pid() == os.getpid()
    pid_file.path.write_text(f'{{"pid": {os.getpid()}, "create_time": {time.time() - 3600}}}')
    assert pid_file.alive_pid() is None


async def test_down_stops_everything_and_up_brings_back_the_data(infra, cli_settings):
    topic = f"cli-kept-{uuid.uuid4().hex[:8]}"
    await _create_topic(cli_settings, topic)
    connection = await asyncpg.connect(cli_settings.dsn)
    await connection.execute("CREATE TABLE kept (id int)")
    await connection.close()
    infra.start("fake")
    pids = {name: infra.pid(name) for name in ("postgres", "kafka", "fake")}

    infra.down()
    assert all(pids.values()) and all(_gone(pid) for pid in pids.values())
    assert not any(s.healthy or s.pid for s in infra.status())
    infra.down()

    infra.up(apps=False)
    assert all(_by_name(infra.status())[name].healthy for name in ("postgres", "kafka"))
    connection = await asyncpg.connect(cli_settings.dsn)
    assert await connection.fetchval("SELECT to_regclass('kept') IS NOT NULL")
    await connection.close()
    async with _admin(cli_settings) as admin:
        assert topic in await admin.list_topics()
