"""docker-compose.kafka.yml, read as YAML (no Docker engine here), against what `pdfchat up
--observability` runs: its services, ports, settings, commands and volumes come from
config.Settings and the CLI, so a change there that the file does not follow fails here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from cli.kafka import KAFKA_DIR, kafka_nodes
from cli.main import main as pdfchat
from cli.observability import observability_services
from cli.postgres import Postgres
from cli.stack import web_spec, worker_spec
from config import REPO_ROOT, Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.kafka.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DEFAULTS = Settings()
# The image's home (Dockerfile PDFCHAT_HOME), where the blob store lives by default.
IMAGE_HOME = Path("/var/lib/pdfchat")
WORKER_ROLES = get_args(Settings.model_fields["worker_role"].annotation)
# ${NAME:?message}: compose refuses to start without NAME; no default value in the file.
REQUIRED_VARIABLE = re.compile(r"^\$\{(\w+):\?[^}]+\}$")


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def _host_ports(service: str) -> dict[int, int]:
    """Container port → host port; every one published on loopback only."""
    ports = {}
    for mapping in SERVICES[service].get("ports", []):
        host_ip, host, container = mapping.split(":")
        assert host_ip == "127.0.0.1", f"{service} publishes {mapping} beyond this machine"
        ports[int(container)] = int(host)
    return ports


def _app_services() -> list[str]:
    return [name for name, s in SERVICES.items() if s.get("image", "").startswith("pdfchat:")]


def test_the_services_are_those_pdfchat_up_runs_plus_a_migrate_job() -> None:
    expected = {
        Postgres.name,
        *(node.name for node in kafka_nodes(DEFAULTS)),
        *(daemon.name for daemon in observability_services(DEFAULTS)),
        web_spec(DEFAULTS).name,
        *(f"worker-{role}" for role in WORKER_ROLES if role != "all"),
        "migrate",
    }
    assert set(SERVICES) == expected


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_the_published_ports_are_the_settings_defaults() -> None:
    assert set(_host_ports("kafka").values()) == {DEFAULTS.kafka_port}
    assert _host_ports("postgres") == {5432: DEFAULTS.postgres_port}
    assert _host_ports("web") == {DEFAULTS.web_port: DEFAULTS.web_port}
    assert set(_host_ports("prometheus").values()) == {DEFAULTS.prometheus_port}
    assert set(_host_ports("alertmanager").values()) == {DEFAULTS.alertmanager_port}
    query = DEFAULTS.collector_query_port
    assert _host_ports("collector") == {query: query}


def test_kafka_is_the_version_and_shape_the_local_stack_runs() -> None:
    version = re.search(r"<kafka.version>(.+)</kafka.version>", (KAFKA_DIR / "pom.xml").read_text())
    assert version and SERVICES["kafka"]["image"] == f"apache/kafka:{version[1]}"
    kafka = _env("kafka")
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics come from the workers
    apps = _env("web")
    assert int(kafka["KAFKA_NUM_PARTITIONS"]) == int(apps["PDFCHAT_TOPIC_PARTITIONS"])
    assert int(apps["PDFCHAT_TOPIC_PARTITIONS"]) == DEFAULTS.topic_partitions
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"PLAINTEXT://{apps['PDFCHAT_KAFKA_HOST']}:{apps['PDFCHAT_KAFKA_PORT']}" in advertised
    assert f"HOST://127.0.0.1:{DEFAULTS.kafka_port}" in advertised  # for `make up` on the host


def test_postgres_is_the_database_the_settings_name_with_a_required_password() -> None:
    postgres = _env("postgres")
    assert postgres["POSTGRES_DB"] == DEFAULTS.postgres_db
    assert postgres["POSTGRES_USER"] == DEFAULTS.postgres_user
    password = REQUIRED_VARIABLE.match(postgres["POSTGRES_PASSWORD"])
    assert password and password[1] == "PDFCHAT_POSTGRES_PASSWORD"  # the setting's own name
    assert "POSTGRES_HOST_AUTH_METHOD" not in postgres


@pytest.mark.parametrize("service", ["migrate", "worker-chat", "worker-ingest", "web"])
def test_each_app_gets_settings_that_start_as_the_image_starts_them(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(service)
    fields = {f"PDFCHAT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, f"{service}: not settings: {sorted(set(env) - fields)}"
    assert REQUIRED_VARIABLE.match(env["PDFCHAT_POSTGRES_PASSWORD"])
    for name, value in env.items():
        monkeypatch.setenv(name, "s3cret" if REQUIRED_VARIABLE.match(value) else value)
    monkeypatch.setenv("PDFCHAT_EXTERNAL_SERVICES", "true")  # as the Dockerfile sets
    settings = Settings()  # the model validators, as the process would run them at start
    assert settings.kafka_host == "kafka" and settings.postgres_host == "postgres"
    assert settings.otel_endpoint == f"http://collector:{DEFAULTS.collector_otlp_port}"


def test_the_workers_run_as_pdfchat_up_runs_them_one_role_each() -> None:
    # `pdfchat up`'s worker command, listening beyond loopback, without `nice`: each role has
    # its container, so ingestion cannot take the chat worker's CPU.
    argv = list(worker_spec(DEFAULTS, 1).argv)
    argv = ["python", *argv[1:]]
    argv[argv.index("--web-host") + 1] = "0.0.0.0"
    roles = []
    for role in ("chat", "ingest"):
        service = SERVICES[f"worker-{role}"]
        assert service["command"] == argv
        assert _env(f"worker-{role}")["PDFCHAT_WORKER_ROLE"] == role
        roles.append(_env(f"worker-{role}")["PDFCHAT_WORKER_INSTANCE_ID"])
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka"]["condition"] == "service_healthy"
    assert len(set(roles)) == 2, "each worker its own static group member id"


def test_web_and_migrate_run_the_commands_the_cli_has() -> None:
    assert SERVICES["web"]["command"] == ["python", *web_spec(DEFAULTS).argv[1:]]
    # Started after the workers are healthy, as `pdfchat up` starts them first.
    assert {name: d["condition"] for name, d in SERVICES["web"]["depends_on"].items()} == {
        "worker-chat": "service_healthy",
        "worker-ingest": "service_healthy",
    }
    command = SERVICES["migrate"]["command"]
    assert command[0] == "pdfchat" and command[1] in pdfchat.commands
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_volumes_are_declared_shared_where_needed_and_files_exist() -> None:
    declared = set(COMPOSE["volumes"])
    used: dict[str, set[str]] = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO_ROOT / source).is_file(), f"{name} mounts a missing {source}"
            else:
                used.setdefault(source, set()).add(target)
                assert source in declared, f"{name} uses an undeclared volume {source}"
    assert declared == set(used), f"declared, never used: {sorted(declared - set(used))}"
    blob_root = str(Settings(home=IMAGE_HOME).blob_root)
    assert used["blobs"] == {blob_root}
    for app in ("web", "worker-ingest"):  # web writes uploads, the parse agent reads them
        assert f"blobs:{blob_root}" in SERVICES[app]["volumes"]
    assert (
        f"web-keys:{Settings(home=IMAGE_HOME).signing_key_path.parent}"
        in (SERVICES["web"]["volumes"])
    )


def test_prometheus_scrapes_each_app_on_its_port() -> None:
    config = yaml.safe_load((REPO_ROOT / "ops/compose/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {
        name: [t for sc in job["static_configs"] for t in sc["targets"]]
        for name, job in jobs.items()
    }
    assert targets["pdfchat-web"] == [f"web:{DEFAULTS.web_port}"]
    port = DEFAULTS.worker_web_port_base
    assert sorted(targets["pdfchat-workers"]) == [f"worker-{r}:{port}" for r in ("chat", "ingest")]
    for command in (SERVICES["worker-chat"]["command"], SERVICES["worker-ingest"]["command"]):
        assert command[command.index("--web-port") + 1] == str(port)


def test_the_monitoring_configs_are_rendered_from_the_current_templates() -> None:
    spec = importlib.util.spec_from_file_location(
        "compose_render", REPO_ROOT / "ops/compose/render.py"
    )
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    for name, text in render.rendered().items():
        stale = f"ops/compose/{name} is stale: run .venv/bin/python ops/compose/render.py"
        assert (REPO_ROOT / "ops/compose" / name).read_text() == render.HEADER + text, stale
