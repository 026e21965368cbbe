"""PLACEHOLDER written by the lead so agents/ can be tested; helper-2 replaces it whole with
the real implementation (same public names)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

tracer = trace.get_tracer("pdfchat")


def setup_tracing(settings: Any, service: str) -> None:
    return None


def shutdown_tracing() -> None:
    return None


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    propagate.inject(headers)
    return headers


def _as_text(headers: Mapping[str, bytes | str] | Sequence[tuple[str, bytes]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in items}


Headers = Mapping[str, bytes | str] | Sequence[tuple[str, bytes]]


def extract(headers: Headers) -> otel_context.Context:
    return propagate.extract(_as_text(headers))


def request_id_from(headers: Headers) -> str | None:
    return _as_text(headers).get("x-request-id")


def current_trace_id() -> str | None:
    return None


def record_error(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc)
