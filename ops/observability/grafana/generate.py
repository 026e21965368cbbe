"""Writes the four Grafana dashboards of pdfchat (lag, ingestion, chat, cost) as JSON.

    .venv/bin/python ops/observability/grafana/generate.py

The JSON files beside this script are its output, kept in the repository so Grafana users
import them without running anything; tests/ops/test_alert_rules.py fails when they are out of
date. The queries are those of the Prometheus consoles in ../consoles/ (the same test checks
that every query here is also on the console of the same name). Metric names: core/metrics.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SCHEMA_VERSION = 39


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "table": an instant query, one row per series
    description: str = ""
    width: int = field(default=12)


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def graph(
    title: str,
    expr: str,
    legend: str,
    *,
    unit: str = "short",
    description: str = "",
    width: int = 12,
) -> Panel:
    """A time series panel of one query."""
    return Panel(title, (q(expr, legend),), unit=unit, description=description, width=width)


def table(title: str, expr: str, *, unit: str = "short", description: str = "") -> Panel:
    """A full-width table of one instant query, a row per series."""
    return Panel(title, (q(expr),), unit=unit, kind="table", description=description, width=24)


def quantile(level: str, histogram: str, by: str = "") -> str:
    """The level quantile over 5 minutes of a histogram, summed by le (and by)."""
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({level}, sum by ({labels}) (rate({histogram}_bucket[5m])))"


def timings(title: str, histogram: str, *, description: str = "") -> Panel:
    """p50 and p95 of a histogram of seconds."""
    queries = (q(quantile("0.5", histogram), "p50"), q(quantile("0.95", histogram), "p95"))
    return Panel(title, queries, unit="s", description=description)


def p95_by(title: str, label: str, histogram: str) -> Panel:
    """p95 of a histogram of seconds, a line per value of label."""
    return graph(title, quantile("0.95", histogram, label), "{{" + label + "}}", unit="s")


LAG = [
    table(
        "Consumer lag by partition (now)",
        "max by (group, topic, partition) (pdfchat_consumer_lag_messages)",
        description="Messages not yet committed, per consumer group, topic and partition.",
    ),
    graph(
        "Consumer lag by group and topic",
        "max by (group, topic) (sum by (group, topic, instance) (pdfchat_consumer_lag_messages))",
        "{{group}} / {{topic}}",
        description="What ConsumerLagHigh alerts on (max over web processes of the sum "
        "over partitions).",
    ),
    graph(
        "Consumer lag by partition",
        "max by (group, topic, partition) (pdfchat_consumer_lag_messages)",
        "{{topic}} [{{partition}}]",
    ),
    graph(
        "Events finished per second, by agent",
        "sum by (agent) (rate(pdfchat_agent_events_total[5m]))",
        "{{agent}}",
        unit="ops",
    ),
    p95_by("Event time p95, by agent", "agent", "pdfchat_agent_event_duration_seconds"),
    graph(
        "Workers up",
        'up{job="pdfchat-workers"}',
        "{{service}}",
        description="0 is a worker down (alert WorkerDown).",
    ),
    graph(
        "Lag polls that failed per second",
        "sum by (source) (rate(pdfchat_system_poll_errors_total[5m]))",
        "{{source}}",
        unit="ops",
        description="Above zero, the lag and depth gauges are stale.",
    ),
]

INGESTION = [
    timings("Parse time", "pdfchat_parse_duration_seconds"),
    timings("Embed time", "pdfchat_embed_duration_seconds"),
    Panel(
        "Pages per second",
        (
            q("sum(rate(pdfchat_parsed_pages_total[5m]))", "parsed"),
            q("sum(rate(pdfchat_embedded_pages_total[5m]))", "embedded"),
            q("sum(rate(pdfchat_embedded_segments_total[5m]))", "segments embedded"),
        ),
        unit="ops",
    ),
    graph(
        "Failures per second, by stage and code",
        "sum by (stage, error_code) (rate(pdfchat_failures_total[5m]))",
        "{{stage}}: {{error_code}}",
        unit="ops",
    ),
    Panel(
        "Retries per second",
        (
            q(
                "sum by (operation, reason) (rate(pdfchat_retries_total[5m]))",
                "{{operation}}: {{reason}}",
            ),
            q(
                "sum by (agent) (rate(pdfchat_dependency_outage_waits_total[5m]))",
                "{{agent}} waiting for a dependency",
            ),
        ),
        unit="ops",
    ),
    graph(
        "Dead letters",
        "max by (topic) (pdfchat_dlq_messages)",
        "{{topic}}",
        description="Messages held in a dead-letter topic (alert DeadLettersGrowing).",
    ),
    Panel(
        "Outbox",
        (
            q("max(pdfchat_outbox_backlog_messages)", "rows waiting"),
            q("max(pdfchat_outbox_oldest_age_seconds)", "oldest (s)"),
        ),
    ),
    graph("Documents by state", "max by (status) (pdfchat_documents)", "{{status}}"),
    graph(
        "Oldest document in each state",
        "max by (state) (pdfchat_task_age_seconds)",
        "{{state}}",
        unit="s",
        description="Alert TaskAgeOverDeadline past PDFCHAT_DOCUMENT_DEADLINE_S.",
    ),
    graph(
        "Resident memory, by process",
        'max by (job, instance) (process_resident_memory_bytes{job=~"pdfchat-.*"})',
        "{{job}} {{instance}}",
        unit="bytes",
    ),
]

CHAT = [
    timings(
        "Time to first token",
        "pdfchat_chat_time_to_first_token_seconds",
        description="Alert TimeToFirstTokenSlow when p95 is over 1.5 s.",
    ),
    graph(
        "Answers per second, by outcome",
        "sum by (outcome) (rate(pdfchat_chat_answers_total[5m]))",
        "{{outcome}}",
        unit="ops",
    ),
    graph(
        "Circuit breakers",
        "max by (model) (pdfchat_circuit_breaker_state)",
        "{{model}}",
        description="0 closed, 1 half-open, 2 open (alert CircuitOpen).",
    ),
    graph("Open answer sockets", "sum(pdfchat_websocket_connections)", "sockets"),
    graph(
        "Time stopped by garbage collection, by process",
        "sum by (job, instance) (rate(pdfchat_gc_pause_seconds_sum[5m]))",
        "{{job}} {{instance}}",
        unit="percentunit",
        description="A collection stops every socket and answer of its process (runbook).",
    ),
    p95_by("Search time p95, by mode", "mode", "pdfchat_search_duration_seconds"),
    graph(
        "HTTP requests per second, by route and status",
        "sum by (route, status) (rate(pdfchat_http_requests_total[5m]))",
        "{{route}} {{status}}",
        unit="reqps",
    ),
    p95_by("HTTP time p95, by route", "route", "pdfchat_http_request_duration_seconds"),
]

COST = [
    table(
        "Spend in the last 24 hours, by tenant and model",
        "sum by (tenant, model) (increase(pdfchat_chat_cost_usd_total[24h]))",
        unit="currencyUSD",
    ),
    graph(
        "Spend per hour, by tenant",
        "sum by (tenant) (rate(pdfchat_chat_cost_usd_total[1h])) * 3600",
        "{{tenant}}",
        unit="currencyUSD",
    ),
    graph(
        "Spend per hour, by model",
        "sum by (model) (rate(pdfchat_chat_cost_usd_total[1h])) * 3600",
        "{{model}}",
        unit="currencyUSD",
    ),
    graph(
        "Tokens per minute, by model and direction",
        "sum by (model, direction) (rate(pdfchat_chat_tokens_total[5m])) * 60",
        "{{model}} {{direction}}",
    ),
    graph(
        "Tokens per minute, by tenant",
        "sum by (tenant) (rate(pdfchat_chat_tokens_total[5m])) * 60",
        "{{tenant}}",
    ),
    graph(
        "Budget used this month, by tenant",
        "max by (tenant) (pdfchat_tenant_budget_used_ratio)",
        "{{tenant}}",
        unit="percentunit",
        description="Alert TenantNearBudget over 90 %.",
        width=24,
    ),
]

DASHBOARDS = {
    "lag": ("pdfchat: Kafka consumer lag", LAG),
    "ingestion": ("pdfchat: ingestion", INGESTION),
    "chat": ("pdfchat: chat", CHAT),
    "cost": ("pdfchat: cost and budgets", COST),
}


def dashboard(name: str, title: str, panels: list[Panel]) -> dict[str, object]:
    return {
        "uid": f"pdfchat-{name}",
        "title": title,
        "description": "From ops/observability/grafana/generate.py; runbook: docs/runbook.md",
        "tags": ["pdfchat"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": [_datasource_variable()]},
        "annotations": {"list": []},
        "links": [
            {"title": other, "type": "link", "url": f"/d/pdfchat-{other}", "targetBlank": False}
            for other in DASHBOARDS
            if other != name
        ],
        "panels": _laid_out(panels),
    }


def _datasource_variable() -> dict[str, object]:
    # Referenced as ${DS_PROMETHEUS} by every panel: importing or provisioning picks it.
    return {
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def _laid_out(panels: list[Panel]) -> list[dict[str, object]]:
    """Left to right, top to bottom, on Grafana's 24-column grid."""
    laid_out, x, y = [], 0, 0
    for number, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + 8
        laid_out.append(_panel(number, panel, {"h": 8, "w": panel.width, "x": x, "y": y}))
        x += panel.width
    return laid_out


def _panel(number: int, panel: Panel, grid: dict[str, int]) -> dict[str, object]:
    table = panel.kind == "table"
    targets = [
        {
            "refId": chr(ord("A") + index),
            "datasource": DATASOURCE,
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "range": not table,
            "instant": table,
            **({"format": "table"} if table else {}),
        }
        for index, query in enumerate(panel.queries)
    ]
    result: dict[str, object] = {
        "id": number,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": grid,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
    }
    if table:
        # One row per series: drop the time column, keep labels and the value.
        result["transformations"] = [
            {"id": "organize", "options": {"excludeByName": {"Time": True}}}
        ]
        result["options"] = {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]}
    else:
        result["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return result


def render_all() -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return {
        f"{name}.json": json.dumps(dashboard(name, title, panels), indent=2) + "\n"
        for name, (title, panels) in DASHBOARDS.items()
    }


def main() -> None:
    for file_name, text in render_all().items():
        (HERE / file_name).write_text(text)
        print(f"wrote {HERE / file_name}")


if __name__ == "__main__":
    main()
