"""Prometheus, Alertmanager and the Jaeger collector of `pdfchat up --observability`, started by
cli/observability.py in a temporary home on free ports: the real binaries, scraping, alerting
through to a webhook, and tail sampling of real OTLP exports."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode, format_trace_id

from cli.observability import (
    Alertmanager,
    Collector,
    Daemon,
    Prometheus,
    ensure_installed,
    observability_services,
)
from cli.processes import StartupError, free_port
from cli.stack import isolated_settings
from config import Settings
from tests.ops.test_alert_rules import ALERTS  # the one list of the rules' names
from tests.waiting import wait_until

SLOW_MS = 1000


@dataclass
class Webhook:
    """An Alertmanager webhook receiver: keeps every notification posted to it."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Observability:
    settings: Settings
    collector: Collector
    alertmanager: Alertmanager
    prometheus: Prometheus
    webhook: Webhook

    @property
    def services(self) -> list[Daemon]:
        return [self.collector, self.alertmanager, self.prometheus]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Webhook(f"http://127.0.0.1:{server.server_address[1]}/alerts", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The binaries; builds Jaeger if `make install` has not (about 6 minutes)."""
    ensure_installed(isolated_settings(tmp_path_factory.mktemp("install")))


@pytest.fixture(scope="module")
def obs(
    tmp_path_factory: pytest.TempPathFactory, webhook: Webhook, installed: None
) -> Iterator[Observability]:
    # Fast everything: scrape and evaluate every second, alert after one second, decide on a
    # trace one second after its first span, keep no normal trace (so a kept one proves a rule).
    settings = isolated_settings(
        tmp_path_factory.mktemp("observability"),
        scrape_interval_s=1,
        alert_for_s=1,
        trace_sample_percent=0,
        trace_slow_ms=SLOW_MS,
        workers=2,
    )
    found = Observability(
        settings,
        Collector(settings, decision_wait_s=1),
        Alertmanager(settings, webhook_url=webhook.url),
        Prometheus(settings),
        webhook,
    )
    try:
        for service in found.services:
            service.start()
        yield found
    finally:
        for service in reversed(found.services):
            service.stop()


def test_services_come_up_healthy_and_a_second_start_changes_nothing(obs: Observability) -> None:
    pids = {}
    for service in obs.services:
        assert service.healthy(), service.name
        pids[service.name] = service.pid()
        assert pids[service.name] is not None
    loads = config_loads(obs)
    for service in obs.services:
        service.start()
    assert {service.name: service.pid() for service in obs.services} == pids
    assert config_loads(obs) == loads  # an unchanged config is not even reloaded


def test_observability_services_in_start_order() -> None:
    settings = Settings(home=Path("/nonexistent"))
    services = observability_services(settings)
    assert [(type(s), s.name, s.port) for s in services] == [
        (Collector, "collector", settings.collector_otlp_port),
        (Alertmanager, "alertmanager", settings.alertmanager_port),
        (Prometheus, "prometheus", settings.prometheus_port),
    ]


async def test_prometheus_loaded_every_alert_rule(obs: Observability) -> None:
    rules = await get_json(f"{obs.prometheus.url}/api/v1/rules")
    names = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert names == ALERTS


async def test_prometheus_scrapes_every_job_from_the_targets_files(obs: Observability) -> None:
    settings = obs.settings
    expected = {
        ("pdfchat-web", f"127.0.0.1:{settings.web_port}"),
        ("pdfchat-workers", f"127.0.0.1:{settings.worker_web_port_base}"),
        ("pdfchat-workers", f"127.0.0.1:{settings.worker_web_port_base + 1}"),
        ("pdfchat-supervisor", f"127.0.0.1:{settings.supervisor_port}"),
        ("prometheus", f"127.0.0.1:{settings.prometheus_port}"),
        ("alertmanager", f"127.0.0.1:{settings.alertmanager_port}"),
    }

    async def all_scraped() -> bool:
        targets = (await get_json(f"{obs.prometheus.url}/api/v1/targets"))["data"]
        seen = {
            (t["labels"]["job"], t["labels"]["instance"]): t["health"]
            for t in targets["activeTargets"]
        }
        return set(seen) == expected and "unknown" not in seen.values()

    await wait_until(all_scraped, within_s=30)
    # Scraping works (Prometheus and Alertmanager answer), so the apps' 0 is theirs.
    assert await query(obs, 'up{job=~"prometheus|alertmanager"}') == [1.0, 1.0]
    assert await query(obs, 'up{job=~"pdfchat-.*"}') == [0.0, 0.0, 0.0, 0.0]


async def test_a_worker_down_is_alerted_through_alertmanager_to_the_webhook(
    obs: Observability,
) -> None:
    # Nothing listens on the workers' ports in this home: each is a worker down.
    port = obs.settings.worker_web_port_base
    wanted = {
        "alertname": "WorkerDown",
        "service": "worker-1",
        "instance": f"127.0.0.1:{port}",
        "job": "pdfchat-workers",
        "severity": "critical",
    }

    async def in_alertmanager() -> bool:
        alerts = await get_json(f"{obs.alertmanager.url}/api/v2/alerts")
        return any(alert["labels"] == wanted for alert in alerts)

    await wait_until(in_alertmanager, within_s=60)

    def posted() -> list[dict[str, Any]]:
        return [
            alert
            for message in obs.webhook.received
            for alert in message["alerts"]
            if alert["labels"] == wanted and alert["status"] == "firing"
        ]

    await wait_until(lambda: bool(posted()), within_s=60)  # after Alertmanager's group_wait
    annotations = posted()[0]["annotations"]
    assert annotations["runbook_url"] == "docs/runbook.md#worker-down"
    assert annotations["summary"] == "Worker worker-1 is down"


async def test_new_thresholds_are_applied_by_start_without_a_restart(obs: Observability) -> None:
    pid, loads = obs.prometheus.pid(), config_loads(obs)
    changed = Prometheus(obs.settings.model_copy(update={"alert_lag_messages": 4242}))
    try:
        changed.start()
        assert changed.pid() == pid
        assert config_loads(obs) == loads + 1
        assert "> 4242" in await lag_rule_query(obs)
    finally:
        obs.prometheus.start()  # back to the fixture's settings
    assert "> 4242" not in await lag_rule_query(obs)


async def test_a_refused_config_keeps_the_running_one_and_says_why(obs: Observability) -> None:
    pid = obs.alertmanager.pid()
    broken = Alertmanager(obs.settings, webhook_url="not a URL")
    with pytest.raises(StartupError, match="alertmanager refused its new configuration"):
        broken.start()
    assert obs.alertmanager.pid() == pid and obs.alertmanager.healthy()
    assert obs.webhook.url in await running_alertmanager_config(obs)
    broken.webhook_url = "http://127.0.0.1:9/elsewhere"
    broken.start()  # a good config is applied, to the same process
    assert obs.alertmanager.pid() == pid
    assert "127.0.0.1:9/elsewhere" in await running_alertmanager_config(obs)
    obs.alertmanager.start()  # back to the fixture's webhook
    assert obs.webhook.url in await running_alertmanager_config(obs)


async def test_tail_sampling_keeps_errors_and_slow_traces_only(obs: Observability) -> None:
    # With trace_sample_percent 0 a fast trace without error is dropped; errors and traces
    # slower than trace_slow_ms are always kept.
    fast = export_trace(obs, "fast")
    failed = export_trace(obs, "failed", error=True)
    slow = export_trace(obs, "slow", duration_ms=SLOW_MS * 2)
    await wait_until(lambda: kept(obs, failed), within_s=30)
    await wait_until(lambda: kept(obs, slow), within_s=30)
    # A trace exported after the fast one was decided and stored; the fast one, decided
    # before it, would be there by now had it been kept.
    sentinel = export_trace(obs, "sentinel", error=True)
    await wait_until(lambda: kept(obs, sentinel), within_s=30)
    assert not await kept(obs, fast)

    found = await fetch_trace(obs, failed)
    [span] = found["spans"]
    assert span["operationName"] == "failed"
    tags = {tag["key"]: tag["value"] for tag in span["tags"]}
    assert tags["otel.status_code"] == "ERROR"
    assert found["processes"][span["processID"]]["serviceName"] == "observability-test"


@pytest.mark.parametrize("kind", [Prometheus, Alertmanager, Collector])
def test_stop_frees_the_port_and_a_busy_port_is_refused(
    tmp_path: Path, kind: type[Daemon], installed: None
) -> None:
    settings = isolated_settings(tmp_path)
    service = kind(settings)
    service.start()
    try:
        assert service.healthy()
        with pytest.raises(StartupError, match="already in use"):
            kind(isolated_settings(tmp_path / "second", **port_of(kind, service.port))).start()
    finally:
        service.stop()
    assert service.pid() is None
    assert not service.healthy()
    # The port is released, not held by a process of this server. Another program on the
    # machine (a second test run, say) may take the free port at once: that is not ours.
    assert not [owner for owner in listeners(service.port) if str(settings.home) in owner]


# --- helpers ----------------------------------------------------------------------------------


def listeners(port: int) -> list[str]:
    """The command lines of the processes listening on 127.0.0.1:<port>."""
    owners = []
    for connection in psutil.net_connections("tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            with contextlib.suppress(psutil.Error, TypeError):
                owners.append(" ".join(psutil.Process(connection.pid).cmdline()))
    return owners


def port_of(kind: type[Daemon], port: int) -> dict[str, int]:
    setting = {
        Prometheus: "prometheus_port",
        Alertmanager: "alertmanager_port",
        Collector: "collector_otlp_port",
    }[kind]
    return {setting: port, "collector_query_port": free_port()}


async def get_json(url: str, **params: str) -> Any:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        response = await client.get(url, params=params)
        response.raise_for_status()
        return response.json()


async def query(obs: Observability, expr: str) -> list[float]:
    """The instant values of ``expr``, sorted."""
    result = await get_json(f"{obs.prometheus.url}/api/v1/query", query=expr)
    return sorted(float(sample["value"][1]) for sample in result["data"]["result"])


async def running_alertmanager_config(obs: Observability) -> str:
    return (await get_json(f"{obs.alertmanager.url}/api/v2/status"))["config"]["original"]


def config_loads(obs: Observability) -> int:
    """How many times Prometheus has (re)loaded its configuration, from its log."""
    return obs.prometheus.log.read_text().count("Completed loading of configuration file")


async def lag_rule_query(obs: Observability) -> str:
    rules = await get_json(f"{obs.prometheus.url}/api/v1/rules")
    [lag] = [
        rule
        for group in rules["data"]["groups"]
        for rule in group["rules"]
        if rule["name"] == "ConsumerLagHigh"
    ]
    return lag["query"]


def export_trace(
    obs: Observability, name: str, *, error: bool = False, duration_ms: int = 5
) -> str:
    """One span as a trace of its own, exported with the OpenTelemetry SDK over OTLP/HTTP (as
    core/tracing.py does); returns its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "observability-test"}))
    exporter = OTLPSpanExporter(endpoint=f"{obs.collector.otlp_url}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    end = time.time_ns()
    span = provider.get_tracer("test").start_span(name, start_time=end - duration_ms * 1_000_000)
    if error:
        span.set_status(Status(StatusCode.ERROR, "failed on purpose"))
    span.end(end_time=end)
    provider.shutdown()
    return format_trace_id(span.get_span_context().trace_id)


async def kept(obs: Observability, trace_id: str) -> bool:
    """Whether the collector stored the trace (its query API answers 404 until then)."""
    url = f"{obs.collector.query_url}/api/traces/{trace_id}"
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        status = (await client.get(url)).status_code
    assert status in (200, 404), status
    return status == 200


async def fetch_trace(obs: Observability, trace_id: str) -> dict[str, Any]:
    [found] = (await get_json(f"{obs.collector.query_url}/api/traces/{trace_id}"))["data"]
    return found
