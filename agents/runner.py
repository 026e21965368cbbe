"""The one per-event loop every agent runs: join the event's trace, handle it, classify what
went wrong.

    async for value in stream:          Faust commits the offset once the loop moves on
        handle(value)  ──ok──────────▶  next event
          │ Postgres or Kafka unreachable: hold the event, wait (capped backoff), handle it
          │   again — never dropped, never failed for an outage
          └ any other error: logged and counted by error code; the agent goes on with the
              next event (handlers fail or dead-letter their own documents)

An exception must never escape an agent: Faust would stop it for every later event. Tracing,
metrics and the "busy" report of the worker's heartbeat hook in here, once for all agents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from faust import current_event
from opentelemetry import trace

from agents.app import settings
from core import kafka, tracing
from core.logging import request_id
from core.metrics import AGENT_EVENT_DURATION, AGENT_EVENTS, DEPENDENCY_WAITS, FAILURES
from storage.availability import is_unavailable as database_unavailable

log = logging.getLogger("pdfchat.agents")

T = TypeVar("T")
Handler = Callable[[T], Awaitable[None]]

OUTAGE_FIRST_WAIT_S = 0.2

# Events being handled right now in this process: a token per event → (agent, start time).
_in_flight: dict[object, tuple[str, float]] = {}


def is_outage(exc: BaseException) -> bool:
    """Postgres or Kafka could not be reached: the event is fine, the world is not."""
    return database_unavailable(exc) or kafka.is_unavailable(exc)


async def run(agent: str, stream: AsyncIterable[T], handle: Handler[T]) -> None:
    """Handle every event of ``stream`` with ``handle``, one at a time per actor."""
    async for value in stream:
        await process(agent, value, handle)


async def process(
    agent: str, value: T, handle: Handler[T], *, headers: Mapping[str, bytes] | None = None
) -> None:
    """Handle one event in its trace: the current event's, or ``headers`` kept from it (work
    done after its event was handled: agents/backlog.py)."""
    attributes = _attributes() if headers is None else {"messaging.system": "kafka"}
    headers = event_headers() if headers is None else headers
    request_id.set(tracing.request_id_from(headers))
    context = tracing.extract(headers)
    with (
        tracing.tracer.start_as_current_span(
            agent, context=context, kind=trace.SpanKind.CONSUMER, attributes=attributes
        ) as span,
        _busy(agent),
    ):
        started = time.perf_counter()
        outcome = await _handle_through_outages(agent, value, handle, span)
        AGENT_EVENT_DURATION.labels(agent).observe(time.perf_counter() - started)
        AGENT_EVENTS.labels(agent, outcome).inc()


async def _handle_through_outages(
    agent: str, value: T, handle: Handler[T], span: trace.Span
) -> str:
    wait_s = OUTAGE_FIRST_WAIT_S
    while True:
        try:
            await handle(value)
            return "ok"
        except asyncio.CancelledError:
            raise  # the worker is stopping: the event is not committed and comes back
        except Exception as exc:
            if not is_outage(exc):
                _failed(agent, value, exc, span)
                return "failed"
            DEPENDENCY_WAITS.labels(agent).inc()
            log.warning(
                "a dependency is unreachable; holding the event and trying again",
                extra={"agent": agent, "error": _describe(exc), "retry_in_s": wait_s},
            )
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, settings.outage_retry_max_s)


def _failed(agent: str, value: Any, exc: Exception, span: trace.Span) -> None:
    code = getattr(exc, "code", None) or type(exc).__name__
    FAILURES.labels(agent, code).inc()
    tracing.record_error(span, exc)
    log.exception("event failed", extra={"agent": agent, "error_code": code, **_ids(value)})


@contextmanager
def working_for(agent: str, carried: Mapping[str, str]) -> Iterator[None]:
    """Do the work of a task or an answer in the trace of the request that made it
    (``carried``: its trace context, stored with the work).

    An event is a turn and may take another's work (storage.documents.claim_next_task,
    storage.chat.claim_next_session): that work then gets a span of its own in its request's
    trace, linked to the event that gave the turn, so an upload or a question stays one trace.
    The event's own work needs no new span."""
    token = request_id.set(tracing.request_id_from(carried) or request_id.get())
    own = trace.get_current_span().get_span_context()
    theirs = trace.get_current_span(tracing.extract(carried)).get_span_context()
    try:
        if not theirs.is_valid or theirs.trace_id == own.trace_id:
            yield
            return
        with tracing.tracer.start_as_current_span(
            agent,
            context=tracing.extract(carried),
            kind=trace.SpanKind.CONSUMER,
            links=[trace.Link(own)] if own.is_valid else None,
            attributes={"pdfchat.turn_of_another": True},
        ):
            yield
    finally:
        request_id.reset(token)


def trace_headers() -> dict[str, bytes]:
    """Kafka headers carrying the current trace and request id, for records sent by agents."""
    return {name: value.encode() for name, value in tracing.inject({}).items()}


def busy(longer_than_s: float) -> dict[str, float]:
    """Per agent, the age of its oldest event held longer than ``longer_than_s``."""
    now = time.monotonic()
    ages: dict[str, float] = {}
    for agent, started in _in_flight.values():
        age = now - started
        if age > longer_than_s and age > ages.get(agent, 0.0):
            ages[agent] = round(age, 1)
    return ages


@contextmanager
def _busy(agent: str) -> Iterator[None]:
    token = object()
    _in_flight[token] = (agent, time.monotonic())
    try:
        yield
    finally:
        del _in_flight[token]


def event_headers() -> dict[str, bytes]:
    """The Kafka headers of the event being handled (its trace, its request id)."""
    event = current_event()
    return dict(event.headers or {}) if event is not None else {}


def _attributes() -> dict[str, Any]:
    event = current_event()
    if event is None:
        return {"messaging.system": "kafka"}
    message = event.message
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": message.topic,
        "messaging.kafka.partition": message.partition,
        "messaging.kafka.offset": message.offset,
    }


def _ids(value: Any) -> dict[str, str]:
    """The ids an operator looks for in a failed event's log line."""
    fields = ("tenant_id", "document_id", "session_id", "task_id")
    return {f: str(getattr(value, f)) for f in fields if getattr(value, f, None) is not None}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
