"""core.tracing: context across Kafka headers and the outbox, log lines that name their trace,
and telemetry that stays best effort when the collector is down."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import StatusCode

from core import tracing
from core.logging import logging_config, request_id
from storage import outbox

ROOT = Path(__file__).resolve().parents[2]


def _faust_form(headers: dict[str, str]) -> dict[str, bytes]:
    return {name: value.encode() for name, value in headers.items()}


def _aiokafka_form(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in headers.items()]


@pytest.mark.parametrize(
    "form", [_faust_form, _aiokafka_form, dict], ids=["faust", "aiokafka", "outbox"]
)
def test_context_and_request_id_survive_the_headers(spans, form) -> None:
    token = request_id.set("req-42")
    try:
        with tracing.tracer.start_as_current_span("sender") as sender:
            headers = tracing.inject({})
    finally:
        request_id.reset(token)
    assert headers["x-request-id"] == "req-42" and "traceparent" in headers
    carried = form(dict(headers))

    assert tracing.request_id_from(carried) == "req-42"
    with tracing.tracer.start_as_current_span("receiver", context=tracing.extract(carried)):
        assert tracing.current_trace_id() == f"{sender.get_span_context().trace_id:032x}"
    (receiver,) = [s for s in spans.get_finished_spans() if s.name == "receiver"]
    assert receiver.context.trace_id == sender.get_span_context().trace_id
    assert receiver.parent is not None and receiver.parent.span_id == sender.context.span_id


def test_headers_without_context_start_a_new_trace(spans) -> None:
    for empty in (None, {}, [], {"other": b"x"}):
        assert tracing.request_id_from(empty) is None
        with tracing.tracer.start_as_current_span("fresh", context=tracing.extract(empty)) as s:
            assert s.get_span_context().is_valid
    assert all(s.parent is None for s in spans.get_finished_spans())


def test_inject_outside_a_span_keeps_what_is_there() -> None:
    assert tracing.current_trace_id() is None
    assert tracing.inject({"x-request-id": "from-upstream"}) == {"x-request-id": "from-upstream"}
    token = request_id.set("mine")
    try:
        assert tracing.inject({}) == {"x-request-id": "mine"}
    finally:
        request_id.reset(token)


def test_record_error_marks_the_span(spans) -> None:
    with tracing.tracer.start_as_current_span("failing") as span:
        tracing.record_error(span, ValueError("bad pdf"))
    (done,) = spans.get_finished_spans()
    assert done.status.status_code is StatusCode.ERROR and "bad pdf" in done.status.description
    assert [e.name for e in done.events] == ["exception"]
    assert done.attributes["error.type"] == "ValueError"


class _Record:
    def __init__(self, key: str) -> None:
        self.key = key

    def kafka_key(self) -> str:
        return self.key

    def dumps(self) -> bytes:
        return json.dumps({"key": self.key}).encode()


async def test_enqueued_messages_carry_the_committing_request(pg, spans) -> None:
    key = f"k-{uuid.uuid4().hex}"
    explicit = outbox.OutboxMessage.of("t.b", _Record(key), headers={"x-request-id": "explicit"})
    token = request_id.set("req-outbox")
    try:
        async with pg.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                with tracing.tracer.start_as_current_span("upload") as span:
                    await outbox.enqueue(
                        conn, [outbox.OutboxMessage.of("t.a", _Record(key)), explicit]
                    )
                rows = [m for m in await outbox.pending(conn) if m.key == key]
            finally:
                await tx.rollback()
    finally:
        request_id.reset(token)

    assert [m.topic for m in rows] == ["t.a", "t.b"]
    trace_id = f"{span.get_span_context().trace_id:032x}"
    for row in rows:
        assert trace_id in row.headers["traceparent"]
        # What the relay does with the row: the same trace goes on from its headers.
        assert (
            trace.get_current_span(tracing.extract(row.headers)).get_span_context().trace_id
            == span.get_span_context().trace_id
        )
    assert rows[0].headers["x-request-id"] == "req-outbox"
    assert rows[1].headers["x-request-id"] == "explicit"  # the caller's headers win


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A handler made from the real dictConfig mapping's formatter and filter, on a logger of
    its own (dictConfig itself would close every handler of the process, pytest's too)."""
    config = logging_config("test-service")
    made = logging.config.DictConfigurator(config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(made.configure_formatter(config["formatters"]["default"]))
    handler.addFilter(made.configure_filter(config["filters"]["context"]))
    logger = logging.getLogger("pdfchat.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_json_log_lines_name_their_trace(spans, json_log) -> None:
    logger, stream = json_log
    token = request_id.set("req-log")
    try:
        with tracing.tracer.start_as_current_span("logging") as span:
            logger.info("inside")
        logger.info("outside")
    finally:
        request_id.reset(token)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert (inside["service"], inside["request_id"], inside["message"]) == (
        "test-service",
        "req-log",
        "inside",
    )
    assert outside["trace_id"] is None and outside["span_id"] is None


# ---------------------------------------------------------------------------------------------
# setup_tracing for real, in a process of its own (the global provider is set once per process)


def _run(script: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


EXPORTING = """
import asyncio, json, os
from opentelemetry import trace
import storage
from config import get_settings
from core import tracing

# Every trace sampled: this is about exporting, not choosing.
settings = get_settings(otel_endpoint=os.environ["ENDPOINT"], trace_sample_percent=100)
tracing.setup_tracing(settings, "probe")
provider = trace.get_tracer_provider()
tracing.setup_tracing(settings, "probe")
assert trace.get_tracer_provider() is provider, "setup_tracing is not idempotent"

async def main():
    pool = await storage.create_pool(os.environ["DSN"], min_size=1, max_size=2)
    await pool.fetchval("SELECT 1 AS orphan")
    with tracing.tracer.start_as_current_span("parent") as parent:
        await pool.fetchval("SELECT 2 AS child")
        async with pool.acquire() as conn:
            await conn.fetch("SELECT 3 AS pooled")
    await pool.close()
    return parent

parent = asyncio.run(main())
tracing.shutdown_tracing()
print(json.dumps({"trace_id": parent.get_span_context().trace_id,
                  "span_id": parent.get_span_context().span_id}))
"""


class _Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver: keeps every span it is sent, with its service name."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, object]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans += [(service, s) for s in scope_spans.spans]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_setup_exports_spans_and_traces_queries_only_inside_something(postgres_settings) -> None:
    collector = _Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        result = _run(
            EXPORTING,
            ENDPOINT=f"http://127.0.0.1:{collector.server_port}",
            DSN=postgres_settings.dsn,
        )
    finally:
        collector.shutdown()
        collector.server_close()

    assert {service for service, _ in collector.spans} == {"pdfchat-probe"}
    spans = [s for _, s in collector.spans]
    parent_id = result["span_id"].to_bytes(8, "big")
    statements = {_attribute(s, "db.statement"): s for s in spans if _attribute(s, "db.statement")}
    assert "SELECT 1 AS orphan" not in statements  # a query that is part of nothing
    for sql in ("SELECT 2 AS child", "SELECT 3 AS pooled"):
        query = statements[sql]
        assert query.parent_span_id == parent_id and query.kind == query.SPAN_KIND_CLIENT
        assert query.trace_id == result["trace_id"].to_bytes(16, "big")


def _attribute(span, key: str) -> str | None:
    return next((a.value.string_value for a in span.attributes if a.key == key), None)


DOWN = """
import json, logging, os, time
from config import get_settings
from core import tracing

counts = {}
class Count(logging.Handler):
    def emit(self, record):
        counts[record.msg] = counts.get(record.msg, 0) + 1
for name in ("opentelemetry.sdk._shared_internal",
             "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
    logging.getLogger(name).addHandler(Count())

every = get_settings(otel_endpoint=os.environ["ENDPOINT"], trace_sample_percent=100)
tracing.setup_tracing(every, "probe")
slowest, operations, started = 0.0, 0, time.monotonic()
for _ in range(5000):  # more than the queue holds
    with tracing.tracer.start_as_current_span("burst"):
        pass
# Keep tracing until the exporter has given up on a batch (or 20 s, which fails the test).
while not any(m.startswith("Failed to export") for m in counts) and time.monotonic() - started < 20:
    begun = time.perf_counter()
    with tracing.tracer.start_as_current_span("request"):
        for _ in range(50):
            with tracing.tracer.start_as_current_span("step"):
                pass
    slowest = max(slowest, time.perf_counter() - begun)
    operations += 1
    time.sleep(0.01)
begun = time.perf_counter()
tracing.shutdown_tracing()
print(json.dumps({"slowest_s": slowest, "operations": operations, "logged": counts,
                  "shutdown_s": time.perf_counter() - begun}))
"""


@pytest.fixture(params=["refused", "silent"])
def dead_collector(request) -> Iterator[str]:
    """refused: nobody listens on the port; silent: the port accepts and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if request.param == "silent":
            sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_collector_that_is_down_costs_spans_not_time(dead_collector) -> None:
    result = _run(DOWN, ENDPOINT=dead_collector)
    logged = result["logged"]
    assert any(m.startswith("Failed to export") for m in logged), logged  # it did try, and fail
    assert result["operations"] > 0
    assert result["slowest_s"] < 1.0, result  # each takes about a millisecond
    # The full queue dropped spans, and said so once, not once per span.
    assert logged.get("Queue full, dropping %s.") == 1, logged
    assert all(n == 1 for n in logged.values()), logged
    assert result["shutdown_s"] < tracing.SHUTDOWN_TIMEOUT_S + 1.0, result


IDS_ONLY = """
import json
from opentelemetry import trace
from config import get_settings
from core import tracing

tracing.setup_tracing(get_settings(otel_endpoint=None), "probe")
with tracing.tracer.start_as_current_span("request") as request:
    sent = dict(tracing.inject({}))
caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
with tracing.tracer.start_as_current_span(
    "event", context=tracing.extract({"traceparent": caller})
) as event:
    continued = dict(tracing.inject({}))
print(json.dumps({"sent": sent, "continued": continued, "recording": request.is_recording(),
                  "trace_id": trace.format_trace_id(request.get_span_context().trace_id)}))
"""


def test_without_a_collector_records_still_carry_a_trace_context() -> None:
    """Nothing is recorded or exported, but what a process sends joins a trace: its own, or
    the caller's."""
    result = _run(IDS_ONLY)
    assert not result["recording"]
    version, trace_id, _span, _flags = result["sent"]["traceparent"].split("-")
    assert (version, trace_id) == ("00", result["trace_id"]) and int(trace_id, 16) != 0
    assert result["continued"]["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
