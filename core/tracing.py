"""The one tracing setup: OpenTelemetry spans exported over OTLP/HTTP, W3C context on the wire.

    setup_tracing(settings, "web")          once at process start (a no-op without an endpoint)
    with tracer.start_as_current_span("search"): ...
    headers = inject({})                    traceparent (+ tracestate, baggage) and x-request-id
    context = extract(event.headers)        Faust's dict of bytes, aiokafka's list of pairs
    shutdown_tracing()                      at exit: flushes what it can, in bounded time

Sampling is the collector's (tail sampling: a share of normal traces, every error and every
slow one), so this process records and exports every span when an endpoint is set. Export is
best effort: spans queue in memory (bounded) and a background thread sends them; a collector
that is down or slow costs dropped spans, never a slower or failed request.

Database queries (asyncpg, one span each) are traced inside a request or an event; queries
with no parent (pollers, heartbeats, the relay's idle loop) are not, or they would make a
trace of their own every few seconds.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Status, StatusCode, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from core.logging import request_id

log = logging.getLogger("pdfchat.tracing")

REQUEST_ID_HEADER = "x-request-id"
# Per export request. The exporter retries within this time, then the batch is dropped.
EXPORT_TIMEOUT_S = 2.0
# Spans waiting for export; beyond this, new ones are dropped (memory stays bounded).
MAX_QUEUE_SIZE = 2048
SCHEDULE_DELAY_MS = 2000
# shutdown_tracing waits at most this long for the last spans to leave.
SHUTDOWN_TIMEOUT_S = 3.0
# The SDK logs every dropped span and every failed export: at most once per this period each.
LOG_EVERY_S = 60.0

tracer = trace.get_tracer("pdfchat")

Headers = Mapping[str, bytes | str] | Sequence[tuple[str, bytes | str]]

_lock = threading.Lock()
_provider: Any = None  # the SDK TracerProvider setup_tracing installed, if any


def setup_tracing(settings: Any, service: str) -> None:
    """Install the tracer provider of this process, once; nothing without ``otel_endpoint``."""
    global _provider
    endpoint = getattr(settings, "otel_endpoint", None)
    with _lock:
        if _provider is not None or not endpoint:
            return
        provider = _make_provider(f"{endpoint.rstrip('/')}/v1/traces", f"pdfchat-{service}")
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        trace.set_tracer_provider(provider)
        _throttle_sdk_logs()
        _instrument_asyncpg()
        _provider = provider
    atexit.register(shutdown_tracing)
    log.info("tracing to %s as pdfchat-%s", endpoint, service)


def shutdown_tracing() -> None:
    """Send the spans still queued and stop; gives up after ``SHUTDOWN_TIMEOUT_S``."""
    global _provider
    with _lock:
        provider, _provider = _provider, None
    if provider is None:
        return
    # The SDK's own shutdown may wait up to 30 s on a collector that is down: bound it.
    done = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    done.start()
    done.join(SHUTDOWN_TIMEOUT_S)


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """The current trace context (``traceparent``, ``tracestate``, ``baggage``) and request id
    (``x-request-id``) written into ``headers``; returns ``headers``. Without a current span
    nothing of the trace is written, and an ``x-request-id`` already there stays."""
    propagate.inject(headers)
    current = request_id.get()
    if current:
        headers[REQUEST_ID_HEADER] = current
    return headers


def extract(headers: Headers | None) -> otel_context.Context:
    """The trace context carried by message headers, to start a span with (``context=``)."""
    return propagate.extract(_as_text(headers))


def request_id_from(headers: Headers | None) -> str | None:
    """The request id carried by message headers, if any."""
    return _as_text(headers).get(REQUEST_ID_HEADER) or None


def current_trace_id() -> str | None:
    """The current span's trace id in hex, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format_trace_id(context.trace_id) if context.is_valid else None


def record_error(span: trace.Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: status ERROR, the exception as an event, and its code."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute("error.type", getattr(exc, "code", None) or type(exc).__qualname__)


# ---------------------------------------------------------------------------------------------


def _as_text(headers: Headers | None) -> dict[str, str]:
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        str(name).lower(): value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        for name, value in items
        if isinstance(value, bytes | str)
    }


def _make_provider(url: str, service_name: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    root = _NoOrphanQueries()
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        # A caller's "not sampled" flag does not switch us off: the collector decides.
        sampler=ParentBased(root=root, remote_parent_not_sampled=root),
        shutdown_on_exit=False,  # ours is bounded (shutdown_tracing, registered at exit)
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S),
            max_queue_size=MAX_QUEUE_SIZE,
            schedule_delay_millis=SCHEDULE_DELAY_MS,
            export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
        )
    )
    return provider


def _instrument_asyncpg() -> None:
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    except ImportError:  # an optional extra of sorts: tracing works without query spans
        log.warning("opentelemetry-instrumentation-asyncpg is missing: no database spans")
        return
    instrumentor = AsyncPGInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


class _NoOrphanQueries(Sampler):
    """Root sampler: every span, except a database query that is not part of anything."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                      links=None, trace_state=None) -> SamplingResult:  # fmt: skip
        orphan_query = attributes is not None and (
            "db.system" in attributes or "db.system.name" in attributes
        )
        chosen = ALWAYS_OFF if orphan_query else ALWAYS_ON
        return chosen.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                    trace_state)  # fmt: skip

    def get_description(self) -> str:
        return "NoOrphanQueries"


class _Throttle(logging.Filter):
    """Lets each distinct message through at most once per ``LOG_EVERY_S``."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = str(record.msg)
        if now - self._last.get(key, -LOG_EVERY_S) < LOG_EVERY_S:
            return False
        self._last[key] = now
        return True


_SDK_LOGGERS = (
    "opentelemetry.sdk._shared_internal",  # "Queue full, dropping Span."
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",  # failed exports and retries
)


def _throttle_sdk_logs() -> None:
    throttle = _Throttle()
    for name in _SDK_LOGGERS:
        logging.getLogger(name).addFilter(throttle)
