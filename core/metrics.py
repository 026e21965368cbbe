"""Every Prometheus metric pdfchat exports, in one place, named by Prometheus conventions.

Each process exports the ones it updates on its own ``/metrics``: the web process (requests,
search, sockets, and the system-wide gauges it polls: lag, DLQ depth, outbox, task age,
budgets), each worker (agents, parse, embed, chat, breakers), and the local supervisor
(restarts). Alert rules and dashboards in ``ops/observability/`` use exactly these names.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# Agents (the runner in agents/runner.py counts every event of every agent).
AGENT_EVENTS = Counter(
    "pdfchat_agent_events_total",
    "Events an agent finished, by outcome (ok, failed, dead_lettered)",
    ["agent", "outcome"],
)
AGENT_EVENT_DURATION = Histogram(
    "pdfchat_agent_event_duration_seconds",
    "Time an agent spent on one event",
    ["agent"],
    buckets=_SLOW,
)
RETRIES = Counter(
    "pdfchat_retries_total",
    "Attempts repeated after a transient failure, by operation and reason",
    ["operation", "reason"],
)
FAILURES = Counter(
    "pdfchat_failures_total",
    "Work that ended in failure, by stage (the agent) and error code",
    ["stage", "error_code"],
)
DEPENDENCY_WAITS = Counter(
    "pdfchat_dependency_outage_waits_total",
    "Times an agent held an event back because Postgres or Kafka was unreachable",
    ["agent"],
)

# Ingestion
PARSE_DURATION = Histogram(
    "pdfchat_parse_duration_seconds",
    "Time to parse one PDF, from claim to committed segments",
    buckets=_SLOW,
)
PAGES_PARSED = Counter("pdfchat_parsed_pages_total", "Pages parsed")
EMBED_DURATION = Histogram(
    "pdfchat_embed_duration_seconds",
    "Time to embed one document and store its vectors",
    buckets=_SLOW,
)
PAGES_EMBEDDED = Counter("pdfchat_embedded_pages_total", "Pages of documents embedded")
SEGMENTS_EMBEDDED = Counter("pdfchat_embedded_segments_total", "Segments embedded")

# Search and chat
SEARCH_DURATION = Histogram(
    "pdfchat_search_duration_seconds",
    "Time to answer one search, by mode",
    ["mode"],
    buckets=_FAST,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "pdfchat_chat_time_to_first_token_seconds",
    "From the question's commit to its first token on the answers topic",
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 1.5, 2.5, 5, 10),
)
ANSWERS = Counter("pdfchat_chat_answers_total", "Answers by outcome", ["outcome"])
FLAG_RECORDS_DROPPED = Counter(
    "pdfchat_flag_records_dropped_total",
    "Flag records this process refused: new keys past its bound, or undecodable",
)
FLAGS_DISCONNECTED = Gauge(
    "pdfchat_flags_disconnected",
    "1 while this process's view of the flags has lost the broker (it keeps the last states)",
)
AUDIT_PROBLEMS = Gauge(
    "pdfchat_audit_problems",
    "Problems the last check of a tenant's audit trail found (changed, removed or inserted"
    " events, damaged archives): 0 when it is intact",
    ["tenant"],
)
AUDIT_VERIFIED = Gauge(
    "pdfchat_audit_verified_timestamp_seconds", "When every tenant's audit trail was last checked"
)
ROLLOUT_STEPS = Counter(
    "pdfchat_rollout_steps_total",
    "Canary rollouts moved by the leader: advance, complete or roll_back",
    ["action"],
)
for _action in ("advance", "complete", "roll_back"):
    ROLLOUT_STEPS.labels(_action)  # at 0 from the start: increase() sees the first move
STREAM_PAUSES = Counter(
    "pdfchat_chat_stream_pauses_total",
    "Answer streams paused for another tenant's question with fewer answers running",
)
TOKENS = Counter(
    "pdfchat_chat_tokens_total", "Model tokens accounted", ["tenant", "model", "direction"]
)
COST = Counter("pdfchat_chat_cost_usd_total", "Model spend accounted, in USD", ["tenant", "model"])
BREAKER_STATE = Gauge(
    "pdfchat_circuit_breaker_state",
    "A model's circuit breaker in this worker: 0 closed, 1 half-open, 2 open",
    ["model"],
)
WEBSOCKETS = Gauge("pdfchat_websocket_connections", "Answer sockets open on this web process")

# Web
HTTP_REQUESTS = Counter(
    "pdfchat_http_requests_total",
    "HTTP requests by route, method and status",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "pdfchat_http_request_duration_seconds",
    "HTTP request time by route",
    ["route", "method"],
    buckets=_FAST,
)

# System-wide gauges, polled by every web process (alerts take the max over processes).
CONSUMER_LAG = Gauge(
    "pdfchat_consumer_lag_messages",
    "Messages in a partition not yet committed by a consumer group",
    ["group", "topic", "partition"],
)
DLQ_DEPTH = Gauge("pdfchat_dlq_messages", "Messages held in a dead-letter topic", ["topic"])
OUTBOX_BACKLOG = Gauge("pdfchat_outbox_backlog_messages", "Outbox rows not yet published")
OUTBOX_OLDEST = Gauge(
    "pdfchat_outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published"
)
DOCUMENTS = Gauge("pdfchat_documents", "Documents in each unfinished state", ["status"])
DOCUMENTS_WITHOUT_POSTINGS = Gauge(
    "pdfchat_documents_without_postings",
    "Ready documents with segments but no full-text postings: text search cannot find them",
)
DOCUMENTS_GIVEN_UP = Gauge(
    "pdfchat_documents_given_up",
    "Ready documents whose work after ready (encodings, topic_maps) failed every time the"
    " maintenance sweep asked for it: it asks no more",
    ["work"],
)
TASK_AGE = Gauge(
    "pdfchat_task_age_seconds",
    "How long the oldest document in an unfinished state has been in it",
    ["state"],
)
BUDGET_USED = Gauge(
    "pdfchat_tenant_budget_used_ratio",
    "A tenant's chat spend this month over its budget",
    ["tenant"],
)
POLL_ERRORS = Counter(
    "pdfchat_system_poll_errors_total", "Failed polls of the system-wide gauges", ["source"]
)

# Tracing (core/tracing.py): what the in-process tail sampling decided for each local trace
# (a request, an event), and spans it had to drop because too many were waiting.
TRACES = Counter(
    "pdfchat_traces_total", "Local traces decided by tail sampling, by decision", ["decision"]
)
TRACE_SPANS_DROPPED = Counter(
    "pdfchat_trace_spans_dropped_total", "Spans dropped before a decision: too many waiting"
)

# Every long-running process (core/heap.py): a collection stops the whole process, sockets
# and answers included.
GC_PAUSE = Histogram(
    "pdfchat_gc_pause_seconds",
    "Time a garbage collection stopped this process, by generation",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# The local supervisor (`pdfchat up`)
RESTARTS = Counter(
    "pdfchat_supervisor_restarts_total", "Services the supervisor restarted", ["service"]
)
SERVICE_UP = Gauge(
    "pdfchat_supervisor_service_up",
    "1 when the supervisor sees the service running",
    ["service"],
)
