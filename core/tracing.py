"""The one tracing setup: OpenTelemetry spans exported over OTLP/HTTP, W3C context on the wire.

    setup_tracing(settings, "web")          once at process start
    with tracer.start_as_current_span("search"): ...
    headers = inject({})                    traceparent (+ tracestate, baggage) and x-request-id
    context = extract(event.headers)        Faust's dict of bytes, aiokafka's list of pairs
    shutdown_tracing()                      at exit: flushes what it can, in bounded time

Sampling is tail sampling, in two places. In this process, the spans of a trace wait until its
local root (the request, the event) ends, and go to the collector only when the trace is worth
keeping: an error, slower than ``trace_slow_ms``, or among the ``trace_sample_percent`` of
trace ids (the same ids in every process, so a sampled trace is whole). Serialising and
sending every span cost a fifth of the throughput on 2 cores (docs/benchmarks.md); this is the
difference. The collector then applies the same policies to what it receives (spans of sampled
traces carry ``pdfchat.sampled``). Export is best effort: spans queue in memory (bounded) and a
background thread sends them; a collector that is down or slow costs dropped spans, never a
slower or failed request.

Without an endpoint nothing is recorded or sent, but every request and event still gets trace
and span ids: the records this process sends carry a ``traceparent`` all the same, so a
subscriber can join a topic's records to each other and to the API call behind them.

Database queries (asyncpg, one span each) are traced inside a request or an event; queries
with no parent (pollers, heartbeats, the relay's idle loop) are not, or they would make a
trace of their own every few seconds.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Status, StatusCode, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from core.logging import request_id
from core.metrics import TRACE_SPANS_DROPPED, TRACES

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
    """Install the tracer provider of this process, once: exporting to ``otel_endpoint``, or,
    without one, giving spans their ids and nothing more."""
    global _provider
    endpoint = getattr(settings, "otel_endpoint", None)
    with _lock:
        if _provider is not None:
            return
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        if not endpoint:
            _provider = _ids_only_provider()
            trace.set_tracer_provider(_provider)
            return
        provider = _make_provider(
            f"{endpoint.rstrip('/')}/v1/traces",
            f"pdfchat-{service}",
            percent=settings.trace_sample_percent,
            slow_s=settings.trace_slow_ms / 1000,
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


def _ids_only_provider() -> Any:
    """Spans with ids, never recorded (the SDK makes them non-recording: no attributes kept,
    nothing to export), continuing a caller's trace when there is one."""
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)


def _make_provider(url: str, service_name: str, *, percent: float, slow_s: float) -> Any:
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
    export = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S),
        max_queue_size=MAX_QUEUE_SIZE,
        schedule_delay_millis=SCHEDULE_DELAY_MS,
        export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
    )
    provider.add_span_processor(TailSampling(export, percent=percent, slow_s=slow_s))
    return provider


def _instrument_asyncpg() -> None:
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    except ImportError:  # an optional extra of sorts: tracing works without query spans
        log.warning("opentelemetry-instrumentation-asyncpg is missing: no database spans")
        return
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # untyped __init__
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


SAMPLED_ATTRIBUTE = "pdfchat.sampled"
# What a streaming span (an answer, its socket) is judged slow by, instead of its duration:
# the time to its first token. Set with ``mark_latency``.
LATENCY_ATTRIBUTE = "pdfchat.latency_ms"
# Traces decided lately: a span that ends after its local root follows the root's decision.
DECIDED_REMEMBERED = 10_000
_LOW_64_BITS = (1 << 64) - 1


def mark_latency(seconds: float) -> None:
    """Judge the current trace slow or not by ``seconds`` (say, the time to the first token of
    a streamed answer) rather than by how long its root ran."""
    trace.get_current_span().set_attribute(LATENCY_ATTRIBUTE, round(seconds * 1000, 1))


class TailSampling(SpanProcessor):
    """Holds each trace's spans until its local root ends, then hands them to ``export`` if the
    trace had an error, was slower than ``slow_s``, or its id is in the sampled ``percent``
    (decided on the id alone, like TraceIdRatioBased, so every process keeps the same ones).
    A trace is as slow as its root's duration, or the largest ``pdfchat.latency_ms`` one of
    its spans reports. At most ``MAX_QUEUE_SIZE`` spans wait; beyond that new ones are dropped.
    Every decision is counted in ``pdfchat_traces_total{decision}``."""

    def __init__(self, export: SpanProcessor, *, percent: float, slow_s: float) -> None:
        self._export = export
        self._bound = round(percent / 100 * (1 << 64))
        self._slow_ms = slow_s * 1000
        self._lock = threading.Lock()
        self._waiting: dict[int, list[Any]] = {}
        self._held = 0
        self._decided: OrderedDict[int, bool] = OrderedDict()

    def sampled(self, trace_id: int) -> bool:
        return (trace_id & _LOW_64_BITS) < self._bound

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.sampled(span.context.trace_id):
            span.set_attribute(SAMPLED_ATTRIBUTE, True)
        self._export.on_start(span, parent_context=parent_context)

    def on_end(self, span: Any) -> None:
        trace_id = span.context.trace_id
        with self._lock:
            if trace_id in self._decided:
                keep, spans = self._decided[trace_id], [span]
            else:
                spans = self._waiting.setdefault(trace_id, [])
                if self._held < MAX_QUEUE_SIZE:
                    spans.append(span)
                    self._held += 1
                else:
                    TRACE_SPANS_DROPPED.inc()
                if span.parent is not None and not span.parent.is_remote:
                    return  # not the local root: wait for it
                spans = self._waiting.pop(trace_id)
                self._held -= len(spans)
                decision = self.decide(spans, span)
                TRACES.labels(decision).inc()
                keep = decision != "dropped"
                self._remember(trace_id, keep)
        if keep:
            for done in spans:
                self._export.on_end(done)

    def decide(self, spans: list[Any], root: Any) -> str:
        """``error``, ``slow``, ``sampled`` (kept, for that reason) or ``dropped``."""
        if any(s.status.status_code is StatusCode.ERROR for s in spans):
            return "error"
        reported = [s.attributes.get(LATENCY_ATTRIBUTE) for s in spans if s.attributes]
        latencies = [ms for ms in reported if isinstance(ms, int | float)]
        if latencies:
            latency_ms = max(latencies)
        else:
            latency_ms = ((root.end_time or 0) - (root.start_time or 0)) / 1e6
        if latency_ms > self._slow_ms:
            return "slow"
        return "sampled" if self.sampled(root.context.trace_id) else "dropped"

    def _remember(self, trace_id: int, keep: bool) -> None:
        self._decided[trace_id] = keep
        if len(self._decided) > DECIDED_REMEMBERED:
            self._decided.popitem(last=False)

    def shutdown(self) -> None:
        self._export.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._export.force_flush(timeout_millis)


class _NoOrphanQueries(Sampler):
    """Root sampler: every span, except a database query that is not part of anything."""

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        orphan_query = attributes is not None and (
            "db.system" in attributes or "db.system.name" in attributes
        )
        chosen = ALWAYS_OFF if orphan_query else ALWAYS_ON
        return chosen.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

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
