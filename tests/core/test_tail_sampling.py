"""In-process tail sampling (core.tracing.TailSampling): what reaches the exporter."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from prometheus_client import REGISTRY

from core.tracing import SAMPLED_ATTRIBUTE, TailSampling, mark_latency


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


def test_a_streamed_answer_is_judged_by_its_first_token_not_its_length():
    tracer, exported = _tracer(percent=0, slow_s=0.01)
    with tracer.start_as_current_span("long answer, quick first token"):
        mark_latency(0.001)
        time.sleep(0.02)
    assert _names(exported) == []

    with tracer.start_as_current_span("slow first token"), tracer.start_as_current_span("token"):
        mark_latency(0.5)  # reported by any span of the trace
    assert _names(exported) == ["slow first token", "token"]


def test_every_decision_is_counted():
    def count(decision: str) -> float:
        return REGISTRY.get_sample_value("pdfchat_traces_total", {"decision": decision}) or 0.0

    before = {d: count(d) for d in ("error", "slow", "sampled", "dropped")}
    tracer, _ = _tracer(percent=0, slow_s=0.01)
    with tracer.start_as_current_span("fast"):
        pass
    with tracer.start_as_current_span("failed") as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    with tracer.start_as_current_span("slow"):
        time.sleep(0.02)
    tracer, _ = _tracer(percent=100)
    with tracer.start_as_current_span("sampled"):
        pass
    after = {d: count(d) - before[d] for d in before}
    assert after == {"error": 1, "slow": 1, "sampled": 1, "dropped": 1}
