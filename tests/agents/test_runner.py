"""The one per-event loop of every agent (agents/runner.py), without a broker: an outage holds
the event until it passes, any other error is counted and the agent goes on, and nothing ever
escapes."""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from opentelemetry import trace

from agents import runner
from core import tracing
from core.errors import DocumentRejected
from core.logging import request_id
from core.metrics import AGENT_EVENTS, DEPENDENCY_WAITS, FAILURES
from tests.core.spans import memory_exporter, named


@dataclass
class Event:
    document_id: str
    tenant_id: str = "t"


class Flaky:
    """Fails with ``errors`` in turn, then succeeds; records what it was given."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.handled: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.handled.append(event)
        if self.errors:
            raise self.errors.pop(0)


def _count(metric, *labels: str) -> float:
    return metric.labels(*labels)._value.get()


@pytest.fixture(autouse=True)
def _fast_outage_retries(monkeypatch):
    monkeypatch.setattr(runner, "OUTAGE_FIRST_WAIT_S", 0.001)


async def test_an_outage_holds_the_event_until_it_passes():
    outages = (
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        asyncpg.CannotConnectNowError("starting up"),
        KafkaConnectionError(),
    )
    handle = Flaky(*outages)
    waits, ok = _count(DEPENDENCY_WAITS, "t-outage"), _count(AGENT_EVENTS, "t-outage", "ok")
    await runner.process("t-outage", Event("d1"), handle)
    assert [e.document_id for e in handle.handled] == ["d1"] * 4
    assert _count(DEPENDENCY_WAITS, "t-outage") == waits + 3
    assert _count(AGENT_EVENTS, "t-outage", "ok") == ok + 1


async def test_other_errors_are_counted_by_code_and_the_agent_goes_on():
    handle = Flaky(DocumentRejected("bad", code="corrupt"), ValueError("bug"))
    failed = _count(AGENT_EVENTS, "t-fail", "failed")

    async def events():
        for name in ("d1", "d2", "d3"):
            yield Event(name)

    await runner.run("t-fail", events(), handle)
    assert [e.document_id for e in handle.handled] == ["d1", "d2", "d3"]
    assert _count(AGENT_EVENTS, "t-fail", "failed") == failed + 2
    assert _count(FAILURES, "t-fail", "corrupt") >= 1
    assert _count(FAILURES, "t-fail", "ValueError") >= 1


async def test_a_missing_file_is_no_outage():
    handle = Flaky(FileNotFoundError(errno.ENOENT, "no such blob"))
    await runner.process("t-file", Event("d1"), handle)
    assert len(handle.handled) == 1


async def test_a_stopping_worker_leaves_the_event_unfinished():
    started = asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(runner.process("t-cancel", Event("d1"), slow))
    await started.wait()
    assert "t-cancel" in runner.busy(longer_than_s=0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "t-cancel" not in runner.busy(longer_than_s=0)


async def test_work_of_another_trace_joins_that_trace_linked_to_the_turn():
    exporter = memory_exporter()
    with tracing.tracer.start_as_current_span("POST /v1/documents"):
        carried = dict(tracing.inject({"x-request-id": "upload-1"}))
    with tracing.tracer.start_as_current_span("parse") as turn:
        with runner.working_for("parse", carried):
            done_in = trace.get_current_span().get_span_context()
            assert request_id.get() == "upload-1"
        with runner.working_for("parse", dict(tracing.inject({}))):
            own = trace.get_current_span()
    upload_trace = tracing.extract(carried)
    upload_id = trace.get_current_span(upload_trace).get_span_context().trace_id
    assert done_in.trace_id == upload_id
    (work,) = [s for s in named(exporter, "parse") if s.context.trace_id == upload_id]
    assert [link.context.span_id for link in work.links] == [turn.get_span_context().span_id]
    assert own is turn  # its own work needs no span of its own
