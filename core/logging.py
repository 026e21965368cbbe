"""The one logging setup: JSON lines on stderr, with the service, the current request id and,
inside a span, its trace and span ids (``trace_id`` finds the whole trace in the collector).

``logging_config`` is a ``dictConfig`` mapping, so the Faust worker (which configures logging
itself) and the web process end up with exactly the same handlers.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from typing import Any

from opentelemetry import trace

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

JSON_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s"
    " %(trace_id)s %(span_id)s"
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    def __init__(self, service: str = "pdfchat") -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = request_id.get()
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = trace.format_trace_id(span.trace_id)
            record.span_id = trace.format_span_id(span.span_id)
        else:
            record.trace_id = record.span_id = None
        return True


def logging_config(service: str, *, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    formatter: dict[str, Any] = {"format": TEXT_FORMAT}
    if json:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FORMAT,
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "service": service}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["context"],
                "formatter": "default",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }


def setup_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    logging.config.dictConfig(logging_config(service, level=level, json=json))
