"""Work behind an agent (agents/backlog.py), without a broker: each queued document once, in
order, in the trace of the event that asked for it, and past a failure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from opentelemetry import trace

from agents import runner
from agents.backlog import Backlog
from core import tracing
from core.metrics import AGENT_EVENTS, FAILURES
from tests.core.spans import memory_exporter, named
from topics import DocumentReady


def _ready(document_id: str) -> DocumentReady:
    return DocumentReady(
        tenant_id="t",
        document_id=document_id,
        model="m",
        dimension=3,
        segments=1,
        ready_at=datetime.now(UTC),
    )


class Recorder:
    """Records the documents it works on; fails on those in ``failing``; ``done`` is set once
    ``expected`` of them have been worked on."""

    def __init__(self, expected: int, failing: frozenset[str] = frozenset()) -> None:
        self.worked: list[str] = []
        self.expected = expected
        self.failing = failing
        self.done = asyncio.Event()

    async def __call__(self, event: DocumentReady) -> None:
        await asyncio.sleep(0)  # the agent goes on meanwhile
        self.worked.append(event.document_id)
        if len(self.worked) >= self.expected:
            self.done.set()
        if event.document_id in self.failing:
            raise ValueError("cannot cluster")


async def test_each_queued_document_is_worked_on_once_in_the_order_it_came():
    work = Recorder(expected=2)
    backlog = Backlog("test_work", work)
    for document_id in ("a", "a", "b", "a"):
        await backlog.add(_ready(document_id))  # returns before any work is done
    assert work.worked == [] and len(backlog) == 2
    await asyncio.wait_for(work.done.wait(), 5)
    assert work.worked == ["a", "b"]
    # Once worked on, a document asked for again (the maintenance sweep) is worked on again.
    work.expected, work.done = 3, asyncio.Event()
    await backlog.add(_ready("a"))
    await asyncio.wait_for(work.done.wait(), 5)
    assert work.worked == ["a", "b", "a"]


async def test_a_failure_is_counted_and_the_next_document_is_worked_on():
    work = Recorder(expected=2, failing=frozenset({"bad"}))
    backlog = Backlog("test_failing", work)
    await backlog.add(_ready("bad"))
    await backlog.add(_ready("good"))
    await asyncio.wait_for(work.done.wait(), 5)
    await asyncio.sleep(0)  # the failure is counted once its work returns
    assert work.worked == ["bad", "good"]
    assert AGENT_EVENTS.labels("test_failing", "failed")._value.get() == 1
    assert FAILURES.labels("test_failing", "ValueError")._value.get() == 1


async def test_each_document_is_worked_on_in_the_trace_of_its_own_event(monkeypatch):
    """The backlog's task outlives the event that started it: a later document's work must not
    join the first one's trace."""
    exporter = memory_exporter()
    carried: dict[str, int] = {}
    work = Recorder(expected=2)
    backlog = Backlog("traced_work", work)
    for document_id in ("first", "second"):
        with tracing.tracer.start_as_current_span(f"upload {document_id}") as upload:
            carried[document_id] = upload.get_span_context().trace_id
            headers = {k: v.encode() for k, v in tracing.inject({}).items()}
            monkeypatch.setattr(runner, "event_headers", lambda headers=headers: headers)
            await backlog.add(_ready(document_id))
    await asyncio.wait_for(work.done.wait(), 5)
    await asyncio.sleep(0)  # the second span ends after its work returns
    spans = named(exporter, "traced_work")
    assert sorted(s.context.trace_id for s in spans) == sorted(carried.values())
    assert all(s.kind == trace.SpanKind.CONSUMER for s in spans)


@pytest.fixture(autouse=True)
def _no_outage_waits(monkeypatch):
    monkeypatch.setattr(runner, "OUTAGE_FIRST_WAIT_S", 0.001)
