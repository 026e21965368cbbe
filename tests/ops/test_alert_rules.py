"""The observability assets in ops/observability/ as rendered by cli/observability.py: alert
rules and their promtool unit tests, the Prometheus and Alertmanager configs, the consoles and
the Grafana dashboards. promtool and amtool are Debian's real binaries; nothing runs here."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import core.metrics
from cli.observability import (
    CONSOLES_DIR,
    OPS_DIR,
    Alertmanager,
    Prometheus,
    duration,
    render_rules,
)
from config import REPO_ROOT, Settings

RULE_TESTS = OPS_DIR / "rules" / "pdfchat.tests.yml"
GRAFANA_DIR = OPS_DIR / "grafana"
DASHBOARDS = ("lag", "ingestion", "chat", "cost")
# What the promtool unit tests were written for: the defaults of these settings.
THRESHOLDS = (
    "alert_lag_messages",
    "alert_for_s",
    "document_deadline_s",
    "chat_interactive_ttft_ms",
    "scrape_interval_s",
)
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"


def _anchor(heading: str) -> str:
    """A Markdown heading's anchor, as GitHub makes it."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


# Sections of docs/runbook.md an alert may link to: its second-level headings.
RUNBOOK_ANCHORS = {
    _anchor(line[3:]) for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")
}
ALERTS = {
    "ConsumerLagHigh",
    "TaskAgeOverDeadline",
    "DeadLettersGrowing",
    "DocumentsWithoutPostings",
    "DocumentsGivenUp",
    "FailureRateHigh",
    "TimeToFirstTokenSlow",
    "CircuitOpen",
    "TenantNearBudget",
    "CanaryRolledBack",
    "AuditTrailDamaged",
    "WorkerDown",
    "WebDown",
    "SupervisorDown",
    "SupervisorRestarting",
}
# Metrics dashboards may use besides core/metrics.py: Prometheus' own and prometheus_client's.
STANDARD_METRICS = {"up", "ALERTS", "process_resident_memory_bytes"}


def default_settings(home: Path, **overrides: Any) -> Settings:
    """The defaults, whatever PDFCHAT_* variables this shell happens to have."""
    defaults = {name: Settings.model_fields[name].default for name in THRESHOLDS}
    return Settings(home=home, **(defaults | overrides))


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert shutil.which(command[0]), (
        f"{command[0]} is missing: apt-get install prometheus prometheus-alertmanager "
        "(`make test` does)"
    )
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd)


def rules_with_tests(settings: Settings, directory: Path) -> Path:
    """The rendered rules with the unit tests beside them (the tests name the file)."""
    render_rules(settings, directory)
    return Path(shutil.copy(RULE_TESTS, directory / RULE_TESTS.name))


def rendered_rules(tmp_path: Path) -> list[dict[str, Any]]:
    return rules_in(render_rules(default_settings(tmp_path), tmp_path / "rules"))


def rules_in(path: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    tests = rules_with_tests(default_settings(tmp_path), tmp_path)
    checked = run("promtool", "check", "rules", tmp_path / "pdfchat.rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 16 rules found" in checked.stdout
    tested = run("promtool", "test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_wrong_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    tests = rules_with_tests(default_settings(tmp_path), tmp_path)
    text = tests.read_text()
    assert "is 2.449s" in text
    tests.write_text(text.replace("is 2.449s", "is 2.5s"))
    tested = run("promtool", "test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "TimeToFirstTokenSlow" in tested.stdout + tested.stderr


def test_thresholds_come_from_the_settings(tmp_path: Path) -> None:
    settings = default_settings(tmp_path, alert_lag_messages=300, alert_for_s=30)
    tests = rules_with_tests(settings, tmp_path)
    rules = {rule["alert"]: rule for rule in rules_in(tmp_path / "pdfchat.rules.yml")}
    assert rules["ConsumerLagHigh"]["expr"].endswith("> 300")
    assert rules["WorkerDown"]["for"] == "30s"
    # The unit tests expect 200 messages and 2m: with 300 and 30s they must fail.
    tested = run("promtool", "test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "ConsumerLagHigh" in tested.stdout + tested.stderr


def test_every_alert_has_severity_summary_description_and_runbook(tmp_path: Path) -> None:
    rules = rendered_rules(tmp_path)
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/runbook.md", rule["alert"]
        assert anchor in RUNBOOK_ANCHORS, f"{rule['alert']}: no runbook section {anchor!r}"


def test_rules_use_only_catalogued_metrics(tmp_path: Path) -> None:
    for rule in rendered_rules(tmp_path):
        assert metric_names(rule["expr"]) <= catalog() | STANDARD_METRICS, rule["alert"]


def test_the_unit_tests_cover_every_alert_firing_and_quiet() -> None:
    document = yaml.safe_load(RULE_TESTS.read_text())
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in document["tests"]:
        for case in test["alert_rule_test"]:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert firing == ALERTS
    assert quiet == ALERTS


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    settings = default_settings(tmp_path, workers=3)
    prometheus = Prometheus(settings)
    prometheus.render()
    checked = run("promtool", "check", "config", prometheus.config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout
    config = prometheus.config.read_text()
    assert f"scrape_interval: {duration(settings.scrape_interval_s)}" in config
    assert f"127.0.0.1:{settings.alertmanager_port}" in config


def test_targets_name_every_worker(tmp_path: Path) -> None:
    settings = default_settings(tmp_path, workers=3, worker_web_port_base=7000)
    Prometheus(settings).render()
    targets = tmp_path / "observability" / "targets"
    workers = json.loads((targets / "workers.json").read_text())
    assert [(t["targets"], t["labels"]["service"]) for t in workers] == [
        (["127.0.0.1:7000"], "worker-1"),
        (["127.0.0.1:7001"], "worker-2"),
        (["127.0.0.1:7002"], "worker-3"),
    ]
    web = json.loads((targets / "web.json").read_text())
    assert web == [{"targets": [f"127.0.0.1:{settings.web_port}"], "labels": {"service": "web"}}]
    supervisor = json.loads((targets / "supervisor.json").read_text())
    assert supervisor[0]["targets"] == [f"127.0.0.1:{settings.supervisor_port}"]


@pytest.mark.parametrize("webhook_url", [None, "http://127.0.0.1:9/alerts"])
def test_alertmanager_config_passes_amtool(tmp_path: Path, webhook_url: str | None) -> None:
    alertmanager = Alertmanager(default_settings(tmp_path), webhook_url=webhook_url)
    alertmanager.render()
    checked = run("amtool", "check-config", alertmanager.config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load(alertmanager.config.read_text())
    receiver = config["route"]["receiver"]
    assert receiver == ("webhook" if webhook_url else "null")
    if webhook_url:
        [webhook] = [r for r in config["receivers"] if r["name"] == "webhook"]
        assert webhook["webhook_configs"][0]["url"] == webhook_url


def test_duration_is_what_prometheus_parses() -> None:
    assert [duration(s) for s in (120, 15, 1.5, 3600, 0.25)] == [
        "2m",
        "15s",
        "1500ms",
        "1h",
        "250ms",
    ]


# --- dashboards -------------------------------------------------------------------------------


def grafana(name: str) -> dict[str, Any]:
    return json.loads((GRAFANA_DIR / f"{name}.json").read_text())


def grafana_queries(name: str) -> list[str]:
    return [target["expr"] for panel in grafana(name)["panels"] for target in panel["targets"]]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_grafana_dashboard_is_importable(name: str) -> None:
    board = grafana(name)
    assert board["uid"] == f"pdfchat-{name}"
    assert 36 <= board["schemaVersion"] <= 41
    [variable] = board["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)) and ids
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24


@pytest.mark.parametrize("name", DASHBOARDS)
def test_grafana_dashboard_uses_only_catalogued_metrics(name: str) -> None:
    for expr in grafana_queries(name):
        unknown = metric_names(expr) - catalog() - STANDARD_METRICS
        assert not unknown, f"{name}: {expr} uses {unknown}"


@pytest.mark.parametrize("name", DASHBOARDS)
def test_console_shows_the_same_queries_as_grafana(name: str) -> None:
    console = (CONSOLES_DIR / f"{name}.html").read_text()
    for expr in grafana_queries(name):
        assert expr in console, f"consoles/{name}.html lacks {expr}"
    unknown = set(re.findall(r"\bpdfchat_\w+", console)) - catalog()
    assert not unknown, f"consoles/{name}.html uses {unknown}"


def test_console_index_links_every_console() -> None:
    index = (CONSOLES_DIR / "index.html").read_text()
    menu = (OPS_DIR / "console_libraries" / "menu.lib").read_text()
    for name in DASHBOARDS:
        assert f'href="{name}.html"' in index
        assert f'"{name}.html"' in menu


def test_grafana_json_is_what_the_generator_writes() -> None:
    generator = load_generator()
    for file_name, text in generator.render_all().items():
        stale = f"grafana/{file_name} is stale: run .venv/bin/python {GRAFANA_DIR}/generate.py"
        assert (GRAFANA_DIR / file_name).read_text() == text, stale


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_metric_names_finds_metrics_not_labels_or_functions() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, mode) (rate(pdfchat_search_duration_seconds_"
        'bucket{job="pdfchat-web", mode=~"vector|text"}[5m]))) / on (mode) group_left '
        "max by (mode) (up offset 5m) > bool 2"
    )
    assert metric_names(expr) == {"pdfchat_search_duration_seconds_bucket", "up"}


# --- helpers ----------------------------------------------------------------------------------

KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, or inside label matchers, grouping clauses, ranges or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)  # strings
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # matchers, ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])[0-9][A-Za-z0-9_.]*", " ", text)  # numbers, durations
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def catalog() -> set[str]:
    """Every series name core/metrics.py exports (counters end in _total, histograms have
    _bucket, _sum and _count)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for value in vars(core.metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names
