"""In-process tail sampling (core.tracing.TailSampling): what reaches the exporter."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from core.tracing import SAMPLED_ATTRIBUTE, TailSampling


def _tracer(percent: float, slow_s: float = 10.0):
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        TailSampling(SimpleSpanProcessor(exported), percent=percent, slow_s=slow_s)
    )
    return provider.get_tracer("test"), exported


def _names(exported: InMemorySpanExporter) -> list[str]:
    return sorted(span.name for span in exported.get_finished_spans())


def test_normal_traces_wait_for_their_root_and_are_dropped_unless_sampled():
    tracer, exported = _tracer(percent=0)
    with tracer.start_as_current_span("request"), tracer.start_as_current_span("query"):
        pass
    assert _names(exported) == []

    tracer, exported = _tracer(percent=100)
    with tracer.start_as_current_span("request"):
        with tracer.start_as_current_span("query"):
            pass
        assert _names(exported) == []  # the root has not ended yet
    assert _names(exported) == ["query", "request"]
    assert all(s.attributes[SAMPLED_ATTRIBUTE] for s in exported.get_finished_spans())


def test_a_trace_with_an_error_anywhere_is_kept_whole():
    tracer, exported = _tracer(percent=0)
    with tracer.start_as_current_span("event"):
        with tracer.start_as_current_span("model") as model:
            model.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("query"):
            pass
    assert _names(exported) == ["event", "model", "query"]


def test_a_slow_trace_is_kept():
    tracer, exported = _tracer(percent=0, slow_s=0.01)
    with tracer.start_as_current_span("slow request"):
        time.sleep(0.02)
    assert _names(exported) == ["slow request"]


def test_a_span_ending_after_its_root_follows_the_decision():
    tracer, exported = _tracer(percent=0)
    with tracer.start_as_current_span("request") as root:
        late = tracer.start_span("stream")
        root.set_status(Status(StatusCode.ERROR, "failed"))
    late.end()
    assert _names(exported) == ["request", "stream"]
